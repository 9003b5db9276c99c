"""Commitments JSON API (tag "commitments"). Public replies (主动公开) are readable without logging in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from kechuang.commitments import report as report_render
from kechuang.commitments import service
from kechuang.commitments.schemas import (
    CommitmentRead,
    CommitmentUpdate,
    ImportResult,
    IndicatorRow,
    LinkIn,
    LinkRead,
    ReplyRead,
    ReplyText,
    StatusChange,
)
from kechuang.core.auth import Principal
from kechuang.core.deps import PUBLIC_ROUTES, DbSession, get_optional_principal, requires
from kechuang.core.tabular import XLSX_MEDIA

router = APIRouter(prefix="/api/v1/commitments", tags=["commitments"])
# Public by intent: replies marked 主动公开 and their progress are open to everyone (issue 8, roles).
PUBLIC_ROUTES.update({
    "/api/v1/commitments/replies", "/api/v1/commitments/replies/{doc_no}/commitments",
    "/api/v1/commitments/replies/{doc_no}/report", "/api/v1/commitments/commitments/{commitment_id}/links",
    "/api/v1/commitments/indicators",
})

Editor = Annotated[Principal, Depends(requires(service.EDIT))]
Tracker = Annotated[Principal, Depends(requires(service.TRACK))]
# Public by intent: anonymous callers see only replies marked 主动公开 (the service filters).
Reader = Annotated[Principal | None, Depends(get_optional_principal)]


@router.get("/replies", response_model=list[ReplyRead])
def list_replies(session: DbSession, principal: Reader):
    """Replies visible to the caller (the public sees 主动公开 ones)."""
    return service.list_replies(session, principal)


@router.post("/replies/import", response_model=ImportResult)
def import_reply(session: DbSession, principal: Editor, body: ReplyText, execute: bool = False):
    """Parse a reply letter's text; save it with ``execute=true`` (dry run by default)."""
    result, _parsed = service.import_reply(session, principal, body.text, execute=execute)
    return result


@router.get("/replies/{doc_no}/commitments", response_model=list[CommitmentRead])
def list_commitments(session: DbSession, principal: Reader, doc_no: str, status: str | None = None):
    """Commitments of a reply in letter order."""
    return service.list_commitments(session, principal, doc_no, status)


@router.get("/replies/{doc_no}/report")
def report(session: DbSession, principal: Reader, doc_no: str, format: Literal["json", "html", "xlsx"] = "json"):
    """The progress report as JSON, printable HTML or XLSX."""
    data = service.progress_report(session, principal, doc_no)
    if format == "html":
        return HTMLResponse(report_render.to_html(data))
    if format == "xlsx":
        return Response(report_render.to_xlsx(data), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": 'attachment; filename="progress-report.xlsx"'})
    return data


@router.patch("/commitments/{commitment_id}", response_model=CommitmentRead)
def update_commitment(session: DbSession, principal: Editor, commitment_id: int, body: CommitmentUpdate):
    """Correct or plan a commitment."""
    return service.update_commitment(session, principal, commitment_id, body)


@router.post("/commitments/{commitment_id}/status", response_model=CommitmentRead)
def change_status(session: DbSession, principal: Tracker, commitment_id: int, body: StatusChange):
    """Change a commitment's status (evidence required for done)."""
    return service.change_status(session, principal, commitment_id, body)


@router.post("/commitments/{commitment_id}/links", response_model=LinkRead, status_code=201)
def add_link(session: DbSession, principal: Editor, commitment_id: int, body: LinkIn):
    """Link a commitment to a policy, indicator or platform capability."""
    return service.link(session, principal, commitment_id, body)


@router.get("/commitments/{commitment_id}/links", response_model=list[LinkRead])
def list_links(session: DbSession, principal: Reader, commitment_id: int):
    """Deliverables linked to a commitment."""
    return service.links(session, principal, commitment_id)


@router.get("/indicators", response_model=list[IndicatorRow])
def indicators(session: DbSession, principal: Reader):
    """Indicators with reported and computed values side by side."""
    return service.indicator_rows(session)


@router.post("/indicators/compute", response_model=list[IndicatorRow])
def compute(session: DbSession, principal: Editor, period: str):
    """Compute the indicators kechuang can compute from its records for a year."""
    service.compute_indicators(session, principal, period)
    return service.indicator_rows(session)
