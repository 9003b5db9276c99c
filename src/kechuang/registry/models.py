"""Registry tables: organisation, qualification, organisation_relation, organisation_fact, person,
affiliation. Money is integer fen (BigInteger); shares are Decimal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kechuang.db import Base, utcnow


class Organisation(Base):
    """An enterprise, university, institute, hospital, service provider, investor or government unit."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name_zh: Mapped[str] = mapped_column(String(200), index=True)
    name_en: Mapped[str | None] = mapped_column(String(300))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    province: Mapped[str] = mapped_column(String(20), default="上海")
    district: Mapped[str | None] = mapped_column(String(20), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    industry_section: Mapped[str | None] = mapped_column(String(1), index=True)
    industry_division: Mapped[str | None] = mapped_column(String(2))
    ownership: Mapped[str | None] = mapped_column(String(20))
    state_level: Mapped[str | None] = mapped_column(String(20))
    founded_date: Mapped[date | None]
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    qualifications: Mapped[list[Qualification]] = relationship(
        back_populates="organisation", lazy="raise", cascade="all, delete-orphan"
    )
    facts: Mapped[list[OrganisationFact]] = relationship(
        back_populates="organisation", lazy="raise", cascade="all, delete-orphan"
    )


class Qualification(Base):
    """A recognition with its number and validity dates (高新技术企业, 科技型中小企业, 专精特新, ...)."""

    __tablename__ = "qualification"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    number: Mapped[str] = mapped_column(String(64))
    valid_from_date: Mapped[date]
    valid_to_date: Mapped[date | None]
    is_synthetic: Mapped[bool] = mapped_column(default=False)

    organisation: Mapped[Organisation] = relationship(back_populates="qualifications", lazy="raise")


class OrganisationRelation(Base):
    """Shareholder (with share), legal representative, or parent; used for related-party and
    conflict-of-interest checks. Exactly one of ``related_organisation_id`` / ``related_person_id``."""

    __tablename__ = "organisation_relation"
    __table_args__ = (
        UniqueConstraint("organisation_id", "kind", "related_organisation_id", "related_person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    related_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    related_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    share: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))  # 0..1 for shareholders
    is_synthetic: Mapped[bool] = mapped_column(default=False)


class OrganisationFact(Base):
    """The facts the government holds about an organisation for one year, with their source."""

    __tablename__ = "organisation_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(index=True)
    revenue_fen: Mapped[int | None] = mapped_column(BigInteger)
    rd_expense_fen: Mapped[int | None] = mapped_column(BigInteger)
    rd_domestic_share: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    employees: Mapped[int | None]
    st_staff: Mapped[int | None]
    high_tech_income_fen: Mapped[int | None] = mapped_column(BigInteger)
    total_assets_fen: Mapped[int | None] = mapped_column(BigInteger)
    profit_fen: Mapped[int | None] = mapped_column(BigInteger)
    tax_credit_grade: Mapped[str | None] = mapped_column(String(1))
    serious_dishonesty: Mapped[bool | None]
    major_incident: Mapped[bool | None]
    source_department: Mapped[str] = mapped_column(String(100))
    as_of_date: Mapped[date]
    is_synthetic: Mapped[bool] = mapped_column(default=False)

    organisation: Mapped[Organisation] = relationship(back_populates="facts", lazy="raise")


class Person(Base):
    """A researcher, expert, entrepreneur or officer."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100), index=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    orcid: Mapped[str | None] = mapped_column(String(19), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    discipline_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    talent_category: Mapped[str | None] = mapped_column(String(32))
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    affiliations: Mapped[list[Affiliation]] = relationship(
        back_populates="person", lazy="raise", cascade="all, delete-orphan"
    )


class Affiliation(Base):
    """A person's position at an organisation over a period."""

    __tablename__ = "affiliation"
    __table_args__ = (Index("ix_affiliation_person_org", "person_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    position: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]

    person: Mapped[Person] = relationship(back_populates="affiliations", lazy="raise")


def as_dict(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Column values of a model instance (audit snapshots, exports)."""
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in exclude}
