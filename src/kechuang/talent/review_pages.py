"""Evaluation pages (thin; rules and scopes are in ``dossier_service``): evaluation rounds for the employing
unit's officer (draw reviewers, calibrated results, panel decisions, publication, appeals), the candidate's
dossier form (representative works linked to kechuang records through a search, contribution statements),
the blind reviewer workbench (only ``reviewer_view``: no name, no unit) and the candidate's result and appeal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request

from kechuang.core.auth import Principal, Role
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import Page, PageParams
from kechuang.core.permissions import has
from kechuang.registry.models import Organisation, Person
from kechuang.talent import dossier_service as svc
from kechuang.talent import service
from kechuang.talent.models import EvaluationScheme
from kechuang.web.pageutil import field_errors, pages_router, redirect
from kechuang.web.templating import render

router = pages_router()

Reader = Annotated[Principal, Depends(requires(svc.EVAL_READ))]
Officer = Annotated[Principal, Depends(requires(svc.EVAL_MANAGE))]
Candidate = Annotated[Principal, Depends(requires(svc.DOSSIER_WRITE))]
Reviewer = Annotated[Principal, Depends(requires(svc.REVIEW))]

ASSIGNMENT_STATUS = {"assigned": N_("Assigned"), "submitted": N_("Scored"), "declined": N_("Declined")}
APPEAL_STATUS = {"filed": N_("Filed"), "upheld": N_("Upheld"), "rejected": N_("Rejected")}
CALIBRATION_LABELS = {"bias": N_("Reviewer-bias model"), "zscore": N_("Z-scores per reviewer"), "none": N_("None (raw means)")}


def _ctx(**kw: Any) -> dict[str, Any]:
    from kechuang.talent.pages import VOCAB, category_label, text_of
    from kechuang.talent.scheme import load_framework

    return {"active_nav": "talent", "v": VOCAB, "categories": load_framework().categories, "eval_status": VOCAB["eval_status"],
            "dossier_status": VOCAB["dossier_status"],
            "assignment_status": ASSIGNMENT_STATUS, "appeal_status": APPEAL_STATUS, "category_label": category_label,
            "text_of": text_of, "calibrations": CALIBRATION_LABELS, **kw}


def _names(session, person_ids: set[int]) -> dict[int, Person]:
    from sqlalchemy import select

    return {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids or {-1})))}


# ---------------------------------------------------------------- evaluation rounds
def _evaluations_page(request: Request, session, principal: Principal, params: PageParams, *, errors=None,
                      values=None, organisation: int | None = None, category: str | None = None,
                      status: str | None = None, status_code: int = 200):
    status = status if status in svc.EVAL_STATUSES else None
    evs, total = svc.list_evaluations(session, principal, params, organisation_id=organisation,
                                      category=category or None, status=status)
    schemes_in_force: list[EvaluationScheme] = []
    if has(principal, svc.EVAL_MANAGE):
        schemes_in_force, _ = service.list_schemes(session, principal, _all_params(), status="in_force")
    from sqlalchemy import select

    orgs = {o.id: o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_({e.organisation_id for e in evs} or {-1})))}
    orgs |= _org_names(session, {organisation} if organisation else set())
    template = "talent/_evaluations_results.html" if request.headers.get("hx-request") else "talent/evaluations.html"
    return render(request, template, _ctx(
        title=N_("Evaluation rounds"), page=Page(items=evs, total=total, page=params.page, per_page=params.per_page),
        params=params, orgs=orgs, schemes_in_force=schemes_in_force,
        can_manage=has(principal, svc.EVAL_MANAGE), errors=errors or {}, values=values or {"round_label": str(date.today().year)},
        filters={"organisation": organisation, "category": category or "", "status": status or "", "q": params.q or ""},
        synthetic=any(e.is_synthetic for e in evs)), status_code=status_code)


def _org_names(session, ids: set[int]) -> dict[int, Organisation]:
    from kechuang.talent.pages import _org_names as names

    return names(session, ids)


def _all_params():
    return PageParams(per_page=200, sort="-id")


@router.get("/evaluations")
def evaluations(request: Request, session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
                organisation: int | None = None, category: str | None = None, status: str | None = None):
    """Evaluation rounds visible to the caller, paginated and filterable (the dashboard's drill-down); the
    unit's officer opens a new round here."""
    return _evaluations_page(request, session, principal, params, organisation=organisation, category=category,
                             status=status)


@router.post("/evaluations")
def create_evaluation(request: Request, session: DbSession, principal: Officer,
                      scheme_id: Annotated[str, Form()] = "", round_label: Annotated[str, Form()] = "",
                      reviewers_per_dossier: Annotated[str, Form()] = "3", load_cap: Annotated[str, Form()] = "6",
                      calibration: Annotated[str, Form()] = "bias", seed: Annotated[str, Form()] = "0"):
    """Open an evaluation round under a compliant scheme in force."""
    values = {"scheme_id": scheme_id, "round_label": round_label, "reviewers_per_dossier": reviewers_per_dossier,
              "load_cap": load_cap, "calibration": calibration, "seed": seed}
    try:
        ints = {}
        errors = []
        for name in ("scheme_id", "reviewers_per_dossier", "load_cap", "seed"):
            try:
                ints[name] = int(values[name])
            except ValueError:
                errors.append(FieldError(name, N_("Enter a whole number."), value=values[name]))
        if errors:
            raise ValidationFailed(errors=errors)
        ev = svc.create_evaluation(session, principal, svc.EvaluationIn(
            scheme_id=ints["scheme_id"], round_label=round_label, reviewers_per_dossier=ints["reviewers_per_dossier"],
            load_cap=ints["load_cap"], calibration=calibration, seed=ints["seed"]))
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _evaluations_page(request, session, principal, PageParams(), errors=field_errors(exc), values=values,
                                 status_code=422)
    return redirect(f"/talent/evaluations/{ev.id}")


@router.get("/evaluations/{evaluation_id}")
def evaluation(request: Request, session: DbSession, principal: Reader, evaluation_id: int):
    """One round: dossiers with calibrated ranking and decisions, reviewers (officer), appeals."""
    ev = svc.access_evaluation_by_id(session, principal, evaluation_id)
    scheme_row = session.get(EvaluationScheme, ev.scheme_id)
    officer = has(principal, svc.EVAL_MANAGE) and principal.organisation_id == ev.organisation_id
    dossiers = svc.list_dossiers(session, principal, ev.id)
    decisions = {}
    appeals = {}
    if principal.role is not Role.RESEARCHER:
        from sqlalchemy import select

        from kechuang.talent.models import PanelDecision

        decisions = {d.dossier_id: d for d in session.scalars(select(PanelDecision).where(
            PanelDecision.dossier_id.in_([d.id for d in dossiers] or [-1])))}
        appeals = {a.dossier_id: a for a in svc.list_appeals(session, principal, ev.id)}
    reviews = svc.review_table(session, principal, ev.id) if principal.role in (Role.TTO, Role.AUDITOR) else []
    people = _names(session, {m.person_id for d in dossiers for m in d.members})
    ranked = sorted(dossiers, key=lambda d: (d.rank is None, d.rank or 0, d.id))
    mine = None
    if principal.role is Role.RESEARCHER:
        mine = next((d for d in dossiers if d.lead_person_id == principal.person_id), None)
    org = session.get(Organisation, ev.organisation_id)
    return render(request, "talent/evaluation.html", _ctx(
        title=ev.title, ev=ev, scheme_row=scheme_row, org=org, officer=officer, dossiers=ranked, decisions=decisions,
        appeals=appeals, reviews=reviews, people=people, mine=mine,
        show_scores=principal.role is not Role.RESEARCHER or ev.status == "published",
        flashes=_flash(request), synthetic=ev.is_synthetic))


def _flash(request: Request) -> list[tuple[str, str]]:
    msg = request.query_params.get("done")
    known = {"draw": N_("Reviewers drawn (conflicts of interest excluded, load caps respected)."),
             "results": N_("Calibrated results computed."), "publish": N_("Results published."),
             "decision": N_("Panel decision recorded."), "appeal": N_("Appeal decided."),
             "submitted": N_("Dossier submitted."), "work": N_("Work added and verified against the record."),
             "appealed": N_("Appeal filed."), "scored": N_("Scores saved.")}
    return [("success", gettext(known[msg]))] if msg in known else []


def _officer_action(session, principal: Principal, evaluation_id: int, fn, done: str):
    fn(session, principal, evaluation_id)  # a refused step renders the HTML error page with the reason (409)
    return redirect(f"/talent/evaluations/{evaluation_id}?done={done}")


@router.post("/evaluations/{evaluation_id}/draw")
def draw(request: Request, session: DbSession, principal: Officer, evaluation_id: int):
    """Close submissions and draw reviewers."""
    return _officer_action(session, principal, evaluation_id, svc.draw_reviewers, "draw")


@router.post("/evaluations/{evaluation_id}/results")
def results(request: Request, session: DbSession, principal: Officer, evaluation_id: int):
    """Calibrate the reviewers' scores and rank the dossiers."""
    return _officer_action(session, principal, evaluation_id, svc.compute_results, "results")


@router.post("/evaluations/{evaluation_id}/publish")
def publish(request: Request, session: DbSession, principal: Officer, evaluation_id: int):
    """Publish the results."""
    return _officer_action(session, principal, evaluation_id, svc.publish, "publish")


@router.post("/dossiers/{dossier_id}/decision")
def decide(request: Request, session: DbSession, principal: Officer, dossier_id: int,
           outcome: Annotated[str, Form()] = "", reasons: Annotated[str, Form()] = ""):
    """Record the panel's decision with written reasons."""
    d = svc.access_dossier_by_id(session, principal, dossier_id)
    svc.decide(session, principal, dossier_id, outcome, reasons)
    return redirect(f"/talent/evaluations/{d.evaluation_id}?done=decision#dossier-{d.id}")


@router.post("/appeals/{appeal_id}/decision")
def decide_appeal(request: Request, session: DbSession, principal: Officer, appeal_id: int,
                  status: Annotated[str, Form()] = "", outcome_reason: Annotated[str, Form()] = "",
                  new_outcome: Annotated[str, Form()] = ""):
    """Record an appeal's outcome."""
    a = svc.decide_appeal(session, principal, appeal_id, status, outcome_reason, new_outcome or None)
    d = svc.access_dossier_by_id(session, principal, a.dossier_id)
    return redirect(f"/talent/evaluations/{d.evaluation_id}?done=appeal#dossier-{d.id}")


# ---------------------------------------------------------------- dossiers (candidates)
def _chosen_members(form) -> tuple[list[int], dict[int, str], dict[int, str | None], list[FieldError]]:
    """The team members ticked in the picker (in order), their roles and the ORCIDs shown for them."""
    ids: list[int] = []
    errors: list[FieldError] = []
    for raw in form.getlist("member"):
        try:
            pid = int(str(raw))
        except ValueError:
            errors.append(FieldError("members", N_("Choose the members from the list."), value=str(raw)))
            continue
        if pid not in ids:
            ids.append(pid)
    roles = {pid: str(form.get(f"role_{pid}") or "member") for pid in ids}
    orcids = {pid: (str(form.get(f"orcid_{pid}")) if form.get(f"orcid_{pid}") else None) for pid in ids}
    return ids, roles, orcids, errors


def _form_field(name: str) -> str:
    """The form's name for a service error's field: the candidate (lead) is no input, so a refusal about them
    (the evaluation cycle) is shown as a message of the whole form; a member's goes to the member list."""
    if name == "lead_person_id":
        return "__all__"
    return "members" if name.startswith("members[") else name


def _dossier_form(request: Request, session, principal: Principal, ev, form=None, *, errors=None,
                  status_code: int = 200):
    form = form or {}
    values = {k: str(form.get(k) or "") for k in ("kind", "field", "plan", "team_name", "contribution", "member_q")}
    values["kind"] = values["kind"] or "individual"
    ids, roles, orcids, _ = _chosen_members(form) if hasattr(form, "getlist") else ([], {}, {}, [])
    choices = svc.team_member_choices(session, principal, ev.id, values["member_q"], keep=orcids) if ev.status == "open" else []
    return render(request, "talent/dossier_new.html", _ctx(
        title=N_("New dossier"), ev=ev, errors=errors or {}, values=values, choices=choices, chosen=set(ids),
        roles=roles, existing=_my_dossier(session, principal, ev.id)), status_code=status_code)


@router.get("/dossiers/new")
def new_dossier(request: Request, session: DbSession, principal: Candidate, evaluation: int):
    """Start a dossier for an open evaluation of the candidate's unit."""
    ev = svc.access_evaluation_by_id(session, principal, evaluation)
    return _dossier_form(request, session, principal, ev)


def _my_dossier(session, principal: Principal, evaluation_id: int):
    """The dossier the candidate leads in this evaluation, if any."""
    return next((d for d in svc.list_dossiers(session, principal, evaluation_id)
                 if d.lead_person_id == principal.person_id), None)


@router.get("/dossiers/people")
def pick_members(request: Request, session: DbSession, principal: Candidate, evaluation: int):
    """Team-member picker (htmx partial): colleagues of the evaluation's unit by name or ORCID, a collaborator
    elsewhere by exact ORCID; the members already ticked stay listed with their roles."""
    ev = svc.access_evaluation_by_id(session, principal, evaluation)
    form = request.query_params
    ids, roles, orcids, _ = _chosen_members(form)
    choices = svc.team_member_choices(session, principal, ev.id, form.get("member_q") or "", keep=orcids)
    return render(request, "talent/_members_results.html", _ctx(choices=choices, chosen=set(ids), roles=roles))


@router.post("/dossiers/new")
async def create_dossier(request: Request, session: DbSession, principal: Candidate):
    """Create the dossier (a team: the members ticked in the picker, each with a role); ``action=search``
    only re-renders the form with the picker's matches."""
    form = await request.form()
    try:
        evaluation = int(str(form.get("evaluation") or ""))
    except ValueError:
        raise NotFound() from None
    ev = svc.access_evaluation_by_id(session, principal, evaluation)
    if form.get("action") == "search":
        return _dossier_form(request, session, principal, ev, form)
    ids, roles, _orcids, errors = _chosen_members(form)
    contribution = str(form.get("contribution") or "").strip()
    try:
        if errors:
            raise ValidationFailed(errors=errors)
        mem = [svc.MemberIn(person_id=principal.person_id or -1, role="lead", contribution=contribution or None)]
        mem += [svc.MemberIn(person_id=pid, role=roles[pid]) for pid in ids]
        d = svc.create_dossier(session, principal, svc.DossierIn(
            evaluation_id=ev.id, kind=str(form.get("kind") or "individual"),
            team_name=str(form.get("team_name") or "").strip() or None,
            field=str(form.get("field") or "").strip() or None, plan=str(form.get("plan") or "").strip() or None,
            members=mem))
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        errs: dict[str, list[str]] = {}
        for name, reasons in field_errors(exc).items():  # members[i].person_id → the picker
            errs.setdefault("members" if name.startswith("members") else _form_field(name), []).extend(reasons)
        # 422 for the fields, 409 (with a link to the dossier) when one exists already or the round is closed
        return _dossier_form(request, session, principal, ev, form, errors=errs,
                             status_code=422 if isinstance(exc, ValidationFailed) else exc.status_code)
    return redirect(f"/talent/dossiers/{d.id}")


def _dossier_page(request: Request, session, principal: Principal, dossier_id: int, *, errors=None, values=None,
                  status_code: int = 200):
    d = svc.access_dossier_by_id(session, principal, dossier_id)
    ev = session.get(svc.TalentEvaluation, d.evaluation_id)
    scheme = svc.scheme_of(session, ev)
    editable = principal.role is Role.RESEARCHER and d.lead_person_id == principal.person_id and d.status == "draft"
    decision = svc.decision_of(session, principal, d.id)
    appeal = svc.appeal_of(session, principal, d.id)
    people = _names(session, {m.person_id for m in d.members})
    return render(request, "talent/dossier.html", _ctx(
        title=N_("Dossier {code}"), d=d, ev=ev, scheme=scheme, editable=editable, decision=decision, appeal=appeal,
        people=people, errors=errors or {}, values=values or {"ref_type": "transfer"},
        can_appeal=(principal.role is Role.RESEARCHER and d.lead_person_id == principal.person_id
                    and ev.status == "published" and decision is not None and appeal is None),
        show_scores=svc.scores_visible(session, principal, d), flashes=_flash(request),
        synthetic=d.is_synthetic), status_code=status_code)


@router.get("/dossiers/{dossier_id}")
def dossier(request: Request, session: DbSession, principal: Reader, dossier_id: int):
    """A dossier: members, works (verified links), evidence, result and appeal."""
    return _dossier_page(request, session, principal, dossier_id)


@router.get("/records/search")
def record_search(request: Request, session: DbSession, principal: Candidate, type: str = "transfer", q: str = ""):
    """The candidate's own records that can stand for a representative work (htmx partial)."""
    try:
        rows = service.linkable_records(session, principal, type, q)
    except ValidationFailed:
        rows = []
    return render(request, "talent/_records.html", _ctx(rows=rows, ref_type=type))


@router.post("/dossiers/{dossier_id}/works")
def add_work(request: Request, session: DbSession, principal: Candidate, dossier_id: int,
             kind: Annotated[str, Form()] = "", contribution_statement: Annotated[str, Form()] = "",
             title: Annotated[str, Form()] = "", year: Annotated[str, Form()] = "", venue: Annotated[str, Form()] = "",
             identifier: Annotated[str, Form()] = "", domestic_journal: Annotated[str, Form()] = "",
             ref_type: Annotated[str, Form()] = "", ref_id: Annotated[str, Form()] = "",
             ref_pick: Annotated[str, Form()] = ""):
    """Add a representative work; a linked record is verified now (refused with the reason otherwise).
    ``ref_pick`` is a record chosen in the search (``type:id:kind``)."""
    if ref_pick:
        parts = ref_pick.split(":")
        if len(parts) == 3:
            ref_type, ref_id = parts[0], parts[1]
            kind = kind or parts[2]
    values = {"kind": kind, "contribution_statement": contribution_statement, "title": title, "year": year,
              "venue": venue, "identifier": identifier, "domestic_journal": domestic_journal, "ref_type": ref_type,
              "ref_id": ref_id}
    try:
        errors = []
        year_i = ref_i = None
        if year.strip():
            try:
                year_i = int(year)
            except ValueError:
                errors.append(FieldError("year", N_("Enter a whole number."), value=year))
        if ref_id.strip():
            try:
                ref_i = int(ref_id)
            except ValueError:
                errors.append(FieldError("ref_id", N_("Enter a whole number."), value=ref_id))
        if errors:
            raise ValidationFailed(errors=errors)
        svc.add_work(session, principal, dossier_id, svc.WorkIn(
            kind=kind, contribution_statement=contribution_statement, title=title.strip() or None, year=year_i,
            venue=venue.strip() or None, identifier=identifier.strip() or None,
            domestic_journal={"yes": True, "no": False}.get(domestic_journal),
            ref_type=(ref_type or None) if ref_i is not None else None, ref_id=ref_i))
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _dossier_page(request, session, principal, dossier_id, errors=field_errors(exc), values=values,
                             status_code=422)
    return redirect(f"/talent/dossiers/{dossier_id}?done=work")


@router.post("/dossiers/{dossier_id}/works/{work_id}/delete")
def remove_work(request: Request, session: DbSession, principal: Candidate, dossier_id: int, work_id: int):
    """Remove a work from a draft dossier."""
    svc.remove_work(session, principal, dossier_id, work_id)
    return redirect(f"/talent/dossiers/{dossier_id}")


@router.post("/dossiers/{dossier_id}/submit")
def submit(request: Request, session: DbSession, principal: Candidate, dossier_id: int):
    """Submit the dossier (the scheme's representative-work rules are enforced)."""
    try:
        svc.submit_dossier(session, principal, dossier_id)
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        errs: dict[str, list[str]] = {}
        for name, reasons in field_errors(exc).items():
            errs.setdefault(_form_field(name), []).extend(reasons)
        return _dossier_page(request, session, principal, dossier_id, errors=errs,
                             status_code=422 if isinstance(exc, ValidationFailed) else exc.status_code)
    return redirect(f"/talent/dossiers/{dossier_id}?done=submitted")


@router.post("/dossiers/{dossier_id}/appeal")
def appeal(request: Request, session: DbSession, principal: Candidate, dossier_id: int,
           grounds: Annotated[str, Form()] = ""):
    """The candidate appeals the published decision."""
    try:
        svc.file_appeal(session, principal, dossier_id, grounds)
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _dossier_page(request, session, principal, dossier_id, errors=field_errors(exc),
                             values={"grounds": grounds}, status_code=422)
    return redirect(f"/talent/dossiers/{dossier_id}?done=appealed")


# ---------------------------------------------------------------- reviewer workbench (blind)
@router.get("/reviews")
def reviews(request: Request, session: DbSession, principal: Reviewer, params: Annotated[PageParams, Query()]):
    """The reviewer's assignments, known by dossier code only (paginated)."""
    rows, total = svc.page_assignments(session, principal, params)
    return render(request, "talent/reviews.html", _ctx(
        title=N_("My reviews"), rows=rows, page=Page(items=rows, total=total, page=params.page, per_page=params.per_page),
        active_nav="talent-reviews"))


def _workbench(request: Request, session, principal: Principal, assignment_id: int, *, errors=None, values=None,
               status_code: int = 200):
    view = svc.reviewer_view(session, principal, assignment_id)
    return render(request, "talent/review.html", _ctx(
        title=N_("Review {code}"), r=view, errors=errors or {}, values=values or {}, active_nav="talent-reviews",
        flashes=_flash(request)), status_code=status_code)


@router.get("/reviews/{assignment_id}")
def review(request: Request, session: DbSession, principal: Reviewer, assignment_id: int):
    """The blind workbench: the dossier as ``reviewer_view`` gives it, and the score form."""
    return _workbench(request, session, principal, assignment_id)


@router.post("/reviews/{assignment_id}")
async def submit_review(request: Request, session: DbSession, principal: Reviewer, assignment_id: int):
    """Score every indicator (0–100) with a comment."""
    form = await request.form()
    scores: dict[str, Decimal] = {}
    errors = []
    for k, v in form.multi_items():
        if k.startswith("score."):
            text = str(v).strip()
            try:
                scores[k[6:]] = Decimal(text)
            except InvalidOperation:
                if text:
                    errors.append(FieldError(k, N_("Scores are between 0 and 100."), value=text))
    values = {k: str(v) for k, v in form.multi_items()}
    try:
        if errors:
            raise ValidationFailed(errors=errors)
        svc.submit_review(session, principal, assignment_id, scores, str(form.get("comment") or "").strip() or None)
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _workbench(request, session, principal, assignment_id, errors=field_errors(exc), values=values,
                          status_code=422)
    return redirect(f"/talent/reviews/{assignment_id}?done=scored")


@router.post("/reviews/{assignment_id}/decline")
def decline(request: Request, session: DbSession, principal: Reviewer, assignment_id: int,
            reason: Annotated[str, Form()] = ""):
    """Decline an assignment (e.g. a conflict of interest)."""
    svc.decline_assignment(session, principal, assignment_id, reason)
    return redirect("/talent/reviews")

