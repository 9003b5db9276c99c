"""Registry pages (thin): organisation list and 360° page, people, import. Templates: ``templates/registry/``."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import PageParams
from kechuang.core.permissions import has
from kechuang.registry import export as registry_export
from kechuang.registry import importer, service
from kechuang.registry import reference as ref
from kechuang.registry.models import Organisation, Person
from kechuang.web.pageutil import pages_router
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router(prefix="/registry")

RegistryRead = Annotated[Principal, Depends(requires(service.READ_ORGANISATIONS))]
PeopleRead = Annotated[Principal, Depends(requires(service.READ_PEOPLE))]
RegistryWrite = Annotated[Principal, Depends(requires(service.WRITE_REGISTRY))]
RegistryExport = Annotated[Principal, Depends(requires(service.EXPORT_REGISTRY))]

register_nav(NavItem("organisations", N_("Organisations"), "/registry/organisations",
                     service.READ_ORGANISATIONS, order=30))
register_nav(NavItem("people", N_("People"), "/registry/people", service.READ_PEOPLE, order=31))
register_nav(NavItem("import", N_("Import"), "/registry/import", service.WRITE_REGISTRY, order=32))

UPLOAD_DIR = Path(tempfile.gettempdir()) / "kechuang-import"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _filters(
    kind: str | None = None, district: str | None = None, industry_section: str | None = None,
    qualification: str | None = None,
) -> service.OrganisationFilters:
    return service.OrganisationFilters(kind or None, district or None, industry_section or None, None,
                                       qualification or None)


def _options() -> dict[str, list[tuple[str, str]]]:
    return {
        "kinds": [(k, gettext(v)) for k, v in ref.ORG_KINDS.items()],
        "districts": [(d, d if _zh() else ref.DISTRICT_EN[d]) for d in ref.DISTRICTS],
        "sections": [(k, f"{k} · {v[2] if _zh() else v[3]}") for k, v in ref.INDUSTRY_SECTIONS.items()],
        "qualifications": [(k, gettext(v)) for k, v in ref.QUALIFICATION_KINDS.items()],
    }


def _zh() -> bool:
    from kechuang.core.i18n import get_locale

    return get_locale() == "zh"


@router.get("/organisations")
def organisations(
    request: Request, session: DbSession, principal: RegistryRead, params: Annotated[PageParams, Query()],
    filters: Annotated[service.OrganisationFilters, Depends(_filters)],
):
    """Organisation list: search, filters, sort, pagination (htmx swaps the results only)."""
    page = service.list_organisations(session, principal, params, filters)
    ctx: dict[str, Any] = {
        "title": N_("Organisations"), "active_nav": "organisations", "page": page, "params": params,
        "values": {**request.query_params}, "options": _options(),
        "may_export": has(principal, service.EXPORT_REGISTRY),
        "synthetic": any(o.is_synthetic for o in page.items),
        "export_query": request.url.query,
    }
    template = "registry/_organisation_results.html" if request.headers.get("hx-request") else \
        "registry/organisations.html"
    return render(request, template, ctx, principal=principal)


@router.get("/organisations/export")
def export_organisations(
    session: DbSession, principal: RegistryExport, params: Annotated[PageParams, Query()],
    filters: Annotated[service.OrganisationFilters, Depends(_filters)],
    format: Literal["xlsx", "csv"] = "xlsx",
):
    """The filtered list as XLSX or CSV (same scope and filters as the page)."""
    data, media, name = registry_export.export_organisations(session, principal, params, filters, format)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/organisations/{organisation_id}")
def organisation(request: Request, session: DbSession, principal: RegistryRead, organisation_id: int):
    """The 360° page: identity, facts over the years (chart and table), qualifications, relations."""
    org = service.access_organisation_by_id(session, principal, organisation_id)
    facts = service.organisation_facts(session, principal, org.id) if has(principal, service.READ_FACTS) else []
    quals = service.organisation_qualifications(session, principal, org.id)
    relations = service.organisation_relations(session, principal, org.id)
    org_ids = {r.related_organisation_id for r in relations if r.related_organisation_id}
    person_ids = {r.related_person_id for r in relations if r.related_person_id}
    related_orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))}
    related_people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    readable_org_ids = set(session.scalars(
        service.readable_organisations(principal).with_only_columns(Organisation.id)
        .where(Organisation.id.in_(org_ids)))) if org_ids else set()
    chart = {
        "years": [f.year for f in facts],
        "labels": {"revenue": gettext(N_("Revenue (10k yuan)")), "rd": gettext(N_("R&D expense (10k yuan)")),
                   "intensity": gettext(N_("R&D intensity (%)")), "money_axis": gettext(N_("10k yuan")),
                   "pct_axis": "%"},
        "revenue": [_wan(f.revenue_fen) for f in facts],
        "rd": [_wan(f.rd_expense_fen) for f in facts],
        "intensity": [round(f.rd_expense_fen * 100 / f.revenue_fen, 2) if f.revenue_fen and f.rd_expense_fen
                      is not None else None for f in facts],
    }
    return render(request, "registry/organisation.html", {
        "title": org.name_zh, "active_nav": "organisations", "org": org, "facts": facts, "chart": chart,
        "qualifications": [(q, service.qualification_status(q)) for q in quals], "relations": relations,
        "related_orgs": related_orgs, "related_people": related_people, "readable_org_ids": readable_org_ids,
        "may_read_facts": has(principal, service.READ_FACTS),
        "may_read_people": has(principal, service.READ_PEOPLE),
        "synthetic": org.is_synthetic,
    }, principal=principal)


def _wan(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 1_000_000, 2)  # fen → 万元


@router.get("/people")
def people(request: Request, session: DbSession, principal: PeopleRead, params: Annotated[PageParams, Query()]):
    """People list with search, sort and pagination."""
    page = service.list_people(session, principal, params)
    template = "registry/_people_results.html" if request.headers.get("hx-request") else "registry/people.html"
    return render(request, template, {
        "title": N_("People"), "active_nav": "people", "page": page, "params": params,
        "values": {**request.query_params}, "synthetic": any(p.is_synthetic for p in page.items),
    }, principal=principal)


@router.get("/people/{person_id}")
def person(request: Request, session: DbSession, principal: PeopleRead, person_id: int):
    """One person and their affiliations."""
    p = service.access_person_by_id(session, principal, person_id)
    affiliations = service.person_affiliations(session, principal, person_id)
    ids = {a.organisation_id for a in affiliations}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))} if ids else {}
    readable = set(session.scalars(service.readable_organisations(principal).with_only_columns(Organisation.id)
                                   .where(Organisation.id.in_(ids)))) if ids and has(
        principal, service.READ_ORGANISATIONS) else set()
    return render(request, "registry/person.html", {
        "title": p.name_zh, "active_nav": "people", "person": p, "affiliations": affiliations, "orgs": orgs,
        "readable_org_ids": readable, "synthetic": p.is_synthetic,
    }, principal=principal)


# ---------------------------------------------------------------- import: upload → report → confirm
def _upload_path(principal: Principal, token: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", token):
        raise ValidationFailed(errors=[FieldError("token", N_("The upload has expired; please upload the file again."))])
    return UPLOAD_DIR / f"{principal.user_id or 0}-{token}"


@router.get("/import")
def import_form(request: Request, principal: RegistryWrite):
    """Upload form for CSV/XLSX files."""
    return render(request, "registry/import.html", {"title": N_("Import"), "active_nav": "import",
                                                    "kinds": importer.KINDS}, principal=principal)


@router.post("/import")
def import_upload(request: Request, session: DbSession, principal: RegistryWrite,
                  file: Annotated[UploadFile, File()], kind: Annotated[str, Form()] = ""):
    """Validate the uploaded file (dry run): the error report, or a summary to confirm."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    name = file.filename or "upload.csv"
    ctx: dict[str, Any] = {"title": N_("Import"), "active_nav": "import", "kinds": importer.KINDS,
                           "filename": name, "values": {"kind": kind}}
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationFailed(errors=[FieldError("file", N_("The file is larger than {mb} MB."),
                                                      {"mb": MAX_UPLOAD_BYTES // 2**20})])
        result = importer.import_file(session, principal, data, filename=name, kind=kind or None, dry_run=True)
    except ValidationFailed as exc:
        ctx["report"] = [e.render() for e in exc.errors]
        ctx["message"] = exc.render_message()
        return render(request, "registry/import.html", ctx, status_code=422, principal=principal)
    token = hashlib.sha256(data).hexdigest()
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    _upload_path(principal, token).write_bytes(data)
    ctx.update(result=result, token=token)
    return render(request, "registry/import.html", ctx, principal=principal)


@router.post("/import/confirm")
def import_confirm(request: Request, session: DbSession, principal: RegistryWrite,
                   token: Annotated[str, Form()], filename: Annotated[str, Form()],
                   kind: Annotated[str, Form()] = ""):
    """Import the validated file for real."""
    path = _upload_path(principal, token)
    if not path.exists():
        raise ValidationFailed(errors=[FieldError("token", N_("The upload has expired; please upload the file again."))])
    result = importer.import_file(session, principal, path.read_bytes(), filename=filename, kind=kind or None,
                                  dry_run=False)
    path.unlink(missing_ok=True)
    return render(request, "registry/import.html", {
        "title": N_("Import"), "active_nav": "import", "kinds": importer.KINDS, "done": result,
        "filename": filename}, principal=principal)

