"""Entitlements JSON API (tag "policy"): runs, the catalogue, entitlements and their flow, 公示 notices,
objections, payment batches and bank returns, programme inputs. Thin: every rule is in ``service``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi.responses import Response

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.tabular import CSV_MEDIA, XLSX_MEDIA, to_csv, to_xlsx
from kechuang.policy import service
from kechuang.policy.schemas import (
    AdjustmentRead,
    BatchRead,
    BatchRequest,
    ConfirmRequest,
    DecisionRequest,
    DeclineRequest,
    EntitlementPage,
    EntitlementRead,
    EventRead,
    FactCorrectionRead,
    IneligibleObjectionRequest,
    InputsRequest,
    InputsResult,
    NoticeClosed,
    NoticeLine,
    NoticeRead,
    NoticeRequest,
    ObjectionDetail,
    ObjectionRead,
    ObjectionRequest,
    ReturnResult,
    RunRead,
    RunRequest,
    RunResult,
    entitlement_read,
)

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

Reader = Annotated[Principal, Depends(requires(service.READ))]
QueueReader = Annotated[Principal, Depends(requires(service.QUEUES))]
Runner = Annotated[Principal, Depends(requires(service.RUN))]
Decider = Annotated[Principal, Depends(requires(service.DECIDE))]
Payer = Annotated[Principal, Depends(requires(service.PAY))]
Enterprise = Annotated[Principal, Depends(requires(service.CONFIRM))]
InputWriter = Annotated[Principal, Depends(requires(service.INPUTS))]
MAX_UPLOAD = 20 * 1024 * 1024


def _catalogue_item(e: service.CatalogueEntry) -> dict[str, Any]:
    p = e.policy
    return {"id": p.id, "title": p.title, "summary": p.summary, "basis": p.basis, "hash": e.hash,
            "version": e.version, "valid_from": p.valid_from, "valid_to": p.valid_to, "facts_year": p.facts_year,
            "in_force": e.in_force, "informational": p.informational, "unconfirmed_params": e.unconfirmed_params,
            "clauses": [{"id": c.id, "label": c.label, "when": c.text} for c in p.clauses],
            "entitlements": e.count, "total_fen": e.total_fen}


@router.get("/catalogue")
def catalogue(session: DbSession, principal: Reader) -> list[dict[str, Any]]:
    """Every policy with its legal basis, clauses in words, unconfirmed parameters and entitlement figures."""
    return [_catalogue_item(e) for e in service.catalogue(session, principal)]


@router.get("/catalogue/{policy_id}")
def catalogue_entry(session: DbSession, principal: Reader, policy_id: str) -> dict[str, Any]:
    """One policy with its figures per period."""
    e = service.catalogue_entry(session, principal, policy_id)
    return {**_catalogue_item(e), "periods": service.policy_periods(session, principal, policy_id)}


@router.post("/runs", response_model=RunResult)
def start_run(session: DbSession, principal: Runner, body: RunRequest):
    """Run every payable policy of a period over every enterprise (dry unless ``execute``; idempotent)."""
    out = service.run_period(session, principal, body.period, execute=body.execute)
    return RunResult(**{k: getattr(out, k) for k in RunResult.model_fields})


@router.get("/runs", response_model=list[RunRead])
def list_runs(session: DbSession, principal: QueueReader, period: int | None = None):
    """Recorded runs, newest first; a district officer gets their district's figures of each run."""
    return service.list_runs(session, principal, period)


@router.get("/runs/{run_id}", response_model=RunRead)
def get_run(session: DbSession, principal: QueueReader, run_id: int):
    """One run with the figures of the caller's scope (the run's entitlements: ``GET /entitlements?run_id=``)."""
    return service.access_run(session, principal, run_id)


def _filter(period: int | None = None, status: str | None = None, policy_id: str | None = None,
            run_id: int | None = None, district: str | None = None) -> service.EntitlementFilter:
    return service.EntitlementFilter(period=period, status=status, policy_id=policy_id, run_id=run_id,
                                     district=district)


Filter = Annotated[service.EntitlementFilter, Depends(_filter)]


@router.get("/entitlements", response_model=EntitlementPage)
def list_entitlements(session: DbSession, principal: Reader, flt: Filter, page: Annotated[int, Query(ge=1)] = 1,
                      per_page: Annotated[int, Query(ge=1, le=200)] = 50):
    """Entitlements the caller may read (an enterprise: its own; a district officer: its district's, and
    ``district`` naming another is refused). ``run_id``: those last set by that run."""
    total, rows = service.list_entitlements(session, principal, flt, limit=per_page, offset=(page - 1) * per_page)
    return EntitlementPage(total=total, items=[entitlement_read(e) for e, _ in rows])


@router.get("/entitlements/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}, XLSX_MEDIA: {}}}})
def export_entitlements(session: DbSession, principal: Reader, flt: Filter,
                        format: Literal["csv", "xlsx"] = "csv"):
    """Every entitlement the caller may read that matches the filters, as CSV (UTF-8) or XLSX."""
    headers, rows = service.export_entitlements(session, principal, flt)
    return _table_response(headers, rows, format, "entitlements")


def _table_response(headers: list[str], rows: list[list[Any]], format: str, name: str) -> Response:
    if format == "xlsx":
        return Response(to_xlsx(headers, rows, title=name), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(to_csv(headers, rows), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/entitlements/{ent_id}", response_model=EntitlementRead)
def get_entitlement(session: DbSession, principal: Reader, ent_id: int):
    """One entitlement (404 when missing or not the caller's)."""
    return entitlement_read(service.access_entitlement(session, principal, ent_id))


@router.get("/entitlements/{ent_id}/events", response_model=list[EventRead])
def entitlement_events(session: DbSession, principal: Reader, ent_id: int):
    """The entitlement's status history."""
    return service.events_of(session, principal, ent_id)


@router.post("/entitlements/{ent_id}/confirm", response_model=EntitlementRead)
def confirm(session: DbSession, principal: Enterprise, ent_id: int, body: ConfirmRequest):
    """The enterprise confirms its bank account before the deadline (repeating it changes nothing)."""
    return entitlement_read(service.confirm(session, principal, ent_id, body.bank_name, body.account_name,
                                            body.account_no))


@router.post("/entitlements/{ent_id}/decline", response_model=EntitlementRead)
def decline(session: DbSession, principal: Enterprise, ent_id: int, body: DeclineRequest):
    """The enterprise declines the entitlement."""
    return entitlement_read(service.decline(session, principal, ent_id, body.reason))


@router.post("/entitlements/{ent_id}/approve", response_model=EntitlementRead)
def approve(session: DbSession, principal: Decider, ent_id: int):
    """An officer approves (a second, different officer above the threshold)."""
    return entitlement_read(service.approve(session, principal, ent_id))


@router.post("/entitlements/{ent_id}/objections", response_model=ObjectionRead, status_code=201)
def object_notice(session: DbSession, principal: Enterprise, ent_id: int, body: ObjectionRequest):
    """Object to an entitlement while its 公示 runs."""
    return service.object_during_notice(session, principal, ent_id, body.text)


@router.post("/objections", response_model=ObjectionRead, status_code=201)
def object_ineligible(session: DbSession, principal: Enterprise, body: IneligibleObjectionRequest):
    """An enterprise judged ineligible objects to a policy's result."""
    return service.object_ineligible(session, principal, body.policy_id, body.period, body.text)


@router.get("/objections", response_model=list[ObjectionRead])
def list_objections(session: DbSession, principal: Reader, status: str | None = None):
    """Objections the caller may read."""
    return [o for o, _ in service.list_objections(session, principal, status)]


@router.get("/objections/{objection_id}", response_model=ObjectionDetail)
def get_objection(session: DbSession, principal: Reader, objection_id: int):
    """One readable objection with its decision, corrected facts and the re-evaluation's outcome."""
    obj = service.access_objection(session, principal, objection_id)
    return ObjectionDetail.model_validate(obj).model_copy(update={"corrections": [
        FactCorrectionRead.model_validate(c) for c in service.corrections_of(session, principal, objection_id)]})


@router.post("/objections/{objection_id}/decision", response_model=ObjectionDetail)
def decide(session: DbSession, principal: Decider, objection_id: int, body: DecisionRequest):
    """An officer upholds or dismisses an objection, with the reason; upholding may correct the enterprise's
    registry facts, which re-evaluates its period (the outcome is recorded on the objection)."""
    fixes = [service.FactCorrection(c.year, c.field, c.value, c.source_department, c.as_of_date)
             for c in body.corrections]
    obj = service.decide_objection(session, principal, objection_id, body.decision, body.note, corrections=fixes)
    return ObjectionDetail.model_validate(obj).model_copy(update={"corrections": [
        FactCorrectionRead.model_validate(c) for c in service.corrections_of(session, principal, objection_id)]})


@router.post("/notices", response_model=NoticeRead, status_code=201)
def publish_notice(session: DbSession, principal: Decider, body: NoticeRequest):
    """Put the period's computed entitlements under a 公示."""
    return service.publish_notice(session, principal, body.period)


@router.get("/notices", response_model=list[NoticeRead])
def list_notices(session: DbSession, principal: Reader):
    """公示 notices, newest first."""
    return service.list_notices(session)


@router.get("/notices/{notice_id}/lines", response_model=list[NoticeLine])
def notice_lines(session: DbSession, principal: Reader, notice_id: int):
    """The public content of a 公示: enterprises, policies, amounts."""
    return [NoticeLine(entitlement_id=e.id, credit_code=o.credit_code, enterprise=o.name_zh, policy_id=e.policy_id,
                       policy_title_zh=e.policy_title_zh, amount_fen=e.amount_fen, status=e.status)
            for e, o in service.notice_lines(session, notice_id)]


@router.get("/adjustments", response_model=list[AdjustmentRead])
def adjustments(session: DbSession, principal: QueueReader):
    """Adjustment entries of settled entitlements found by reruns, newest first."""
    return service.adjustments_of(session, principal)


@router.post("/notices/{notice_id}/close", response_model=NoticeClosed)
def close_notice(session: DbSession, principal: Decider, notice_id: int):
    """After the notice period: notify the enterprises without an open objection."""
    return NoticeClosed(notified=service.close_notice(session, principal, notice_id))


@router.post("/lapse", response_model=list[int])
def lapse(session: DbSession, principal: Runner):
    """Lapse notified entitlements past their confirmation deadline; returns their ids."""
    return service.lapse(session, principal)


@router.post("/payment-batches", response_model=BatchRead, status_code=201)
def create_batch(session: DbSession, principal: Payer, body: BatchRequest):
    """Put approved entitlements (all in scope, or the given ids) into a payment batch."""
    return service.create_batch(session, principal, body.ids or None)


@router.get("/payment-batches", response_model=list[BatchRead])
def list_batches(session: DbSession, principal: QueueReader):
    """Payment batches, newest first."""
    return service.list_batches(session, principal)


@router.get("/payment-batches/{batch_id}/file", response_class=Response,
            responses={200: {"content": {"text/csv": {}, XLSX_MEDIA: {}}}})
def batch_file(session: DbSession, principal: QueueReader, batch_id: int,
               format: Literal["csv", "xlsx"] = "csv"):
    """The payment file as exported (CSV, UTF-8) or the same lines as XLSX."""
    batch = service.access_batch(session, principal, batch_id)
    if format == "xlsx":
        data = to_xlsx(service.BATCH_HEADERS, service.batch_rows(batch), title=batch.reference)
        return Response(data, media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="{batch.reference}.xlsx"'})
    return Response(batch.file_csv.encode("utf-8"), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{batch.reference}.csv"'})


@router.post("/payment-batches/{batch_id}/return", response_model=ReturnResult)
def import_return(session: DbSession, principal: Payer, batch_id: int, file: UploadFile):
    """Apply the bank's return file (CSV or XLSX: line_ref, result, bank_ref, reason); all or nothing."""
    out = service.import_return(session, principal, batch_id, file.file.read(MAX_UPLOAD))
    return ReturnResult(paid=out.paid, failed=out.failed, unchanged=out.unchanged)


@router.post("/inputs", response_model=InputsResult)
def submit_inputs(session: DbSession, principal: InputWriter, body: InputsRequest):
    """Record programme facts submitted by banks, insurers or programme platforms."""
    return InputsResult(changed=service.submit_inputs(session, principal, body.year,
                                                      [r.model_dump() for r in body.rows], body.source))


@router.get("/enterprises/{organisation_id}/explanations")
def explanations(session: DbSession, principal: Reader, organisation_id: int,
                 period: Annotated[int, Query(ge=2000, le=2100)]) -> list[dict[str, Any]]:
    """Every applicable policy explained clause by clause for one enterprise, with how-close hints."""
    view = service.enterprise_view(session, principal, organisation_id, period)
    return [x.to_dict() for x in view["explanations"]]


__all__ = ["router", "EntitlementRead"]
