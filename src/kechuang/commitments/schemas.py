"""API shapes of the commitments domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class ReplyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    doc_no: str
    reply_date: date | None
    signed_unit: str
    handling_result: str | None
    disclosure: str | None
    is_public: bool
    copy_to: list[str]


class CommitmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    reply_id: int
    ordinal: int
    item_label: str | None
    item_title: str | None
    phrase: str
    lead_unit: str
    co_units: list[str]
    kind: str
    target_date: date | None
    owner: str | None
    status: str


class CommitmentUpdate(BaseModel):
    """Officers' corrections and planning fields."""

    phrase: str | None = Field(None, min_length=4)
    kind: str | None = None
    lead_unit: str | None = None
    co_units: list[str] | None = None
    target_date: date | None = None
    owner: str | None = None


class StatusChange(BaseModel):
    status: str = Field(examples=["done"])
    note: str | None = None
    evidence: str | None = Field(None, description="Required when marking a commitment done")


class LinkIn(BaseModel):
    deliverable_type: str = Field(examples=["policy"])
    deliverable_key: str = Field(examples=["sh-loan-insurance-2025"])
    note: str | None = None


class LinkRead(LinkIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    commitment_id: int


class ImportResult(BaseModel):
    doc_no: str | None
    executed: bool
    reply_id: int | None
    sections: int
    commitments: int
    figures: int
    warnings: list[str]
    unchanged: bool = False


class IndicatorRow(BaseModel):
    """One indicator with its reported and computed values side by side (never one field)."""

    code: str
    name: str
    unit: str
    period: str
    reported_value: Decimal | None
    reported_qualifier: str | None
    reported_source: str | None
    computed_value: Decimal | None
    computed_at: datetime | None
    computed_query: str | None
    computed_from_synthetic_data: bool | None
    difference: Decimal | None


class ReplyText(BaseModel):
    """The full text of a reply letter."""

    text: str = Field(min_length=20, description="UTF-8 text of the letter as published")
