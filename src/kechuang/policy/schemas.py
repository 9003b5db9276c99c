"""Request and response bodies of the entitlements API (money in integer fen)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RunRequest(BaseModel):
    """Start a run for one period (dry unless ``execute``)."""

    period: int = Field(ge=2000, le=2100, description="Facts year")
    execute: bool = False


class RunResult(BaseModel):
    """What a run did or (dry) would do."""

    period: int
    executed: bool
    no_change: bool
    run_id: int | None
    enterprises: int
    eligible: int
    created: int
    updated: int
    reopened: int
    withdrawn: int
    adjusted: int
    unchanged: int
    total_fen: int
    seconds: float
    facts_hash: str
    policies: list[dict[str, Any]]


class RunRead(BaseModel):
    """A recorded run with the figures of the caller's scope: ``scope`` null = the whole city, else the
    district officer's district (``recorded`` false: a run from before per-district figures were kept)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    period: int
    policies: list[dict[str, Any]]
    facts_hash: str
    scope: str | None
    recorded: bool
    enterprises: int
    eligible: int
    created: int
    updated: int
    withdrawn: int
    adjusted: int
    unchanged: int
    total_fen: int
    duration_ms: int
    started_by: str
    started_at: datetime


class EntitlementRead(BaseModel):
    """An entitlement (the bank account number is shown masked)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    policy_id: str
    policy_title_zh: str
    policy_title_en: str
    policy_hash: str
    period: int
    amount_fen: int
    budget_cut: bool
    clauses: dict[str, bool | None]
    status: str
    status_reason: str | None
    notice_id: int | None
    deadline_date: date | None
    bank_name: str | None
    account_name: str | None
    account_no_masked: str | None = None
    confirmed_at: datetime | None
    approved_at: datetime | None
    batch_id: int | None
    paid_at: datetime | None
    updated_at: datetime


class EntitlementPage(BaseModel):
    """One page of entitlements."""

    total: int
    items: list[EntitlementRead]


class EventRead(BaseModel):
    """A step of an entitlement's history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor_name: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None


class ConfirmRequest(BaseModel):
    """The bank account the enterprise confirms."""

    bank_name: str = Field(max_length=100)
    account_name: str = Field(max_length=200)
    account_no: str = Field(max_length=40)


class DeclineRequest(BaseModel):
    """Why the enterprise declines (optional)."""

    reason: str = Field(default="", max_length=2000)


class ObjectionRequest(BaseModel):
    """An objection's text."""

    text: str = Field(max_length=2000)


class IneligibleObjectionRequest(BaseModel):
    """An ineligible enterprise objects to a policy's result."""

    policy_id: str = Field(max_length=100)
    period: int = Field(ge=2000, le=2100)
    text: str = Field(max_length=2000)


class FactCorrectionIn(BaseModel):
    """A corrected registry fact of the objection's enterprise (a column of its yearly facts: money in fen,
    ``rd_domestic_share`` as a decimal string, booleans as true/false); checked by the registry's rules."""

    year: int
    field: str = Field(max_length=60, examples=["rd_expense_fen"])
    value: Any = Field(examples=[300000000])
    source_department: str = Field(max_length=100, examples=["市税务局"])
    as_of_date: date


class DecisionRequest(BaseModel):
    """An officer's decision on an objection; upholding may correct the enterprise's registry facts."""

    decision: Literal["upheld", "dismissed"]
    note: str = Field(max_length=2000)
    corrections: list[FactCorrectionIn] = Field(default_factory=list, max_length=20)


class FactCorrectionRead(BaseModel):
    """A registry fact corrected when an objection was upheld: before, after, who and when."""

    model_config = ConfigDict(from_attributes=True)

    year: int
    field: str
    before_value: str | None
    after_value: str | None
    source_department: str
    as_of_date: date
    corrected_by: str
    corrected_at: datetime


class ObjectionRead(BaseModel):
    """An objection and its decision."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    organisation_id: int
    policy_id: str
    period: int
    entitlement_id: int | None
    text: str
    status: str
    submitted_by: str
    submitted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    outcome: dict[str, Any] | None = None  # the enterprise's re-evaluation after corrected facts


class ObjectionDetail(ObjectionRead):
    """An objection with the facts corrected when it was upheld."""

    corrections: list[FactCorrectionRead] = []


class NoticeRequest(BaseModel):
    """Publish a 公示 for one period."""

    period: int = Field(ge=2000, le=2100)


class NoticeRead(BaseModel):
    """A 公示 notice."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    period: int
    starts_date: date
    ends_date: date
    entitlements: int
    total_fen: int
    published_by: str
    closed_at: datetime | None


class NoticeLine(BaseModel):
    """One line of a 公示: enterprise, policy, amount, status."""

    entitlement_id: int
    credit_code: str
    enterprise: str
    policy_id: str
    policy_title_zh: str
    amount_fen: int
    status: str


class AdjustmentRead(BaseModel):
    """A difference found for a settled entitlement."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    entitlement_id: int
    run_id: int
    old_amount_fen: int
    new_amount_fen: int
    delta_fen: int
    reason: str
    status: str
    created_at: datetime


class NoticeClosed(BaseModel):
    """How many entitlements a closed notice notified."""

    notified: int


class BatchRequest(BaseModel):
    """Approved entitlements to pay (all in scope when empty)."""

    ids: list[int] = Field(default_factory=list, max_length=10_000)


class BatchRead(BaseModel):
    """A payment batch."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    lines: int
    total_fen: int
    file_sha256: str
    status: str
    paid: int
    failed: int
    created_by: str
    created_at: datetime
    returned_at: datetime | None


class ReturnResult(BaseModel):
    """What a bank return file changed."""

    paid: int
    failed: int
    unchanged: int


class InputRow(BaseModel):
    """One programme fact."""

    credit_code: str = Field(max_length=18)
    fact: str = Field(max_length=60)
    value: str | int | float | bool | None


class InputsRequest(BaseModel):
    """Programme facts for one year from one source."""

    year: int = Field(ge=2000, le=2100)
    source: str = Field(max_length=100)
    rows: list[InputRow] = Field(max_length=100_000)


class InputsResult(BaseModel):
    """Rows written or changed."""

    changed: int


def entitlement_read(e: Any) -> EntitlementRead:
    """API view of an entitlement with the account number masked."""
    out = EntitlementRead.model_validate(e)
    if e.account_no:
        out.account_no_masked = "****" + e.account_no[-4:]
    return out
