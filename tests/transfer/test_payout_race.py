"""Two officers record the payment of the same share at the same moment. The race is real: COMMITTED data,
two threads with their own sessions, both past the read of the share (a barrier in ``service.today``, which
runs between that read and the conditional UPDATE) before either writes. Exactly one UPDATE changes the row
and writes the audit entry; the other gets the winner's payment back (same payment: unchanged; a different
one: 409). The fixture removes what it committed."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import delete, func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.errors import Conflict
from kechuang.db import session_scope
from kechuang.registry.models import Organisation, Person
from kechuang.transfer import service
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    AchievementOwner,
    IncomeEvent,
    IncomeShare,
    LedgerEntry,
)
from kechuang.transfer.schemas import IncomeIn, PayoutIn
from tests.concurrency import race
from tests.transfer.helpers import achievement, world


@pytest.fixture
def committed_share(engine):
    with session_scope() as s:
        last = s.scalar(select(func.max(AuditEntry.id))) or 0
        w = world(s, pilot=False)
        a = achievement(s, w)
        event, _ = service.record_income(s, w.tto_a, IncomeIn(
            idempotency_key=f"race-{a.id}", achievement_id=a.id, received_date=date(2024, 6, 1), amount_fen=999_99))
        share = s.scalar(select(IncomeShare).where(IncomeShare.income_event_id == event.id,
                                                   IncomeShare.person_id == w.alice.id))
        ids = {"share": share.id, "amount": share.amount_fen, "event": event.id, "achievement": a.id,
               "orgs": [w.uni_a.id, w.uni_b.id, w.company.id], "people": [w.alice.id, w.bob.id, w.carol.id]}
        tto = w.tto_a
    yield ids, tto
    with session_scope() as s:
        s.execute(delete(IncomeShare).where(IncomeShare.income_event_id == ids["event"]))
        s.execute(delete(IncomeEvent).where(IncomeEvent.id == ids["event"]))
        for model in (LedgerEntry, AchievementMember, AchievementOwner):
            s.execute(delete(model).where(model.achievement_id == ids["achievement"]))
        s.execute(delete(Achievement).where(Achievement.id == ids["achievement"]))
        s.execute(delete(Person).where(Person.id.in_(ids["people"])))
        s.execute(delete(Organisation).where(Organisation.id.in_(ids["orgs"])))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last))


@pytest.fixture
def both_past_the_read(monkeypatch):
    barrier = threading.Barrier(2, timeout=20)
    original = service.today

    def today():
        barrier.wait()
        return original()

    monkeypatch.setattr(service, "today", today)


def _race(fn) -> list:
    return race(fn, what="a payout")


def _state(share_id: int):
    with session_scope() as s:
        share = s.get(IncomeShare, share_id)
        audits = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "transfer.income.payout", AuditEntry.object_id == str(share_id)))
        return share.payout_status, share.paid_date, share.payout_reference, share.amount_fen, audits


@pytest.mark.parametrize("same", [True, False], ids=["same-payment", "different-payments"])
def test_two_simultaneous_payouts_write_once(committed_share, both_past_the_read, same):
    ids, tto = committed_share
    refs = ["PAY-1", "PAY-1" if same else "PAY-2"]

    def pay(i: int):
        with session_scope() as s:
            _share, changed = service.record_payout(s, tto, ids["share"], PayoutIn(paid_date=date(2024, 7, 1),
                                                                                   reference=refs[i]))
            return changed

    results = _race(pay)
    status, paid, ref, amount, audits = _state(ids["share"])
    assert (status, paid, amount, audits) == ("paid", date(2024, 7, 1), ids["amount"], 1), results
    if same:
        assert sorted(results) == [False, True]
        assert ref == "PAY-1"
    else:
        winner = results.index(True)
        assert isinstance(results[1 - winner], Conflict), results
        assert ref == refs[winner]
