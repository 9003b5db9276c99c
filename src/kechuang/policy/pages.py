"""Entitlement pages (thin; every rule and scope is in ``service``): the policy catalogue and a policy's
detail with its figures, the enterprise's "my policies" (entitlements with clause-by-clause explanations,
near misses with how-close, confirm / decline / object), an entitlement's page, run history, the officers'
queues (公示 notices, objections, approval, payment batches with bank return import) and a notice's list.
Templates: ``templates/policy/`` (the editor and sandbox pages are ``authoring_pages``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import func, select

from kechuang.core import workdays
from kechuang.core.auth import Principal, Role
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, FieldError, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import N_, get_locale, gettext
from kechuang.core.pagination import Page
from kechuang.core.permissions import has
from kechuang.core.tabular import CSV_MEDIA, XLSX_MEDIA, to_csv, to_xlsx
from kechuang.policy import service
from kechuang.policy.facts import FACTS, split_column
from kechuang.policy.models import Entitlement, PolicyNotice
from kechuang.registry import service as registry_service
from kechuang.registry.models import Organisation, OrganisationFact
from kechuang.registry.service import CORRECTABLE_FACTS
from kechuang.web.pageutil import field_errors, form_date, form_yuan, pages_router, redirect
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router(prefix="/policy")

Reader = Annotated[Principal, Depends(requires(service.READ))]
QueueReader = Annotated[Principal, Depends(requires(service.QUEUES))]
Runner = Annotated[Principal, Depends(requires(service.RUN))]
Decider = Annotated[Principal, Depends(requires(service.DECIDE))]
Payer = Annotated[Principal, Depends(requires(service.PAY))]
Enterprise = Annotated[Principal, Depends(requires(service.CONFIRM))]

# The pillar's label: this entry takes the place of the "Enterprise innovation" overview in the navigation.
register_nav(NavItem("policy", N_("Enterprise innovation"), "/policy", service.READ, order=11))
register_nav(NavItem("policy-mine", N_("My policies"), "/policy/mine", service.CONFIRM, order=13))
register_nav(NavItem("policy-queues", N_("Entitlement queues"), "/policy/queues/notice", service.QUEUES, order=35))

STATUS_LABELS = {
    "computed": N_("Computed"), "notice": N_("Under public notice"), "notified": N_("Awaiting confirmation"),
    "confirmed": N_("Confirmed"), "approved": N_("Approved"), "in_batch": N_("In payment batch"),
    "paid": N_("Paid"), "failed": N_("Payment failed"), "declined": N_("Declined"), "lapsed": N_("Lapsed"),
    "withdrawn": N_("Withdrawn"), "rejected": N_("Rejected after objection"),
}
STATUS_KIND = {"computed": "neutral", "notice": "info", "notified": "warning", "confirmed": "info",
               "approved": "info", "in_batch": "info", "paid": "success", "failed": "danger", "declined": "neutral",
               "lapsed": "neutral", "withdrawn": "neutral", "rejected": "danger"}
CLAUSE_LABELS = {"met": N_("Met"), "not_met": N_("Not met"), "unknown": N_("Unknown")}
CLAUSE_KIND = {"met": "success", "not_met": "danger", "unknown": "warning"}
OBJECTION_LABELS = {"open": N_("Open"), "upheld": N_("Upheld"), "dismissed": N_("Dismissed")}
OBJECTION_KINDS = {"notice": N_("Objection during the public notice"), "ineligible": N_("Judged ineligible")}
ACTION_LABELS = {"computed": N_("Computed by a run"), "notice": N_("Published for public notice"),
                 "notified": N_("Enterprise notified"), "confirmed": N_("Bank account confirmed"),
                 "declined": N_("Declined"), "lapsed": N_("Lapsed: not confirmed in time"),
                 "approval": N_("First approval"), "approved": N_("Approved"), "in_batch": N_("Put in a payment batch"),
                 "paid": N_("Paid"), "failed": N_("Payment failed"), "rebased": N_("Basis changed: updated"),
                 "withdrawn": N_("Withdrawn: basis no longer met"), "reopened": N_("Eligible again: reopened"),
                 "rejected": N_("Rejected after an objection")}
MESSAGES = {"confirmed": N_("Your bank account is confirmed. The entitlement goes to officer approval."),
            "declined": N_("You declined this entitlement."),
            "objected": N_("Your objection was recorded. An officer will decide and give the reason."),
            "approved": N_("Approval recorded."), "decided": N_("Decision recorded."),
            "published": N_("The public notice was published."), "closed": N_("Notice closed; enterprises notified."),
            "batch": N_("Payment batch created. Download the file for the bank."),
            "returned": N_("Bank return file applied."), "run": N_("Run finished."), "lapsed": N_("Lapse sweep done.")}
QUEUE_TABS = (("notice", N_("Public notice")), ("objections", N_("Objections")), ("approval", N_("Approval")),
              ("payment", N_("Payment")))


def _ctx(**kw: Any) -> dict[str, Any]:
    base = {"status_label": lambda s: gettext(STATUS_LABELS.get(s, s)), "status_kind": STATUS_KIND,
            "clause_label": lambda s: gettext(CLAUSE_LABELS.get(s, s)), "clause_kind": CLAUSE_KIND,
            "objection_label": lambda s: gettext(OBJECTION_LABELS.get(s, s)),
            "objection_kind": lambda s: gettext(OBJECTION_KINDS.get(s, s)),
            "action_label": lambda s: gettext(ACTION_LABELS.get(s, s)), "loc": get_locale(),
            "fact_label": _fact_label, "threshold": service.settings.policy_second_approval_fen,
            "provisional": _provisional}
    base.update(kw)
    return base


def _provisional(d: date | None) -> bool:
    """A deadline in a year whose holiday notice is not in the calendar (working days counted Mon–Fri)."""
    return d is not None and not workdays.covers(d.year)


def _fact_label(column: str) -> str:
    base, lag = split_column(column)
    f = FACTS.get(base)
    if f is None:
        return column
    name = f.zh if get_locale() == "zh" else f.en
    if lag:
        name += gettext(N_(" ({years} years earlier)"), years=lag)
    return name


def _message(request: Request) -> str | None:
    key = request.query_params.get("done")
    return gettext(MESSAGES[key]) if key in MESSAGES else None


def default_period(session) -> int:
    """The latest period with entitlements, else the latest facts year."""
    return (session.scalar(select(func.max(Entitlement.period)))
            or session.scalar(select(func.max(OrganisationFact.year))) or date.today().year - 1)


def _period(request: Request, session) -> int:
    raw = request.query_params.get("period", "")
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else default_period(session)


# ---------------------------------------------------------------- catalogue
@router.get("")
def catalogue(request: Request, session: DbSession, principal: Reader):
    """The policy catalogue: basis, validity, unconfirmed numbers, clauses in words, figures in scope."""
    entries = service.catalogue(session, principal)
    return render(request, "policy/catalogue.html", _ctx(
        title=N_("Policy catalogue"), active_nav="policy", entries=entries,
        may_queue=has(principal, service.QUEUES), is_enterprise=has(principal, service.CONFIRM),
        may_run=has(principal, service.RUN)), principal=principal)


# ---------------------------------------------------------------- enterprise: my policies
def _mine(request: Request, session, principal: Principal, errors: dict[int | str, Any] | None = None,
          values: dict[str, Any] | None = None, status_code: int = 200):
    if principal.organisation_id is None:
        raise NotFound()
    period = _period(request, session)
    org = session.get(Organisation, principal.organisation_id)
    _, rows = service.list_entitlements(session, principal, service.EntitlementFilter(
        organisation_id=principal.organisation_id), limit=200)
    view = service.enterprise_view(session, principal, principal.organisation_id, period)
    by_policy = {x.policy_id: x for x in view["explanations"]}
    held = {e.policy_id for e, _ in rows if e.period == period and e.status not in ("withdrawn", "rejected")}
    near = [x for x in view["explanations"] if not x.informational and x.policy_id not in held
            and x.eligible is not True]
    near.sort(key=lambda x: (x.eligible is None, sum(c.status != "met" for c in x.clauses)))
    informational = [x for x in view["explanations"] if x.informational]
    objections = service.list_objections(session, principal)
    periods = sorted({e.period for e, _ in rows} | {period}, reverse=True)
    return render(request, "policy/mine.html", _ctx(
        title=N_("My policies"), active_nav="policy-mine", org=org, period=period, periods=periods,
        entitlements=[e for e, _ in rows], explanations=by_policy, near=near, informational=informational,
        objections=[o for o, _ in objections], errors=errors or {}, values=values or {},
        message=_message(request), synthetic=bool(org and org.is_synthetic)),
        status_code=status_code, principal=principal)


@router.get("/mine")
def mine(request: Request, session: DbSession, principal: Enterprise):
    """The enterprise's entitlements with explanations, near misses with how-close, and actions."""
    return _mine(request, session, principal)


@router.post("/entitlements/{ent_id}/confirm")
def confirm(request: Request, session: DbSession, principal: Enterprise, ent_id: int,
            bank_name: Annotated[str, Form()] = "", account_name: Annotated[str, Form()] = "",
            account_no: Annotated[str, Form()] = ""):
    """Confirm the bank account (before the deadline)."""
    try:
        service.confirm(session, principal, ent_id, bank_name, account_name, account_no)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _mine(request, session, principal, {ent_id: field_errors(exc)},
                     {"bank_name": bank_name, "account_name": account_name, "account_no": account_no},
                     exc.status_code)
    return redirect(f"/policy/mine?done=confirmed#e{ent_id}")


@router.post("/entitlements/{ent_id}/decline")
def decline(request: Request, session: DbSession, principal: Enterprise, ent_id: int,
            reason: Annotated[str, Form()] = ""):
    """Decline the entitlement."""
    try:
        service.decline(session, principal, ent_id, reason)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _mine(request, session, principal, {ent_id: field_errors(exc)}, status_code=exc.status_code)
    return redirect(f"/policy/mine?done=declined#e{ent_id}")


@router.post("/objections")
def object_ineligible(request: Request, session: DbSession, principal: Enterprise,
                      policy_id: Annotated[str, Form()] = "", period: Annotated[int, Form()] = 0,
                      text: Annotated[str, Form()] = ""):
    """An enterprise judged ineligible objects."""
    try:
        service.object_ineligible(session, principal, policy_id, period, text)
    except AppError as exc:
        return _mine(request, session, principal, {f"p-{policy_id}": field_errors(exc)}, {"text": text},
                     exc.status_code)
    return redirect(f"/policy/mine?period={period}&done=objected#p-{policy_id}")


# ---------------------------------------------------------------- one entitlement
def _entitlement_page(request: Request, session, principal: Principal, ent_id: int,
                      errors: dict[str, Any] | None = None, status_code: int = 200):
    ent = service.access_entitlement(session, principal, ent_id)
    org = session.get(Organisation, ent.organisation_id)
    explanation = None
    try:
        view = service.enterprise_view(session, principal, ent.organisation_id, ent.period, how_close=False)
        explanation = next((x for x in view["explanations"] if x.policy_id == ent.policy_id), None)
    except (NotFound, AppError):
        explanation = None
    approvals = service.approvals_of(session, ent.id)
    return render(request, "policy/entitlement.html", _ctx(
        title=N_("Entitlement"), active_nav="policy", ent=ent, org=org, events=service.events_of(
            session, principal, ent.id), approvals=approvals, needed=service.required_approvals(ent.amount_fen),
        adjustments=service.adjustments_of(session, principal, ent.id), explanation=explanation,
        may_approve=has(principal, service.DECIDE) and ent.status == "confirmed"
        and all(a.officer_user_id != principal.user_id for a in approvals),
        errors=errors or {}, message=_message(request), synthetic=bool(org and org.is_synthetic)),
        status_code=status_code, principal=principal)


@router.get("/entitlements/{ent_id}")
def entitlement(request: Request, session: DbSession, principal: Reader, ent_id: int):
    """An entitlement: amount, clause results, history, approvals, adjustments."""
    return _entitlement_page(request, session, principal, ent_id)


@router.post("/entitlements/{ent_id}/approve")
def approve(request: Request, session: DbSession, principal: Decider, ent_id: int,
            back: Annotated[str, Form()] = ""):
    """Approve a confirmed entitlement."""
    try:
        service.approve(session, principal, ent_id)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _entitlement_page(request, session, principal, ent_id, field_errors(exc), exc.status_code)
    if back == "queue":
        return redirect("/policy/queues/approval?done=approved")
    return redirect(f"/policy/entitlements/{ent_id}?done=approved")


@router.post("/entitlements/{ent_id}/objections")
def object_notice(request: Request, session: DbSession, principal: Enterprise, ent_id: int,
                  text: Annotated[str, Form()] = ""):
    """Object to an entitlement listed in a running 公示."""
    ent = session.get(Entitlement, ent_id)
    notice_id = ent.notice_id if ent is not None else None
    if notice_id is None:
        raise NotFound()
    try:
        service.object_during_notice(session, principal, ent_id, text)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _notice_page(request, session, principal, notice_id, {ent_id: field_errors(exc)}, exc.status_code)
    return redirect(f"/policy/notices/{notice_id}?done=objected")


# ---------------------------------------------------------------- notices (公示)
def _notice_page(request: Request, session, principal: Principal, notice_id: int,
                 errors: dict[int, Any] | None = None, status_code: int = 200):
    notice = service.access_notice(session, notice_id)
    lines = service.notice_lines(session, notice_id)
    running = date.today() <= notice.ends_date
    return render(request, "policy/notice.html", _ctx(
        title=N_("Public notice"), active_nav="policy", notice=notice, lines=lines, running=running,
        may_object=running and has(principal, service.CONFIRM), errors=errors or {}, message=_message(request),
        synthetic=any(o.is_synthetic for _, o in lines)), status_code=status_code, principal=principal)


@router.get("/notices/{notice_id}")
def notice(request: Request, session: DbSession, principal: Reader, notice_id: int):
    """A 公示: enterprises, policies and amounts; objections while it runs."""
    return _notice_page(request, session, principal, notice_id)


@router.post("/notices")
def publish_notice(request: Request, session: DbSession, principal: Decider, period: Annotated[int, Form()] = 0):
    """Publish the period's computed entitlements for public notice."""
    try:
        n = service.publish_notice(session, principal, period)
    except AppError as exc:
        return _queue(request, session, principal, "notice", field_errors(exc), exc.status_code)
    return redirect(f"/policy/notices/{n.id}?done=published")


@router.post("/notices/{notice_id}/close")
def close_notice(request: Request, session: DbSession, principal: Decider, notice_id: int):
    """Close a notice whose period ended: notify the enterprises."""
    try:
        service.close_notice(session, principal, notice_id)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _queue(request, session, principal, "notice", field_errors(exc), exc.status_code)
    return redirect("/policy/queues/notice?done=closed")


# ---------------------------------------------------------------- officer queues
def _queue(request: Request, session, principal: Principal, tab: str, errors: dict[str, Any] | None = None,
           status_code: int = 200):
    if tab not in dict(QUEUE_TABS):
        raise NotFound()
    ctx = _ctx(title=N_("Entitlement queues"), active_nav="policy-queues", tab=tab, tabs=QUEUE_TABS,
               errors=errors or {}, message=_message(request), may_decide=has(principal, service.DECIDE),
               may_pay=has(principal, service.PAY), counts=service.status_counts(session, principal))
    if tab == "notice":
        stmt = (select(Entitlement.period, func.count(), func.coalesce(func.sum(Entitlement.amount_fen), 0))
                .where(Entitlement.id.in_(service._scope_ids(principal)), Entitlement.status == "computed")
                .group_by(Entitlement.period).order_by(Entitlement.period.desc()))
        ctx["computed"] = [{"period": p, "count": n, "total_fen": t} for p, n, t in session.execute(stmt)]
        ctx["notices"] = service.list_notices(session)
        ctx["today"] = date.today()
        ctx["waiting"] = {nid: n for nid, n in session.execute(
            select(Entitlement.notice_id, func.count()).where(Entitlement.status == "notice")
            .group_by(Entitlement.notice_id))}
    elif tab == "objections":
        ctx["objections"] = service.list_objections(session, principal)
        ids = {o.entitlement_id for o, _ in ctx["objections"] if o.entitlement_id}
        ctx["ents"] = {e.id: e for e in session.scalars(select(Entitlement).where(Entitlement.id.in_(ids)))}
    elif tab == "approval":
        _, rows = service.list_entitlements(session, principal, service.EntitlementFilter(status="confirmed"),
                                            limit=200)
        ctx["rows"] = rows
        approvals: dict[int, list] = {}
        for e, _ in rows:
            approvals[e.id] = service.approvals_of(session, e.id)
        ctx["approvals"] = approvals
    else:
        total, rows = service.list_entitlements(session, principal, service.EntitlementFilter(status="approved"),
                                                limit=200)
        ctx["rows"], ctx["approved_total"] = rows, total
        ctx["batches"] = service.list_batches(session, principal)
    synthetic = any(o.is_synthetic for _, o in ctx.get("rows", ctx.get("objections", [])))
    return render(request, "policy/queues.html", {**ctx, "synthetic": synthetic}, status_code=status_code,
                  principal=principal)


@router.get("/queues/{tab}")
def queues(request: Request, session: DbSession, principal: QueueReader, tab: str):
    """Officer queues: public notice, objections, approval, payment."""
    return _queue(request, session, principal, tab)


OUTCOME_ACTIONS = {"created": N_("Entitlement created"), "updated": N_("Entitlement updated"),
                   "withdrawn": N_("Entitlement withdrawn"), "adjusted": N_("Adjustment recorded"),
                   "unchanged": N_("Unchanged"), "none": N_("Not eligible"),
                   "next_run": N_("Budgeted policy: decided by the next run")}
BOOL_FACTS = ("serious_dishonesty", "major_incident")


def _yuan_exact(fen: int | str | None) -> str:
    """Fen as yuan with both decimals ("245,201.61"), exact, for the amounts an officer types in yuan."""
    if fen is None:
        return "—"
    n = int(fen)
    sign, n = ("-" if n < 0 else ""), abs(n)
    return f"{sign}{n // 100:,}.{n % 100:02d}"


def _objection_page(request: Request, session, principal: Principal, objection_id: int,
                    errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
                    status_code: int = 200):
    obj = service.access_objection(session, principal, objection_id)
    org = session.get(Organisation, obj.organisation_id)
    may_decide = has(principal, service.DECIDE) and obj.status == "open"
    facts = {f.year: f for f in registry_service.organisation_facts(session, principal, obj.organisation_id)
             } if has(principal, registry_service.READ_FACTS) else {}
    years = list(range(obj.period, obj.period - 3, -1))
    vals = {"year": obj.period, **(values or {})}
    ctx = _ctx(title=N_("Objection"), active_nav="policy-queues" if has(principal, service.QUEUES) else "policy-mine",
               obj=obj, org=org, may_decide=may_decide, facts=facts, years=years, fields=CORRECTABLE_FACTS,
               bool_facts=BOOL_FACTS, errors=errors or {}, values=vals, message=_message(request),
               year_options=[(y, str(y)) for y in years], may_queue=has(principal, service.QUEUES),
               corrections=service.corrections_of(session, principal, objection_id),
               outcome_action=lambda a: gettext(OUTCOME_ACTIONS.get(a, a)), yuan_exact=_yuan_exact)
    return render(request, "policy/objection.html", ctx, status_code=status_code, principal=principal)


@router.get("/objections/{objection_id}")
def objection(request: Request, session: DbSession, principal: Reader, objection_id: int):
    """An objection: the decision, corrected facts and the enterprise's re-evaluation; for officers while it
    is open, the decision form with corrected registry facts."""
    return _objection_page(request, session, principal, objection_id)


F = Annotated[str, Form()]


@router.post("/objections/{objection_id}/decision")
def decide(request: Request, session: DbSession, principal: Decider, objection_id: int, decision: F = "",
           note: F = "", origin: Annotated[str, Form(alias="from")] = "", year: F = "", source_department: F = "",
           as_of_date: F = "", revenue_fen: F = "", rd_expense_fen: F = "", rd_domestic_share: F = "",
           employees: F = "", st_staff: F = "", high_tech_income_fen: F = "", total_assets_fen: F = "",
           profit_fen: F = "", tax_credit_grade: F = "", serious_dishonesty: F = "", major_incident: F = ""):
    """Uphold or dismiss an objection, with the reason; from the objection's page, upholding may correct
    the enterprise's registry facts (empty fields stay as they are)."""
    form = {k: v for k, v in locals().items() if isinstance(v, str)}
    form["from"] = origin
    return _decide(request, session, principal, objection_id, form)


def _decide(request: Request, session, principal: Principal, objection_id: int, form: dict[str, str]):
    decision, note = form.get("decision", ""), form.get("note", "")
    detail = form.get("from") == "objection"
    fixes: list[service.FactCorrection] = []
    errs: list[FieldError] = []
    if detail:
        changed: dict[str, Any] = {k: form[k].strip() for k in CORRECTABLE_FACTS if form.get(k, "").strip()}
        if changed:
            for k in [k for k in changed if k.endswith("_fen")]:  # typed in yuan, corrected in exact fen
                fen = form_yuan(changed[k], k, errs)
                if fen is None:
                    del changed[k]
                else:
                    changed[k] = fen
            as_of = form_date(form.get("as_of_date"), "as_of_date", errs)  # missing: the registry's rule says so
            try:
                year = int(form.get("year", ""))
            except ValueError:
                year = 0
            fixes = [service.FactCorrection(year, k, v, form.get("source_department", ""), as_of)
                     for k, v in changed.items()]
    try:
        if errs:  # the form's own problems together with every problem the service finds, nothing written
            try:
                service.check_decision(session, principal, objection_id, decision, note, corrections=fixes)
            except ValidationFailed as exc:
                errs += [e for e in exc.errors if e.field not in {x.field for x in errs}]
            raise ValidationFailed(errors=errs)
        service.decide_objection(session, principal, objection_id, decision, note, corrections=fixes)
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        if detail:
            return _objection_page(request, session, principal, objection_id, field_errors(exc), form,
                                   exc.status_code)
        return _queue(request, session, principal, "objections", {f"o{objection_id}": field_errors(exc)},
                      exc.status_code)
    if detail:
        return redirect(f"/policy/objections/{objection_id}?done=decided")
    return redirect("/policy/queues/objections?done=decided")


@router.post("/batches")
def create_batch(request: Request, session: DbSession, principal: Payer):
    """Put every approved entitlement in scope into a payment batch."""
    try:
        batch = service.create_batch(session, principal)
    except AppError as exc:
        return _queue(request, session, principal, "payment", field_errors(exc), exc.status_code)
    return redirect(f"/policy/queues/payment?done=batch#b{batch.id}")


@router.get("/batches/{batch_id}/file")
def batch_file(session: DbSession, principal: QueueReader, batch_id: int, format: str = "csv"):
    """Download the payment file (CSV as exported, or XLSX)."""
    batch = service.access_batch(session, principal, batch_id)
    if format == "xlsx":
        return Response(to_xlsx(service.BATCH_HEADERS, service.batch_rows(batch), title=batch.reference),
                        media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="{batch.reference}.xlsx"'})
    return Response(batch.file_csv.encode("utf-8"), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{batch.reference}.csv"'})


@router.post("/batches/{batch_id}/return")
def import_return(request: Request, session: DbSession, principal: Payer, batch_id: int, file: UploadFile):
    """Apply the bank's return file (all or nothing)."""
    try:
        service.import_return(session, principal, batch_id, file.file.read(20 * 1024 * 1024))
    except AppError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return _queue(request, session, principal, "payment", {f"b{batch_id}": field_errors(exc)},
                      exc.status_code)
    return redirect(f"/policy/queues/payment?done=returned#b{batch_id}")


# ---------------------------------------------------------------- runs
@router.get("/runs")
def runs(request: Request, session: DbSession, principal: QueueReader):
    """Run history and (commission) a run form."""
    return _runs(request, session, principal)


def _runs(request: Request, session, principal: Principal, result: Any = None, errors: dict | None = None,
          status_code: int = 200):
    return render(request, "policy/runs.html", _ctx(
        title=N_("Run history"), active_nav="policy-queues", runs=service.list_runs(session, principal),
        may_run=has(principal, service.RUN), period=default_period(session), result=result,
        scope=principal.district if principal.role is Role.DISTRICT else None,
        errors=errors or {}, message=_message(request)), status_code=status_code, principal=principal)


def _run_filter(run: service.RunSummary, status: str, policy_id: str, only_run: str) -> service.EntitlementFilter:
    return service.EntitlementFilter(period=run.period, status=status if status in STATUS_LABELS else None,
                                     policy_id=policy_id or None, run_id=run.id if only_run else None)


@router.get("/runs/{run_id}")
def run_detail(request: Request, session: DbSession, principal: QueueReader, run_id: int, status: str = "",
               policy_id: str = "", only_run: str = "", page: Annotated[int, Query(ge=1)] = 1,
               per_page: Annotated[int, Query(ge=1, le=200)] = 50):
    """A run read-only, in the caller's scope (a district officer: its district): figures, entitlements of
    its period by policy and status, and the entitlements themselves, paginated, with CSV/XLSX export."""
    run = service.access_run(session, principal, run_id)
    flt = _run_filter(run, status, policy_id, only_run)
    total, rows = service.list_entitlements(session, principal, flt, limit=per_page, offset=(page - 1) * per_page)
    stats = service.policy_stats(session, principal, period=run.period)
    query = {k: v for k, v in (("status", flt.status), ("policy_id", flt.policy_id), ("only_run", only_run))
             if v}
    return render(request, "policy/run.html", _ctx(
        title=N_("Run"), active_nav="policy-queues", run=run, rows=rows,
        page=Page(items=[], total=total, page=page, per_page=per_page), stats=stats,
        counts=service.status_counts(session, principal, run.period), flt=flt, only_run=bool(only_run),
        statuses=[s for s in STATUS_LABELS], export_query=urlencode(query),
        synthetic=any(o.is_synthetic for _, o in rows)), principal=principal)


@router.get("/runs/{run_id}/export")
def run_export(session: DbSession, principal: QueueReader, run_id: int, status: str = "", policy_id: str = "",
               only_run: str = "", format: str = "csv"):
    """The entitlements of a run's page (same filters, every row in the caller's scope) as CSV or XLSX."""
    run = service.access_run(session, principal, run_id)
    headers, rows = service.export_entitlements(session, principal, _run_filter(run, status, policy_id, only_run))
    name = f"entitlements-run{run.id}" + (f"-{run.scope}" if run.scope else "")
    if format == "xlsx":
        return Response(to_xlsx(headers, rows, title=f"run {run.id}"), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.xlsx"})
    return Response(to_csv(headers, rows), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.csv"})


@router.post("/runs")
def start_run(request: Request, session: DbSession, principal: Runner, period: Annotated[int, Form()] = 0,
              execute: Annotated[str, Form()] = ""):
    """Run (or preview) the period's entitlements."""
    try:
        out = service.run_period(session, principal, period, execute=bool(execute))
    except AppError as exc:
        return _runs(request, session, principal, errors=field_errors(exc), status_code=exc.status_code)
    return _runs(request, session, principal, result=out)


@router.post("/lapse")
def lapse(request: Request, session: DbSession, principal: Runner):
    """Run the lapse sweep now."""
    service.lapse(session, principal)
    return redirect("/policy/runs?done=lapsed")


# ---------------------------------------------------------------- policy detail (last: /policy/{id})
@router.get("/{policy_id}")
def policy_detail(request: Request, session: DbSession, principal: Reader, policy_id: str):
    """A policy: basis, validity, clauses in words, dated parameters, eligible counts and amounts."""
    entry = service.catalogue_entry(session, principal, policy_id)
    periods = service.policy_periods(session, principal, policy_id)
    latest = periods[0]["period"] if periods else None
    top = []
    if latest is not None and has(principal, service.QUEUES):
        _, top = service.list_entitlements(session, principal, service.EntitlementFilter(
            period=latest, policy_id=policy_id), limit=20)
    chart = {"periods": [str(p["period"]) for p in reversed(periods)],
             "eligible": [p["eligible"] for p in reversed(periods)],
             "total_yuan": [p["total_fen"] / 100 for p in reversed(periods)],
             "labels": {"eligible": gettext(N_("Eligible enterprises")), "total": gettext(N_("Total amount (yuan)"))}}
    return render(request, "policy/policy.html", _ctx(
        title=N_("Policy"), active_nav="policy", e=entry, p=entry.policy, periods=periods, latest=latest,
        top=top, chart=chart, notice_open=session.scalar(select(func.count()).select_from(PolicyNotice)
                                                         .where(PolicyNotice.closed_at.is_(None))),
        is_officer=principal.role in (Role.COMMISSION, Role.DISTRICT, Role.AUDITOR),
        synthetic=any(o.is_synthetic for _, o in top)), principal=principal)
