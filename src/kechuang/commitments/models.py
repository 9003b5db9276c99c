"""Tables: proposal, proposal_reply, reply_section, commitment, commitment_event, commitment_link, indicator,
indicator_reported, indicator_computed. Reported and computed values live in separate tables on purpose:
they never share a field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kechuang.db import Base, utcnow


class Proposal(Base):
    """A CPPCC or NPC proposal (提案) and its handling."""

    __tablename__ = "proposal"
    __table_args__ = (UniqueConstraint("session_name", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_name: Mapped[str] = mapped_column(String(100))  # e.g. 市政协十四届三次会议
    number: Mapped[str] = mapped_column(String(20))  # e.g. 0246
    proposer: Mapped[str] = mapped_column(String(200))  # person or group, e.g. 九三学社界别
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)
    lead_unit: Mapped[str] = mapped_column(String(100))
    co_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    deadline_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="replied")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalReply(Base):
    """The handling unit's reply letter (答复), with its metadata and full text."""

    __tablename__ = "proposal_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), index=True)
    doc_no: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. 沪科提复〔2025〕56号
    reply_date: Mapped[date | None]
    signed_unit: Mapped[str] = mapped_column(String(100))
    handling_result: Mapped[str | None] = mapped_column(String(20))  # 解决或采纳 / 正在解决 / 列入计划 / 留作参考
    disclosure: Mapped[str | None] = mapped_column(String(40))  # e.g. 主动公开 · 全文
    is_public: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str | None] = mapped_column(String(60))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10))
    copy_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    printed_by: Mapped[str | None] = mapped_column(String(100))
    printed_date: Mapped[date | None]
    full_text: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReplySection(Base):
    """A numbered section of a reply (一、关于…)."""

    __tablename__ = "reply_section"
    __table_args__ = (UniqueConstraint("reply_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("proposal_reply.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)


class Commitment(Base):
    """One 下一步 commitment: the exact phrase, where it stands, who owns it and what delivers it."""

    __tablename__ = "commitment"
    __table_args__ = (UniqueConstraint("reply_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("proposal_reply.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("reply_section.id", ondelete="SET NULL"))
    ordinal: Mapped[int]
    item_label: Mapped[str | None] = mapped_column(String(20))  # 一是 / 二是 ...
    item_title: Mapped[str | None] = mapped_column(String(200))
    phrase: Mapped[str] = mapped_column(Text)
    lead_unit: Mapped[str] = mapped_column(String(100))
    co_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(20))  # policy, programme, platform, reform, statistic
    target_date: Mapped[date | None]
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CommitmentEvent(Base):
    """Status history of a commitment, with evidence."""

    __tablename__ = "commitment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)


class CommitmentLink(Base):
    """A link from a commitment to what delivers it inside kechuang (many-to-many by key)."""

    __tablename__ = "commitment_link"
    __table_args__ = (UniqueConstraint("commitment_id", "deliverable_type", "deliverable_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    deliverable_type: Mapped[str] = mapped_column(String(40))
    deliverable_key: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(300))


class Indicator(Base):
    """An indicator: definition, unit, scope. Its values are reported or computed, never mixed."""

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(20))  # 项, 家, 亿元, %
    scope: Mapped[str] = mapped_column(String(100))  # e.g. 上海市, 39 家试点单位


class IndicatorReported(Base):
    """A value as reported in a document: carries its source document and page."""

    __tablename__ = "indicator_reported"
    __table_args__ = (UniqueConstraint("indicator_id", "period", "source_doc"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(20))  # e.g. 2024
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    qualifier: Mapped[str] = mapped_column(String(2), default="=")  # "=", ">" (超 / 超过)
    source_doc: Mapped[str] = mapped_column(String(100))
    source_page: Mapped[int | None]
    source_quote: Mapped[str | None] = mapped_column(Text)


class IndicatorComputed(Base):
    """A value computed from kechuang's own records: carries the query and when it ran."""

    __tablename__ = "indicator_computed"

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    query: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    from_synthetic_data: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
