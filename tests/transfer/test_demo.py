"""Transfer demo data: calibrated yearly totals, deterministic by seed, labelled synthetic, bound to the demo
TTO officer and researcher, idempotent; the commitments' indicators read it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.demo import generator
from kechuang.transfer import demo, service, stats
from kechuang.transfer.models import Achievement, IncomeShare, TechnologyContract


def test_demo_load_is_calibrated_bound_and_idempotent(session):
    generator.load(session, SYSTEM, generator.generate("small", 2025), source="demo:small:test")
    result = demo.load(session, "small", 2025)
    assert result.counts["contracts"] > 4000 and 300 <= result.counts["applications"] <= 600
    by_year = {y: {r["indicator"]: r for r in stats.compute(session, SYSTEM, y)} for y in (2023, 2024, 2025)}
    # 1/40 of Shanghai's technology-contract turnover, exactly: 5200.73亿 / 40 in 2024, +7.2% on 2023
    assert by_year[2024]["contract_turnover"]["value"] == 520073 * 10**8 // 40
    assert by_year[2024]["contract_turnover"]["yoy"] == 0.0723
    assert by_year[2025]["contract_turnover"]["yoy"] == 0.2492
    assert by_year[2024]["empowered_results"]["value"] == 108  # half of the letter's 216
    assert all(r["synthetic"] and "synthetic" in r["source"] for r in by_year[2024].values())
    assert session.scalar(select(func.count()).select_from(Achievement).where(
        Achievement.is_synthetic.is_(False))) == 0
    assert session.scalar(select(func.count()).select_from(TechnologyContract).where(
        TechnologyContract.is_synthetic.is_(False))) == 0
    # the demo TTO officer's institution and the demo researcher have records of their own
    uni, person = demo.demo_people(session)
    tto = Principal(role=Role.TTO, organisation_id=uni.id)
    me = Principal(role=Role.RESEARCHER, person_id=person.id)
    assert {a.state for a in service.list_applications(session, me)} >= {"approved", "notice"}
    assert service.person_ledger(session, me, person.id)
    # every team member's share starts unpaid (payout); the department's and institution's parts have no payout
    by_party = set(session.execute(select(IncomeShare.party, IncomeShare.payout_status).distinct()).all())
    assert by_party == {("member", "unpaid"), ("department", None), ("institution", None)}
    assert {x["payout_status"] for x in service.person_ledger(session, me, person.id)} == {"unpaid"}
    assert any(t.state == "draft" for t in service.list_transfers(session, tto))
    assert service.list_contracts(session, tto)
    # idempotent
    assert demo.load(session, "small", 2025).skipped


def test_demo_feeds_the_commitments_indicators(session):
    from kechuang.commitments import demo as commitments_demo
    from kechuang.commitments import indicators

    generator.load(session, SYSTEM, generator.generate("small", 2025), source="demo:small:test")
    demo.load(session, "small", 2025)
    assert commitments_demo.compute_latest(session) == "2024"
    computed = indicators.COMPUTATIONS["tech_contract_turnover"](session, SYSTEM, "2024")
    assert computed is not None and computed.value == Decimal("130.0182") and computed.from_synthetic_data
