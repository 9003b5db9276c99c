"""API shapes for evaluations, dossiers, review, decisions, appeals and industry practice.

Reviewer-facing shapes (``Reviewer*``) are separate from the candidate/officer shapes: they carry the
dossier's code, never a person id, name, unit or record id; ``identity`` is filled only on non-blind schemes.
No shape has a talent-title field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WorkKind = Literal["paper", "patent", "standard", "technical_solution", "transferred_result", "service_record",
                   "software", "dataset"]
RefType = Literal["achievement", "transfer", "contract", "dataset"]


class EvaluationCreate(BaseModel):
    """Open an evaluation round under a scheme in force of the officer's unit."""

    scheme_id: int
    round_label: str = Field(min_length=1, max_length=40, examples=["2026"])
    title: str | None = Field(default=None, max_length=300)
    reviewers_per_dossier: int = Field(3, ge=1, le=15)
    load_cap: int = Field(6, ge=1, le=200)
    calibration: Literal["bias", "zscore", "none"] = "bias"
    seed: int = 0
    submission_deadline_date: date | None = None
    appeal_days: int = Field(15, ge=1, le=90)


class EvaluationRead(BaseModel):
    """A round (the draw's seed is not shown: it is in the draw's audit entry, for auditors)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    scheme_id: int
    round_label: str
    title: str
    category: str
    blind: bool
    reviewers_per_dossier: int
    load_cap: int
    calibration: str
    status: str
    submission_deadline_date: date | None
    appeal_days: int
    published_at: datetime | None
    is_synthetic: bool
    created_at: datetime


class MemberIn(BaseModel):
    person_id: int
    role: Literal["lead", "core", "member"] = "member"
    contribution: str | None = Field(default=None, max_length=5000)


class DossierCreate(BaseModel):
    """A candidate's dossier (the caller leads it); a team dossier lists its members with roles."""

    evaluation_id: int
    kind: Literal["individual", "team"] = "individual"
    team_name: str | None = Field(default=None, max_length=200)
    field: str | None = Field(default=None, max_length=100)
    plan: str | None = Field(default=None, max_length=20000)
    members: list[MemberIn] = Field(default_factory=list, max_length=50)


class WorkCreate(BaseModel):
    """A representative work: link a kechuang record (``ref_type`` + ``ref_id``, verified) or type it in."""

    kind: WorkKind
    contribution_statement: str = Field(max_length=10000)
    title: str | None = Field(default=None, max_length=500)
    year: int | None = Field(default=None, ge=1900, le=2100)
    venue: str | None = Field(default=None, max_length=300)
    identifier: str | None = Field(default=None, max_length=200)
    domestic_journal: bool | None = None
    coauthor_person_ids: list[int] = Field(default_factory=list, max_length=200)
    ref_type: RefType | None = None
    ref_id: int | None = None


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: int
    role: str
    contribution: str | None


class WorkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int
    kind: str
    title: str
    year: int | None
    venue: str | None
    identifier: str | None
    domestic_journal: bool | None
    contribution_statement: str
    coauthor_person_ids: list[int]
    ref_type: str | None
    ref_id: int | None
    verified: bool
    verification_note: str | None
    verified_at: datetime | None


class DossierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    evaluation_id: int
    kind: str
    lead_person_id: int
    code: str
    team_name: str | None
    field: str | None
    status: str
    submitted_at: datetime | None
    raw_score: Decimal | None
    calibrated_score: Decimal | None
    rank: int | None
    is_synthetic: bool
    created_at: datetime


class DossierDetail(DossierRead):
    plan: str | None
    evidence: dict[str, Any]
    members: list[MemberRead]
    works: list[WorkRead]


class DecisionIn(BaseModel):
    outcome: Literal["excellent", "pass", "fail"]
    reasons: str = Field(max_length=10000)


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dossier_id: int
    outcome: str
    reasons: str
    decided_at: datetime


class AppealIn(BaseModel):
    grounds: str = Field(max_length=10000)


class AppealDecisionIn(BaseModel):
    status: Literal["upheld", "rejected"]
    outcome_reason: str = Field(max_length=10000)
    new_outcome: Literal["excellent", "pass", "fail"] | None = None


class AppealRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dossier_id: int
    grounds: str
    filed_at: datetime
    status: str
    previous_outcome: str
    new_outcome: str | None
    outcome_reason: str | None
    decided_at: datetime | None


class DossierResult(BaseModel):
    """What the candidate sees: the published decision and the appeal, if any."""

    dossier: DossierRead
    decision: DecisionRead | None
    appeal: AppealRead | None


class DrawResult(BaseModel):
    assigned: int
    short: dict[str, int]
    excluded: dict[str, dict[str, list[str]]]


class CalibratedRow(BaseModel):
    raw: float
    calibrated: float
    rank: int


class ResultsRead(BaseModel):
    method: str
    reviews: int
    dossiers: dict[str, CalibratedRow]
    reviewer_bias: dict[str, float]


class AssignIn(BaseModel):
    dossier_id: int
    reviewer_person_id: int


class AssignmentRead(BaseModel):
    """An assignment as the unit officer sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    evaluation_id: int
    dossier_id: int
    reviewer_person_id: int
    status: str


class ReviewRow(BaseModel):
    """The officer's table of assignments (reviewer identities and their scores)."""

    assignment_id: int
    dossier_id: int
    reviewer_person_id: int
    reviewer_name: str | None
    status: str
    decline_reason: str | None
    scores: dict[str, float]
    submitted_at: datetime | None


# ---------------------------------------------------------------- reviewer-facing (no identity)
class ReviewerAssignment(BaseModel):
    assignment_id: int
    code: str
    kind: str
    status: str
    submitted_at: datetime | None
    category: str
    round_label: str
    evaluation_status: str
    blind: bool
    scheme_title: str


class ReviewerIndicator(BaseModel):
    id: str
    label: dict[str, str]
    weight: float
    basis: str
    evidence: list[str]


class ReviewerWork(BaseModel):
    position: int
    kind: str
    title: str
    year: int | None
    venue: str | None
    identifier: str | None
    domestic_journal: bool | None
    contribution_statement: str
    verified: bool
    verified_from: str | None


class ReviewerMarket(BaseModel):
    contracts: int = 0
    contract_technical_fen: int = 0
    licences: int = 0
    transfers: int = 0
    transfer_price_fen: int = 0
    income_events: int = 0
    income_fen: int = 0


class ReviewerPractice(BaseModel):
    kind: str
    host: str | None
    start_date: date
    end_date: date
    tasks: str | None
    outcome_report: str | None
    host_rating: str | None


class ReviewerTeamRole(BaseModel):
    role: str
    contribution: str | None


class ReviewerEvaluation(BaseModel):
    title: str
    category: str
    round_label: str
    status: str


class ReviewerIdentityMember(BaseModel):
    name: str
    role: str


class ReviewerIdentity(BaseModel):
    """Only on non-blind schemes."""

    unit: str | None
    team_name: str | None
    members: list[ReviewerIdentityMember]


class ReviewerDossier(BaseModel):
    """A dossier as its reviewer sees it (code instead of name; no ids of people, units or records)."""

    assignment_id: int
    code: str
    status: str
    blind: bool
    evaluation: ReviewerEvaluation
    kind: str
    field: str | None
    plan: str | None
    team_roles: list[ReviewerTeamRole]
    indicators: list[ReviewerIndicator]
    works: list[ReviewerWork]
    market: ReviewerMarket
    practice: list[ReviewerPractice]
    scores: dict[str, float]
    comment: str | None
    identity: ReviewerIdentity | None


class ReviewIn(BaseModel):
    scores: dict[str, Decimal] = Field(examples=[{"original_contribution": 85, "potential": 80, "team": 78}])
    comment: str | None = Field(default=None, max_length=10000)


class DeclineIn(BaseModel):
    reason: str = Field(max_length=500)


class ReviewAck(BaseModel):
    """A reviewer's submitted or declined assignment (no dossier id)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    submitted_at: datetime | None


# ---------------------------------------------------------------- industry practice
class PracticeCreate(BaseModel):
    person_id: int
    host_organisation_id: int
    kind: Literal["placement", "secondment", "entrepreneurship"]
    round_label: str | None = Field(default=None, max_length=20, examples=["2024"])
    start_date: date
    end_date: date
    tasks: str = Field(max_length=10000)
    mentor_name: str | None = Field(default=None, max_length=100)
    mentor_person_id: int | None = None


class PracticeUpdate(BaseModel):
    """Corrections to an active record (teacher, host, kind and start stay)."""

    end_date: date
    tasks: str = Field(max_length=10000)
    round_label: str | None = Field(default=None, max_length=20)
    mentor_name: str | None = Field(default=None, max_length=100)


class PracticeReportIn(BaseModel):
    outcome_report: str = Field(max_length=20000)


class HostEvaluationIn(BaseModel):
    host_rating: Literal["excellent", "good", "pass", "fail"]
    host_evaluation: str | None = Field(default=None, max_length=10000)


class ReturnIn(BaseModel):
    return_date: date
    outcome_report: str | None = Field(default=None, max_length=20000)


class PracticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int
    organisation_id: int
    host_organisation_id: int
    kind: str
    round_label: str | None
    start_date: date
    end_date: date
    return_date: date | None
    tasks: str
    mentor_name: str | None
    mentor_person_id: int | None
    outcome_report: str | None
    host_rating: str | None
    host_evaluation: str | None
    status: str
    is_synthetic: bool


class OverviewRow(BaseModel):
    """The commission view per unit and category, with the evaluation ids to drill into."""

    organisation_id: int
    organisation_name: str
    category: str
    evaluations: int
    published: int
    cycle_years: list[int]
    dossiers: int
    works: int
    verified_works: int
    verified_share: float | None
    appeals: int
    evaluation_ids: list[int]
    reevaluated_in_cycle: int  # people evaluated again inside the scheme's cycle (refused since the cycle rule)
