"""Policy versions in the database: every save of a policy's YAML is a new row (never updated in place
except for its status); one published version per policy is in force."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kechuang.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")

VERSION_STATUSES = ("draft", "published", "retired")
VERSION_SOURCES = ("library", "editor")


class PolicyVersion(Base):
    """One version of one policy: its YAML text, hash, author, reason and status."""

    __tablename__ = "policy_version"
    __table_args__ = (
        UniqueConstraint("policy_key", "version"),
        Index("ix_policy_version_policy_key_status", "policy_key", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    policy_key: Mapped[str] = mapped_column(String(100))  # the ``id`` in the YAML
    version: Mapped[int]
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    title_zh: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published | retired
    source: Mapped[str] = mapped_column(String(16), default="editor")  # library | editor
    author_id: Mapped[int | None]  # accounts user id; NULL for the shipped library
    author_name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(100))
    retired_at: Mapped[datetime | None]
