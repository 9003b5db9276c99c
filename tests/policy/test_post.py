"""excludes (larger amount wins, ties by policy id) and budgets (pro_rata, first_come, ranked_by)
with exact integer allocation."""

from __future__ import annotations

import random

import pytest

from kechuang.policy.engine import BACKENDS, evaluate
from kechuang.policy.engine.post import allocate
from kechuang.policy.facts_io import frame_from_records

from .helpers import make_policy

COLS = {"province": "str", "premium_paid_fen": "int_fen", "compute_rent_fen": "int_fen", "employees": "int"}


def policy(pid, amount, extra=""):
    return make_policy([("sh", "province = '上海'")], amount=amount, extra=extra, pid=pid)


def run(policies, records, backend="polars"):
    frame = frame_from_records(records, COLS)
    return evaluate(frame, policies, 2024, backend=backend).long


@pytest.mark.parametrize("backend", BACKENDS)
def test_excludes_larger_amount_wins_ties_by_id(backend):
    a = policy("a-pol", "premium_paid_fen", "excludes: [b-pol]\n")
    b = policy("b-pol", "compute_rent_fen")
    c = policy("c-pol", "premium_paid_fen")  # combinable with both
    long = run([a, b, c], [
        {"province": "上海", "premium_paid_fen": 100, "compute_rent_fen": 50},  # a wins
        {"province": "上海", "premium_paid_fen": 10, "compute_rent_fen": 50},  # b wins
        {"province": "上海", "premium_paid_fen": 30, "compute_rent_fen": 30},  # tie → a (smaller id)
        {"province": "江苏", "premium_paid_fen": 30, "compute_rent_fen": 30},  # neither eligible
    ], backend)
    rows = {(r["credit_code"], r["policy_id"]): r for r in long.iter_rows(named=True)}
    assert rows[("0", "a-pol")]["amount_fen"] == 100 and rows[("0", "b-pol")]["eligible"] is False
    assert rows[("0", "b-pol")]["failed_clauses"] == "excluded_by:a-pol"
    assert rows[("1", "b-pol")]["amount_fen"] == 50 and rows[("1", "a-pol")]["failed_clauses"] == "excluded_by:b-pol"
    assert rows[("2", "a-pol")]["eligible"] is True and rows[("2", "b-pol")]["eligible"] is False
    assert rows[("3", "a-pol")]["failed_clauses"] == "sh"
    assert all(rows[(str(i), "c-pol")]["eligible"] in (True, False) for i in range(4))
    assert rows[("0", "c-pol")]["amount_fen"] == 100


def test_excludes_chain_is_resolved_best_first():
    a = policy("a-pol", "premium_paid_fen", "excludes: [b-pol]\n")
    b = policy("b-pol", "compute_rent_fen", "excludes: [c-pol]\n")
    c = policy("c-pol", "premium_paid_fen + 1")
    long = run([a, b, c], [{"province": "上海", "premium_paid_fen": 10, "compute_rent_fen": 50}])
    got = {r["policy_id"]: (r["eligible"], r["amount_fen"]) for r in long.iter_rows(named=True)}
    # b (50) is best and excludes a and c.
    assert got == {"a-pol": (False, None), "b-pol": (True, 50), "c-pol": (False, None)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alloc", ["pro_rata", "first_come", "ranked_by"])
def test_budget_sums_exactly(backend, alloc):
    rng = random.Random(42)
    rank = ", ranked_by: employees" if alloc == "ranked_by" else ""
    extra = f"budget: {{total_fen: 1000003, allocation: {alloc}{rank}}}\n"
    p = policy("budget-pol", "premium_paid_fen", extra)
    records = [{"province": "上海" if rng.random() < 0.9 else None, "premium_paid_fen": rng.randint(1, 99_999),
                "employees": rng.randint(0, 50), "credit_code": f"C{i:03d}"} for i in range(300)]
    long = run([p], records, backend)
    eligible = long.filter(long["eligible"])
    assert int(eligible["amount_fen"].sum()) == 1000003
    assert all(a >= 0 for a in eligible["amount_fen"].to_list())
    requested = {r["credit_code"]: r["premium_paid_fen"] for r in records}
    for r in eligible.iter_rows(named=True):
        assert r["amount_fen"] <= requested[r["credit_code"]]
        assert (r["amount_fen"] < requested[r["credit_code"]]) == ("budget_cut" in r["failed_clauses"])


def test_budget_not_exhausted_changes_nothing():
    p = policy("budget-pol", "premium_paid_fen", "budget: {total_fen: 1000, allocation: pro_rata}\n")
    long = run([p], [{"province": "上海", "premium_paid_fen": 400}, {"province": "上海", "premium_paid_fen": 600}])
    assert long["amount_fen"].to_list() == [400, 600]


def test_pro_rata_largest_remainder():
    # 3 equal claims of 10 on a budget of 10: floors 3+3+3, one fen left goes to the first key.
    assert allocate([10, 10, 10], 10, ["b", "a", "c"], "pro_rata") == [3, 4, 3]
    assert allocate([1, 2, 3], 5, ["a", "b", "c"], "pro_rata") == [1, 2, 2]
    assert allocate([10**15, 3, 7], 10**12 + 1, ["a", "b", "c"], "pro_rata") == [10**12 + 1, 0, 0]
    assert sum(allocate([7] * 13, 50, list("abcdefghijklm"), "pro_rata")) == 50


def test_first_come_order_and_ranked_order():
    fc = policy("fc-pol", "premium_paid_fen", "budget: {total_fen: 150, allocation: first_come}\n")
    long = run([fc], [{"province": "上海", "premium_paid_fen": 100, "employees": 1},
                      {"province": "上海", "premium_paid_fen": 100, "employees": 9},
                      {"province": "上海", "premium_paid_fen": 100, "employees": 5}])
    assert long["amount_fen"].to_list() == [100, 50, 0]
    rk = policy("rk-pol", "premium_paid_fen", "budget: {total_fen: 150, ranked_by: employees}\n")
    long = run([rk], [{"province": "上海", "premium_paid_fen": 100, "employees": 1},
                      {"province": "上海", "premium_paid_fen": 100, "employees": 9},
                      {"province": "上海", "premium_paid_fen": 100, "employees": 5}])
    assert long["amount_fen"].to_list() == [0, 100, 50]


@pytest.mark.parametrize("backend", BACKENDS)
def test_pro_rata_beyond_64_bits_is_exact(backend):
    # amount × total = 2.7e31: computed in 128-bit integers, checked against Python's big integers.
    p = policy("big-pol", "premium_paid_fen", "budget: {total_fen: 9000000000000000, allocation: pro_rata}\n")
    amounts = [9 * 10**15, 3 * 10**15 + 1, 7, 123456789012345]
    long = run([p], [{"province": "上海", "premium_paid_fen": v, "credit_code": f"C{i}"} for i, v in enumerate(amounts)],
               backend)
    assert long["amount_fen"].to_list() == allocate(amounts, 9 * 10**15, ["C0", "C1", "C2", "C3"], "pro_rata")
    assert int(long["amount_fen"].sum()) == 9 * 10**15
