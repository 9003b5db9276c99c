"""Three-valued logic (a clause over missing data is unknown, not false) and exact money."""

from __future__ import annotations

import polars as pl
import pytest

from kechuang.policy.engine import BACKENDS, compile_policy, evaluate, explain
from kechuang.policy.engine.core import _hdiv
from kechuang.policy.facts_io import frame_from_records

from .helpers import make_policy

TWO = [("registered_sh", "province = '上海'"), ("honest", "NOT serious_dishonesty")]


def outcome(policy, records, backend="polars"):
    cols = {"province": "str", "serious_dishonesty": "bool", "premium_paid_fen": "int_fen"}
    frame = frame_from_records(records, {c: t for c, t in cols.items() if c in policy.columns()})
    return evaluate(frame, [policy], 2024, backend=backend).long


@pytest.mark.parametrize("backend", BACKENDS)
def test_kleene_eligibility(backend):
    p = make_policy(TWO)
    long = outcome(p, [
        {"province": "上海", "serious_dishonesty": False},  # all true → eligible
        {"province": "上海", "serious_dishonesty": None},  # none false, one unknown → unknown
        {"province": "江苏", "serious_dishonesty": None},  # one false → not eligible
        {"province": None, "serious_dishonesty": None},  # all unknown → unknown
    ], backend)
    assert long["eligible"].to_list() == [True, None, False, None]
    assert long["failed_clauses"].to_list() == ["", "", "registered_sh", ""]
    assert long["unknown_clauses"].to_list() == ["", "honest", "honest", "registered_sh;honest"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_or_with_unknown_and_true_is_true(backend):
    p = make_policy([("c", "province = '上海' OR serious_dishonesty")])
    long = outcome(p, [{"province": "上海"}, {"province": "江苏"}, {"province": "江苏", "serious_dishonesty": False}],
                   backend)
    assert long["eligible"].to_list() == [True, None, False]


def test_unknown_explanation_names_missing_facts():
    p = make_policy(TWO)
    e = explain(p, {"province": "上海"}, 2024)
    assert e.eligible is None
    honest = next(c for c in e.clauses if c.id == "honest")
    assert honest.status == "unknown" and honest.missing == ["serious_dishonesty"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_amount_over_missing_data_is_unknown(backend):
    p = make_policy(TWO, amount="ROUND(premium_paid_fen * 0.5)")
    long = outcome(p, [{"province": "上海", "serious_dishonesty": False}], backend)
    assert long["eligible"].to_list() == [None]
    assert long["amount_fen"].to_list() == [None]


@pytest.mark.parametrize(("n", "d", "expected"), [
    (5, 2, 3), (3, 2, 2), (1, 2, 1), (1, 3, 0), (2, 3, 1), (-5, 2, -3), (-1, 2, -1), (-1, 3, 0), (0, 7, 0),
    (10**17 + 5, 10, 10**16 + 1), (123456789, 1000, 123457),
])
def test_half_away_from_zero(n, d, expected):
    assert _hdiv(n, d) == expected


AWKWARD = [0, 1, 3, 5, 7, 15, 25, 35, 99, 12345, 333333, 10**12 + 5, 2**53 + 1, 9_007_199_254_740_993]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expr", "params"), [
    ("ROUND(premium_paid_fen * rate)", "  rate: {2024-01-01: 0.1}\n"),
    ("ROUND(premium_paid_fen * rate)", "  rate: {2024-01-01: 0.3}\n"),
    ("ROUND(premium_paid_fen * rate)", "  rate: {2024-01-01: 0.125}\n"),
    ("ROUND(premium_paid_fen / 3)", ""),
    ("ROUND(premium_paid_fen * 0.07 + premium_paid_fen / 7)", ""),
    ("ROUND(premium_paid_fen * rate - premium_paid_fen)", "  rate: {2024-01-01: 0.35}\n"),
    ("LEAST(ROUND(premium_paid_fen * 0.5), cap_fen)", "  cap_fen: {2024-01-01: 1000000}\n"),
])
def test_money_is_exact(backend, expr, params):
    from decimal import ROUND_HALF_UP, Decimal

    p = make_policy([("c", "premium_paid_fen >= 0")], amount=expr, params=params)
    frame = frame_from_records([{"premium_paid_fen": v} for v in AWKWARD], {"premium_paid_fen": "int_fen"})
    got = evaluate(frame, [p], 2024, backend=backend).long["amount_fen"].to_list()
    # Reference: Python's exact Decimal with ROUND_HALF_UP (half away from zero) on the same formula.
    rate = {"0.1": "0.1", "0.3": "0.3", "0.125": "0.125", "0.35": "0.35"}
    r = Decimal(rate.get(params.split(": ")[-1].rstrip("}\n"), "0")) if params and "rate" in params else None
    from decimal import localcontext

    want = []
    with localcontext() as ctx:
        ctx.prec = 60
        for v in AWKWARD:
            x = Decimal(v)
            exact = {
                "ROUND(premium_paid_fen * rate)": lambda x=x: x * r,
                "ROUND(premium_paid_fen / 3)": lambda x=x: x / 3,
                "ROUND(premium_paid_fen * 0.07 + premium_paid_fen / 7)": lambda x=x: x * Decimal("0.07") + x / 7,
                "ROUND(premium_paid_fen * rate - premium_paid_fen)": lambda x=x: x * r - x,
                "LEAST(ROUND(premium_paid_fen * 0.5), cap_fen)": lambda x=x: min(
                    (x * Decimal("0.5")).quantize(Decimal(1), ROUND_HALF_UP), Decimal(1000000)),
            }[expr]()
            want.append(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    assert got == want


def test_money_columns_stay_integers():
    p = make_policy([("c", "premium_paid_fen > 0")], amount="ROUND(premium_paid_fen * 0.5)")
    frame = frame_from_records([{"premium_paid_fen": 3}], {"premium_paid_fen": "int_fen"})
    for backend in BACKENDS:
        long = evaluate(frame, [p], 2024, backend=backend).long
        assert long.schema["amount_fen"] == pl.Int64
    core = compile_policy(p, 2024).amount
    assert all(n.dtype != "float" for n in core.walk())  # no double anywhere in a money formula
