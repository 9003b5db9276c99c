"""The audit log as users see it: listing (auditors, commission officers), verifying the hash chain and the
sealed daily Merkle roots, sealing a day, and RFC 6962 inclusion proofs of single entries.

Leaves of a day's tree are the entries' ``hash`` values (32 bytes each) of that UTC day in id order. No
function here (and no route) edits or deletes entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.accounts.models import AuditDayRoot
from kechuang.accounts.schemas import AuditEntryRead
from kechuang.core import audit, merkle
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import Page, PageParams, SortSpec, paginate
from kechuang.core.permissions import permission, require
from kechuang.db import utcnow

READ_AUDIT = permission("audit.read", Role.AUDITOR, Role.COMMISSION)
VERIFY_AUDIT = permission("audit.verify", Role.AUDITOR)
SEAL_AUDIT = permission("audit.seal")  # operators only (Role.SYSTEM: CLI and jobs)

PROBLEMS = {
    "edited": N_("entry {id} was edited (its hash no longer matches its content)"),
    "deleted_or_reordered": N_("the entry before {id} was deleted, or entries were reordered"),
}


@dataclass
class AuditFilters:
    """Filters of the audit entry list."""

    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None  # actor username
    since: date | None = None  # UTC day, inclusive
    until: date | None = None  # UTC day, inclusive


_SORT = SortSpec({"id": AuditEntry.id, "at": AuditEntry.at, "action": AuditEntry.action}, default="-id")


def list_entries(session: Session, principal: Principal, params: PageParams,
                 filters: AuditFilters | None = None) -> Page[AuditEntryRead]:
    """Audit entries, newest first by default; filters on action, object, actor and UTC days; ``q`` searches
    action and object type."""
    require(principal, READ_AUDIT)
    f = filters or AuditFilters()
    stmt = select(AuditEntry)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.object_type:
        stmt = stmt.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        stmt = stmt.where(AuditEntry.object_id == f.object_id)
    if f.actor:
        stmt = stmt.where(AuditEntry.actor_name == f.actor)
    if f.since:
        stmt = stmt.where(AuditEntry.at >= _bounds(f.since)[0])
    if f.until:
        stmt = stmt.where(AuditEntry.at < _bounds(f.until)[1])
    if params.q:
        like = f"%{params.q.strip()}%"
        stmt = stmt.where(AuditEntry.action.like(like) | AuditEntry.object_type.like(like))
    rows, total = paginate(session, stmt, params, _SORT, AuditEntry.id)
    return Page[AuditEntryRead](items=[AuditEntryRead.model_validate(r) for r in rows], total=total,
                                page=params.page, per_page=params.per_page)


def get_entry(session: Session, principal: Principal, entry_id: int) -> AuditEntry:
    """One entry."""
    require(principal, READ_AUDIT)
    entry = session.get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound()
    return entry


# ---------------------------------------------------------------- Merkle roots per day
def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _day_leaves(session: Session, day: date, first_id: int | None = None,
                last_id: int | None = None) -> list[tuple[int, str]]:
    start, end = _bounds(day)
    stmt = select(AuditEntry.id, AuditEntry.hash).where(AuditEntry.at >= start, AuditEntry.at < end)
    if first_id is not None:
        stmt = stmt.where(AuditEntry.id >= first_id)
    if last_id is not None:
        stmt = stmt.where(AuditEntry.id <= last_id)
    return [(r.id, r.hash) for r in session.execute(stmt.order_by(AuditEntry.id))]


def day_root(leaves: list[tuple[int, str]]) -> str:
    """The hex Merkle tree hash of (id, hash) leaves."""
    return merkle.tree_hash([bytes.fromhex(h) for _id, h in leaves]).hex()


def _entry_day(entry: AuditEntry) -> date:
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return at.astimezone(UTC).date()


def seal_day(session: Session, principal: Principal, day: date, *, allow_open_day: bool = False) -> AuditDayRoot:
    """Store the Merkle root of ``day``'s entries. A day is sealed once, after it is over (UTC) unless
    ``allow_open_day``; sealing again returns the stored root if it still matches, ``Conflict`` otherwise."""
    require(principal, SEAL_AUDIT)
    if day >= utcnow().date() and not allow_open_day:
        raise ValidationFailed(errors=[FieldError("day", N_("The day is not over yet (UTC)."), value=str(day))])
    existing = session.scalar(select(AuditDayRoot).where(AuditDayRoot.day_date == day))
    if existing is not None:
        leaves = _day_leaves(session, day, existing.first_entry_id, existing.last_entry_id)
        if len(leaves) == existing.entry_count and day_root(leaves) == existing.root_hash:
            return existing
        raise Conflict(N_("The entries of {day} no longer match the root sealed for that day."), day=str(day))
    leaves = _day_leaves(session, day)
    row = AuditDayRoot(day_date=day, entry_count=len(leaves), first_entry_id=leaves[0][0] if leaves else None,
                       last_entry_id=leaves[-1][0] if leaves else None, root_hash=day_root(leaves),
                       computed_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, principal, "audit.seal", "audit_day_root", day.isoformat(),
                 after={"entry_count": row.entry_count, "root_hash": row.root_hash})
    return row


def seal_missing_days(session: Session, principal: Principal) -> list[AuditDayRoot]:
    """Seal every finished UTC day that has entries but no root yet (what a daily job runs; catches up)."""
    require(principal, SEAL_AUDIT)
    sealed = set(session.scalars(select(AuditDayRoot.day_date)))
    first_at = session.scalar(select(func.min(AuditEntry.at)))
    if first_at is None:
        return []
    day = (first_at if first_at.tzinfo else first_at.replace(tzinfo=UTC)).astimezone(UTC).date()
    today = utcnow().date()
    out: list[AuditDayRoot] = []
    while day < today:
        if day not in sealed:
            start, end = _bounds(day)
            nxt = session.scalar(select(func.min(AuditEntry.at)).where(AuditEntry.at >= start))
            if nxt is None:
                break
            nxt_day = (nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)).astimezone(UTC).date()
            if nxt_day > day:  # skip empty days in one step
                day = nxt_day
                continue
            out.append(seal_day(session, principal, day))
        day += timedelta(days=1)
    return out


@dataclass
class InclusionProof:
    """An entry's RFC 6962 audit path in its day's tree (hex values)."""

    entry_id: int
    entry_hash: str
    day_date: date
    leaf_index: int
    tree_size: int
    path: list[str]
    root_hash: str
    sealed: bool  # root_hash is the stored (sealed) root; otherwise computed from today's entries

    @property
    def verified(self) -> bool:
        """Whether the path leads from the entry hash to the root."""
        return verify_inclusion(self.entry_hash, self.leaf_index, self.tree_size, self.path, self.root_hash)


def inclusion_proof(session: Session, principal: Principal, entry_id: int) -> InclusionProof:
    """The audit path of entry ``entry_id``: against the sealed root of its day when the day is sealed and
    covers it, otherwise against the root of the day's current entries."""
    require(principal, READ_AUDIT)
    entry = session.get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound()
    day = _entry_day(entry)
    sealed = session.scalar(select(AuditDayRoot).where(AuditDayRoot.day_date == day))
    if sealed is not None and sealed.first_entry_id is not None and \
            sealed.first_entry_id <= entry.id <= (sealed.last_entry_id or 0):
        leaves = _day_leaves(session, day, sealed.first_entry_id, sealed.last_entry_id)
        root, is_sealed = sealed.root_hash, True
    else:
        leaves = _day_leaves(session, day)
        root, is_sealed = day_root(leaves), False
    ids = [i for i, _h in leaves]
    index = ids.index(entry.id)
    path = merkle.inclusion_proof(index, [bytes.fromhex(h) for _i, h in leaves])
    return InclusionProof(entry.id, entry.hash, day, index, len(leaves), [p.hex() for p in path], root, is_sealed)


def verify_inclusion(entry_hash: str, leaf_index: int, tree_size: int, path: list[str], root_hash: str) -> bool:
    """Check an inclusion proof given as hex strings (no database needed)."""
    try:
        return merkle.verify_inclusion(leaf_index, tree_size, bytes.fromhex(entry_hash),
                                       [bytes.fromhex(p) for p in path], bytes.fromhex(root_hash))
    except ValueError:
        return False


# ---------------------------------------------------------------- verification
@dataclass
class DayCheck:
    """A sealed day's root compared with the root of its entries now."""

    day_date: date
    entry_count: int
    ok: bool


@dataclass
class VerifyReport:
    """Chain and daily roots recomputed."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    days: list[DayCheck] = field(default_factory=list)

    def message(self, locale: str | None = None) -> str:
        """One line for people: "OK, N entries" or the first problem."""
        if self.ok:
            return gettext(N_("OK, {count} entries"), locale, count=self.checked)
        if self.problem in PROBLEMS:
            return gettext(N_("Broken at entry {id}: {problem}"), locale, id=self.first_bad_id,
                           problem=gettext(PROBLEMS[self.problem], locale, id=self.first_bad_id))
        bad = [d.day_date.isoformat() for d in self.days if not d.ok]
        return gettext(N_("The entries of {days} no longer match their sealed roots."), locale, days=", ".join(bad))


def check_chain(session: Session) -> VerifyReport:
    """Recompute the hash chain and every sealed day's root (no permission check: CLI and services)."""
    chain = audit.verify_chain(session)
    days: list[DayCheck] = []
    for row in session.scalars(select(AuditDayRoot).order_by(AuditDayRoot.day_date)):
        leaves = _day_leaves(session, row.day_date, row.first_entry_id, row.last_entry_id) \
            if row.first_entry_id is not None else []
        days.append(DayCheck(row.day_date, row.entry_count,
                             len(leaves) == row.entry_count and day_root(leaves) == row.root_hash))
    ok = chain.ok and all(d.ok for d in days)
    return VerifyReport(ok, chain.checked, chain.first_bad_id, chain.problem, days)


def verify(session: Session, principal: Principal) -> VerifyReport:
    """Recompute the chain and the sealed roots (auditors)."""
    require(principal, VERIFY_AUDIT)
    return check_chain(session)
