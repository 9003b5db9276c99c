"""Results-transfer JSON API under /api/v1/transfer (thin: every rule and scope is in ``service``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.pagination import Page, PageParams
from kechuang.core.tabular import XLSX_MEDIA
from kechuang.transfer import service, stats
from kechuang.transfer.schemas import (
    AchievementCreate,
    AchievementDetail,
    AchievementRead,
    ApplicationCreate,
    ApplicationRead,
    ContractCreate,
    ContractRead,
    DateIn,
    Decision,
    IncomeDetail,
    IncomeIn,
    IncomeRead,
    LedgerRead,
    ObjectionIn,
    ObjectionRead,
    OverdueRead,
    PaymentRead,
    PayoutIn,
    PilotEnd,
    PilotIn,
    PilotRead,
    ReasonIn,
    Registration,
    Resolution,
    RuleIn,
    RuleRead,
    ShareRead,
    StageChange,
    TransferCreate,
    TransferEvidence,
    TransferRead,
    ValuationIn,
    ValuationRead,
)

router = APIRouter(prefix="/api/v1/transfer", tags=["transfer"])

Reader = Annotated[Principal, Depends(requires(service.READ))]
Manager = Annotated[Principal, Depends(requires(service.MANAGE))]
Applicant = Annotated[Principal, Depends(requires(service.APPLY))]
ContractWriter = Annotated[Principal, Depends(requires(service.CONTRACT_WRITE))]
Registrar = Annotated[Principal, Depends(requires(service.REGISTER))]
PilotWriter = Annotated[Principal, Depends(requires(service.PILOT))]
StatsReader = Annotated[Principal, Depends(requires(service.STATS))]
OverdueReader = Annotated[Principal, Depends(requires(service.OVERDUE))]
RulesReader = Annotated[Principal, Depends(requires(service.RULES))]


# ---------------------------------------------------------------- achievements and ledger
@router.get("/achievements", response_model=Page[AchievementRead])
def list_achievements(session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
                      kind: str | None = None, open: bool = False, field: str | None = None,
                      trl_min: Annotated[int | None, Query(ge=1, le=9)] = None):
    """Achievements the caller may read, or the open listing (``open=true``: never classified results);
    filters by kind, field and lowest TRL."""
    items, total = service.list_achievements(session, principal, params, open_listing=open, kind=kind,
                                             field=field, trl_min=trl_min)
    return Page[AchievementRead](items=[AchievementRead.model_validate(a) for a in items], total=total,
                                 page=params.page, per_page=params.per_page)


@router.post("/achievements", response_model=AchievementDetail, status_code=201)
def create_achievement(session: DbSession, principal: Manager, body: AchievementCreate):
    """Record an achievement of the caller's institution (on its 单列管理 ledger as 'registered')."""
    obj = service.create_achievement(session, principal, body)
    return service.access_achievement_by_id(session, principal, obj.id)


@router.put("/achievements/{achievement_id}", response_model=AchievementDetail)
def update_achievement(session: DbSession, principal: Manager, achievement_id: int, body: AchievementCreate):
    """Correct an achievement (all fields, owners, team) while no application, transfer, contract or income
    refers to it (409 with the reasons otherwise)."""
    service.update_achievement(session, principal, achievement_id, body)
    return service.access_achievement_by_id(session, principal, achievement_id)


@router.get("/achievements/{achievement_id}", response_model=AchievementDetail)
def get_achievement(session: DbSession, principal: Reader, achievement_id: int):
    """One achievement with owners and team (404 if not visible)."""
    return service.access_achievement_by_id(session, principal, achievement_id)


@router.post("/achievements/{achievement_id}/stage", response_model=LedgerRead)
def set_stage(session: DbSession, principal: Manager, achievement_id: int, body: StageChange):
    """Set the ledger stage tag (and book value) for the caller's institution."""
    return service.set_stage(session, principal, achievement_id, body.stage, body.book_value_fen)


@router.post("/achievements/{achievement_id}/valuations", response_model=ValuationRead, status_code=201)
def add_valuation(session: DbSession, principal: Manager, achievement_id: int, body: ValuationIn):
    """Record a valuation event on the ledger entry."""
    return service.add_valuation(session, principal, achievement_id, body)


@router.get("/ledger")
def ledger(session: DbSession, principal: Reader, format: Literal["json", "xlsx"] = "json",
           organisation_id: int | None = None):
    """The 单列管理 ledger (own institution for a TTO) as JSON rows or XLSX."""
    if format == "xlsx":
        return Response(service.export_ledger_xlsx(session, principal, organisation_id), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'})
    return JSONResponse(_jsonable(service.ledger_rows(session, principal, organisation_id)))


# ---------------------------------------------------------------- 赋权
@router.post("/pilots", status_code=201)
def add_pilot(session: DbSession, principal: PilotWriter, body: PilotIn) -> dict[str, int]:
    """Put an institution on the 赋权 pilot list."""
    return {"id": service.add_pilot(session, principal, body).id}


@router.get("/pilots", response_model=list[PilotRead])
def list_pilots(session: DbSession, principal: Reader, organisation_id: int | None = None):
    """The 赋权 pilot list: every period, current ones first."""
    return service.list_pilots(session, principal, organisation_id=organisation_id)


@router.post("/pilots/{pilot_id}/end", response_model=PilotRead)
def end_pilot(session: DbSession, principal: PilotWriter, pilot_id: int, body: PilotEnd):
    """End a pilot membership on a date (inclusive)."""
    return service.end_pilot(session, principal, pilot_id, body.end_date)


@router.get("/applications", response_model=list[ApplicationRead])
def list_applications(session: DbSession, principal: Reader, state: str | None = None):
    """赋权 applications visible to the caller."""
    return service.list_applications(session, principal, state)


@router.post("/applications", response_model=ApplicationRead, status_code=201)
def create_application(session: DbSession, principal: Applicant, body: ApplicationCreate):
    """Draft a 赋权 application (researcher on the team)."""
    return service.create_application(session, principal, body)


@router.get("/applications/{application_id}", response_model=ApplicationRead)
def get_application(session: DbSession, principal: Reader, application_id: int):
    """One application (404 if not visible)."""
    return service.access_application_by_id(session, principal, application_id)


@router.post("/applications/{application_id}/submit", response_model=ApplicationRead)
def submit_application(session: DbSession, principal: Applicant, application_id: int):
    """draft → submitted (eligibility checked)."""
    return service.submit_application(session, principal, application_id)


@router.post("/applications/{application_id}/review", response_model=ApplicationRead)
def start_review(session: DbSession, principal: Manager, application_id: int):
    """submitted → tto_review."""
    return service.start_review(session, principal, application_id)


@router.post("/applications/{application_id}/notice", response_model=ApplicationRead)
def start_notice(session: DbSession, principal: Manager, application_id: int, body: DateIn | None = None):
    """tto_review → notice (公示 for the configured period)."""
    return service.start_notice(session, principal, application_id, body.on if body else None)


@router.post("/applications/{application_id}/decision", response_model=ApplicationRead)
def decide(session: DbSession, principal: Manager, application_id: int, body: Decision):
    """Approve or reject with reasons (after the notice, with every objection resolved)."""
    return service.decide(session, principal, application_id, body.approve, body.reason)


@router.get("/applications/{application_id}/objections", response_model=list[ObjectionRead])
def list_objections(session: DbSession, principal: Reader, application_id: int):
    """Objections to an application."""
    return service.list_objections(session, principal, application_id)


@router.post("/applications/{application_id}/objections", response_model=ObjectionRead, status_code=201)
def raise_objection(session: DbSession, principal: Manager, application_id: int, body: ObjectionIn):
    """Record an objection received during the notice."""
    return service.raise_objection(session, principal, application_id, body)


@router.post("/objections/{objection_id}/resolve", response_model=ObjectionRead)
def resolve_objection(session: DbSession, principal: Manager, objection_id: int, body: Resolution):
    """Record how an objection was resolved."""
    return service.resolve_objection(session, principal, objection_id, body.resolution)


# ---------------------------------------------------------------- transfers
@router.get("/transfers", response_model=list[TransferRead])
def list_transfers(session: DbSession, principal: Reader, state: str | None = None):
    """Transfers visible to the caller."""
    return service.list_transfers(session, principal, state)


@router.post("/transfers", response_model=TransferRead, status_code=201)
def create_transfer(session: DbSession, principal: Manager, body: TransferCreate):
    """Draft a transfer (转让, 许可, 作价投资, 自行实施)."""
    return service.create_transfer(session, principal, body)


@router.get("/transfers/{transfer_id}")
def get_transfer(session: DbSession, principal: Reader, transfer_id: int) -> dict[str, Any]:
    """One transfer with the mandatory steps it still lacks."""
    from kechuang.core.i18n import gettext

    t = service.access_transfer_by_id(session, principal, transfer_id)
    return {**TransferRead.model_validate(t).model_dump(mode="json"),
            "missing_steps": [gettext(s) for s in service.missing_steps(t)]}


@router.get("/transfers/{transfer_id}/equity-awards")
def equity_awards(session: DbSession, principal: Reader, transfer_id: int) -> dict[str, Any]:
    """Equity awards of a 作价投资 transfer (shares of the company, as decimal strings)."""
    data = service.equity_awards(session, principal, transfer_id)
    return {**{k: str(v) if k != "members" and k != "transfer_id" else v for k, v in data.items()},
            "members": [{"person_id": m["person_id"], "share": str(m["share"])} for m in data["members"]]}


@router.patch("/transfers/{transfer_id}/evidence", response_model=TransferRead)
def record_evidence(session: DbSession, principal: Manager, transfer_id: int, body: TransferEvidence):
    """Record procedure evidence (notices, listing/auction, valuation, decision, conflicts)."""
    return service.record_evidence(session, principal, transfer_id, body)


@router.post("/transfers/{transfer_id}/sign", response_model=TransferRead)
def sign_transfer(session: DbSession, principal: Manager, transfer_id: int, body: DateIn | None = None):
    """draft → signed (refused while a pre-signing step is missing)."""
    return service.sign_transfer(session, principal, transfer_id, body.on if body else None)


@router.post("/transfers/{transfer_id}/complete", response_model=TransferRead)
def complete_transfer(session: DbSession, principal: Manager, transfer_id: int, body: DateIn | None = None):
    """signed → completed (refused while a mandatory step is missing)."""
    return service.complete_transfer(session, principal, transfer_id, body.on if body else None)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferRead)
def cancel_transfer(session: DbSession, principal: Manager, transfer_id: int, body: ReasonIn):
    """draft/signed → cancelled."""
    return service.cancel_transfer(session, principal, transfer_id, body.reason)


# ---------------------------------------------------------------- technology contracts
@router.get("/contracts", response_model=list[ContractRead])
def list_contracts(session: DbSession, principal: Reader, state: str | None = None):
    """Contracts where the caller's organisation is a party (all for the commission)."""
    return service.list_contracts(session, principal, state)


@router.post("/contracts", response_model=ContractRead, status_code=201)
def create_contract(session: DbSession, principal: ContractWriter, body: ContractCreate):
    """Record a technology contract as its seller."""
    return service.create_contract(session, principal, body)


@router.get("/contracts/{contract_id}")
def get_contract(session: DbSession, principal: Reader, contract_id: int) -> dict[str, Any]:
    """One contract with its payment schedule."""
    c = service.access_contract_by_id(session, principal, contract_id)
    return {**ContractRead.model_validate(c).model_dump(mode="json"),
            "payments": [PaymentRead.model_validate(p).model_dump(mode="json") for p in c.payments]}


@router.post("/contracts/{contract_id}/submit", response_model=ContractRead)
def submit_contract(session: DbSession, principal: ContractWriter, contract_id: int):
    """Submit for registration (sets the review deadline)."""
    return service.submit_contract(session, principal, contract_id)


@router.post("/contracts/{contract_id}/register", response_model=ContractRead)
def register_contract(session: DbSession, principal: Registrar, contract_id: int, body: Registration):
    """Register with a certificate number (registration body)."""
    return service.register_contract(session, principal, contract_id, body.certificate_number, body.on)


@router.post("/contracts/{contract_id}/refuse", response_model=ContractRead)
def refuse_contract(session: DbSession, principal: Registrar, contract_id: int, body: ReasonIn):
    """Refuse registration (未予登记) with the reason."""
    return service.refuse_contract(session, principal, contract_id, body.reason)


# ---------------------------------------------------------------- overdue work list
@router.get("/overdue", response_model=Page[OverdueRead])
def overdue(session: DbSession, principal: OverdueReader, params: Annotated[PageParams, Query()],
            format: Literal["json", "csv", "xlsx"] = "json"):
    """Items past a deadline the rules set (SPEC section 3: registration decisions), own institution's for a
    TTO officer, all for the commission; ``format=csv|xlsx`` exports the whole list."""
    if format != "json":
        content, media, name = service.export_overdue(session, principal, params, format)
        return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    items, total = service.list_overdue(session, principal, params)
    return Page[OverdueRead](items=[OverdueRead(**i) for i in items], total=total, page=params.page,
                             per_page=params.per_page)


# ---------------------------------------------------------------- income and sharing
@router.post("/rules", response_model=RuleRead, status_code=201)
def set_rule(session: DbSession, principal: Manager, body: RuleIn):
    """The institution's revenue-sharing rule from a date."""
    return service.set_revenue_rule(session, principal, body)


@router.get("/rules", response_model=list[RuleRead])
def list_rules(session: DbSession, principal: RulesReader, organisation_id: int | None = None):
    """Rule versions, newest first per institution: own institution's (TTO; another's answers 404), every
    institution's (commission, auditor)."""
    return service.list_rules(session, principal, organisation_id)


@router.get("/income", response_model=list[IncomeRead])
def list_income(session: DbSession, principal: Reader):
    """Income events visible to the caller."""
    return service.list_income(session, principal)


@router.post("/income", response_model=IncomeDetail)
def record_income(session: DbSession, principal: Manager, body: IncomeIn):
    """Record income and split it exactly; the same ``idempotency_key`` returns the existing event (200)."""
    event, created = service.record_income(session, principal, body)
    shares = service.income_shares(session, principal, event.id)
    data = IncomeDetail.model_validate({**IncomeRead.model_validate(event).model_dump(),
                                        "shares": [ShareRead.model_validate(s) for s in shares]})
    return JSONResponse(data.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/income/{income_event_id}", response_model=IncomeDetail)
def get_income(session: DbSession, principal: Reader, income_event_id: int):
    """One income event and its split (a researcher sees their own line only)."""
    event = service.access_income_by_id(session, principal, income_event_id)
    shares = service.income_shares(session, principal, event.id)
    return {**IncomeRead.model_validate(event).model_dump(), "shares": shares}


@router.post("/income/shares/{share_id}/payout", response_model=ShareRead)
def record_payout(session: DbSession, principal: Manager, share_id: int, body: PayoutIn):
    """Record that a team member's whole share was paid (TTO of the institution that received the income);
    201 when recorded, 200 when the same payment was already recorded, 409 for a different one."""
    share, changed = service.record_payout(session, principal, share_id, body)
    return JSONResponse(ShareRead.model_validate(share).model_dump(mode="json"), status_code=201 if changed else 200)


@router.get("/people/{person_id}/income")
def person_income(session: DbSession, principal: Reader, person_id: int) -> list[dict[str, Any]]:
    """A person's income lines (researchers: their own)."""
    return _jsonable(service.person_ledger(session, principal, person_id))


# ---------------------------------------------------------------- statistics
def period_param(
    year: Annotated[int | None, Query(description="Calendar year, e.g. 2024.")] = None,
    quarter: Annotated[str | None, Query(description="Quarter YYYYQn, e.g. 2024Q3.")] = None,
    month: Annotated[str | None, Query(description="Month YYYY-MM, e.g. 2024-03.")] = None,
    from_: Annotated[str | None, Query(alias="from", description="First day YYYY-MM-DD (with to).")] = None,
    to: Annotated[str | None, Query(description="Last day YYYY-MM-DD, inclusive (with from).")] = None,
    period: Annotated[str | None, Query(description="A period tag: 2024, 2024Q3, 2024-03 or "
                                                    "2024-02-10..2024-05-31.")] = None,
) -> stats.Period:
    """The statistics period: exactly one of year, quarter, month, from/to or a tag (422 with field errors)."""
    return stats.from_params(year=year, quarter=quarter, month=month, from_=from_, to=to, period=period)


StatsPeriod = Annotated[stats.Period, Depends(period_param)]


@router.get("/stats")
def get_stats(session: DbSession, principal: StatsReader, period: StatsPeriod, institution: str | None = None,
              format: Literal["json", "xlsx"] = "json"):
    """The indicators of a period — year, quarter, month or date range, each compared with the same days one
    year earlier (same objects as ``kechuang transfer stats``)."""
    from kechuang.core.i18n import gettext

    rows = stats.compute(session, principal, period, institution)
    if format == "xlsx":
        return Response(stats.to_xlsx(rows), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="transfer-stats-{period.slug}.xlsx"'})
    return [dict(r, label=gettext(r["label"])) for r in rows]


@router.get("/stats/records")
def stats_records(session: DbSession, principal: StatsReader, indicator: str, period: StatsPeriod,
                  institution: str | None = None, limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Drill-down: the records counted in one indicator for the same period (first ``limit``)."""
    schema = {"empowered_results": ApplicationRead, "contracts_registered": ContractRead,
              "contract_turnover": ContractRead, "contract_technical": ContractRead}.get(indicator, TransferRead)
    rows = stats.records_behind(session, principal, indicator, period, institution, limit)
    return [schema.model_validate(r).model_dump(mode="json") for r in rows]


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()} for r in rows]
