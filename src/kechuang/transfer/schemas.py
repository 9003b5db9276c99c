"""API shapes of results transfer. Types are checked here; business rules in ``service``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OwnerIn(BaseModel):
    organisation_id: int
    share: Decimal = Field(gt=0, le=1, examples=["1"])


class MemberIn(BaseModel):
    person_id: int
    contribution: Decimal = Field(gt=0, le=1, examples=["0.6"])


class AchievementCreate(BaseModel):
    kind: str = Field(examples=["invention_patent"])
    title: str = Field(min_length=1, max_length=300)
    number: str | None = Field(None, max_length=64, examples=["ZL202310000001.X"])
    trl: int | None = Field(None, examples=[5])
    fields: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    government_funding_fen: int = 0
    is_classified: bool = False
    is_synthetic: bool = False
    owners: list[OwnerIn]
    members: list[MemberIn]


class OwnerRead(OwnerIn):
    model_config = ConfigDict(from_attributes=True)


class MemberRead(MemberIn):
    model_config = ConfigDict(from_attributes=True)


class AchievementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    title: str
    number: str | None
    trl: int | None
    fields: list[str]
    keywords: list[str]
    government_funding_fen: int
    is_classified: bool
    is_synthetic: bool


class AchievementDetail(AchievementRead):
    owners: list[OwnerRead]
    members: list[MemberRead]


class LedgerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    organisation_id: int
    achievement_id: int
    stage: str
    book_value_fen: int
    registered_date: date


class StageChange(BaseModel):
    stage: str = Field(examples=["dormant"])
    book_value_fen: int | None = Field(None, ge=0)


class ValuationIn(BaseModel):
    valuation_date: date
    method: str = Field(examples=["income"])
    value_fen: int = Field(ge=0)
    note: str | None = Field(None, max_length=300)
    update_book_value: bool = False


class ValuationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ledger_entry_id: int
    valuation_date: date
    method: str
    value_fen: int
    note: str | None


class PilotIn(BaseModel):
    organisation_id: int
    start_date: date
    end_date: date | None = None
    basis: str = Field(min_length=1, max_length=200, examples=["沪科规〔2023〕9号 第一批试点单位"])


class PilotRead(PilotIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class PilotEnd(BaseModel):
    end_date: date


class ApplicationCreate(BaseModel):
    achievement_id: int
    organisation_id: int
    kind: str = Field(examples=["full_ownership"])
    ownership_share: Decimal | None = Field(None, gt=0, le=1)
    use_right_years: int | None = Field(None, ge=1)
    agreed_income_share: Decimal | None = Field(None, ge=0, le=1)


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    achievement_id: int
    organisation_id: int
    applicant_person_id: int
    kind: str
    ownership_share: Decimal | None
    use_right_years: int | None
    agreed_income_share: Decimal | None
    state: str
    submitted_at: datetime | None
    notice_start_date: date | None
    notice_end_date: date | None
    decision_date: date | None
    decision_reason: str | None


class Decision(BaseModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionIn(BaseModel):
    objector: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    raised_date: date | None = None


class ObjectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    application_id: int
    raised_date: date
    objector: str
    reason: str
    resolved_at: datetime | None
    resolution: str | None


class Resolution(BaseModel):
    resolution: str = Field(min_length=1, max_length=2000)


class TransferCreate(BaseModel):
    achievement_id: int
    mode: str = Field(examples=["licence"])
    counterparty_organisation_id: int | None = None
    licence_type: str | None = Field(None, examples=["exclusive"])
    licence_term_years: int | None = None
    territory: str | None = Field(None, max_length=100)
    company_is_new: bool | None = None
    equity_share: Decimal | None = Field(None, gt=0, le=1)
    social_capital_fen: int = 0
    price_fen: int = 0
    pricing_route: str | None = Field(None, examples=["negotiated"])
    is_synthetic: bool = False


class TransferEvidence(BaseModel):
    """Evidence of the procedure (尽职免责): each change is timestamped in the audit log."""

    unit_notice_start_date: date | None = None
    unit_notice_end_date: date | None = None
    market_name: str | None = Field(None, max_length=200)
    market_notice_start_date: date | None = None
    market_notice_end_date: date | None = None
    listing_record: str | None = Field(None, max_length=300)
    auction_record: str | None = Field(None, max_length=300)
    valuation_required: bool | None = None
    valuation_report: str | None = Field(None, max_length=300)
    valuation_fen: int | None = Field(None, ge=0)
    decision_record: str | None = Field(None, max_length=300)
    conflicts_declared: bool | None = None
    no_improper_gain_declared: bool | None = None


class TransferRead(TransferCreate, TransferEvidence):
    model_config = ConfigDict(from_attributes=True)
    id: int
    organisation_id: int
    state: str
    signed_date: date | None
    completed_date: date | None


class DateIn(BaseModel):
    on: date | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PaymentIn(BaseModel):
    due_date: date
    amount_fen: int = Field(gt=0)


class ContractCreate(BaseModel):
    number: str = Field(min_length=1, max_length=64)
    category: str = Field(examples=["development_commissioned"])
    seller_organisation_id: int
    buyer_organisation_id: int | None = None
    buyer_name: str | None = Field(None, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    signed_date: date
    total_fen: int
    non_technical_fen: int = 0
    technical_fen: int | None = None
    achievement_id: int | None = None
    transfer_id: int | None = None
    payments: list[PaymentIn] = Field(default_factory=list)
    is_synthetic: bool = False


class PaymentRead(PaymentIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    category: str
    seller_organisation_id: int
    buyer_organisation_id: int | None
    buyer_name: str | None
    subject: str
    signed_date: date
    total_fen: int
    non_technical_fen: int
    technical_fen: int
    achievement_id: int | None
    transfer_id: int | None
    state: str
    submitted_date: date | None
    registration_deadline_date: date | None
    registered_date: date | None
    certificate_number: str | None
    refusal_reason: str | None


class Registration(BaseModel):
    certificate_number: str = Field(min_length=1, max_length=64)
    on: date | None = None


class RuleIn(BaseModel):
    organisation_id: int
    valid_from_date: date
    team_share: Decimal = Field(ge=0, le=1)
    department_share: Decimal = Field(ge=0, le=1)
    institution_share: Decimal = Field(ge=0, le=1)
    basis: str = Field(min_length=1, max_length=300)


class RuleRead(RuleIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class IncomeIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=100)
    contract_id: int | None = None
    transfer_id: int | None = None
    achievement_id: int | None = None
    received_date: date
    amount_fen: int = Field(gt=0)
    costs_fen: int = Field(0, ge=0)
    cost_note: str | None = Field(None, max_length=300)
    is_synthetic: bool = False


class ShareRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    income_event_id: int
    party: str
    person_id: int | None
    organisation_id: int | None
    amount_fen: int
    payout_status: str | None = None  # team members' shares: unpaid | paid
    paid_date: date | None = None
    payout_reference: str | None = None


class PayoutIn(BaseModel):
    """The payment of one team member's whole share: the date paid and a reference (e.g. payroll batch)."""

    paid_date: date
    reference: str = Field(min_length=1, max_length=100)

    @field_validator("reference", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v


class IncomeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    idempotency_key: str
    achievement_id: int
    organisation_id: int
    contract_id: int | None
    transfer_id: int | None
    received_date: date
    amount_fen: int
    costs_fen: int
    net_fen: int
    rule_basis: str


class IncomeDetail(IncomeRead):
    shares: list[ShareRead]


class OverdueRead(BaseModel):
    """One item of the overdue work list: what, the record, its deadline, days past it and the rule."""

    kind: str
    contract_id: int
    number: str
    category: str
    seller_organisation_id: int
    buyer_organisation_id: int | None
    buyer_name: str | None
    technical_fen: int
    submitted_date: date | None
    deadline_date: date | None
    days_overdue: int | None
    rule_days: int
    rule_working_days: bool
    rule_status: str
    rule_source: str
    is_synthetic: bool
