"""Plain factory functions (GUIDE habit 8)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from kechuang.core.identifiers import make_credit_code
from kechuang.registry.models import Organisation, OrganisationFact, Person

_seq = itertools.count(1)


def credit_code(n: int | None = None, division: str = "310115") -> str:
    """A valid credit code with a unique body."""
    n = next(_seq) if n is None else n
    return make_credit_code("91", division, f"T{n:07d}")


def make_organisation(session: Session, **overrides: Any) -> Organisation:
    n = next(_seq)
    values: dict[str, Any] = dict(
        kind="enterprise", name_zh=f"测试企业{n}", name_en=f"Test Co {n}", credit_code=credit_code(n),
        district="浦东新区", industry_section="I", industry_division="65", ownership="private",
        founded_date=date(2015, 1, 1),
    )
    values.update(overrides)
    org = Organisation(**values)
    session.add(org)
    session.flush()
    return org


def make_fact(session: Session, org: Organisation, year: int = 2024, **overrides: Any) -> OrganisationFact:
    values: dict[str, Any] = dict(
        revenue_fen=100_000_000_00, rd_expense_fen=6_000_000_00, employees=120, st_staff=40,
        source_department="市税务局", as_of_date=date(year + 1, 3, 31), tax_credit_grade="A",
        serious_dishonesty=False, major_incident=False,
    )
    values.update(overrides)
    fact = OrganisationFact(organisation_id=org.id, year=year, **values)
    session.add(fact)
    session.flush()
    return fact


def make_person(session: Session, **overrides: Any) -> Person:
    n = next(_seq)
    values: dict[str, Any] = dict(name_zh=f"测试人{n}", name_en=f"Person {n}", roles=["researcher"],
                                  external_id=f"P{n:06d}")
    values.update(overrides)
    p = Person(**values)
    session.add(p)
    session.flush()
    return p
