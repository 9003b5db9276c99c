"""Facts frame from the registry tables (real database) and the policy catalogue."""

from __future__ import annotations

from datetime import date

from kechuang.policy import catalog
from kechuang.policy.dbfacts import fact_columns, load_registry_facts, snapshot_hash
from kechuang.policy.engine import evaluate, required_columns
from kechuang.registry.models import Qualification
from tests.factories import make_fact, make_organisation


def _q(session, org, kind, start, end=None, number=None):
    session.add(Qualification(organisation_id=org.id, kind=kind, number=number or f"{kind}-{org.id}-{start}",
                              valid_from_date=start, valid_to_date=end))
    session.flush()


def test_one_row_per_enterprise_with_facts_lags_and_qualifications(session):
    a = make_organisation(session, founded_date=date(2020, 6, 15), district="徐汇区", industry_section="C")
    b = make_organisation(session, founded_date=date(2023, 12, 31))
    make_organisation(session, kind="university")  # not an enterprise: left out
    make_fact(session, a, 2024, revenue_fen=50_000_000_00, rd_expense_fen=3_000_000_01, employees=400)
    make_fact(session, a, 2023, revenue_fen=40_000_000_00, rd_expense_fen=2_000_000_00)
    make_fact(session, a, 2022, revenue_fen=30_000_000_00)
    make_fact(session, a, 2021, revenue_fen=1)  # beyond lags=2
    _q(session, a, "high_tech", date(2022, 11, 1), date(2025, 10, 31))
    _q(session, a, "tech_sme", date(2023, 1, 1), date(2023, 12, 31))  # expired before 2024-12-31
    _q(session, b, "specialised", date(2025, 1, 1))  # not yet valid

    rf = load_registry_facts(session, 2024, scope=[a.id, b.id])
    f = rf.frame
    assert f.height == 2
    assert f["credit_code"].to_list() == [a.credit_code, b.credit_code]
    ra, rb = f.row(0, named=True), f.row(1, named=True)
    assert ra["organisation_id"] == a.id and ra["district"] == "徐汇区" and ra["industry_section"] == "C"
    assert ra["revenue_fen"] == 50_000_000_00 and isinstance(ra["revenue_fen"], int)
    assert ra["rd_expense_fen"] == 3_000_000_01
    assert ra["revenue_fen__m1"] == 40_000_000_00 and ra["rd_expense_fen__m1"] == 2_000_000_00
    assert ra["revenue_fen__m2"] == 30_000_000_00 and ra["rd_expense_fen__m2"] == 6_000_000_00
    assert "revenue_fen__m3" not in f.columns
    assert ra["has_high_tech"] is True and ra["has_tech_sme"] is False and ra["has_specialised"] is False
    assert rb["has_specialised"] is False and rb["has_high_tech"] is False
    assert ra["age_years"] == 4 and rb["age_years"] == 1  # anniversary on 2024-12-31 counts
    assert abs(ra["rd_intensity"] - 0.0600000002) < 1e-9
    assert ra["size_class"] == "medium"  # industrial: 400 staff, 5000万 revenue
    assert rb["revenue_fen"] is None and rb["size_class"] is None  # no facts for 2024
    assert ra["premium_paid_fen"] is None  # not held by the registry
    assert ra["serious_dishonesty"] is False and ra["tax_credit_grade"] == "A"
    # Every engine fact column is present with its declared type.
    for col in fact_columns(2):
        assert col in f.columns
    assert f.schema["rd_domestic_share"].is_float() and f.schema["revenue_fen"].is_integer()


def test_scope_by_credit_code_and_on_date(session):
    a = make_organisation(session)
    make_fact(session, a, 2024)
    _q(session, a, "high_tech", date(2022, 11, 1), date(2024, 6, 30))
    assert load_registry_facts(session, 2024, scope=[a.credit_code]).frame["has_high_tech"].to_list() == [False]
    on = load_registry_facts(session, 2024, scope=[a.credit_code], on=date(2024, 6, 1))
    assert on.frame["has_high_tech"].to_list() == [True]


def test_snapshot_hash_changes_with_facts_only(session):
    a = make_organisation(session)
    fact = make_fact(session, a, 2024)
    h1 = load_registry_facts(session, 2024, scope=[a.id]).snapshot_hash
    assert load_registry_facts(session, 2024, scope=[a.id]).snapshot_hash == h1
    fact.rd_expense_fen += 1
    session.flush()
    h2 = load_registry_facts(session, 2024, scope=[a.id]).snapshot_hash
    assert h2 != h1 and len(h2) == 64
    rf = load_registry_facts(session, 2024, scope=[a.id])
    assert snapshot_hash(rf.frame.reverse()) == rf.snapshot_hash  # row order does not matter


def test_empty_scope_gives_typed_empty_frame(session):
    rf = load_registry_facts(session, 2024, scope=[])
    assert rf.frame.height == 0 and rf.frame.schema["revenue_fen"].is_integer()


def test_registry_facts_feed_the_engine(session):
    a = make_organisation(session, founded_date=date(2010, 1, 1))
    for y in (2022, 2023, 2024):
        make_fact(session, a, y, revenue_fen=100_000_000_00, rd_expense_fen=6_000_000_00, employees=100,
                  st_staff=20, high_tech_income_fen=70_000_000_00, total_assets_fen=50_000_000_00)
    rf = load_registry_facts(session, 2024, scope=[a.id])
    policies = catalog.active_policies(session, date(2024, 12, 31))
    need = required_columns(policies)
    assert set(need) <= set(rf.frame.columns)
    res = evaluate(rf.frame, policies, 2024)
    assert res.long.height == rf.frame.height * len(res.compiled)
    hnte = res.long.filter(res.long["policy_id"].cast(str) == "hnte-screening").row(0, named=True)
    # The registry lacks the evaluation score: unknown, and the missing clause is named.
    assert hnte["eligible"] is None
    assert hnte["unknown_clauses"]


def test_catalog_in_force_by_date(session):
    ids_2024 = {p.id for p in catalog.active_policies(session, date(2024, 9, 1))}
    ids_2026 = {p.id for p in catalog.active_policies(session, date(2026, 1, 1))}
    assert "sh-loan-insurance-2025" in ids_2024 and "sh-loan-insurance-2025" not in ids_2026
    assert "compute-voucher" not in ids_2024 and "compute-voucher" in ids_2026
    assert "hnte-screening" in ids_2024 & ids_2026
    assert [p.id for p in catalog.active_policies(session, date(2026, 1, 1))] == sorted(ids_2026)
