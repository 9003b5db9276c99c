"""Deadlines of the entitlement flow count working days of the official calendar (core.workdays): a 公示
published before Spring Festival ends after it, the 3 working days to confirm skip National Day and count the
swapped Sunday, and the lapse sweep follows that deadline."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from kechuang.core.auth import SYSTEM, Role
from kechuang.policy import service
from kechuang.policy.models import Entitlement
from tests.conftest import principal
from tests.factories import make_fact, make_organisation
from tests.policy.test_entitlements import COMMISSION, PERIOD, _policies


def _computed(session, n=2):
    orgs = []
    for _ in range(n):
        org = make_organisation(session)
        make_fact(session, org, PERIOD, rd_expense_fen=2_000_000_00)
        service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "premium_paid_fen",
                                                         "value": 300_000}], source="test bank")
        orgs.append(org)
    service.run_period(session, COMMISSION, PERIOD, execute=True, policies=_policies())
    return orgs


def test_notice_over_spring_festival_and_deadline_over_national_day(session):
    orgs = _computed(session)
    # Friday 2025-01-24, 5 working days: Sunday 1/26 (worked), Monday 1/27, then 1/28-2/4 off: 2/5, 2/6, 2/7.
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=date(2025, 1, 24), working_days=5)
    assert notice.ends_date == date(2025, 2, 7)
    # Closed on Friday 2025-09-26: 3 working days to confirm are Sunday 9/28 (worked), 9/29 and 9/30.
    assert service.close_notice(session, COMMISSION, notice.id, today=date(2025, 9, 26)) == 2
    ents = list(session.scalars(select(Entitlement).where(Entitlement.organisation_id.in_([o.id for o in orgs]))))
    assert {e.deadline_date for e in ents} == {date(2025, 9, 30)}
    # During the holiday nothing lapses yet on the deadline day; the day after it does.
    assert service.lapse(session, COMMISSION, today=date(2025, 9, 30)) == []
    assert sorted(service.lapse(session, COMMISSION, today=date(2025, 10, 1))) == sorted(e.id for e in ents)


def test_confirmation_deadline_over_spring_festival_2026(session):
    orgs = _computed(session, n=1)
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=date(2026, 2, 2), working_days=5)
    assert notice.ends_date == date(2026, 2, 9)
    service.close_notice(session, COMMISSION, notice.id, today=date(2026, 2, 13))
    ent = session.scalar(select(Entitlement).where(Entitlement.organisation_id == orgs[0].id))
    # Saturday 2/14 is worked, 2/15-2/23 are off: 2/14, 2/24, 2/25.
    assert ent.deadline_date == date(2026, 2, 25)
    user = principal(Role.ENTERPRISE, user_id=900, organisation_id=orgs[0].id)
    confirmed = service.confirm(session, user, ent.id, "中国银行", orgs[0].name_zh, "6222000011112222",
                                today=date(2026, 2, 24))
    assert confirmed.status == "confirmed"


def test_a_deadline_in_a_year_without_its_notice_is_shown_as_provisional(session, client_as):
    orgs = _computed(session, n=1)
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=date(2026, 12, 21), working_days=5)
    assert notice.ends_date == date(2026, 12, 28)
    service.close_notice(session, COMMISSION, notice.id, today=date(2026, 12, 29))
    ent = session.scalar(select(Entitlement).where(Entitlement.organisation_id == orgs[0].id))
    assert ent.deadline_date == date(2027, 1, 1)  # 2027: no notice in the calendar yet, Monday to Friday
    officer = client_as(COMMISSION)
    page = officer.get(f"/policy/entitlements/{ent.id}", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'class="small muted provisional"' in page.text and "2027" in page.text
    page = officer.get(f"/policy/notices/{notice.id}", headers={"accept": "text/html"})
    assert 'class="small muted provisional"' not in page.text  # the notice ends in 2026, which is entered
    user = principal(Role.ENTERPRISE, user_id=901, organisation_id=orgs[0].id)
    mine = client_as(user).get("/policy/mine", headers={"accept": "text/html"})
    assert mine.status_code == 200 and 'class="small muted provisional"' in mine.text
