"""Registry JSON API under /api/v1 (thin: every rule is in ``service``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, UploadFile
from fastapi.responses import Response

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.pagination import Page, PageParams
from kechuang.registry import export as registry_export
from kechuang.registry import importer, service
from kechuang.registry.schemas import (
    FactIn,
    FactRead,
    OrganisationCreate,
    OrganisationDetail,
    OrganisationRead,
    OrganisationUpdate,
    PersonCreate,
    PersonRead,
    QualificationIn,
    QualificationRead,
    RelationIn,
    RelationRead,
)

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

RegistryRead = Annotated[Principal, Depends(requires(service.READ_ORGANISATIONS))]
RegistryWrite = Annotated[Principal, Depends(requires(service.WRITE_REGISTRY))]
PeopleRead = Annotated[Principal, Depends(requires(service.READ_PEOPLE))]
RegistryExport = Annotated[Principal, Depends(requires(service.EXPORT_REGISTRY))]


def _filters(
    kind: str | None = None, district: str | None = None, industry_section: str | None = None,
    ownership: str | None = None, qualification: str | None = None, synthetic: bool | None = None,
) -> service.OrganisationFilters:
    return service.OrganisationFilters(kind, district, industry_section, ownership, qualification, synthetic)


@router.get("/organisations", response_model=Page[OrganisationRead])
def list_organisations(
    session: DbSession, principal: RegistryRead, params: Annotated[PageParams, Query()],
    filters: Annotated[service.OrganisationFilters, Depends(_filters)],
):
    """Organisations visible to the caller: search (``q``), filters, sort, pagination."""
    return service.list_organisations(session, principal, params, filters)


@router.post("/organisations", response_model=OrganisationRead, status_code=201)
def create_organisation(session: DbSession, principal: RegistryWrite, body: OrganisationCreate):
    """Register an organisation (commission officers)."""
    return service.create_organisation(session, principal, body)


@router.get("/organisations/export")
def export_organisations(
    session: DbSession, principal: RegistryExport, params: Annotated[PageParams, Query()],
    filters: Annotated[service.OrganisationFilters, Depends(_filters)],
    format: Literal["xlsx", "csv"] = "xlsx",
):
    """The filtered organisation list as XLSX or CSV (UTF-8 with BOM)."""
    data, media, name = registry_export.export_organisations(session, principal, params, filters, format)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/organisations/{organisation_id}", response_model=OrganisationDetail)
def get_organisation(session: DbSession, principal: RegistryRead, organisation_id: int):
    """The 360° view: organisation, facts by year, qualifications, relations."""
    org = service.access_organisation_by_id(session, principal, organisation_id)
    facts = service.organisation_facts(session, principal, organisation_id) if service.READ_FACTS.allows(
        principal) else []
    return OrganisationDetail(
        organisation=OrganisationRead.model_validate(org),
        facts=[FactRead.model_validate(f) for f in facts],
        qualifications=[QualificationRead.model_validate(q)
                        for q in service.organisation_qualifications(session, principal, organisation_id)],
        relations=[RelationRead.model_validate(r)
                   for r in service.organisation_relations(session, principal, organisation_id)],
    )


@router.patch("/organisations/{organisation_id}", response_model=OrganisationRead)
def update_organisation(session: DbSession, principal: RegistryWrite, organisation_id: int,
                        body: OrganisationUpdate):
    """Change an organisation's fields."""
    return service.update_organisation(session, principal, organisation_id, body)


@router.put("/organisations/{organisation_id}/facts/{year}", response_model=FactRead)
def put_fact(session: DbSession, principal: RegistryWrite, organisation_id: int, year: int, body: FactIn):
    """Create or replace one year's facts."""
    body.year = year
    return service.upsert_fact(session, principal, organisation_id, body)


@router.post("/organisations/{organisation_id}/qualifications", response_model=QualificationRead,
             status_code=201)
def add_qualification(session: DbSession, principal: RegistryWrite, organisation_id: int, body: QualificationIn):
    """Record a qualification."""
    return service.add_qualification(session, principal, organisation_id, body)


@router.post("/organisations/{organisation_id}/relations", response_model=RelationRead, status_code=201)
def add_relation(session: DbSession, principal: RegistryWrite, organisation_id: int, body: RelationIn):
    """Record a shareholder, legal-representative or parent relation."""
    return service.add_relation(session, principal, organisation_id, body)


@router.get("/people", response_model=Page[PersonRead])
def list_people(session: DbSession, principal: PeopleRead, params: Annotated[PageParams, Query()],
                role: str | None = None, organisation_id: int | None = None):
    """People visible to the caller."""
    return service.list_people(session, principal, params, role, organisation_id)


@router.post("/people", response_model=PersonRead, status_code=201)
def create_person(session: DbSession, principal: RegistryWrite, body: PersonCreate):
    """Register a person with affiliations."""
    return service.create_person(session, principal, body)


@router.get("/people/{person_id}", response_model=PersonRead)
def get_person(session: DbSession, principal: PeopleRead, person_id: int):
    """One person."""
    return service.access_person_by_id(session, principal, person_id)


MAX_IMPORT_BYTES = 200 * 1024 * 1024


@router.post("/import")
def import_registry(
    session: DbSession, principal: RegistryWrite, file: UploadFile,
    dry_run: Annotated[bool, Form()] = False, kind: Annotated[str | None, Form()] = None,
):
    """Import a CSV/XLSX of organisations, facts, qualifications or people (multipart ``file``; form
    fields ``dry_run`` and ``kind``). 200: the counts; 422: every bad row (row, field=column, value, reason)."""
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed(errors=[FieldError("file", N_("The file is larger than {mb} MB."),
                                                  {"mb": MAX_IMPORT_BYTES // 2**20})])
    result = importer.import_file(session, principal, data, filename=file.filename or "upload",
                                  kind=kind or None, dry_run=dry_run)
    return result.to_dict()
