from sqlalchemy import select, update

from kechuang.core import audit
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM


def _three(session):
    return [audit.record(session, SYSTEM, "test.write", "thing", i, after={"n": i, "名": "值"}) for i in range(3)]


def test_chain_links_each_entry_to_the_previous(session):
    entries = _three(session)
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    report = audit.verify_chain(session)
    assert report.ok and report.checked >= 3


def test_edit_is_detected_at_the_edited_entry(session):
    entries = _three(session)
    session.execute(update(AuditEntry).where(AuditEntry.id == entries[1].id).values(after={"n": 99}))
    session.expire_all()
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_id == entries[1].id
    assert report.problem == "edited"


def test_delete_is_detected_at_the_following_entry(session):
    entries = _three(session)
    session.delete(session.get(AuditEntry, entries[1].id))
    session.flush()
    report = audit.verify_chain(session)
    assert (report.ok, report.first_bad_id, report.problem) == (False, entries[2].id, "deleted_or_reordered")


def test_entry_keeps_actor_and_images(session):
    e = audit.record(session, SYSTEM, "test.update", "thing", 7, before={"a": 1}, after={"a": 2})
    got = session.scalar(select(AuditEntry).where(AuditEntry.id == e.id))
    assert (got.actor_role, got.object_id, got.before, got.after) == ("system", "7", {"a": 1}, {"a": 2})
