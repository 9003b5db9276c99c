"""Talent-evaluation (人才分类评价) tables: employers' evaluation schemes (versioned YAML with the result of
the framework check) and rule-text audits (全面清理) with findings that officers confirm or dismiss."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
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
