"""Yearly statistics against a hand-computed fixture; the CLI's JSON contract."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import NotFound, PermissionDenied, ValidationFailed
from kechuang.registry.models import Organisation
from kechuang.transfer import stats
from kechuang.transfer.models import Achievement, EmpowermentApplication, TechnologyContract, Transfer
from tests.conftest import principal
from tests.factories import make_organisation, make_person

WAN = 10_000_00  # 1万元 in fen
_n = iter(range(1, 10**6))


def _contract(session, seller, buyer, total, non_tech, registered, state="registered", synthetic=False):
    c = TechnologyContract(number=f"S{next(_n):08d}", category="transfer", seller_organisation_id=seller.id,
                           buyer_organisation_id=buyer.id, subject="s", signed_date=date(2020, 1, 1),
                           total_fen=total, non_technical_fen=non_tech, technical_fen=total - non_tech,
                           state=state, registered_date=registered, is_synthetic=synthetic)
    session.add(c)
    return c


def fixture(session):
    """Hand-computed: see the expected values in the tests below."""
    uni = make_organisation(session, kind="university", name_zh="统计大学")
    inst = make_organisation(session, kind="research_institute", name_zh="统计研究所")
    co = make_organisation(session, kind="enterprise")
    # 2023: uni 100万 (10万 equipment), inst 50万 -> turnover 150万, technical 140万
    _contract(session, uni, co, 100 * WAN, 10 * WAN, date(2023, 5, 1))
    _contract(session, inst, co, 50 * WAN, 0, date(2023, 12, 31))
    # 2024: uni 200万 (20万 equipment), inst 30万 -> turnover 230万, technical 210万
    _contract(session, uni, co, 200 * WAN, 20 * WAN, date(2024, 1, 1), synthetic=True)
    _contract(session, inst, co, 30 * WAN, 0, date(2024, 12, 31))
    # not counted: submitted only, registered in 2025, registered in 2022
    _contract(session, uni, co, 999 * WAN, 0, None, state="submitted")
    _contract(session, uni, co, 999 * WAN, 0, date(2025, 1, 1))
    _contract(session, uni, co, 999 * WAN, 0, date(2022, 12, 31))
    person = make_person(session)
    a = Achievement(kind="invention_patent", title="t", number=f"ZLS{next(_n)}")
    session.add(a)
    session.flush()

    def transfer(org, mode, price, completed, **kw):
        session.add(Transfer(achievement_id=a.id, organisation_id=org.id, mode=mode, price_fen=price,
                             state=kw.pop("state", "completed"), completed_date=completed, **kw))

    transfer(uni, "assignment", 100 * WAN, date(2023, 6, 1))
    transfer(uni, "licence", 300 * WAN, date(2024, 3, 1))
    transfer(inst, "equity", 500 * WAN, date(2024, 8, 1), company_is_new=True, equity_share=Decimal("0.2"),
             social_capital_fen=2000 * WAN)
    transfer(inst, "equity", 80 * WAN, date(2024, 9, 1), company_is_new=False, equity_share=Decimal("0.1"),
             social_capital_fen=100 * WAN)
    transfer(uni, "licence", 700 * WAN, None, state="signed")
    transfer(uni, "self_implementation", 0, date(2024, 2, 1))

    def app(org, state, decided):
        session.add(EmpowermentApplication(achievement_id=a.id, organisation_id=org.id,
                                           applicant_person_id=person.id, kind="full_ownership", state=state,
                                           decision_date=decided))

    app(uni, "approved", date(2024, 5, 1))
    app(uni, "approved", date(2024, 6, 1))
    app(inst, "approved", date(2023, 6, 1))
    app(uni, "rejected", date(2024, 6, 1))
    session.flush()
    return uni, inst


def by_code(rows):
    return {r["indicator"]: r for r in rows}


def test_hand_computed_all_institutions(session):
    fixture(session)
    rows = stats.compute(session, SYSTEM, 2024)
    r = by_code(rows)
    assert [x["indicator"] for x in rows] == [d.code for d in stats.INDICATORS]
    assert (r["contract_turnover"]["value"], r["contract_turnover"]["previous"]) == (230 * WAN, 150 * WAN)
    assert r["contract_turnover"]["yoy"] == 0.5333  # (230 − 150) / 150
    assert (r["contract_technical"]["value"], r["contract_technical"]["previous"]) == (210 * WAN, 140 * WAN)
    assert r["contract_technical"]["yoy"] == 0.5
    assert (r["contracts_registered"]["value"], r["contracts_registered"]["yoy"]) == (2, 0.0)
    assert (r["transfer_amount"]["value"], r["transfer_amount"]["previous"]) == (880 * WAN, 100 * WAN)
    assert r["transfer_amount"]["yoy"] == 7.8
    assert (r["companies_founded"]["value"], r["companies_founded"]["previous"], r["companies_founded"]["yoy"]) \
        == (1, 0, None)
    assert r["social_capital"]["value"] == 2100 * WAN
    assert (r["empowered_results"]["value"], r["empowered_results"]["previous"]) == (2, 1)
    assert r["empowered_results"]["yoy"] == 1.0
    assert r["contract_turnover"]["by_institution_type"] == {
        "research_institute": {"value": 30 * WAN, "previous": 50 * WAN},
        "university": {"value": 200 * WAN, "previous": 100 * WAN}}
    for x in rows:
        assert x["period"] == "2024" and x["scope"] == "all"
    assert r["contract_turnover"]["source"] == "kechuang records (partly synthetic: 1 of 2 records)"
    assert r["contract_turnover"]["synthetic"] is True
    assert r["transfer_amount"]["source"] == "kechuang records"


def test_hand_computed_one_institution(session):
    uni, _inst = fixture(session)
    r = by_code(stats.compute(session, SYSTEM, 2024, uni.credit_code))
    assert (r["contract_turnover"]["value"], r["contract_turnover"]["previous"], r["contract_turnover"]["yoy"]) \
        == (200 * WAN, 100 * WAN, 1.0)
    assert r["transfer_amount"]["value"] == 300 * WAN and r["companies_founded"]["value"] == 0
    assert r["contract_turnover"]["scope"] == f"institution:{uni.credit_code}"


def test_scope_and_permissions(session):
    uni, inst = fixture(session)
    tto = principal(Role.TTO, organisation_id=uni.id)
    r = by_code(stats.compute(session, tto, 2024))
    assert r["contract_turnover"]["value"] == 200 * WAN  # forced to own institution
    with pytest.raises(NotFound):
        stats.compute(session, tto, 2024, inst.credit_code)
    with pytest.raises(PermissionDenied):
        stats.compute(session, principal(Role.ENTERPRISE, organisation_id=uni.id), 2024)
    with pytest.raises(ValidationFailed):
        stats.compute(session, SYSTEM, 2024, "91310000XXXXXXXXXX")
    assert stats.to_xlsx(stats.compute(session, SYSTEM, 2024))[:2] == b"PK"


def test_cli_stats_json_contract(engine):
    """The CLI reads committed data: write a small fixture, run, clean up."""
    from kechuang.cli import app
    from kechuang.db import session_scope

    with session_scope(engine) as s:
        a = make_organisation(s, kind="university")
        b = make_organisation(s, kind="enterprise")
        _contract(s, a, b, 120 * WAN, 0, date(2024, 3, 3))
        _contract(s, a, b, 100 * WAN, 0, date(2023, 3, 3))
        ids = (a.id, b.id)
        code = a.credit_code
    try:
        res = CliRunner().invoke(app, ["transfer", "stats", "--year", "2024", "--institution", code])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert isinstance(data, list) and len(data) == len(stats.INDICATORS)
        for item in data:
            assert {"indicator", "value", "unit", "previous", "yoy", "period", "scope", "source"} <= set(item)
        turnover = next(i for i in data if i["indicator"] == "contract_turnover")
        assert (turnover["value"], turnover["previous"], turnover["yoy"], turnover["unit"]) == \
            (120 * WAN, 100 * WAN, 0.2, "fen")
        bad = CliRunner().invoke(app, ["transfer", "stats", "--year", "2024", "--institution", "NOPE"])
        assert bad.exit_code == 1
    finally:
        with session_scope(engine) as s:
            s.execute(delete(TechnologyContract).where(TechnologyContract.seller_organisation_id.in_(ids)))
            s.execute(delete(Organisation).where(Organisation.id.in_(ids)))


def test_drill_down_to_the_records_behind_a_number(session):
    uni, _inst = fixture(session)
    rows = stats.records_behind(session, SYSTEM, "contract_turnover", 2024)
    assert sum(c.total_fen for c in rows) == 230 * WAN
    assert len(stats.records_behind(session, SYSTEM, "companies_founded", 2024)) == 1
    assert len(stats.records_behind(session, SYSTEM, "empowered_results", 2024, uni.credit_code)) == 2
    with pytest.raises(ValidationFailed):
        stats.records_behind(session, SYSTEM, "nonsense", 2024)
