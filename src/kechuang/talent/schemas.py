"""Talent-evaluation API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SchemeIn(BaseModel):
    """A scheme version: the YAML text, for an institution."""

    organisation_id: int
    content: str = Field(max_length=200_000)
    is_pilot: bool = False


class SchemeDraft(BaseModel):
    """A scheme draft to check (no write)."""

    content: str = Field(max_length=200_000)


class ViolationRead(BaseModel):
    rule: str
    reason: str
    path: str = ""


class CheckResult(BaseModel):
    compliant: bool
    violations: list[ViolationRead]


class SchemeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    scheme_key: str
    version: int
    category: str
    title: str
    cycle_years: int
    compliant: bool
    violations: list[ViolationRead]
    framework_version: int
    status: str
    is_pilot: bool
    created_at: datetime
    in_force_at: datetime | None


class SchemeDetail(SchemeRead):
    content: str


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clause: str
    start_offset: int
    end_offset: int
    link: str
    basis: str
    reason: str
    status: str
    note: str | None


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    title: str
    filename: str
    created_at: datetime


class AuditDetail(AuditRead):
    text: str
    findings: list[FindingRead]


class DecisionIn(BaseModel):
    decision: Literal["confirmed", "dismissed", "revised"]
    note: str | None = Field(default=None, max_length=2000)


class ProgressRead(BaseModel):
    organisation_id: int
    organisation_name: str
    found: int
    open: int
    confirmed: int
    dismissed: int
    revised: int
    remaining: int
