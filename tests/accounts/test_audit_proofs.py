import pytest
from sqlalchemy import delete, select, update

from kechuang.accounts import audit_service
from kechuang.accounts.models import AuditDayRoot
from kechuang.core import audit
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import PermissionDenied, ValidationFailed
from kechuang.db import utcnow
from tests.conftest import principal


def _entries(session, n):
    return [audit.record(session, SYSTEM, "test.proof", "thing", i, after={"i": i}) for i in range(n)]


def test_seal_and_prove_today(session):
    entries = _entries(session, 5)
    today = utcnow().date()
    with pytest.raises(ValidationFailed):
        audit_service.seal_day(session, SYSTEM, today)  # the day is not over
    with pytest.raises(PermissionDenied):
        audit_service.seal_day(session, principal(Role.AUDITOR), today, allow_open_day=True)
    row = audit_service.seal_day(session, SYSTEM, today, allow_open_day=True)
    assert row.entry_count >= 5 and row.last_entry_id == entries[-1].id
    assert audit_service.seal_day(session, SYSTEM, today, allow_open_day=True).id == row.id  # idempotent

    auditor = principal(Role.AUDITOR)
    proof = audit_service.inclusion_proof(session, auditor, entries[2].id)
    assert proof.sealed and proof.root_hash == row.root_hash and proof.tree_size == row.entry_count
    assert proof.verified
    assert audit_service.verify_inclusion(proof.entry_hash, proof.leaf_index, proof.tree_size, proof.path,
                                          proof.root_hash)
    assert not audit_service.verify_inclusion("00" * 32, proof.leaf_index, proof.tree_size, proof.path,
                                              proof.root_hash)
    later = audit.record(session, SYSTEM, "test.proof", "thing", 99)
    open_proof = audit_service.inclusion_proof(session, auditor, later.id)
    assert not open_proof.sealed and open_proof.verified
    report = audit_service.verify(session, auditor)
    assert report.ok and [d.ok for d in report.days] == [True]


def test_truncated_day_is_caught_by_its_root(session):
    entries = _entries(session, 3)
    audit_service.seal_day(session, SYSTEM, utcnow().date(), allow_open_day=True)
    seal_entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert seal_entry.action == "audit.seal"
    # Cutting the tail keeps the hash chain valid; only the sealed root notices.
    session.execute(delete(AuditEntry).where(AuditEntry.id >= entries[-1].id))
    assert audit.verify_chain(session).ok
    report = audit_service.check_chain(session)
    assert not report.ok and [d.ok for d in report.days] == [False]
    assert utcnow().date().isoformat() in report.message("en")


def test_edited_entry_fails_its_proof_against_the_sealed_root(session):
    entries = _entries(session, 4)
    audit_service.seal_day(session, SYSTEM, utcnow().date(), allow_open_day=True)
    session.execute(update(AuditEntry).where(AuditEntry.id == entries[1].id).values(hash="ab" * 32))
    session.expire_all()
    proof = audit_service.inclusion_proof(session, SYSTEM, entries[1].id)
    assert proof.sealed and not proof.verified
    report = audit_service.check_chain(session)
    assert not report.ok and report.first_bad_id == entries[1].id
    assert f"entry {entries[1].id}" in report.message("en")
    assert session.scalar(select(AuditDayRoot.entry_count)) >= 4


def test_seal_missing_days_catches_up_and_skips_empty_days(session):
    from datetime import timedelta

    old, recent, today = _entries(session, 3)
    now = utcnow()
    session.execute(update(AuditEntry).where(AuditEntry.id == old.id).values(at=now - timedelta(days=3)))
    session.execute(update(AuditEntry).where(AuditEntry.id == recent.id).values(at=now - timedelta(days=1)))
    session.expire_all()
    rows = audit_service.seal_missing_days(session, SYSTEM)
    days = {r.day_date: r.entry_count for r in rows}
    assert (now - timedelta(days=3)).date() in days and (now - timedelta(days=1)).date() in days
    assert (now - timedelta(days=2)).date() not in days and now.date() not in days
    assert audit_service.seal_missing_days(session, SYSTEM) == []
    proof = audit_service.inclusion_proof(session, SYSTEM, recent.id)
    assert proof.sealed and proof.verified and proof.day_date == (now - timedelta(days=1)).date()
