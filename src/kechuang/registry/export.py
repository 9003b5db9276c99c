"""Export registry lists as XLSX or CSV, with the caller's scope and filters, localised headers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from kechuang.core.auth import Principal
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import PageParams
from kechuang.core.permissions import require
from kechuang.core.tabular import CSV_MEDIA, XLSX_MEDIA, to_csv, to_xlsx
from kechuang.registry import service
from kechuang.registry.models import Organisation, Person

ORG_COLUMNS: list[tuple[str, str]] = [
    ("credit_code", N_("Credit code")),
    ("name_zh", N_("Name (Chinese)")),
    ("name_en", N_("Name (English)")),
    ("kind", N_("Kind")),
    ("district", N_("District")),
    ("address", N_("Address")),
    ("industry_section", N_("Industry section")),
    ("industry_division", N_("Industry division")),
    ("ownership", N_("Ownership")),
    ("state_level", N_("State-ownership level")),
    ("founded_date", N_("Founded")),
    ("is_synthetic", N_("Synthetic")),
]
PERSON_COLUMNS: list[tuple[str, str]] = [
    ("external_id", N_("External id")),
    ("orcid", N_("ORCID")),
    ("name_zh", N_("Name (Chinese)")),
    ("name_en", N_("Name (English)")),
    ("roles", N_("Roles")),
    ("discipline_codes", N_("Discipline codes")),
    ("talent_category", N_("Talent category")),
    ("is_synthetic", N_("Synthetic")),
]
SYNTHETIC_NOTE = N_("Contains synthetic demo data (marked in the Synthetic column).")


def _render(kind: str, headers: list[str], rows: Iterator[list], fmt: str, synthetic: bool) -> tuple[bytes, str, str]:
    stamp = date.today().isoformat()
    if fmt == "csv":
        return to_csv(headers, rows), CSV_MEDIA, f"{kind}-{stamp}.csv"
    note = gettext(SYNTHETIC_NOTE) if synthetic else None
    return to_xlsx(headers, rows, title=kind, note=note), XLSX_MEDIA, f"{kind}-{stamp}.xlsx"


def export_organisations(
    session: Session, principal: Principal, params: PageParams, filters: service.OrganisationFilters,
    fmt: Literal["xlsx", "csv"] = "xlsx",
) -> tuple[bytes, str, str]:
    """Every organisation matching the list's search and filters, within the caller's scope."""
    require(principal, service.EXPORT_REGISTRY)
    stmt = service.filtered_organisations(principal, params, filters)
    stmt = service.ORG_SORT.apply(stmt, params.sort).order_by(Organisation.id)
    orgs = session.scalars(stmt.execution_options(yield_per=2000))
    headers = [gettext(label) for _key, label in ORG_COLUMNS]
    any_synthetic = [False]

    def rows() -> Iterator[list]:
        for org in orgs:
            any_synthetic[0] |= org.is_synthetic
            yield [getattr(org, key) for key, _label in ORG_COLUMNS]

    materialised = list(rows())
    return _render("organisations", headers, iter(materialised), fmt, any_synthetic[0])


def export_people(session: Session, principal: Principal, params: PageParams,
                  fmt: Literal["xlsx", "csv"] = "xlsx") -> tuple[bytes, str, str]:
    """Every person visible to the caller matching the search."""
    stmt = service.readable_people(principal)
    if params.q:
        stmt = stmt.where(Person.name_zh.ilike(f"%{params.q}%"))
    people = list(session.scalars(service.PERSON_SORT.apply(stmt, params.sort).order_by(Person.id)))
    headers = [gettext(label) for _key, label in PERSON_COLUMNS]
    rows = [[getattr(p, key) for key, _label in PERSON_COLUMNS] for p in people]
    return _render("people", headers, iter(rows), fmt, any(p.is_synthetic for p in people))
