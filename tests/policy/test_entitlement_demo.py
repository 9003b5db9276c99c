"""The demo step of the entitlements on the small demo data: every stage of the flow is present, the demo
enterprise log-in has an entitlement to confirm, inputs are marked synthetic, a second load does nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from kechuang.accounts import demo as accounts_demo
from kechuang.accounts.models import UserAccount
from kechuang.core.auth import SYSTEM
from kechuang.demo import generator
from kechuang.policy import demo
from kechuang.policy.models import Entitlement, PaymentBatch, PolicyInput, PolicyObjection, PolicyRun


def test_demo_load_shows_the_whole_flow(session):
    generator.load(session, SYSTEM, generator.generate("small", 2025), source="demo:test")
    accounts_demo.ensure_demo_users(session)
    assert demo.load(session, today=date(2026, 11, 30)) == 2024
    statuses = dict(session.execute(select(Entitlement.status, func.count()).group_by(Entitlement.status)).all())
    assert {"notice", "notified", "confirmed", "approved", "paid"} <= set(statuses)
    assert session.scalar(select(func.count()).select_from(PolicyObjection)
                          .where(PolicyObjection.status == "open")) == 1
    batch = session.scalar(select(PaymentBatch))
    assert batch.status == "returned" and batch.paid == batch.lines > 0
    org_id = session.scalar(select(UserAccount.organisation_id).where(UserAccount.username == "demo_enterprise"))
    mine = session.scalars(select(Entitlement).where(Entitlement.organisation_id == org_id)).all()
    assert [e.status for e in mine] == ["notified"] and mine[0].deadline_date == date(2026, 12, 3)
    assert session.scalar(select(func.count()).select_from(PolicyInput)
                          .where(PolicyInput.is_synthetic.is_(False))) == 0
    assert demo.load(session) is None  # once only
    assert session.scalar(select(func.count()).select_from(PolicyRun)) == 1
