"""Results-transfer pages (thin; every rule and scope is in ``service``): TTO workbench with the 单列管理
ledger, achievement detail, 赋权 applications (notice, objections, decision), the researcher's page, transfer
detail with the 尽职免责 dossier (and its printable version), technology-contract registration, income and
its split, and the statistics dashboard with drill-down. Templates: ``templates/transfer/``."""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import zip_longest
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select

from kechuang.core.auth import Principal, Role
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import Page, PageParams
from kechuang.core.permissions import has
from kechuang.core.tabular import XLSX_MEDIA
from kechuang.transfer import dossier as dossier_mod
from kechuang.transfer import params, service, stats
from kechuang.transfer.models import AchievementMember, IncomeEvent, TechnologyContract
from kechuang.transfer.schemas import (
    AchievementCreate,
    ApplicationCreate,
    ContractCreate,
    IncomeIn,
    MemberIn,
    ObjectionIn,
    OwnerIn,
    PaymentIn,
    PayoutIn,
    PilotIn,
    RuleIn,
    TransferCreate,
    TransferEvidence,
    ValuationIn,
)
from kechuang.web.pageutil import field_errors, form_date, form_yuan, pages_router, redirect
from kechuang.web.templating import NavItem, format_date, format_money, org_name, register_nav, render

router = pages_router(prefix="/transfer")

Reader = Annotated[Principal, Depends(requires(service.READ))]
Manager = Annotated[Principal, Depends(requires(service.MANAGE))]
Applicant = Annotated[Principal, Depends(requires(service.APPLY))]
ContractWriter = Annotated[Principal, Depends(requires(service.CONTRACT_WRITE))]
Registrar = Annotated[Principal, Depends(requires(service.REGISTER))]
StatsReader = Annotated[Principal, Depends(requires(service.STATS))]
OverdueReader = Annotated[Principal, Depends(requires(service.OVERDUE))]

# The pillar's label: this entry takes the place of the "Talent & transfer" overview in the navigation.
register_nav(NavItem("transfer", N_("Talent & transfer"), "/transfer", service.READ, order=12))

STATES = {
    "draft": N_("Draft"), "submitted": N_("Submitted"), "tto_review": N_("TTO review"), "notice": N_("Public notice"),
    "approved": N_("Approved"), "rejected": N_("Rejected"), "signed": N_("Signed"), "completed": N_("Completed"),
    "cancelled": N_("Cancelled"), "registered": N_("Registered"), "refused": N_("Refused"),
}
PARTIES = {"member": N_("Team member"), "department": N_("Department"), "institution": N_("Institution")}
INSTITUTION_TYPES = {"university": N_("University"), "research_institute": N_("Research institute"),
                     "new_rd_institution": N_("New R&D institution"), "hospital": N_("Hospital"),
                     "enterprise": N_("Enterprise")}
VOCAB = {"kinds": service.ACHIEVEMENT_KINDS, "stages": service.LEDGER_STAGES, "app_kinds": service.APPLICATION_KINDS,
         "modes": service.TRANSFER_MODES, "licence_types": service.LICENCE_TYPES, "routes": service.PRICING_ROUTES,
         "categories": service.CONTRACT_CATEGORIES, "states": STATES, "parties": PARTIES,
         "methods": service.VALUATION_METHODS, "dossier_status": dossier_mod.STATUS_LABELS,
         "institution_types": INSTITUTION_TYPES}


# ---------------------------------------------------------------- form parsing
def _int(value: str | None, name: str, errors: list[FieldError]) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors.append(FieldError(name, N_("Enter a whole number."), value=value))
        return None


def _share(value: str | None, name: str, errors: list[FieldError]) -> Decimal | None:
    """A percentage typed as 30 or 30% as a fraction 0.3."""
    text = (value or "").replace("%", "").strip()
    if not text:
        return None
    try:
        pct = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError(name, N_("Enter a percentage, e.g. 30."), value=value))
        return None
    if not 0 <= pct <= 100:
        errors.append(FieldError(name, N_("A percentage is between 0 and 100."), value=value))
        return None
    return (pct / 100).quantize(Decimal("0.0001"))


def _check(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors=errors)


def _form_errors(exc: AppError) -> dict[str, list[str]]:
    """Field errors for a form; pydantic's nested names (``payments.0.amount_fen``) map to the form field."""
    out: dict[str, list[str]] = {}
    for k, v in field_errors(exc).items():
        out.setdefault(k.split(".")[0], []).extend(v)
    return out


def _ctx(**kw: Any) -> dict[str, Any]:
    return {"active_nav": "transfer", "v": VOCAB, **kw}


def _synthetic(*groups: Any) -> bool:
    return any(getattr(x, "is_synthetic", False) for g in groups for x in (g if isinstance(g, list | tuple) else [g]))


# ---------------------------------------------------------------- workbench
@router.get("")
def workbench(request: Request, session: DbSession, principal: Reader, stage: str | None = None,
              state: str | None = None):
    """TTO workbench: the 单列管理 ledger, the 赋权 queue, transfers, contracts, income (own institution for a
    TTO officer; everything read-only for the commission). Researchers go to their own page."""
    if principal.role is Role.RESEARCHER:
        return RedirectResponse("/transfer/me", status_code=303)
    ledger = service.ledger_rows(session, principal) if principal.role is not Role.ENTERPRISE else []
    by_stage: dict[str, dict[str, int]] = {}
    for r in ledger:
        s = by_stage.setdefault(r["stage"], {"count": 0, "book": 0})
        s["count"] += 1
        s["book"] += r["book_value_fen"]
    shown = [r for r in ledger if not stage or r["stage"] == stage]
    apps = service.list_applications(session, principal, state)
    transfers = service.list_transfers(session, principal)
    contracts = service.list_contracts(session, principal)
    income = service.list_income(session, principal)
    orgs, people = service.names(
        session, [r["organisation_id"] for r in shown[:50]] + [a.organisation_id for a in apps]
        + [t.organisation_id for t in transfers] + [t.counterparty_organisation_id for t in transfers]
        + [c.seller_organisation_id for c in contracts] + [c.buyer_organisation_id for c in contracts],
        [a.applicant_person_id for a in apps])
    achs = service.achievements_by_id(session, [a.achievement_id for a in apps] + [t.achievement_id for t in transfers]
                                      + [i.achievement_id for i in income])
    return render(request, "transfer/workbench.html", _ctx(
        title=N_("Technology transfer"), ledger=shown[:50], ledger_total=len(shown), by_stage=by_stage,
        stage=stage, state=state, apps=apps, transfers=transfers[:50], contracts=contracts[:50],
        income=income[:50], orgs=orgs, people=people, achs=achs,
        may_manage=service.can_manage(principal), may_register=service.can_register(principal),
        may_write_contract=has(principal, service.CONTRACT_WRITE), may_stats=has(principal, service.STATS),
        may_overdue=has(principal, service.OVERDUE), may_rules=has(principal, service.RULES), overdue=service.count_overdue(session, principal),
        synthetic=_synthetic(transfers, contracts, apps),
        queue=[a for a in apps if a.state in ("submitted", "tto_review", "notice")],
        missing={t.id: service.missing_steps(t) for t in transfers[:50] if t.state in ("draft", "signed")}),
        principal=principal)


@router.get("/ledger.xlsx")
def ledger_xlsx(session: DbSession, principal: Reader):
    """The 单列管理 ledger as XLSX (own institution for a TTO officer)."""
    return Response(service.export_ledger_xlsx(session, principal), media_type=XLSX_MEDIA,
                    headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'})


# ---------------------------------------------------------------- achievement form (register and correct)
OWNER_ROWS, MEMBER_ROWS = 3, 5
_LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def _rows(whos: list[str], shares: list[str]) -> list[tuple[str, str]]:
    return [(w, s) for w, s in zip_longest(whos, shares, fillvalue="")]


def _padded(rows: list[tuple[str, str]], size: int, spare: int) -> list[tuple[str, str]]:
    """The typed rows plus empty ones: at least ``size`` rows and ``spare`` empty ones to add people."""
    filled = list(rows)
    while filled and not (filled[-1][0].strip() or filled[-1][1].strip()):  # trailing blanks only: errors
        filled.pop()                                                        # name rows by their position
    return filled + [("", "")] * max(size - len(filled), spare)


def _achievement_values(session, a) -> dict[str, Any]:
    """The form's values for an existing achievement (owners and team as their labels)."""
    orgs, people = service.names(session, [o.organisation_id for o in a.owners], [m.person_id for m in a.members])
    return {"kind": a.kind, "title": a.title, "number": a.number or "", "trl": a.trl or "",
            "fields": "、".join(a.fields), "keywords": "、".join(a.keywords),
            "government_funding": f"{a.government_funding_fen / 100:.2f}" if a.government_funding_fen else "",
            "is_classified": "1" if a.is_classified else "",
            "owners": [(service.organisation_label(orgs[o.organisation_id]) if o.organisation_id in orgs else
                        f"#{o.organisation_id}", f"{o.share * 100:.2f}".rstrip("0").rstrip(".")) for o in a.owners],
            "members": [(service.person_label(people[m.person_id]) if m.person_id in people else f"#{m.person_id}",
                         f"{m.contribution * 100:.2f}".rstrip("0").rstrip(".")) for m in a.members]}


def _parse_achievement(session, principal: Principal, values: dict[str, Any]) -> AchievementCreate:
    """The form as ``AchievementCreate``: amounts in yuan, shares in percent, owners and team named by label,
    #id, credit code, ORCID or unique name. Field errors name the row they come from."""
    errors: list[FieldError] = []
    for f, most in (("title", 300), ("number", 64)):
        if len(values[f].strip()) > most:
            errors.append(FieldError(f, N_("At most {max} characters."), {"max": most}))
    for f in ("kind", "title"):
        if not values[f].strip():
            errors.append(FieldError(f, N_("This field is required.")))
    trl = _int(values["trl"], "trl", errors)
    funding = form_yuan(values["government_funding"], "government_funding", errors) or 0
    owners: list[OwnerIn] = []
    members: list[MemberIn] = []
    for key, rows, find, out in (("owner", values["owners"], lambda t: service.find_organisation(session, t),
                                  owners),
                                 ("member", values["members"], lambda t: service.find_person(session, principal, t),
                                  members)):
        for i, (who, share) in enumerate(rows):
            if not who.strip() and not share.strip():
                continue
            found = find(who) if who.strip() else None
            if not who.strip():
                errors.append(FieldError(f"{key}-{i}", N_("Name who holds this share.")))
            elif found is None:
                errors.append(FieldError(f"{key}-{i}", N_("Nothing in the registry matches “{text}”; pick an entry "
                                                          "from the list or give its #id."), {"text": who.strip()},
                                         value=who))
            frac = _share(share, f"{key}_share-{i}", errors)
            if frac is None and not share.strip():
                errors.append(FieldError(f"{key}_share-{i}", N_("Enter the share in percent.")))
            elif frac is not None and frac <= 0:
                errors.append(FieldError(f"{key}_share-{i}", N_("A share is above 0%."), value=share))
            if found is not None and frac is not None and frac > 0:
                out.append(OwnerIn(organisation_id=found.id, share=frac) if key == "owner"
                           else MemberIn(person_id=found.id, contribution=frac))
    _check(errors)
    return AchievementCreate(
        kind=values["kind"], title=values["title"].strip(), number=values["number"].strip() or None, trl=trl,
        fields=[x.strip() for x in _LIST_SPLIT.split(values["fields"]) if x.strip()],
        keywords=[x.strip() for x in _LIST_SPLIT.split(values["keywords"]) if x.strip()],
        government_funding_fen=funding, is_classified=bool(values["is_classified"]), owners=owners, members=members)


def _achievement_form(request: Request, session, principal: Principal, values: dict[str, Any],
                      errors: dict[str, Any] | None = None, achievement_id: int | None = None,
                      status_code: int = 200):
    team = service.team_choices(session, principal)
    return render(request, "transfer/achievement_form.html", _ctx(
        title=N_("Edit the result") if achievement_id else N_("Register a result"), values=values,
        errors=errors or {}, achievement_id=achievement_id,
        owner_rows=_padded(values.get("owners") or [], OWNER_ROWS, 1),
        member_rows=_padded(values.get("members") or [], MEMBER_ROWS, 2),
        kind_options=[(k, gettext(label)) for k, label in service.ACHIEVEMENT_KINDS.items()],
        trl_options=[(n, str(n)) for n in range(1, 10)],
        owner_options=[service.organisation_label(o) for o in service.owner_choices(session, principal)],
        team_options=[service.person_label(p) for p in team]), status_code=status_code, principal=principal)


def _achievement_errors(exc: AppError) -> dict[str, list[str]]:
    errs = _form_errors(exc)
    for a, b in (("government_funding_fen", "government_funding"), ("organisation_id", "owners"),
                 ("person_id", "members")):
        if a in errs:
            errs.setdefault(b, []).extend(errs.pop(a))
    return errs


def _save_achievement(request: Request, session, principal: Principal, values: dict[str, Any],
                      achievement_id: int | None):
    try:
        with session.begin_nested():
            try:
                data = _parse_achievement(session, principal, values)
            except PydanticValidationError as exc:  # a bound the form does not check itself
                raise ValidationFailed(errors=[FieldError(str(e["loc"][0]), N_("This value is not valid."))
                                               for e in exc.errors()]) from None
            if achievement_id is None:
                a = service.create_achievement(session, principal, data)
            else:
                a = service.update_achievement(session, principal, achievement_id, data)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _achievement_form(request, session, principal, values, _achievement_errors(exc), achievement_id,
                                 exc.status_code)
    return redirect(f"/transfer/achievements/{a.id}")


def _form_values(kind: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                 number: Annotated[str, Form()] = "", trl: Annotated[str, Form()] = "",
                 fields: Annotated[str, Form()] = "", keywords: Annotated[str, Form()] = "",
                 government_funding: Annotated[str, Form()] = "", is_classified: Annotated[str, Form()] = "",
                 owner: Annotated[list[str], Form()] = (), owner_share: Annotated[list[str], Form()] = (),
                 member: Annotated[list[str], Form()] = (), member_share: Annotated[list[str], Form()] = ()
                 ) -> dict[str, Any]:
    """The achievement form as typed (a dependency of the create and correct routes): owners and team as rows."""
    return {"kind": kind, "title": title, "number": number, "trl": trl, "fields": fields, "keywords": keywords,
            "government_funding": government_funding, "is_classified": is_classified,
            "owners": _rows(list(owner), list(owner_share)), "members": _rows(list(member), list(member_share))}


AchievementFormValues = Annotated[dict[str, Any], Depends(_form_values)]


@router.get("/achievements/new")
def achievement_new(request: Request, session: DbSession, principal: Manager):
    """The TTO registers a result of its institution (owners with shares, team with contribution shares)."""
    values: dict[str, Any] = {"owners": [], "members": []}
    if principal.organisation_id:
        orgs, _p = service.names(session, [principal.organisation_id])
        if principal.organisation_id in orgs:
            values["owners"] = [(service.organisation_label(orgs[principal.organisation_id]), "100")]
    return _achievement_form(request, session, principal, values)


@router.post("/achievements")
def achievement_create(request: Request, session: DbSession, principal: Manager, values: AchievementFormValues):
    """Record the result (on the institution's 单列管理 ledger as 'registered'); field errors keep the input."""
    return _save_achievement(request, session, principal, values, None)


@router.get("/achievements/{achievement_id}/edit")
def achievement_edit(request: Request, session: DbSession, principal: Manager, achievement_id: int):
    """Correct a result while no application, transfer, contract or income refers to it (409 otherwise)."""
    a = service.access_achievement_by_id(session, principal, achievement_id)
    if not principal.is_system and not any(o.organisation_id == principal.organisation_id for o in a.owners):
        raise NotFound()
    locks = service.achievement_locks(session, a.id)
    if locks:
        raise service.AchievementLocked(locks)
    return _achievement_form(request, session, principal, _achievement_values(session, a), achievement_id=a.id)


@router.post("/achievements/{achievement_id}/edit")
def achievement_update(request: Request, session: DbSession, principal: Manager, achievement_id: int,
                       values: AchievementFormValues):
    """Save the corrections (the service refuses once records refer to the result)."""
    return _save_achievement(request, session, principal, values, achievement_id)


# ---------------------------------------------------------------- achievements
def _achievement_page(request: Request, session, principal: Principal, achievement_id: int,
                      errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
                      form: str | None = None, status_code: int = 200):
    o = service.achievement_overview(session, principal, achievement_id)
    a = o["achievement"]
    orgs, people = service.names(
        session, [x.organisation_id for x in a.owners] + [t.counterparty_organisation_id for t in o["transfers"]]
        + [c.buyer_organisation_id for c in o["contracts"]] + [x.organisation_id for x in o["ledger"]],
        [m.person_id for m in a.members] + [x.applicant_person_id for x in o["applications"]])
    on_team = principal.person_id is not None and any(m.person_id == principal.person_id for m in a.members)
    counterparties = []
    if service.can_manage(principal):
        from kechuang.registry.models import Organisation

        counterparties = [(x.id, org_name(x)) for x in session.scalars(
            select(Organisation).where(Organisation.kind == "enterprise").order_by(Organisation.id).limit(200))]
    return render(request, "transfer/achievement.html", _ctx(
        title=a.title, o=o, a=a, orgs=orgs, people=people, errors=errors or {}, values=values or {}, form=form,
        may_apply=has(principal, service.APPLY) and on_team and not a.is_classified,
        may_manage=service.can_manage(principal) and any(x.organisation_id == principal.organisation_id
                                                          for x in a.owners),
        counterparties=counterparties, synthetic=a.is_synthetic, may_edit=service.is_editable(session, principal, a),
        income_transfers=[(t.id, f"#{t.id} · {gettext(service.TRANSFER_MODES[t.mode])} · "
                                 f"{gettext(STATES.get(t.state, t.state))}")
                          for t in o["transfers"] if t.state != "cancelled"],
        income_key=f"achievement-{a.id}-{secrets.token_hex(8)}", today=service.today(),
        min_years=params.value("empowerment.use_right_min_years", service.today())), status_code=status_code,
        principal=principal)


@router.get("/achievements/{achievement_id}")
def achievement_page(request: Request, session: DbSession, principal: Reader, achievement_id: int,
                     income_transfer: int | None = None):
    """An achievement: owners, team, ledger entry and valuations, applications, transfers, contracts, income
    (``income_transfer`` preselects a transfer in the income form)."""
    values = {"transfer_id": income_transfer} if income_transfer else None
    return _achievement_page(request, session, principal, achievement_id, values=values,
                             form="income" if income_transfer else None)


@router.post("/achievements/{achievement_id}/income")
def achievement_income_post(request: Request, session: DbSession, principal: Manager, achievement_id: int,
                            idempotency_key: Annotated[str, Form()], received_date: Annotated[str, Form()] = "",
                            amount: Annotated[str, Form()] = "", costs: Annotated[str, Form()] = "",
                            cost_note: Annotated[str, Form()] = "", transfer_id: Annotated[str, Form()] = ""):
    """Record income received for the result without a technology contract (e.g. licence royalties reported
    directly, optionally under one of its transfers); it is split at once, idempotent on the form's key."""
    values = {"received_date": received_date, "amount": amount, "costs": costs, "cost_note": cost_note,
              "transfer_id": transfer_id}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            data = {"idempotency_key": idempotency_key, "achievement_id": achievement_id,
                    "transfer_id": _int(transfer_id, "transfer_id", errors),
                    "received_date": form_date(received_date, "received_date", errors, required=True),
                    "amount_fen": form_yuan(amount, "amount", errors, required=True),
                    "costs_fen": form_yuan(costs, "costs", errors) or 0, "cost_note": cost_note.strip() or None}
            if data["amount_fen"] is not None and data["amount_fen"] <= 0:
                errors.append(FieldError("amount", N_("The amount must be above zero.")))
            if len(cost_note.strip()) > 300:
                errors.append(FieldError("cost_note", N_("At most {max} characters."), {"max": 300}))
            _check(errors)
            event, _created = service.record_income(session, principal, IncomeIn(**data))
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        errs = _form_errors(exc)
        for a, b in (("costs_fen", "costs"), ("amount_fen", "amount"), ("achievement_id", "__all__")):
            if a in errs:
                errs.setdefault(b, []).extend(errs.pop(a))
        return _achievement_page(request, session, principal, achievement_id, errs, values, "income",
                                 exc.status_code)
    return redirect(f"/transfer/income/{event.id}")


@router.post("/achievements/{achievement_id}/applications")
def apply_post(request: Request, session: DbSession, principal: Applicant, achievement_id: int,
               organisation_id: Annotated[int, Form()], kind: Annotated[str, Form()],
               ownership_share: Annotated[str, Form()] = "", use_right_years: Annotated[str, Form()] = "",
               agreed_income_share: Annotated[str, Form()] = ""):
    """A researcher applies for 赋权: the application is drafted and submitted (eligibility checked)."""
    values = {"organisation_id": organisation_id, "kind": kind, "ownership_share": ownership_share,
              "use_right_years": use_right_years, "agreed_income_share": agreed_income_share}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            data = {"achievement_id": achievement_id, "organisation_id": organisation_id, "kind": kind,
                    "ownership_share": _share(ownership_share, "ownership_share", errors),
                    "use_right_years": _int(use_right_years, "use_right_years", errors),
                    "agreed_income_share": _share(agreed_income_share, "agreed_income_share", errors)}
            _check(errors)
            app = service.create_application(session, principal, ApplicationCreate(**data))
            service.submit_application(session, principal, app.id)
    except AppError as exc:
        return _achievement_page(request, session, principal, achievement_id, _form_errors(exc), values, "apply",
                                 exc.status_code)
    return redirect(f"/transfer/applications/{app.id}")


@router.post("/achievements/{achievement_id}/transfers")
def transfer_post(request: Request, session: DbSession, principal: Manager, achievement_id: int,
                  mode: Annotated[str, Form()], counterparty_organisation_id: Annotated[str, Form()] = "",
                  licence_type: Annotated[str, Form()] = "", licence_term_years: Annotated[str, Form()] = "",
                  territory: Annotated[str, Form()] = "", company_is_new: Annotated[str, Form()] = "",
                  equity_share: Annotated[str, Form()] = "", social_capital: Annotated[str, Form()] = "",
                  price: Annotated[str, Form()] = "", pricing_route: Annotated[str, Form()] = ""):
    """The TTO starts a transfer of the achievement (draft)."""
    values = {k: v for k, v in locals().items() if isinstance(v, str)}
    try:
        errors: list[FieldError] = []
        data = {"achievement_id": achievement_id, "mode": mode,
                "counterparty_organisation_id": _int(counterparty_organisation_id, "counterparty_organisation_id",
                                                     errors),
                "licence_type": licence_type or None,
                "licence_term_years": _int(licence_term_years, "licence_term_years", errors),
                "territory": territory.strip() or None,
                "company_is_new": {"yes": True, "no": False}.get(company_is_new),
                "equity_share": _share(equity_share, "equity_share", errors) or None,
                "social_capital_fen": form_yuan(social_capital, "social_capital", errors) or 0,
                "price_fen": form_yuan(price, "price", errors) or 0, "pricing_route": pricing_route or None}
        _check(errors)
        t = service.create_transfer(session, principal, TransferCreate(**data))
    except AppError as exc:
        errs = _form_errors(exc)
        for a, b in (("price_fen", "price"), ("social_capital_fen", "social_capital")):
            if a in errs:
                errs[b] = errs.pop(a)
        return _achievement_page(request, session, principal, achievement_id, errs, values, "transfer",
                                 exc.status_code)
    return redirect(f"/transfer/transfers/{t.id}")


@router.post("/achievements/{achievement_id}/ledger")
def ledger_post(request: Request, session: DbSession, principal: Manager, achievement_id: int,
                stage: Annotated[str, Form()] = "", book_value: Annotated[str, Form()] = "",
                valuation_date: Annotated[str, Form()] = "", method: Annotated[str, Form()] = "",
                value: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                update_book_value: Annotated[str, Form()] = ""):
    """The TTO updates the 单列管理 entry: stage tag and book value, and/or records a valuation event."""
    values = {k: v for k, v in locals().items() if isinstance(v, str)}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            book = form_yuan(book_value, "book_value", errors)
            on = form_date(valuation_date, "valuation_date", errors)
            amount = form_yuan(value, "value", errors)
            if (on or amount is not None or method) and not (on and amount is not None and method):
                errors.append(FieldError("value", N_("A valuation needs its date, method and value.")))
            _check(errors)
            if stage or book is not None:
                service.set_stage(session, principal, achievement_id,
                                  stage or _current_stage(session, principal, achievement_id), book)
            if on and amount is not None and method:
                service.add_valuation(session, principal, achievement_id, ValuationIn(
                    valuation_date=on, method=method, value_fen=amount, note=note.strip() or None,
                    update_book_value=bool(update_book_value)))
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _achievement_page(request, session, principal, achievement_id, _form_errors(exc), values, "ledger",
                                 exc.status_code)
    return redirect(f"/transfer/achievements/{achievement_id}#ledger")


def _current_stage(session, principal: Principal, achievement_id: int) -> str:
    entries = service.achievement_overview(session, principal, achievement_id)["ledger"]
    mine = [e for e in entries if e.organisation_id == principal.organisation_id] or entries
    return mine[0].stage if mine else "registered"


# ---------------------------------------------------------------- 赋权 applications
def _application_page(request: Request, session, principal: Principal, application_id: int,
                      errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
                      status_code: int = 200):
    app = service.access_application_by_id(session, principal, application_id)
    ach = service.achievements_by_id(session, [app.achievement_id]).get(app.achievement_id)
    orgs, people = service.names(session, [app.organisation_id], [app.applicant_person_id])
    today = service.today()
    objections = service.list_objections(session, principal, app.id)
    mine = service.can_manage(principal) and (principal.is_system or app.organisation_id == principal.organisation_id)
    return render(request, "transfer/application.html", _ctx(
        title=gettext("赋权 application {id}", id=app.id), app=app, ach=ach, orgs=orgs, people=people,
        objections=objections, open_objections=[o for o in objections if o.resolved_at is None],
        may_manage=mine, today=today, errors=errors or {}, values=values or {},
        notice_days=params.entry("empowerment.notice_days", today),
        notice_over=app.notice_end_date is not None and today > app.notice_end_date,
        eligibility=service.eligibility_problems(session, app, today) if app.state in ("submitted", "tto_review")
        else [], synthetic=app.is_synthetic), status_code=status_code, principal=principal)


@router.get("/applications/{application_id}")
def application_page(request: Request, session: DbSession, principal: Reader, application_id: int):
    """A 赋权 application: terms, eligibility, 公示 notice, objections, decision."""
    return _application_page(request, session, principal, application_id)


def _app_action(request, session, principal, application_id: int, action, values: dict[str, Any] | None = None):
    try:
        with session.begin_nested():
            action()
    except AppError as exc:
        return _application_page(request, session, principal, application_id, _form_errors(exc), values,
                                 exc.status_code)
    return redirect(f"/transfer/applications/{application_id}")


@router.post("/applications/{application_id}/review")
def application_review(request: Request, session: DbSession, principal: Manager, application_id: int):
    """submitted → TTO review."""
    return _app_action(request, session, principal, application_id,
                       lambda: service.start_review(session, principal, application_id))


@router.post("/applications/{application_id}/notice")
def application_notice(request: Request, session: DbSession, principal: Manager, application_id: int,
                       notice_start_date: Annotated[str, Form()] = ""):
    """TTO review → 公示 notice from the date it was published (default today)."""
    def act():
        errors: list[FieldError] = []
        start = form_date(notice_start_date, "notice_start_date", errors)
        _check(errors)
        service.start_notice(session, principal, application_id, on=start)
    return _app_action(request, session, principal, application_id, act,
                       {"notice_start_date": notice_start_date})


@router.post("/applications/{application_id}/objections")
def application_objection(request: Request, session: DbSession, principal: Manager, application_id: int,
                          objector: Annotated[str, Form()] = "", objection_reason: Annotated[str, Form()] = "",
                          raised_date: Annotated[str, Form()] = ""):
    """Record an objection received during the notice."""
    reason = objection_reason
    values = {"objector": objector, "objection_reason": reason, "raised_date": raised_date}

    def act():
        errors: list[FieldError] = []
        raised = form_date(raised_date, "raised_date", errors)
        if not objector.strip():
            errors.append(FieldError("objector", N_("This field is required.")))
        if not reason.strip():
            errors.append(FieldError("objection_reason", N_("This field is required.")))
        _check(errors)
        service.raise_objection(session, principal, application_id,
                                ObjectionIn(objector=objector.strip(), reason=reason.strip(), raised_date=raised))
    return _app_action(request, session, principal, application_id, act, values)


@router.post("/objections/{objection_id}/resolve")
def objection_resolve(request: Request, session: DbSession, principal: Manager, objection_id: int,
                      application_id: Annotated[int, Form()], resolution: Annotated[str, Form()] = ""):
    """Record how an objection was resolved."""
    def act():
        if not resolution.strip():
            raise ValidationFailed(errors=[FieldError("resolution", N_("This field is required."))])
        service.resolve_objection(session, principal, objection_id, resolution.strip())
    return _app_action(request, session, principal, application_id, act, {"resolution": resolution})


@router.post("/applications/{application_id}/decision")
def application_decision(request: Request, session: DbSession, principal: Manager, application_id: int,
                         decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
    """Approve or reject with reasons (after the notice, no open objection)."""
    def act():
        if decision not in ("approve", "reject"):
            raise ValidationFailed(errors=[FieldError("decision", N_("Choose approve or reject."))])
        service.decide(session, principal, application_id, decision == "approve", reason)
    return _app_action(request, session, principal, application_id, act, {"decision": decision, "reason": reason})


# ---------------------------------------------------------------- researcher
@router.get("/me")
def my_page(request: Request, session: DbSession, principal: Applicant):
    """A researcher's own applications, agreements, team results and income ledger."""
    apps = service.list_applications(session, principal)
    achievements, _total = service.list_achievements(session, principal, PageParams(per_page=100))
    ledger = service.person_ledger(session, principal, principal.person_id or -1)
    achs = service.achievements_by_id(session, [a.achievement_id for a in apps] + [x["achievement_id"] for x in ledger])
    orgs, _people = service.names(session, [a.organisation_id for a in apps] + [x["organisation_id"] for x in ledger])
    applied = {a.achievement_id for a in apps if a.state not in ("rejected",)}
    return render(request, "transfer/me.html", _ctx(
        title=N_("My results and income"), apps=apps, agreements=[a for a in apps if a.state == "approved"],
        achievements=achievements, ledger=ledger, ledger_total=sum(x["amount_fen"] for x in ledger), achs=achs,
        orgs=orgs, applied=applied, synthetic=_synthetic(achievements, apps)), principal=principal)


@router.get("/people/{person_id}/income")
def person_income(request: Request, session: DbSession, principal: Reader, person_id: int):
    """A person's income ledger: their own (researcher), their institution's people (TTO), anyone's
    (commission, auditor)."""
    ledger = service.person_ledger(session, principal, person_id)
    _orgs, people = service.names(session, [], [person_id])
    if person_id not in people:
        raise NotFound()
    achs = service.achievements_by_id(session, [x["achievement_id"] for x in ledger])
    orgs, _p = service.names(session, [x["organisation_id"] for x in ledger])
    return render(request, "transfer/person_income.html", _ctx(
        title=gettext("Income ledger of {name}", name=org_name(people[person_id])), person=people[person_id],
        ledger=ledger, total=sum(x["amount_fen"] for x in ledger), achs=achs, orgs=orgs,
        synthetic=people[person_id].is_synthetic), principal=principal)


# ---------------------------------------------------------------- transfers and the dossier
def _transfer_page(request: Request, session, principal: Principal, transfer_id: int,
                   errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
                   status_code: int = 200):
    t = service.access_transfer_by_id(session, principal, transfer_id)
    d = dossier_mod.build(session, principal, t.id)
    orgs, _people = service.names(session, [t.organisation_id, t.counterparty_organisation_id])
    awards = None
    if t.mode == "equity" and t.equity_share:
        awards = service.equity_awards(session, principal, t.id)
        _o, people = service.names(session, [], [m["person_id"] for m in awards["members"]])
        awards["people"] = people
    contracts = list(session.scalars(service.readable_contracts(principal).where(
        TechnologyContract.transfer_id == t.id)))
    return render(request, "transfer/transfer.html", _ctx(
        title=gettext("Transfer {id}", id=t.id), t=t, d=d, ach=d.achievement, orgs=orgs, awards=awards,
        contracts=contracts, missing=service.missing_steps(t, service.today() if t.state == "draft" else None),
        may_manage=service.can_manage(principal) and (principal.is_system
                                                      or t.organisation_id == principal.organisation_id),
        min_days=params.entry("transfer.negotiated_notice_min_days", service.today()),
        errors=errors or {}, values=values or {}, synthetic=t.is_synthetic), status_code=status_code,
        principal=principal)


@router.get("/transfers/{transfer_id}")
def transfer_page(request: Request, session: DbSession, principal: Reader, transfer_id: int):
    """A transfer: terms, pricing route and publication, mandatory steps, equity awards, contracts."""
    return _transfer_page(request, session, principal, transfer_id)


@router.post("/transfers/{transfer_id}/evidence")
def transfer_evidence(request: Request, session: DbSession, principal: Manager, transfer_id: int,
                      decision_record: Annotated[str, Form()] = "", market_name: Annotated[str, Form()] = "",
                      unit_notice_start_date: Annotated[str, Form()] = "",
                      unit_notice_end_date: Annotated[str, Form()] = "",
                      market_notice_start_date: Annotated[str, Form()] = "",
                      market_notice_end_date: Annotated[str, Form()] = "",
                      listing_record: Annotated[str, Form()] = "", auction_record: Annotated[str, Form()] = "",
                      valuation_required: Annotated[str, Form()] = "", valuation_report: Annotated[str, Form()] = "",
                      valuation: Annotated[str, Form()] = "", conflicts_declared: Annotated[str, Form()] = "",
                      no_improper_gain_declared: Annotated[str, Form()] = ""):
    """Record the procedure's evidence; only fields filled in (or ticked) are changed, each change audited."""
    values = {k: v for k, v in locals().items() if isinstance(v, str)}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            changes: dict[str, Any] = {}
            for f in ("decision_record", "market_name", "listing_record", "auction_record", "valuation_report"):
                if values[f].strip():
                    changes[f] = values[f].strip()
            for f in ("unit_notice_start_date", "unit_notice_end_date", "market_notice_start_date",
                      "market_notice_end_date"):
                d = form_date(values[f], f, errors)
                if d:
                    changes[f] = d
            fen = form_yuan(valuation, "valuation", errors)
            if fen is not None:
                changes["valuation_fen"] = fen
            for f in ("valuation_required", "conflicts_declared", "no_improper_gain_declared"):
                if values[f]:
                    changes[f] = True
            _check(errors)
            service.record_evidence(session, principal, transfer_id, TransferEvidence(**changes))
    except AppError as exc:
        return _transfer_page(request, session, principal, transfer_id, _form_errors(exc), values, exc.status_code)
    return redirect(f"/transfer/transfers/{transfer_id}#steps")


@router.post("/transfers/{transfer_id}/{action}")
def transfer_action(request: Request, session: DbSession, principal: Manager, transfer_id: int, action: str,
                    reason: Annotated[str, Form()] = ""):
    """Sign, complete or cancel a transfer (refused with the missing steps when any)."""
    try:
        with session.begin_nested():
            if action == "sign":
                service.sign_transfer(session, principal, transfer_id)
            elif action == "complete":
                service.complete_transfer(session, principal, transfer_id)
            elif action == "cancel":
                if not reason.strip():
                    raise ValidationFailed(errors=[FieldError("reason", N_("This field is required."))])
                service.cancel_transfer(session, principal, transfer_id, reason.strip())
            else:
                raise NotFound()
    except NotFound:
        raise
    except AppError as exc:
        return _transfer_page(request, session, principal, transfer_id, _form_errors(exc), {"reason": reason},
                              exc.status_code)
    return redirect(f"/transfer/transfers/{transfer_id}")


def _detail(text: str, p: dict[str, Any]) -> str:
    """A dossier detail line in the current language (dates and amounts formatted, ids translated)."""
    out = {}
    for k, v in p.items():
        if isinstance(v, date):
            out[k] = format_date(v)
        elif k in ("price", "value") and isinstance(v, int):
            out[k] = format_money(v)
        elif isinstance(v, str):
            out[k] = gettext(v)
        else:
            out[k] = v
    return gettext(text, **out)


@router.get("/transfers/{transfer_id}/dossier")
def dossier_page(request: Request, session: DbSession, principal: Reader, transfer_id: int):
    """The 尽职免责 dossier: each condition met or missing, with its timestamped audit evidence."""
    d = dossier_mod.build(session, principal, transfer_id)
    return render(request, "transfer/dossier.html", _ctx(
        title=gettext("Due-diligence dossier of transfer {id}", id=transfer_id), d=d, detail=_detail,
        may_audit=principal.role in (Role.COMMISSION, Role.AUDITOR), printable=False,
        synthetic=d.transfer.is_synthetic), principal=principal)


@router.get("/transfers/{transfer_id}/dossier/print")
def dossier_print(request: Request, session: DbSession, principal: Reader, transfer_id: int):
    """The dossier as a self-contained printable HTML page (print CSS; the browser saves it as PDF)."""
    d = dossier_mod.build(session, principal, transfer_id)
    return render(request, "transfer/dossier_print.html", _ctx(
        title=gettext("Due-diligence dossier of transfer {id}", id=transfer_id), d=d, detail=_detail,
        may_audit=False, printable=True))


@router.get("/transfers/{transfer_id}/dossier.pdf")
def dossier_pdf(session: DbSession, principal: Reader, transfer_id: int):
    """The dossier as a PDF (A4, generated on the server)."""
    from kechuang.transfer import dossier_pdf as pdf

    d = dossier_mod.build(session, principal, transfer_id)
    return Response(pdf.to_pdf(d, _detail), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="dossier-transfer-{transfer_id}.pdf"'})


# ---------------------------------------------------------------- technology contracts
def _contract_form(request: Request, session, principal: Principal, errors: dict[str, Any] | None = None,
                   values: dict[str, Any] | None = None, status_code: int = 200):
    from kechuang.registry.models import Organisation

    buyers = list(session.scalars(select(Organisation).where(Organisation.kind == "enterprise")
                                  .order_by(Organisation.id).limit(200)))
    ach_options = []
    if service.can_manage(principal):
        ach_options, _t = service.list_achievements(session, principal, PageParams(per_page=200))
    transfers = service.list_transfers(session, principal) if service.can_manage(principal) else []
    return render(request, "transfer/contract_form.html", _ctx(
        title=N_("Register a technology contract"), errors=errors or {}, values=values or {},
        buyers=[(b.id, org_name(b)) for b in buyers], achievements=[(a.id, a.title) for a in ach_options],
        transfers=[(t.id, f"#{t.id} · {gettext(service.TRANSFER_MODES[t.mode])}") for t in transfers[:200]]),
        status_code=status_code, principal=principal)


@router.get("/contracts/new")
def contract_new(request: Request, session: DbSession, principal: ContractWriter, achievement_id: int | None = None,
                 transfer_id: int | None = None):
    """The seller's contract registration form (技术合同认定登记)."""
    values: dict[str, Any] = {"signed_date": service.today().isoformat()}
    if achievement_id:
        values["achievement_id"] = achievement_id
    if transfer_id:
        t = service.access_transfer_by_id(session, principal, transfer_id)
        values.update(transfer_id=t.id, achievement_id=t.achievement_id,
                      buyer_organisation_id=t.counterparty_organisation_id,
                      category={"assignment": "transfer", "licence": "licence"}.get(t.mode, "transfer"),
                      total=f"{t.price_fen / 100:.2f}" if t.price_fen else "")
    return _contract_form(request, session, principal, values=values)


@router.post("/contracts")
def contract_create(request: Request, session: DbSession, principal: ContractWriter,
                    number: Annotated[str, Form()] = "", category: Annotated[str, Form()] = "",
                    buyer_organisation_id: Annotated[str, Form()] = "", buyer_name: Annotated[str, Form()] = "",
                    subject: Annotated[str, Form()] = "", signed_date: Annotated[str, Form()] = "",
                    total: Annotated[str, Form()] = "", non_technical: Annotated[str, Form()] = "",
                    technical: Annotated[str, Form()] = "", achievement_id: Annotated[str, Form()] = "",
                    transfer_id: Annotated[str, Form()] = "", payment_dates: Annotated[list[str], Form()] = (),
                    payment_amounts: Annotated[list[str], Form()] = (), submit: Annotated[str, Form()] = ""):
    """Record the contract (the caller's organisation is the seller) and, unless saved as a draft, submit
    it for registration. Field errors keep what was typed."""
    values = {k: v for k, v in locals().items() if isinstance(v, str)}
    values["payments"] = list(zip(payment_dates, payment_amounts, strict=False))
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            payments = []
            for d, amount in zip(payment_dates, payment_amounts, strict=False):
                if not d.strip() and not amount.strip():
                    continue
                due = form_date(d, "payments", errors, required=True)
                fen = form_yuan(amount, "payments", errors, required=True)
                if due and fen:
                    payments.append(PaymentIn(due_date=due, amount_fen=fen))
            data = {"number": number.strip(), "category": category,
                    "seller_organisation_id": principal.organisation_id or -1,
                    "buyer_organisation_id": _int(buyer_organisation_id, "buyer_organisation_id", errors),
                    "buyer_name": buyer_name.strip() or None, "subject": subject.strip(),
                    "signed_date": form_date(signed_date, "signed_date", errors, required=True),
                    "total_fen": form_yuan(total, "total", errors, required=True),
                    "non_technical_fen": form_yuan(non_technical, "non_technical", errors) or 0,
                    "technical_fen": form_yuan(technical, "technical", errors),
                    "achievement_id": _int(achievement_id, "achievement_id", errors),
                    "transfer_id": _int(transfer_id, "transfer_id", errors), "payments": payments}
            for f in ("number", "subject", "category"):
                if not data[f]:
                    errors.append(FieldError(f, N_("This field is required.")))
            _check(errors)
            c = service.create_contract(session, principal, ContractCreate(**data))
            if submit != "draft":
                service.submit_contract(session, principal, c.id)
    except AppError as exc:
        errs = _form_errors(exc)
        for a, b in (("total_fen", "total"), ("non_technical_fen", "non_technical"), ("technical_fen", "technical"),
                     ("seller_organisation_id", "__all__")):
            if a in errs:
                errs.setdefault(b, []).extend(errs.pop(a))
        return _contract_form(request, session, principal, errs, values, exc.status_code)
    return redirect(f"/transfer/contracts/{c.id}")


def _contract_page(request: Request, session, principal: Principal, contract_id: int,
                   errors: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
                   status_code: int = 200):
    c = service.access_contract_by_id(session, principal, contract_id)
    orgs, _people = service.names(session, [c.seller_organisation_id, c.buyer_organisation_id])
    income = list(session.scalars(service.readable_income(principal).where(
        IncomeEvent.contract_id == c.id).order_by(IncomeEvent.received_date)))
    ach = service.achievements_by_id(session, [c.achievement_id]).get(c.achievement_id)
    seller = principal.organisation_id == c.seller_organisation_id
    return render(request, "transfer/contract.html", _ctx(
        title=c.number, c=c, orgs=orgs, income=income, ach=ach, errors=errors or {}, values=values or {},
        may_submit=seller and has(principal, service.CONTRACT_WRITE) and c.state in ("draft", "refused"),
        may_register=service.can_register(principal) and c.state == "submitted",
        may_income=seller and service.can_manage(principal) and c.achievement_id is not None,
        received=sum(i.amount_fen for i in income), today=service.today(), synthetic=c.is_synthetic,
        income_key=f"contract-{c.id}-{secrets.token_hex(8)}"),
        status_code=status_code, principal=principal)


@router.get("/contracts/{contract_id}")
def contract_page(request: Request, session: DbSession, principal: Reader, contract_id: int):
    """A technology contract: parties, amounts, payment schedule, registration, income received."""
    return _contract_page(request, session, principal, contract_id)


@router.post("/contracts/{contract_id}/submit")
def contract_submit(request: Request, session: DbSession, principal: ContractWriter, contract_id: int):
    """The seller submits (or resubmits) the contract for registration."""
    try:
        with session.begin_nested():
            service.submit_contract(session, principal, contract_id)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _contract_page(request, session, principal, contract_id, _form_errors(exc), None, exc.status_code)
    return redirect(f"/transfer/contracts/{contract_id}")


@router.post("/contracts/{contract_id}/review")
def contract_review(request: Request, session: DbSession, principal: Registrar, contract_id: int,
                    decision: Annotated[str, Form()] = "", certificate_number: Annotated[str, Form()] = "",
                    reason: Annotated[str, Form()] = ""):
    """The registration body registers (certificate number) or refuses (reason) a submitted contract."""
    values = {"decision": decision, "certificate_number": certificate_number, "reason": reason}
    try:
        with session.begin_nested():
            if decision == "register":
                service.register_contract(session, principal, contract_id, certificate_number)
            elif decision == "refuse":
                service.refuse_contract(session, principal, contract_id, reason)
            else:
                raise ValidationFailed(errors=[FieldError("decision", N_("Choose register or refuse."))])
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _contract_page(request, session, principal, contract_id, _form_errors(exc), values, exc.status_code)
    return redirect(f"/transfer/contracts/{contract_id}")


# ---------------------------------------------------------------- overdue work list
@router.get("/overdue")
def overdue_page(request: Request, session: DbSession, principal: OverdueReader,
                 params_: Annotated[PageParams, Query()]):
    """Items past a deadline the rules set (SPEC section 3: registration decisions on submitted contracts):
    own institution's for a TTO officer, all for the commission; search, sort, pages (htmx swaps the results)."""
    on = service.today()
    items, total = service.list_overdue(session, principal, params_, on)
    orgs, _p = service.names(session, [i["seller_organisation_id"] for i in items]
                             + [i["buyer_organisation_id"] for i in items])
    page = Page[dict[str, Any]](items=items, total=total, page=params_.page, per_page=params_.per_page)
    ctx = _ctx(title=N_("Overdue"), page=page, params=params_, orgs=orgs, on=on, values={**request.query_params},
               kinds=service.OVERDUE_KINDS, export_query="&".join(
                   f"{k}={quote(v)}" for k, v in request.query_params.items() if k in ("q", "sort")),
               synthetic=any(i["is_synthetic"] for i in items), tto=principal.role is Role.TTO)
    template = "transfer/_overdue_results.html" if request.headers.get("hx-request") else "transfer/overdue.html"
    return render(request, template, ctx, principal=principal)


@router.get("/overdue/export")
def overdue_export(session: DbSession, principal: OverdueReader, params_: Annotated[PageParams, Query()],
                   format: Literal["xlsx", "csv"] = "xlsx"):
    """The whole overdue list (same scope, search and order as the page) as XLSX or CSV."""
    content, media, name = service.export_overdue(session, principal, params_, format)
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- income and its split
@router.post("/contracts/{contract_id}/income")
def income_post(request: Request, session: DbSession, principal: Manager, contract_id: int,
                idempotency_key: Annotated[str, Form()], received_date: Annotated[str, Form()] = "",
                amount: Annotated[str, Form()] = "", costs: Annotated[str, Form()] = "",
                cost_note: Annotated[str, Form()] = ""):
    """Record income received under a contract; it is split at once (idempotent on the form's key)."""
    values = {"received_date": received_date, "amount": amount, "costs": costs, "cost_note": cost_note}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            data = {"idempotency_key": idempotency_key, "contract_id": contract_id,
                    "received_date": form_date(received_date, "received_date", errors, required=True),
                    "amount_fen": form_yuan(amount, "amount", errors, required=True),
                    "costs_fen": form_yuan(costs, "costs", errors) or 0, "cost_note": cost_note.strip() or None}
            if data["amount_fen"] is not None and data["amount_fen"] <= 0:
                errors.append(FieldError("amount", N_("The amount must be above zero.")))
            _check(errors)
            event, _created = service.record_income(session, principal, IncomeIn(**data))
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        errs = _form_errors(exc)
        if "costs_fen" in errs:
            errs["costs"] = errs.pop("costs_fen")
        return _contract_page(request, session, principal, contract_id, errs, values, exc.status_code)
    return redirect(f"/transfer/income/{event.id}")


def _income_page(request: Request, session, principal: Principal, income_event_id: int,
                 payout_errors: dict[int, dict[str, Any]] | None = None, status_code: int = 200):
    event = service.access_income_by_id(session, principal, income_event_id)
    shares = service.income_shares(session, principal, event.id)
    orgs, people = service.names(session, [event.organisation_id] + [s.organisation_id for s in shares],
                                 [s.person_id for s in shares])
    ach = service.achievements_by_id(session, [event.achievement_id]).get(event.achievement_id)
    members = {}
    if ach is not None and principal.role is not Role.RESEARCHER:
        members = {m.person_id: m.contribution for m in session.scalars(
            select(AchievementMember).where(AchievementMember.achievement_id == ach.id))}
    may_pay = service.can_manage(principal) and principal.role is Role.TTO \
        and event.organisation_id == principal.organisation_id
    return render(request, "transfer/income.html", _ctx(
        title=gettext("Income {id}", id=event.id), e=event, shares=shares, orgs=orgs, people=people, ach=ach,
        members=members, total=sum(s.amount_fen for s in shares), partial=principal.role is Role.RESEARCHER,
        synthetic=event.is_synthetic, may_pay=may_pay, payout_errors=payout_errors or {},
        payout_statuses=service.PAYOUT_STATUSES, today=service.today()),
        status_code=status_code, principal=principal)


@router.get("/income/{income_event_id}")
def income_page(request: Request, session: DbSession, principal: Reader, income_event_id: int):
    """An income event and its split: per-person parts, department, institution, summing exactly; each team
    member's part paid or unpaid (the TTO officer records the payment in the row)."""
    return _income_page(request, session, principal, income_event_id)


@router.post("/income/{income_event_id}/shares/{share_id}/payout")
def payout_post(request: Request, session: DbSession, principal: Manager, income_event_id: int, share_id: int,
                paid_date: Annotated[str, Form()] = "", reference: Annotated[str, Form()] = ""):
    """Record that a team member's share was paid (``service.record_payout``). htmx swaps the split table (a
    refused payment is shown in the row with status 200, as htmx swaps 2xx answers only)."""
    event = service.access_income_by_id(session, principal, income_event_id)
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            paid = form_date(paid_date, "paid_date", errors, required=True)
            if not reference.strip():
                errors.append(FieldError("reference", N_("This field is required.")))
            elif len(reference.strip()) > 100:
                errors.append(FieldError("reference", N_("The reference is at most 100 characters."),
                                         value=reference))
            _check(errors)
            share, _changed = service.record_payout(session, principal, share_id,
                                                    PayoutIn(paid_date=paid, reference=reference))
            if share.income_event_id != event.id:
                raise NotFound()
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        errs = _form_errors(exc)
        status = 200 if request.headers.get("HX-Request") else exc.status_code
        return _income_page(request, session, principal, event.id, status_code=status,
                            payout_errors={share_id: {"errors": errs, "paid_date": paid_date,
                                                      "reference": reference}})
    if request.headers.get("HX-Request"):
        return _income_page(request, session, principal, event.id)
    return redirect(f"/transfer/income/{event.id}#share-{share_id}")


# ---------------------------------------------------------------- statistics
def _default_year(session) -> int:
    last = session.scalar(select(func.max(TechnologyContract.registered_date)))
    year = service.today().year - 1
    return min(year, last.year) if last else year


def _stats_chart(session, principal: Principal, period: stats.Period, institution: str | None,
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart data: the period and the same period in the four years before; turnover by institution type."""
    periods: list[stats.Period | None] = [period.shifted(-k) for k in range(4, 0, -1)]
    series = [{r["indicator"]: r for r in stats.compute(session, principal, p, institution)} if p else None
              for p in periods]
    series.append({r["indicator"]: r for r in rows})
    periods.append(period)
    yi = 10 ** 10  # fen per 亿元
    turnover = next(r for r in rows if r["indicator"] == "contract_turnover")

    def values(code: str) -> list[float | None]:
        return [round(x[code]["value"] / yi, 2) if x else None for x in series]

    return {
        "years": [p.short_label if p else "—" for p in periods],
        "turnover": values("contract_turnover"),
        "technical": values("contract_technical"),
        "yoy": [None if not x or x["contract_turnover"]["yoy"] is None
                else round(x["contract_turnover"]["yoy"] * 100, 1) for x in series],
        "types": [gettext(INSTITUTION_TYPES.get(k, k)) for k in turnover["by_institution_type"]],
        "type_values": [round(v["value"] / yi, 2) for v in turnover["by_institution_type"].values()],
        "type_previous": [round(v["previous"] / yi, 2) for v in turnover["by_institution_type"].values()],
        "labels": {"turnover": gettext("Contract turnover (亿元)"), "technical": gettext("Technical amount (亿元)"),
                   "yoy": gettext("Year-on-year growth (%)"), "money_axis": gettext("亿元"), "pct_axis": "%",
                   "current": period.label, "previous": turnover["previous_period"] or "—"},
    }


def _picked_period(session, kind: str | None, year: str | None, q: str | None, m: str | None,
                   from_: str | None, to: str | None, period: str | None) -> stats.Period:
    """The period chosen with the picker (kind + year + quarter or month, or from/to), or given as a tag."""
    if (period or "").strip():
        return stats.Period.parse(period or "")
    if kind not in stats.PERIOD_KINDS:
        kind = "range" if (from_ or to) else "year"
    if kind == "range":
        return stats.from_params(from_=from_, to=to)
    y = stats.from_params(year=(year or "").strip() or _default_year(session)).start.year
    if kind == "year":
        return stats.Period.year(y)
    number, top, field = (q, 4, "q") if kind == "quarter" else (m, 12, "m")
    try:
        n = int((number or "").strip())
    except ValueError:
        n = 0
    if not 1 <= n <= top:
        raise ValidationFailed(errors=[FieldError(field, N_("Choose a quarter.") if field == "q"
                                                  else N_("Choose a month."), value=number)])
    return stats.Period.quarter(y, n) if kind == "quarter" else stats.Period.month(y, n)


def _month_names() -> list[tuple[int, str]]:
    from babel.dates import get_month_names

    from kechuang.web.templating import babel_locale

    names = get_month_names("wide", locale=babel_locale())
    return [(i, names[i]) for i in range(1, 13)]


def _period_query(period: stats.Period, institution: str | None) -> str:
    return f"period={quote(period.label)}" + (f"&institution={quote(institution)}" if institution else "")


@router.get("/stats")
def stats_page(request: Request, session: DbSession, principal: StatsReader, kind: str | None = None,
               year: str | None = None, q: str | None = None, m: str | None = None,
               from_: Annotated[str | None, Query(alias="from")] = None, to: str | None = None,
               period: str | None = None, institution: str | None = None):
    """The indicators of a period (the last full year by default; quarter, month or date range with the picker)
    with period, scope and source, year-on-year growth, charts and drill-down. htmx swaps ``#stats-main``."""
    institution = (institution or "").strip() or None
    errors: dict[str, Any] = {}
    values = {"kind": kind or ("range" if from_ or to else "year"), "year": year or "", "q": q or "",
              "m": m or "", "from": from_ or "", "to": to or ""}
    try:
        chosen = _picked_period(session, kind, year, q, m, from_, to, period)
    except ValidationFailed as exc:
        errors.update(_form_errors(exc))
        if "period" in errors:  # a bad tag in the address: shown beside the period kind
            errors.setdefault("kind", []).extend(errors.pop("period"))
        chosen = stats.Period.year(_default_year(session))
    try:
        rows = stats.compute(session, principal, chosen, institution)
    except ValidationFailed as exc:
        errors.update(_form_errors(exc))
        institution = None
        rows = stats.compute(session, principal, chosen)
    if not errors:  # the picker shows the period that was computed
        quarter = (chosen.start.month - 1) // 3 + 1
        values = {"kind": chosen.kind, "year": str(chosen.start.year), "q": str(quarter),
                  "m": str(chosen.start.month), "from": chosen.start.isoformat(), "to": chosen.end.isoformat()}
    query = _period_query(chosen, institution)
    response = render(request, "transfer/stats.html", _ctx(
        title=N_("Results-transfer statistics"), rows=rows, period=chosen, query=query, values=values,
        institution=institution or "", chart=_stats_chart(session, principal, chosen, institution, rows),
        errors=errors, tto=principal.role is Role.TTO, synthetic=any(r["synthetic"] for r in rows),
        months=_month_names(), params=params.as_table()), principal=principal)
    if request.headers.get("HX-Request") and not errors:
        response.headers["HX-Push-Url"] = f"/transfer/stats?{query}"  # the short, shareable address
    return response


@router.get("/stats.xlsx")
def stats_xlsx(session: DbSession, principal: StatsReader, year: int | None = None, quarter: str | None = None,
               month: str | None = None, from_: Annotated[str | None, Query(alias="from")] = None,
               to: str | None = None, period: str | None = None, institution: str | None = None):
    """The indicators of a period as XLSX (the same rows as ``kechuang transfer stats --format xlsx``)."""
    chosen = stats.from_params(year=year, quarter=quarter, month=month, from_=from_, to=to, period=period)
    rows = stats.compute(session, principal, chosen, (institution or "").strip() or None)
    return Response(stats.to_xlsx(rows), media_type=XLSX_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="transfer-stats-{chosen.slug}.xlsx"'})


@router.get("/stats/records")
def stats_records(request: Request, session: DbSession, principal: StatsReader,
                  indicator: Annotated[str, Query()], year: int | None = None, quarter: str | None = None,
                  month: str | None = None, from_: Annotated[str | None, Query(alias="from")] = None,
                  to: str | None = None, period: str | None = None, institution: str | None = None):
    """Drill-down: the records counted in one indicator for the same period and scope (first 200)."""
    institution = (institution or "").strip() or None
    chosen = stats.from_params(year=year, quarter=quarter, month=month, from_=from_, to=to, period=period)
    records = stats.records_behind(session, principal, indicator, chosen, institution)
    row = next(r for r in stats.compute(session, principal, chosen, institution) if r["indicator"] == indicator)
    org_ids: list[int | None] = []
    for r in records:
        org_ids += [getattr(r, "organisation_id", None), getattr(r, "seller_organisation_id", None),
                    getattr(r, "buyer_organisation_id", None), getattr(r, "counterparty_organisation_id", None)]
    orgs, _people = service.names(session, org_ids)
    achs = service.achievements_by_id(session, [getattr(r, "achievement_id", None) for r in records])
    kind = ("application" if indicator == "empowered_results" else
            "transfer" if indicator in ("transfer_amount", "companies_founded", "social_capital") else "contract")
    return render(request, "transfer/stats_records.html", _ctx(
        title=gettext(row["label"]), row=row, records=records, kind=kind, orgs=orgs, achs=achs, period=chosen,
        query=_period_query(chosen, institution), institution=institution or "", synthetic=row["synthetic"]),
        principal=principal)


# ---------------------------------------------------------------- open listing (enterprises, investors)
RulesReader = Annotated[Principal, Depends(requires(service.RULES))]
PilotKeeper = Annotated[Principal, Depends(requires(service.PILOT))]


@router.get("/open")
def open_listing(request: Request, session: DbSession, principal: Reader, params_: Annotated[PageParams, Query()],
                 kind: str | None = None, field: str | None = None, trl: str | None = None):
    """Results open for transfer (never classified): search, filters by kind, field and lowest TRL, pages
    (htmx swaps the results). Shows only what the listing may show."""
    errors: list[FieldError] = []
    trl_min = _int(trl, "trl", errors)
    if trl_min is not None and not 1 <= trl_min <= 9:
        errors.append(FieldError("trl", N_("TRL is a whole number from 1 to 9."), value=trl))
    if kind and kind not in service.ACHIEVEMENT_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."),
                                 {"allowed": ", ".join(service.ACHIEVEMENT_KINDS)}, value=kind))
    if errors:
        items, total, status = [], 0, 422
        errs = field_errors(ValidationFailed(errors=errors))
    else:
        items, total = service.list_achievements(session, principal, params_, open_listing=True, kind=kind,
                                                 field=field, trl_min=trl_min)
        status, errs = 200, {}
    owners = service.open_owners(session, [a.id for a in items])
    orgs, _p = service.names(session, [o for ids in owners.values() for o in ids])
    page = Page[Any](items=items, total=total, page=params_.page, per_page=params_.per_page)
    ctx = _ctx(title=N_("Results open for transfer"), page=page, params=params_, values={**request.query_params},
               errors=errs, owners=owners, orgs=orgs, fields=service.open_fields(session, principal),
               synthetic=_synthetic(items))
    template = "transfer/_open_results.html" if request.headers.get("hx-request") else "transfer/open.html"
    return render(request, template, ctx, status_code=status, principal=principal)


@router.get("/open/{achievement_id}")
def open_summary(request: Request, session: DbSession, principal: Reader, achievement_id: int):
    """A result of the open listing: kind, number, TRL, fields, keywords and owning institutions only."""
    a = service.access_open_achievement(session, principal, achievement_id)
    orgs, _p = service.names(session, [o.organisation_id for o in a.owners])
    return render(request, "transfer/open_summary.html", _ctx(
        title=N_("Results open for transfer"), a=a, orgs=orgs,
        full=service.can_read_achievement(session, principal, a.id)), principal=principal)


# ---------------------------------------------------------------- 赋权 pilot list (commission)
def _pilot_page(request: Request, session, principal: Principal, errors: dict[str, list[str]] | None = None,
                values: dict[str, Any] | None = None, status_code: int = 200, end_errors: dict[int, Any] | None = None):
    from kechuang.registry.models import Organisation

    on = service.today()
    pilots = service.list_pilots(session, principal, on)
    keeper = has(principal, service.PILOT)
    choices = []
    if keeper:
        choices = [(o.id, org_name(o)) for o in session.scalars(
            select(Organisation).where(Organisation.kind.in_([k for k in INSTITUTION_TYPES if k != "enterprise"]))
            .order_by(Organisation.id).limit(500))]
    orgs, _p = service.names(session, [p.organisation_id for p in pilots])
    return render(request, "transfer/pilots.html", _ctx(
        title=N_("赋权 pilot list"), pilots=pilots, orgs=orgs, on=on, keeper=keeper, choices=choices,
        errors=errors or {}, values=values or {"start_date": on.isoformat()}, end_errors=end_errors or {}),
        status_code=status_code, principal=principal)


@router.get("/pilots")
def pilots_page(request: Request, session: DbSession, principal: Reader):
    """Institutions on the 赋权 pilot list with their periods; the commission adds and ends memberships."""
    return _pilot_page(request, session, principal)


@router.post("/pilots")
def pilot_add(request: Request, session: DbSession, principal: PilotKeeper,
              organisation_id: Annotated[str, Form()] = "", start_date: Annotated[str, Form()] = "",
              end_date: Annotated[str, Form()] = "", basis: Annotated[str, Form()] = ""):
    """Put an institution on the pilot list for a period (``service.add_pilot``)."""
    values = {"organisation_id": organisation_id, "start_date": start_date, "end_date": end_date, "basis": basis}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            org_id = _int(organisation_id, "organisation_id", errors)
            if org_id is None and not organisation_id.strip():
                errors.append(FieldError("organisation_id", N_("This field is required.")))
            start = form_date(start_date, "start_date", errors, required=True)
            end = form_date(end_date, "end_date", errors)
            if not basis.strip():
                errors.append(FieldError("basis", N_("This field is required.")))
            _check(errors)
            service.add_pilot(session, principal, PilotIn(organisation_id=org_id, start_date=start, end_date=end,
                                                          basis=basis.strip()[:200]))
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _pilot_page(request, session, principal, _form_errors(exc), values, exc.status_code)
    return redirect("/transfer/pilots")


@router.post("/pilots/{pilot_id}/end")
def pilot_end(request: Request, session: DbSession, principal: PilotKeeper, pilot_id: int,
              end_date: Annotated[str, Form()] = ""):
    """End a pilot membership on a date (``service.end_pilot``)."""
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            end = form_date(end_date, "end_date", errors, required=True)
            _check(errors)
            service.end_pilot(session, principal, pilot_id, end)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _pilot_page(request, session, principal, status_code=exc.status_code,
                           end_errors={pilot_id: {"errors": _form_errors(exc), "value": end_date}})
    return redirect("/transfer/pilots")


# ---------------------------------------------------------------- revenue-sharing rules
def _rules_page(request: Request, session, principal: Principal, organisation_id: int | None,
                errors: dict[str, list[str]] | None = None, values: dict[str, Any] | None = None,
                status_code: int = 200):
    if principal.role is Role.TTO:
        organisation_id = organisation_id or principal.organisation_id
    rules = service.list_rules(session, principal, organisation_id)
    on = service.today()
    groups: dict[int, list[Any]] = {}
    for r in rules:
        groups.setdefault(r.organisation_id, []).append(r)
    in_force = {o: service.rule_in_force(rs, o, on) for o, rs in groups.items()}
    orgs, _p = service.names(session, list(groups) + ([organisation_id] if organisation_id else []))
    floor = params.value("reward.min_team_share", on)
    return render(request, "transfer/rules.html", _ctx(
        title=N_("Revenue-sharing rules"), groups=groups, in_force=in_force, orgs=orgs, on=on,
        organisation_id=organisation_id, may_record=service.can_manage(principal) and principal.role is Role.TTO,
        floor=floor, errors=errors or {}, values=values or {"valid_from_date": on.isoformat()}),
        status_code=status_code, principal=principal)


@router.get("/rules")
def rules_page(request: Request, session: DbSession, principal: RulesReader, organisation_id: int | None = None):
    """An institution's revenue-sharing rule versions by date (TTO: own institution, with the form to record a
    new version; commission and auditor: every institution, read-only)."""
    return _rules_page(request, session, principal, organisation_id)


@router.post("/rules")
def rule_record(request: Request, session: DbSession, principal: Manager,
                valid_from_date: Annotated[str, Form()] = "", team_share: Annotated[str, Form()] = "",
                department_share: Annotated[str, Form()] = "", institution_share: Annotated[str, Form()] = "",
                basis: Annotated[str, Form()] = ""):
    """Record a new version of the TTO's institution's rule (``service.set_revenue_rule``); shares in percent."""
    values = {"valid_from_date": valid_from_date, "team_share": team_share, "department_share": department_share,
              "institution_share": institution_share, "basis": basis}
    try:
        with session.begin_nested():
            errors: list[FieldError] = []
            start = form_date(valid_from_date, "valid_from_date", errors, required=True)
            shares = {}
            for name in ("team_share", "department_share", "institution_share"):
                shares[name] = _share(values[name], name, errors)
                if shares[name] is None and not values[name].strip():
                    errors.append(FieldError(name, N_("This field is required.")))
            if not basis.strip():
                errors.append(FieldError("basis", N_("This field is required.")))
            _check(errors)
            service.set_revenue_rule(session, principal, RuleIn(
                organisation_id=principal.organisation_id or -1, valid_from_date=start, basis=basis.strip()[:300],
                **shares))
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return _rules_page(request, session, principal, None, _form_errors(exc), values, exc.status_code)
    return redirect("/transfer/rules")
