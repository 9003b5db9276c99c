"""Policy sandbox (政策模拟) on registry facts: counts, cost, distributions, diff against the version in force."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import PermissionDenied, ValidationFailed
from kechuang.policy import sandbox, service, versions
from kechuang.policy.models import Entitlement
from kechuang.registry.models import Organisation
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
    assert wb.sheetnames == ["summary", "by policy", "by district", "by industry_section", "by size_class", "changes"]
    rows = list(wb["changes"].iter_rows(values_only=True))
    assert rows[0][0] == "credit_code" and rows[0][6] == "policy_id" and rows[0][12] == "difference (fen)"
    row = next(r for r in rows if r[0] == firms[1].credit_code)
    assert row[5] == "gain" and row[6] == "sandbox-rd" and Decimal(str(row[11])) == Decimal("400000.01")
    assert row[12] == 40_000_001


# A premium subsidy paid from a programme input (the bank's premium data), with a city-wide pro-rata budget.
PREMIUM = """id: sandbox-premium
title: {zh: 保费补贴（测试）, en: Premium subsidy (test)}
basis: {doc: 测试, url: "", status: confirmed}
valid: {from: 2020-01-01}
params:
  rate: {2020-01-01: 0.5}
clauses:
  - id: premium
    label: {zh: 已缴保费, en: Premium paid}
    when: premium_paid_fen > 0
amount: ROUND(premium_paid_fen * rate)
budget: {total_fen: 65000000, allocation: pro_rata}
tests:
  - {year: 2024, facts: {premium_paid_fen: 300}, eligible: true, amount_fen: 150}
"""
# The R&D grant, made not combinable with the premium subsidy (the larger amount wins).
EXCLUDING = POLICY.replace("amount: LEAST", "excludes: [sandbox-premium]\namount: LEAST")


@pytest.fixture
def two_policies(session, firms):
    """The R&D grant and the premium subsidy in force; premiums from the bank for firms 1, 2 and 3.

    R&D grant (capped at 50,000,000 fen): firms 2, 3, 4. Premium subsidy, 50% of the premium, requested
    20,000,000 + 100,000,000 + 10,000,000 fen against a budget of 65,000,000: pro rata 10,000,000,
    50,000,000 and 5,000,000."""
    v = versions.save_version(session, COMMISSION, PREMIUM, "test policy")
    versions.publish(session, COMMISSION, v.id)
    premiums = {1: 40_000_000, 2: 200_000_000, 3: 20_000_000}
    service.submit_inputs(session, SYSTEM, 2024, [{"credit_code": firms[i].credit_code, "fact": "premium_paid_fen",
                                                   "value": fen} for i, fen in premiums.items()], source="test bank")
    return firms


def _entitlements(session) -> dict[tuple[str, str], int]:
    rows = session.execute(select(Organisation.credit_code, Entitlement.policy_id, Entitlement.amount_fen)
                           .join(Organisation, Organisation.id == Entitlement.organisation_id)
                           .where(Entitlement.period == 2024, Entitlement.status != "withdrawn"))
    return {(code, pid): amount for code, pid, amount in rows}


def _simulated(res: sandbox.SandboxResult, side: str) -> dict[tuple[str, str], int]:
    """Every line of the simulation with an amount, on one side (``b`` in force, ``d`` simulated)."""
    return {(r["credit_code"], r["policy_id"]): r[f"{side}_fen"] for r in res.lines.iter_rows(named=True)
            if r[f"{side}_fen"] > 0 and r[f"{side}_payable"]}


def test_programme_inputs_and_the_city_wide_budget_are_applied(session, two_policies):
    res = sandbox.simulate(session, COMMISSION, policy_key="sandbox-premium", year=2024)
    mine = {two_policies[i].credit_code: i for i in range(6)}
    assert res.base_eligible == res.eligible == 3 and res.unknown == res.enterprises - 3  # no premium data: unknown
    assert res.total_fen == 65_000_000  # the budget, allocated exactly
    assert res.counts == {k: 0 for k in sandbox.KINDS}
    assert {(mine[c], f) for (c, p), f in _simulated(res, "d").items() if p == "sandbox-premium" and c in mine} == {
        (1, 10_000_000), (2, 50_000_000), (3, 5_000_000)}


def test_draft_excluding_a_policy_in_force_matches_the_run_after_publishing(session, two_policies):
    firms = two_policies
    code = [f.credit_code for f in firms]
    before = service.run_period(session, COMMISSION, 2024, execute=True)
    assert before.created >= 6

    res = sandbox.simulate(session, COMMISSION, yaml_text=EXCLUDING, year=2024)
    assert res.in_run and res.run_policies == ["sandbox-premium", "sandbox-rd"]
    # The in-force side is exactly what the run wrote.
    assert _simulated(res, "b") == _entitlements(session)

    by = {(c.credit_code, c.policy_id): c for c in res.changes}
    # Firm 2: premium subsidy 100,000,000 requested > R&D grant 50,000,000: loses the grant, and its budget
    # share grows because firm 3 leaves the premium subsidy: 100,000,000 × 65,000,000 / 120,000,000
    # = 54,166,666.67 → 54,166,666 + the one fen left over (largest remainder).
    c = by[(code[2], "sandbox-rd")]
    assert (c.kind, c.base_fen, c.draft_fen, c.draft_excluded_by) == ("loss", 50_000_000, 0, "sandbox-premium")
    c = by[(code[2], "sandbox-premium")]
    assert (c.kind, c.base_fen, c.draft_fen, c.delta_fen) == ("up", 50_000_000, 54_166_667, 4_166_667)
    # Firm 3: R&D grant 50,000,000 > premium subsidy 10,000,000 requested: loses the subsidy.
    c = by[(code[3], "sandbox-premium")]
    assert (c.kind, c.base_fen, c.draft_fen, c.draft_excluded_by) == ("loss", 5_000_000, 0, "sandbox-rd")
    assert (code[3], "sandbox-rd") not in by
    # Firm 1 is under the premium subsidy only and gains from the freed budget: 20,000,000 × 65/120.
    c = by[(code[1], "sandbox-premium")]
    assert (c.kind, c.base_fen, c.draft_fen, c.draft_excluded_by) == ("up", 10_000_000, 10_833_333, None)
    assert 10_833_333 + 54_166_667 == 65_000_000
    assert res.eligible == res.base_eligible - 1 and res.total_fen == res.base_total_fen - 50_000_000
    assert res.run_fen - res.run_base_fen == 833_333 + 4_166_667 - 50_000_000 - 5_000_000
    assert res.winners == 1 and res.losers == 2
    eff = {e.policy_id: e for e in res.by_policy}
    assert (eff["sandbox-rd"].draft_excluded, eff["sandbox-premium"].draft_excluded) == (1, 1)
    assert eff["sandbox-premium"].draft_cut == 2 and eff["sandbox-premium"].draft_fen == 65_000_000

    # Publish the draft and run: the run writes exactly what the sandbox showed.
    v = versions.save_version(session, COMMISSION, EXCLUDING, "not combinable with the premium subsidy",
                              policy_key="sandbox-rd")
    versions.publish(session, COMMISSION, v.id)
    after = service.run_period(session, COMMISSION, 2024, execute=True)
    assert (after.withdrawn, after.total_fen) == (2, res.run_fen)
    assert _entitlements(session) == _simulated(res, "d")
    assert _simulated(res, "d") != _simulated(res, "b")
    # Simulating the published version now changes nothing.
    again = sandbox.simulate(session, COMMISSION, policy_key="sandbox-rd", year=2024)
    assert again.changes == [] and again.run_fen == res.run_fen


def test_district_view_keeps_the_city_wide_budget(session, two_policies):
    res = sandbox.simulate(session, DISTRICT, yaml_text=EXCLUDING, year=2024)
    assert res.district == "徐汇区" and all(c.district == "徐汇区" for c in res.changes)
    # Firm 1 (徐汇区) gets its share of the city-wide budget, as the run would give it — not the whole
    # 20,000,000 a budget over its district alone would leave it.
    c = next(c for c in res.changes if c.credit_code == two_policies[1].credit_code)
    assert (c.policy_id, c.draft_fen) == ("sandbox-premium", 10_833_333)
    assert res.run_fen - res.run_base_fen == 833_333 and res.winners == 1 and res.losers == 0
    assert {g.key for g in res.groups["district"]} == {"徐汇区"}


def test_a_draft_out_of_force_leaves_the_run(session, two_policies):
    ended = POLICY.replace("valid: {from: 2020-01-01}", "valid: {from: 2020-01-01, to: 2023-12-31}")
    res = sandbox.simulate(session, COMMISSION, yaml_text=ended, year=2024)
    assert not res.in_run and res.run_policies == ["sandbox-premium"]
    assert res.eligible == 0 and res.counts["loss"] == res.base_eligible >= 3
