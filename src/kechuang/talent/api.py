"""Talent-evaluation JSON API under /api/v1/talent (thin: every rule and scope is in ``service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, UploadFile

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.pagination import Page, PageParams
from kechuang.talent import service
from kechuang.talent.schemas import (
    AuditDetail,
    AuditRead,
    CheckResult,
    DecisionIn,
    FindingRead,
    ProgressRead,
    SchemeDetail,
    SchemeDraft,
    SchemeIn,
    SchemeRead,
)

router = APIRouter(prefix="/api/v1/talent", tags=["talent"])

Reader = Annotated[Principal, Depends(requires(service.READ))]
Manager = Annotated[Principal, Depends(requires(service.MANAGE))]
Decider = Annotated[Principal, Depends(requires(service.DECIDE))]
Checker = Annotated[Principal, Depends(requires(service.CHECK))]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024



@router.post("/schemes/check", response_model=CheckResult)
def check_scheme(principal: Checker, body: SchemeDraft):
    """Live compliance feedback for a scheme draft (nothing is stored)."""
    return service.check_content(principal, body.content)


@router.get("/schemes", response_model=Page[SchemeRead])
def list_schemes(session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
                 category: str | None = None):
    """Schemes visible to the caller (own institution, or all for the commission)."""
    items, total = service.list_schemes(session, principal, params, category)
    return Page[SchemeRead](items=[SchemeRead.model_validate(x) for x in items], total=total, page=params.page,
                            per_page=params.per_page)


@router.post("/schemes", response_model=SchemeDetail, status_code=201)
def create_scheme(session: DbSession, principal: Manager, body: SchemeIn):
    """Store a scheme version with its compliance result (422 if it is not a readable scheme)."""
    return service.create_scheme(session, principal, body.organisation_id, body.content, is_pilot=body.is_pilot)


@router.get("/schemes/{scheme_id}", response_model=SchemeDetail)
def get_scheme(session: DbSession, principal: Reader, scheme_id: int):
    """One scheme version (404 if missing or not visible)."""
    return service.access_scheme_by_id(session, principal, scheme_id)


@router.post("/schemes/{scheme_id}/in-force", response_model=SchemeRead)
def put_in_force(session: DbSession, principal: Manager, scheme_id: int):
    """Put a compliant draft in force (409 with the broken rules otherwise)."""
    return service.put_in_force(session, principal, scheme_id)


@router.get("/audits", response_model=Page[AuditRead])
def list_audits(session: DbSession, principal: Reader, params: Annotated[PageParams, Query()]):
    """Rule-text audits visible to the caller."""
    items, total = service.list_audits(session, principal, params)
    return Page[AuditRead](items=[AuditRead.model_validate(x) for x in items], total=total, page=params.page,
                           per_page=params.per_page)


@router.post("/audits", response_model=AuditDetail, status_code=201)
def run_audit(session: DbSession, principal: Manager, file: UploadFile,
              organisation_id: Annotated[int, Form()], title: Annotated[str | None, Form()] = None):
    """Upload a rule document (multipart ``file``: .txt, .docx or .pdf) and audit it."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(errors=[FieldError("file", N_("The file is larger than {mb} MB."),
                                                  {"mb": MAX_UPLOAD_BYTES // 2**20})])
    return service.run_audit(session, principal, organisation_id, file.filename or "upload.txt", data, title)


@router.get("/audits/{audit_id}", response_model=AuditDetail)
def get_audit(session: DbSession, principal: Reader, audit_id: int):
    """One audit with its text and findings (offsets index the text)."""
    return service.access_audit_by_id(session, principal, audit_id)


@router.post("/findings/{finding_id}/decision", response_model=FindingRead)
def decide_finding(session: DbSession, principal: Decider, finding_id: int, body: DecisionIn):
    """Confirm, dismiss or mark a finding revised."""
    return service.decide_finding(session, principal, finding_id, body.decision, body.note)


@router.get("/audit-progress", response_model=list[ProgressRead])
def audit_progress(session: DbSession, principal: Reader):
    """Per institution: clauses found, revised and remaining."""
    return service.audit_progress(session, principal)


# Evaluations, dossiers, blind review, decisions, appeals and industry practice (issue 7 §4–6).
from kechuang.talent import dossier_api  # noqa: E402

router.include_router(dossier_api.router)
