"""The policy language: each construct parses and type-checks; everything else is refused with
file, line and column."""

from __future__ import annotations

from datetime import date

import pytest

from kechuang.policy.engine import compile_policy
from kechuang.policy.engine.core import evaluate
from kechuang.policy.language import PolicyError, load_text

from .helpers import make_policy, policy_yaml

PARAMS = """  rate: {2024-01-01: 0.5}
  cap_fen: {2024-01-01: 1000}
  tiers: {2024-01-01: [[100, 0.05], [200, 0.04], [null, 0.03]]}
"""


def run(expr: str, facts: dict, typ: str = "clause"):
    """Evaluate one clause (or amount) on one row with the row evaluator."""
    if typ == "clause":
        p = make_policy([("c", expr)], params=PARAMS)
        return evaluate(compile_policy(p, 2024).clauses["c"], facts)
    p = make_policy(amount=expr, params=PARAMS)
    return evaluate(compile_policy(p, 2024).amount, facts)


@pytest.mark.parametrize(("expr", "facts", "expected"), [
    ("employees >= 10", {"employees": 10}, True),
    ("employees > 10", {"employees": 10}, False),
    ("employees <> 10 AND employees < 20", {"employees": 11}, True),
    ("employees = 1 OR employees = 2", {"employees": 2}, True),
    ("NOT serious_dishonesty", {"serious_dishonesty": False}, True),
    ("province IN ('上海', '江苏')", {"province": "江苏"}, True),
    ("employees IN (1, 2, 3)", {"employees": 4}, False),
    ("employees BETWEEN 10 AND 20", {"employees": 20}, True),
    ("employees BETWEEN 10 AND 20", {"employees": 21}, False),
    ("employees IS NULL", {"employees": None}, True),
    ("employees IS NOT NULL", {"employees": None}, False),
    ("CASE WHEN employees > 10 THEN 'big' ELSE 'small' END = 'big'", {"employees": 11}, True),
    ("COALESCE(voucher_used_fen, 0) < cap_fen", {"voucher_used_fen": None}, True),
    ("ABS(profit_fen) > 5", {"profit_fen": -6}, True),
    ("GREATEST(employees, st_staff) = 7", {"employees": 7, "st_staff": 3}, True),
    ("LEAST(employees, st_staff) = 3", {"employees": 7, "st_staff": 3}, True),
    ("(employees + st_staff) * 2 - 1 = 19", {"employees": 7, "st_staff": 3}, True),
    ("rd_intensity >= 0.03", {"rd_expense_fen": 3, "revenue_fen": 100}, True),
    ("rd_expense_fen / revenue_fen >= TIER(revenue_fen, tiers)", {"rd_expense_fen": 5, "revenue_fen": 100}, True),
    ("rd_expense_fen / revenue_fen >= TIER(revenue_fen, tiers)", {"rd_expense_fen": 4, "revenue_fen": 100}, False),
    ("rd_expense_fen / revenue_fen >= TIER(revenue_fen, tiers)", {"rd_expense_fen": 4, "revenue_fen": 101}, False),
    ("rd_expense_fen * 100 >= revenue_fen * 4", {"rd_expense_fen": 4, "revenue_fen": 100}, True),
    ("rd_expense_fen@-1 > rd_expense_fen", {"rd_expense_fen__m1": 5, "rd_expense_fen": 4}, True),
    ("founded_date < DATE '2020-01-01'", {"founded_date": date(2019, 12, 31)}, True),
    ("founded_date < '2020-01-01'", {"founded_date": date(2020, 1, 1)}, False),
    ("has_high_tech = TRUE", {"has_high_tech": True}, True),
    ("revenue_fen > 0.5", {"revenue_fen": 1}, True),
])
def test_constructs(expr, facts, expected):
    assert run(expr, facts) is expected


def test_tier_lookup_is_inclusive_up_to():
    # TIER(x, t): the value of the first row whose up_to >= x; the null up_to row catches the rest.
    p = make_policy(amount="ROUND(revenue_fen * TIER(revenue_fen, tiers))", params=PARAMS)
    amount = compile_policy(p, 2024).amount
    assert evaluate(amount, {"revenue_fen": 100}) == 5  # 100 * 0.05
    assert evaluate(amount, {"revenue_fen": 101}) == 4  # 101 * 0.04 = 4.04
    assert evaluate(amount, {"revenue_fen": 200}) == 8
    assert evaluate(amount, {"revenue_fen": 250}) == 8  # 7.5 → 8 (half up)
    assert evaluate(amount, {"revenue_fen": None}) is None


def test_dated_parameter_values():
    params = "  rate: {2020-01-01: 0.1, 2024-01-01: 0.5, 2030-01-01: 0.9}\n"
    p = make_policy(amount="ROUND(premium_paid_fen * rate)", params=params)
    assert evaluate(compile_policy(p, 2024).amount, {"premium_paid_fen": 100}) == 50
    assert evaluate(compile_policy(p, 2024, on=date(2021, 5, 1)).amount, {"premium_paid_fen": 100}) == 10


def test_unconfirmed_parameter_keeps_its_status_and_note():
    params = '  cap_fen: {values: {2024-01-01: 100}, status: unconfirmed, note: "30万 vs 50万"}\n'
    p = make_policy(amount="LEAST(premium_paid_fen, cap_fen)", params=params)
    assert p.params["cap_fen"].status == "unconfirmed"
    assert p.params["cap_fen"].note == "30万 vs 50万"


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_text(text, "bad.yaml")
    return [str(p) for p in info.value.problems]


# The clause expression starts at line 9, column 12 of the generated file ('    when: "' is 11 chars).
@pytest.mark.parametrize(("expr", "col", "reason"), [
    ("employees >= ", 23, "syntax error"),
    ("foo(employees) > 1", 12, "unknown function foo()"),
    ("(SELECT 1) > 1", 20, "not allowed"),
    ("employees > nobody", 24, "unknown name 'nobody'"),
    ("province = 1", 12, "compares str with int"),
    ("revenue_fen > employees", 26, "compares money (fen) with a non-money value"),
    ("revenue_fen * revenue_fen > 1", 12, "money times money"),
    ("revenue_fen * rd_domestic_share > 1", 26, "money may only be multiplied"),
    ("revenue_fen / employees > 1", 26, "money may only be divided by a constant"),
    ("employees", 12, "a clause must be true/false"),
    ("NOT employees", 16, "NOT needs a true/false operand"),
    ("employees IN (SELECT 1)", 12, "subquery"),
    ("rd_expense_fen@-9 > 0", 12, "look back 1 to 5 years"),
    ("rd_expense_fen@-1 > nobody", 32, "unknown name 'nobody'"),
    ("t.employees > 1", 12, "qualified names"),
    ("ROUND(rd_intensity) > 1", 18, "ROUND applies to exact numbers"),
    ("employees = NULL", 12, "IS NULL"),
    ("TIER(revenue_fen, nosuch) > 0", 30, "not a tier-table parameter"),
])
def test_refusals_name_line_and_column(expr, col, reason):
    problems = problems_of(policy_yaml([("c", expr)]))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"bad.yaml:9:{col}: "), problems[0]
    assert reason in problems[0]


def test_amount_must_be_whole_fen():
    problems = problems_of(policy_yaml(amount="premium_paid_fen * 0.5"))
    assert problems == ["bad.yaml:10:10: amount must be whole fen (int_fen), this is fen_frac; wrap it in ROUND()"]
    problems = problems_of(policy_yaml(amount="employees"))
    assert "amount must be whole fen" in problems[0]


def test_yaml_errors_and_structure_errors_have_places():
    assert problems_of("id: x\n  bad: [\n")[0].startswith("bad.yaml:")
    text = policy_yaml().replace("valid: {from: 2024-01-01}", "valid: {from: someday}")
    assert any(p.startswith("bad.yaml:4:") and "valid" in p for p in problems_of(text))
    text = policy_yaml() + "colour: red\n"
    assert any(p.startswith("bad.yaml:10:1: unknown key 'colour'") for p in problems_of(text))
    text = policy_yaml().replace("en: Condition", "en: Condition, with a comma")
    assert any("quote text that contains commas" in p for p in problems_of(text))


def test_several_problems_are_all_reported():
    text = policy_yaml([("a", "employees >"), ("b", "nobody = 1"), ("a", "TRUE")])
    problems = problems_of(text)
    assert len(problems) == 3
    assert [p.split(":")[1] for p in problems] == ["9", "12", "13"]


def test_block_scalar_positions():
    text = policy_yaml().replace("    when: \"province = '上海'\"", "    when: >-\n      province = '上海'\n      AND nobody > 1")
    problems = problems_of(text)
    assert problems == ["bad.yaml:11:11: unknown name 'nobody': not a declared fact or a parameter of this policy"]


def test_parameters_are_checked():
    assert any("must be whole fen" in p for p in problems_of(policy_yaml(params="  cap_fen: {2024-01-01: 1.5}\n")))
    assert any("dated" in p for p in problems_of(policy_yaml(params="  rate: 0.5\n")))
    bad_tier = "  t: {2024-01-01: [[200, 0.05], [100, 0.04]]}\n"
    assert any("tier table" in p for p in problems_of(policy_yaml(params=bad_tier)))
    assert any("hides the fact" in p for p in problems_of(policy_yaml(params="  employees: {2024-01-01: 1}\n")))


def test_no_python_eval_of_names():
    # A name that would be meaningful to Python is just an unknown name here.
    problems = problems_of(policy_yaml([("c", "__import__ = 1")]))
    assert "unknown name" in problems[0]


def test_numbers_from_yaml_are_decimal_not_float():
    p = make_policy(params="  rate: {2024-01-01: 0.1}\n", amount="ROUND(premium_paid_fen * rate)")
    from decimal import Decimal

    assert p.params["rate"].values[0][1] == Decimal("0.1")
    # 0.1 as a float is 0.1000000000000000055...; exact arithmetic gives exactly half at 5 fen.
    assert evaluate(compile_policy(p, 2024).amount, {"premium_paid_fen": 5}) == 1
    assert evaluate(compile_policy(p, 2024).amount, {"premium_paid_fen": 15}) == 2
