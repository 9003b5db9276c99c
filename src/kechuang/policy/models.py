"""Entitlements (免申即享): policy runs, entitlements with their status history, adjustments of settled
entitlements, 公示 notices, objections, approvals, payment batches, and programme inputs (facts that
banks, insurers and programme platforms submit and the registry does not hold).

Status of an entitlement (``ENTITLEMENT_STATUSES``)::

    computed → notice (公示) → notified → confirmed → approved → in_batch → paid
                   │               │  ╲                                  ╲→ failed → (re-confirmed)
                   ↓               ↓   → declined / lapsed
               rejected         withdrawn (basis no longer met while pending)

Money is integer fen. Per-entitlement history is the ``entitlement_event`` table; every service write also
appends to the audit log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kechuang.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")

ENTITLEMENT_STATUSES = ("computed", "notice", "notified", "confirmed", "approved", "in_batch", "paid", "failed",
                        "declined", "lapsed", "withdrawn", "rejected")
# A rerun may still change these (the basis is updated with the reason).
PENDING_STATUSES = ("computed", "notice", "notified")
# Never altered by a rerun: a difference becomes an adjustment entry.
SETTLED_STATUSES = ("confirmed", "approved", "in_batch", "paid", "failed")
OBJECTION_KINDS = ("ineligible", "notice")
OBJECTION_STATUSES = ("open", "upheld", "dismissed")


class PolicyRun(Base):
    """One executed run of the active policies over one period's facts."""

    __tablename__ = "policy_run"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, index=True)  # facts year
    policies: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{id, hash, version}]
    inputs_hash: Mapped[str] = mapped_column(String(64))  # policies + facts: equal hashes, nothing to do
    facts_hash: Mapped[str] = mapped_column(String(64))
    enterprises: Mapped[int] = mapped_column(Integer, default=0)
    eligible: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    adjusted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    started_by: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The same figures per district of the enterprises ({district: {enterprises, eligible, total_fen,
    # created, updated, withdrawn, adjusted, unchanged}}; "" = no district); NULL for runs before 0009pd.
    districts: Mapped[dict[str, dict[str, int]] | None] = mapped_column(JSON)
    # Set for the re-evaluation of one enterprise after an upheld objection corrected its facts (0011pf);
    # such runs are not the period's city-wide runs (not listed, not compared by the next run).
    objection_id: Mapped[int | None] = mapped_column(Integer)


class PolicyNotice(Base):
    """A 公示 (public notice) of computed entitlements; objections are open until ``ends_date``."""

    __tablename__ = "policy_notice"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, index=True)
    starts_date: Mapped[date]
    ends_date: Mapped[date]
    entitlements: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    published_by: Mapped[str] = mapped_column(String(120))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class PaymentBatch(Base):
    """An exported payment file of approved entitlements and, later, the bank's return file."""

    __tablename__ = "payment_batch"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. PB-2024-0001
    district: Mapped[str | None] = mapped_column(String(20))  # a district officer's batch
    lines: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    file_csv: Mapped[str] = mapped_column(Text)  # the exported file as written (UTF-8 CSV)
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="exported")  # exported | returned
    paid: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    return_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    returned_at: Mapped[datetime | None]


class Entitlement(Base):
    """What one enterprise is entitled to under one policy for one period, and where it stands."""

    __tablename__ = "entitlement"
    __table_args__ = (
        UniqueConstraint("organisation_id", "policy_id", "period"),
        Index("ix_entitlement_period_status", "period", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[str] = mapped_column(String(100))
    policy_title_zh: Mapped[str] = mapped_column(String(300))
    policy_title_en: Mapped[str] = mapped_column(String(300))
    policy_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the policy version's text
    period: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    budget_cut: Mapped[bool] = mapped_column(default=False)
    clauses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # clause id → true/false/null
    basis_hash: Mapped[str] = mapped_column(String(64))  # policy hash + amount + clause results
    run_id: Mapped[int] = mapped_column(ForeignKey("policy_run.id"), index=True)  # last run that set the basis
    status: Mapped[str] = mapped_column(String(16), default="computed")
    status_reason: Mapped[str | None] = mapped_column(Text)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("policy_notice.id"), index=True)
    notified_at: Mapped[datetime | None]
    deadline_date: Mapped[date | None]  # confirm by this day (working days after notification)
    bank_name: Mapped[str | None] = mapped_column(String(100))
    account_name: Mapped[str | None] = mapped_column(String(200))
    account_no: Mapped[str | None] = mapped_column(String(40))
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[datetime | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batch.id"), index=True)
    paid_at: Mapped[datetime | None]
    bank_ref: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntitlementEvent(Base):
    """One step of an entitlement's history: who moved it from which status to which, and why."""

    __tablename__ = "entitlement_event"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlement.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EntitlementAdjustment(Base):
    """A difference found by a rerun for an entitlement that was already confirmed or paid."""

    __tablename__ = "entitlement_adjustment"
    __table_args__ = (UniqueConstraint("entitlement_id", "basis_hash"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlement.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("policy_run.id"), index=True)
    old_amount_fen: Mapped[int] = mapped_column(BigInteger)
    new_amount_fen: Mapped[int] = mapped_column(BigInteger)
    delta_fen: Mapped[int] = mapped_column(BigInteger)
    basis_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | settled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntitlementApproval(Base):
    """An officer's approval; above the threshold two different officers approve."""

    __tablename__ = "entitlement_approval"
    __table_args__ = (UniqueConstraint("entitlement_id", "officer_user_id"),
                      UniqueConstraint("entitlement_id", "level"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlement.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)  # 1, or 2 for the second officer
    officer_user_id: Mapped[int] = mapped_column(Integer)
    officer_name: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyObjection(Base):
    """An objection: an enterprise judged ineligible, or anyone during a 公示; an officer decides."""

    __tablename__ = "policy_objection"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # ineligible | notice
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[str] = mapped_column(String(100))
    period: Mapped[int] = mapped_column(Integer)
    entitlement_id: Mapped[int | None] = mapped_column(ForeignKey("entitlement.id", ondelete="CASCADE"), index=True)
    objector_org_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    submitted_by: Mapped[str] = mapped_column(String(120))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    # After corrected facts: the enterprise's re-evaluation ({run_id, policies: [{policy_id, eligible,
    # amount_fen, failed_clauses, action}]}), NULL when no fact was corrected (0011pf).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PolicyFactCorrection(Base):
    """A registry fact corrected by an officer upholding an objection: who, when, before and after."""

    __tablename__ = "policy_fact_correction"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("policy_objection.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    before_value: Mapped[str | None] = mapped_column(String(200))  # text form; NULL = not recorded
    after_value: Mapped[str | None] = mapped_column(String(200))
    source_department: Mapped[str] = mapped_column(String(100))
    as_of_date: Mapped[date]
    corrected_by: Mapped[str] = mapped_column(String(120))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyInput(Base):
    """A programme fact for one enterprise and year that the registry does not hold (premium paid,
    compute rent, contract amount...), as submitted by a bank, insurer or programme platform."""

    __tablename__ = "policy_input"
    __table_args__ = (UniqueConstraint("organisation_id", "year", "fact"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    fact: Mapped[str] = mapped_column(String(60))
    value: Mapped[str | None] = mapped_column(String(200))  # text form of the typed value
    source: Mapped[str] = mapped_column(String(100))
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    submitted_by: Mapped[str] = mapped_column(String(120))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
