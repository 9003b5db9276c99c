"""The append-only, hash-chained audit log. Every write appends an entry in the same transaction.

Each entry's ``hash`` is SHA-256 over its canonical content and the previous entry's hash, so editing,
deleting or reordering entries breaks the chain at the first tampered entry (``verify_chain``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from kechuang.core.auth import Principal
from kechuang.db import Base, utcnow

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One write: who, role, when, action, object, before/after, request id, client address."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(80), index=True)
    object_id: Mapped[str | None] = mapped_column(String(80), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value  # enums
    return value


def _iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite returns naive datetimes; they are stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_digest(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of an entry's content chained to ``prev_hash``."""
    payload = json.dumps(
        {**fields, "prev_hash": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_HASHED = ("actor_user_id", "actor_name", "actor_role", "action", "object_type", "object_id",
           "before", "after", "request_id", "client_addr")


def _content(entry: Any) -> dict[str, Any]:
    """The hashed fields of an entry (an ``AuditEntry`` or a row with the same attributes)."""
    return {"at": _iso(entry.at), **{f: getattr(entry, f) for f in _HASHED}}


def _lock_chain(session: Session) -> None:
    # The chain has one tail: appends must be serialised. PostgreSQL: a transaction-scoped advisory lock
    # held until commit. SQLite: the flush before this call already took the database write lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(724411)"))


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: Any = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry for a write made in ``session`` (call after the write; same transaction)."""
    session.flush()
    _lock_chain(session)
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS_HASH
    entry = AuditEntry(
        at=utcnow(),
        actor_user_id=principal.user_id,
        actor_name=principal.username,
        actor_role=str(principal.role.value),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        request_id=principal.request_id,
        client_addr=principal.client_addr,
        prev_hash=prev,
    )
    entry.hash = entry_digest(_content(entry), prev)
    session.add(entry)
    session.flush()
    return entry


@dataclass
class ChainReport:
    """Result of recomputing the chain."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None  # "edited", "deleted_or_reordered"


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in id order; name the first entry that was edited, deleted or reordered."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(*AuditEntry.__table__.c).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for e in rows:
            if e.prev_hash != prev:
                return ChainReport(False, checked, e.id, "deleted_or_reordered")
            if entry_digest(_content(e), e.prev_hash) != e.hash:
                return ChainReport(False, checked, e.id, "edited")
            prev = e.hash
            checked += 1
            last_id = e.id


def snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    """A dict of ``fields`` read from ``obj`` for before/after images."""
    return {f: _jsonable(getattr(obj, f)) for f in fields}
