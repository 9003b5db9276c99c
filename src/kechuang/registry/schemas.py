"""API shapes of the registry. Types are checked here; business rules in ``service``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class QualificationIn(BaseModel):
    kind: str = Field(examples=["high_tech"])
    number: str = Field(min_length=1, max_length=64, examples=["GR202331001234"])
    valid_from_date: date
    valid_to_date: date | None = None


class QualificationRead(QualificationIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    is_synthetic: bool = False


class OrganisationCreate(BaseModel):
    kind: str = Field(examples=["enterprise"])
    name_zh: str = Field(min_length=1, max_length=200, examples=["上海示例科技有限公司"])
    name_en: str | None = Field(None, max_length=300)
    credit_code: str = Field(examples=["914403001922038216"])
    province: str = "上海"
    district: str | None = Field(None, examples=["浦东新区"])
    address: str | None = Field(None, max_length=300)
    industry_section: str | None = Field(None, examples=["I"])
    industry_division: str | None = Field(None, examples=["65"])
    ownership: str | None = Field(None, examples=["private"])
    state_level: str | None = None
    founded_date: date | None = None
    is_synthetic: bool = False


class OrganisationUpdate(BaseModel):
    name_zh: str | None = Field(None, min_length=1, max_length=200)
    name_en: str | None = None
    district: str | None = None
    address: str | None = None
    industry_section: str | None = None
    industry_division: str | None = None
    ownership: str | None = None
    state_level: str | None = None
    founded_date: date | None = None


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name_zh: str
    name_en: str | None
    credit_code: str
    province: str
    district: str | None
    address: str | None
    industry_section: str | None
    industry_division: str | None
    ownership: str | None
    state_level: str | None
    founded_date: date | None
    is_synthetic: bool


class FactIn(BaseModel):
    year: int = Field(ge=1949, le=2100, examples=[2024])
    revenue_fen: int | None = Field(None, ge=0, description="Revenue in fen (1 yuan = 100 fen)")
    rd_expense_fen: int | None = Field(None, ge=0)
    rd_domestic_share: Decimal | None = Field(None, ge=0, le=1)
    employees: int | None = Field(None, ge=0)
    st_staff: int | None = Field(None, ge=0)
    high_tech_income_fen: int | None = Field(None, ge=0)
    total_assets_fen: int | None = Field(None, ge=0)
    profit_fen: int | None = None
    tax_credit_grade: str | None = None
    serious_dishonesty: bool | None = None
    major_incident: bool | None = None
    source_department: str = Field(min_length=1, max_length=100, examples=["市税务局"])
    as_of_date: date


class FactRead(FactIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    organisation_id: int
    is_synthetic: bool = False


class RelationIn(BaseModel):
    kind: str = Field(examples=["shareholder"])
    related_organisation_id: int | None = None
    related_person_id: int | None = None
    share: Decimal | None = Field(None, ge=0, le=1)


class RelationRead(RelationIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    organisation_id: int


class AffiliationIn(BaseModel):
    organisation_id: int
    position: str | None = None
    start_date: date | None = None
    end_date: date | None = None


class AffiliationRead(AffiliationIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class PersonCreate(BaseModel):
    name_zh: str = Field(min_length=1, max_length=100, examples=["张三"])
    name_en: str | None = Field(None, max_length=200)
    orcid: str | None = Field(None, examples=["0000-0002-1825-0097"])
    external_id: str | None = Field(None, max_length=64)
    roles: list[str] = Field(default_factory=list, examples=[["researcher"]])
    discipline_codes: list[str] = Field(default_factory=list)
    talent_category: str | None = None
    affiliations: list[AffiliationIn] = Field(default_factory=list)
    is_synthetic: bool = False


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name_zh: str
    name_en: str | None
    orcid: str | None
    external_id: str | None
    roles: list[str]
    discipline_codes: list[str]
    talent_category: str | None
    is_synthetic: bool


class OrganisationDetail(BaseModel):
    """The 360° view: the organisation, its facts over the years, qualifications and relations."""

    organisation: OrganisationRead
    facts: list[FactRead]
    qualifications: list[QualificationRead]
    relations: list[RelationRead]
