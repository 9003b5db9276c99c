"""Policy sandbox (政策模拟) on registry facts: counts, cost, distributions, diff against the version in force."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from kechuang.core.auth import Role
from kechuang.core.errors import PermissionDenied, ValidationFailed
from kechuang.policy import sandbox, versions
from tests.conftest import principal
from tests.factories import make_fact, make_organisation

COMMISSION = principal(Role.COMMISSION, user_id=7, username="officer7")
DISTRICT = principal(Role.DISTRICT, user_id=8, username="district8", district="徐汇区")
ENTERPRISE = principal(Role.ENTERPRISE, user_id=9, organisation_id=1)

# R&D grant: 10% of R&D expense (rounded half away from zero), capped; needs R&D intensity >= threshold.
POLICY = """id: sandbox-rd
title: {zh: 研发补助（测试）, en: R&D grant (test)}
basis: {doc: 测试, url: "", status: confirmed}
valid: {from: 2020-01-01}
params:
  share: {2020-01-01: 0.1}
  min_intensity: {2020-01-01: 0.05}
  cap_fen: {2020-01-01: 50000000}
clauses:
  - id: intensity
    label: {zh: 研发强度达标, en: R&D intensity reached}
    when: rd_intensity >= min_intensity
amount: LEAST(ROUND(rd_expense_fen * share), cap_fen)
tests:
  - {year: 2024, facts: {rd_expense_fen: 6000005, revenue_fen: 100000000}, eligible: true, amount_fen: 600001}
"""


@pytest.fixture
def firms(session):
    """Five enterprises of 2024 in two districts with R&D intensities 2%..8% and one with no facts."""
    out = []
    for i, (district, rd) in enumerate([("徐汇区", 2), ("徐汇区", 4), ("浦东新区", 5), ("浦东新区", 6),
                                        ("浦东新区", 8)]):
        org = make_organisation(session, district=district, industry_section="C" if i % 2 else "I",
                                founded_date=date(2015, 1, 1))
        make_fact(session, org, 2024, revenue_fen=100_000_000_00, rd_expense_fen=rd * 1_000_000_00 + 5,
                  employees=50 + 100 * i)
        out.append(org)
    out.append(make_organisation(session, district="徐汇区"))  # no 2024 facts: unknown
    v = versions.save_version(session, COMMISSION, POLICY, "test policy")
    versions.publish(session, COMMISSION, v.id)
    return out


def test_changed_parameter_gains_losses_and_money(session, firms):
    base = sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", year=2024)
    assert base.baseline_version is not None and base.enterprises >= 6
    mine = {f.credit_code for f in firms}
    assert base.counts == {"gain": 0, "loss": 0, "up": 0, "down": 0, "unknown": 0}
    assert base.eligible >= 3 and base.total_fen == base.base_total_fen

    # Lower the threshold to 4%: the 4% firm gains 400,000.5 yuan → ROUND → 40,000,001 fen (half away from 0).
    res = sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", year=2024,
                           overrides={"min_intensity": "0.04", "share": "0.1"})
    assert res.overrides == {"min_intensity": Decimal("0.04"), "share": Decimal("0.1")}
    gains = [c for c in res.changes if c.credit_code in mine and c.kind == "gain"]
    assert [(c.credit_code, c.delta_fen) for c in gains] == [(firms[1].credit_code, 40_000_001)]
    assert res.eligible == res.base_eligible + res.counts["gain"]
    assert res.total_fen - res.base_total_fen == res.gained_fen - res.lost_fen
    # Distribution by district: the gain is in 徐汇区.
    xh = {g.key: g for g in res.groups["district"]}["徐汇区"]
    assert xh.draft_eligible - xh.base_eligible >= 1 and xh.draft_fen - xh.base_fen >= 40_000_001
    assert {g.key for g in res.groups["size_class"]} <= {"large", "medium", "small", "micro", ""}

    # Raising the cap to 600,000 yuan: the 5% firm is no longer clipped (500,000.005 yuan rounds to
    # 50,000,001 fen, +1 fen), the 6% and 8% firms rise from 50,000,000 to 60,000,000 fen.
    up = sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", year=2024, overrides={"cap_fen": "60000000"})
    by = {c.credit_code: c for c in up.changes}
    assert [(by[f.credit_code].kind, by[f.credit_code].draft_fen, by[f.credit_code].delta_fen) for f in firms[2:5]] == [
        ("up", 50_000_001, 1), ("up", 60_000_000, 10_000_000), ("up", 60_000_000, 10_000_000)]
    assert up.counts["down"] == 0 and up.lost_fen == 0


def test_draft_text_and_losses(session, firms):
    stricter = POLICY.replace("0.05}", "0.07}").replace("eligible: true, amount_fen: 600001",
                                                       "eligible: false")
    res = sandbox.simulate(session, COMMISSION, yaml_text=stricter, year=2024)
    mine = {f.credit_code: f for f in firms}
    lost = sorted(c.credit_code for c in res.changes if c.kind == "loss" and c.credit_code in mine)
    assert lost == sorted([firms[2].credit_code, firms[3].credit_code])
    assert res.lost_fen >= 2 * 50_000_000  # both were at the cap


def test_district_officer_sees_own_district_only_and_others_refused(session, firms):
    res = sandbox.simulate(session, DISTRICT, policy_key="sandbox-rd", year=2024, overrides={"min_intensity": "0.01"})
    assert res.district == "徐汇区"
    assert {g.key for g in res.groups["district"]} == {"徐汇区"}
    assert all(c.district == "徐汇区" for c in res.changes)
    with pytest.raises(PermissionDenied):
        sandbox.simulate(session, ENTERPRISE, policy_key="sandbox-rd")


def test_bad_input_is_refused_with_field_and_place(session, firms):
    with pytest.raises(ValidationFailed) as exc:
        sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", overrides={"cap_fen": "1.5"})
    assert exc.value.errors[0].field == "param.cap_fen"
    with pytest.raises(ValidationFailed) as exc:
        sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", overrides={"nope": "1"})
    assert exc.value.errors[0].field == "param.nope"
    with pytest.raises(ValidationFailed) as exc:
        sandbox.simulate(session, COMMISSION, yaml_text=POLICY.replace("rd_intensity >=", "rd_intensty >="))
    assert exc.value.errors[0].render("en")["reason"].startswith("draft:12:11: unknown name")


def test_xlsx_export_has_summary_distributions_and_changes(session, firms):
    res = sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", year=2024, overrides={"min_intensity": "0.04"})
    wb = load_workbook(io.BytesIO(sandbox.to_xlsx(res)))
    assert wb.sheetnames == ["summary", "by district", "by industry_section", "by size_class", "changes"]
    rows = list(wb["changes"].iter_rows(values_only=True))
    assert rows[0][0] == "credit_code"
    row = next(r for r in rows if r[0] == firms[1].credit_code)
    assert row[5] == "gain" and Decimal(str(row[10])) == Decimal("400000.01")
