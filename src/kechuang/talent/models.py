"""Talent-evaluation (人才分类评价) tables: employers' evaluation schemes (versioned YAML with the result of
the framework check), rule-text audits (全面清理) with findings that officers confirm or dismiss, evaluation
rounds with dossiers, representative works, blind review, panel decisions and appeals, and industry-practice
records (产学研践习). No table has a talent-title field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kechuang.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class EvaluationScheme(Base):
    """One version of an employing unit's evaluation scheme (谁使用谁评价), stored as its YAML source."""

    __tablename__ = "evaluation_scheme"
    __table_args__ = (UniqueConstraint("organisation_id", "scheme_key", "version"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    scheme_key: Mapped[str] = mapped_column(String(100))  # the ``id`` in the YAML
    version: Mapped[int]
    category: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(300))
    cycle_years: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    compliant: Mapped[bool]
    violations: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{rule, reason, path}] (English)
    framework_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | in_force | retired
    is_pilot: Mapped[bool] = mapped_column(default=False)  # 立新标 pilot unit's own standard
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    in_force_at: Mapped[datetime | None]


class RuleAudit(Base):
    """One run of the rule-text audit over a document of an institution."""

    __tablename__ = "rule_audit"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    findings: Mapped[list[RuleFinding]] = relationship(
        back_populates="audit", lazy="raise", cascade="all, delete-orphan", order_by="RuleFinding.start_offset"
    )


class RuleFinding(Base):
    """A clause that links ``link`` to ``basis``; an officer confirms, dismisses or marks it revised."""

    __tablename__ = "rule_finding"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("rule_audit.id", ondelete="CASCADE"), index=True)
    clause: Mapped[str] = mapped_column(Text)
    start_offset: Mapped[int]
    end_offset: Mapped[int]
    link: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | dismissed | revised
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime | None]

    audit: Mapped[RuleAudit] = relationship(back_populates="findings", lazy="raise")


# ---------------------------------------------------------------- evaluations, dossiers, review (issue 7 §4–6)
class TalentEvaluation(Base):
    """A round of an employing unit's evaluation (谁使用谁评价) under one scheme version."""

    __tablename__ = "talent_evaluation"
    __table_args__ = (UniqueConstraint("organisation_id", "scheme_id", "round_label"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)  # employing unit
    scheme_id: Mapped[int] = mapped_column(_ID, ForeignKey("evaluation_scheme.id"), index=True)
    round_label: Mapped[str] = mapped_column(String(40))  # e.g. "2026"
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32), index=True)  # copied from the scheme
    blind: Mapped[bool] = mapped_column(default=False)  # copied from the scheme: reviewers never see identity
    reviewers_per_dossier: Mapped[int] = mapped_column(default=3)
    load_cap: Mapped[int] = mapped_column(default=6)  # max dossiers per reviewer in this round
    calibration: Mapped[str] = mapped_column(String(16), default="bias")  # bias | zscore | none
    seed: Mapped[int] = mapped_column(default=0)  # reviewer draw
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | reviewing | published
    submission_deadline_date: Mapped[date | None]
    appeal_days: Mapped[int] = mapped_column(default=15)
    published_at: Mapped[datetime | None]
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dossier(Base):
    """A candidate's (or a team's) submission to an evaluation; the team is the unit when ``kind`` is team."""

    __tablename__ = "talent_dossier"
    __table_args__ = (UniqueConstraint("evaluation_id", "lead_person_id"), UniqueConstraint("evaluation_id", "code"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_evaluation.id", ondelete="CASCADE"),
                                               index=True)
    kind: Mapped[str] = mapped_column(String(16), default="individual")  # individual | team
    lead_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # what reviewers see instead of a name (blind schemes)
    team_name: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(100))
    plan: Mapped[str | None] = mapped_column(Text)  # development plan (potential)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | submitted
    submitted_at: Mapped[datetime | None]
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)  # snapshot at submission: market, practice
    raw_score: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    calibrated_score: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    rank: Mapped[int | None]
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[DossierMember]] = relationship(
        back_populates="dossier", lazy="raise", cascade="all, delete-orphan", order_by="DossierMember.position")
    works: Mapped[list[RepresentativeWork]] = relationship(
        back_populates="dossier", lazy="raise", cascade="all, delete-orphan", order_by="RepresentativeWork.position")


class DossierMember(Base):
    """A person of the dossier and their role in the team (lead, core, member)."""

    __tablename__ = "talent_dossier_member"
    __table_args__ = (UniqueConstraint("dossier_id", "person_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_dossier.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="lead")  # lead | core | member
    contribution: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    dossier: Mapped[Dossier] = relationship(back_populates="members", lazy="raise")


class RepresentativeWork(Base):
    """A representative work (代表作) with the candidate's contribution statement; linked to a kechuang record
    (``ref_type``/``ref_id``) and verified against it, or typed in (unverified)."""

    __tablename__ = "talent_work"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_dossier.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(32))  # paper, patent, standard, technical_solution, ...
    title: Mapped[str] = mapped_column(String(500))
    year: Mapped[int | None]
    venue: Mapped[str | None] = mapped_column(String(300))  # journal, standard body, host
    identifier: Mapped[str | None] = mapped_column(String(200))  # DOI, patent or standard number
    domestic_journal: Mapped[bool | None]  # papers: published in a domestic (Chinese) journal
    contribution_statement: Mapped[str] = mapped_column(Text)
    coauthor_person_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # declared co-authors (registry)
    ref_type: Mapped[str | None] = mapped_column(String(16))  # achievement | transfer | contract | dataset
    ref_id: Mapped[int | None]
    verified: Mapped[bool] = mapped_column(default=False)
    verification_note: Mapped[str | None] = mapped_column(String(500))
    verified_at: Mapped[datetime | None]

    dossier: Mapped[Dossier] = relationship(back_populates="works", lazy="raise")


class ReviewAssignment(Base):
    """A reviewer (a registry person with role expert) drawn for a dossier."""

    __tablename__ = "talent_review_assignment"
    __table_args__ = (UniqueConstraint("dossier_id", "reviewer_person_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_evaluation.id", ondelete="CASCADE"),
                                               index=True)
    dossier_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_dossier.id", ondelete="CASCADE"), index=True)
    reviewer_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")  # assigned | submitted | declined
    comment: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scores: Mapped[list[ReviewScore]] = relationship(
        back_populates="assignment", lazy="raise", cascade="all, delete-orphan", order_by="ReviewScore.id")


class ReviewScore(Base):
    """A reviewer's score (0–100) on one indicator of the scheme."""

    __tablename__ = "talent_review_score"
    __table_args__ = (UniqueConstraint("assignment_id", "indicator_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_review_assignment.id", ondelete="CASCADE"),
                                               index=True)
    indicator_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2))

    assignment: Mapped[ReviewAssignment] = relationship(back_populates="scores", lazy="raise")


class PanelDecision(Base):
    """The panel's decision on a dossier with its written reasons; changed only through an appeal."""

    __tablename__ = "talent_panel_decision"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_dossier.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))  # excellent | pass | fail
    reasons: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appeal(Base):
    """A candidate's appeal (申诉) against a published decision, with its recorded outcome."""

    __tablename__ = "talent_appeal"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(_ID, ForeignKey("talent_dossier.id", ondelete="CASCADE"), unique=True)
    filed_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    grounds: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="filed")  # filed | upheld | rejected
    previous_outcome: Mapped[str] = mapped_column(String(16))
    new_outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime | None]


class PracticeRecord(Base):
    """Industry practice of a university teacher: 产学研践习 placement, 挂职 secondment or 离岗创业 leave.
    Completed records count as evidence in the teacher's later evaluations."""

    __tablename__ = "talent_practice"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)  # home university
    host_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # placement | secondment | entrepreneurship
    round_label: Mapped[str | None] = mapped_column(String(20))  # placement programme round, e.g. "2024"
    start_date: Mapped[date]
    end_date: Mapped[date]  # planned end (leave: agreed latest return)
    return_date: Mapped[date | None]  # 离岗创业: actual return
    tasks: Mapped[str] = mapped_column(Text)
    mentor_name: Mapped[str | None] = mapped_column(String(100))  # host mentor (企业导师)
    mentor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    outcome_report: Mapped[str | None] = mapped_column(Text)
    host_rating: Mapped[str | None] = mapped_column(String(16))  # excellent | good | pass | fail
    host_evaluation: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | completed
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
