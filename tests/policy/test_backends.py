"""One suite, every backend: identical results on the same data (random with NULLs and boundary
values, generated with a seeded RNG), for the shipped library and for every construct."""

from __future__ import annotations

import os
import random

import polars as pl
import pytest

from kechuang.policy.engine import BACKENDS, compile_all, evaluate, required_columns
from kechuang.policy.engine.core import evaluate as row_eval
from kechuang.policy.engine.core import interpret
from kechuang.policy.facts_io import frame_from_records
from kechuang.policy.language import LIBRARY_DIR, load_directory
from kechuang.policy.synthetic import generate_facts

from .helpers import make_policy

LIBRARY = load_directory(LIBRARY_DIR)


@pytest.mark.parametrize("year", [2024, 2025])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_library_backends_agree(seed, year):
    frame = generate_facts(required_columns(LIBRARY), 600, seed=seed, null_pct=8, boundary_pct=10)
    results = {b: evaluate(frame, LIBRARY, year, backend=b, explain=True).long for b in BACKENDS}
    base = results["polars"]
    assert base.height == 600 * len(compile_all(LIBRARY, year))
    for b, long in results.items():
        assert long.equals(base), b
    # Every outcome occurs, so the agreement is not vacuous.
    assert set(base["eligible"].to_list()) == {True, False, None}


def test_row_evaluator_agrees_with_polars():
    frame = generate_facts(required_columns(LIBRARY), 200, seed=7, null_pct=10)
    compiled = compile_all(LIBRARY, 2025)
    from kechuang.policy.engine import run_wide

    wide = run_wide(frame, compiled, "polars")
    for i, row in enumerate(frame.iter_rows(named=True)):
        for cp in compiled:
            for cid, core in cp.clauses.items():
                assert row_eval(core, row) == wide[f"{cp.id}|{cid}"][i], (cp.id, cid, row)
                assert interpret(core, row) == wide[f"{cp.id}|{cid}"][i], (cp.id, cid, row)
            if cp.amount is not None:
                assert row_eval(cp.amount, row) == wide[f"{cp.id}|__amount"][i]
                assert interpret(cp.amount, row) == wide[f"{cp.id}|__amount"][i]


CONSTRUCTS = [
    ("case", "CASE WHEN employees > 50 THEN 'big' WHEN employees > 10 THEN 'mid' END = 'mid'"),
    ("coalesce", "COALESCE(st_staff, employees, 0) >= 5"),
    ("abs", "ABS(profit_fen - 100) <= 50"),
    ("in_num", "employees IN (1, 2, 3, 40)"),
    ("between", "profit_fen BETWEEN -5 AND 5"),
    ("ratio", "st_staff / employees >= 0.1"),
    ("ratio_div0", "profit_fen / profit_fen@-1 > 0.5"),
    ("isnull", "st_staff IS NULL OR employees IS NOT NULL"),
    ("greatest", "GREATEST(employees, st_staff, 3) > 20"),
    ("neg", "-profit_fen > 0"),
    ("lag", "profit_fen@-1 < profit_fen"),
    ("dates", "founded_date BETWEEN DATE '2023-09-01' AND DATE '2024-06-30'"),
]


def construct_policies():
    """One small policy per construct, all with the same money amount."""
    return [make_policy([("c", expr)], pid=f"p-{name}".replace("_", "-"),
                        amount="ROUND(GREATEST(profit_fen, -7) * 0.35 + COALESCE(profit_fen@-1, 1) * 3 / 7)")
            for name, expr in CONSTRUCTS]


def construct_frame(policies, seed: int, n: int = 400) -> pl.DataFrame:
    """Random rows (15% NULL) with boundary values for the constructs' columns."""
    from datetime import date, timedelta

    rng = random.Random(seed)
    cols = required_columns(policies)

    def val(typ):
        if rng.random() < 0.15:
            return None
        if typ == "int_fen":
            return rng.choice([rng.randint(-300, 300), -5, 5, 0, 100, 150, 50])
        if typ == "int":
            return rng.choice([rng.randint(0, 80), 0, 10, 40])
        if typ == "date":
            return date(2023, 6, 1) + timedelta(days=rng.randint(0, 500))
        raise AssertionError(typ)

    return frame_from_records([{c: val(t) for c, t in cols.items()} for _ in range(n)], cols)


@pytest.mark.parametrize("seed", [11, 12])
def test_constructs_agree_on_random_rows(seed):
    policies = construct_policies()
    frame = construct_frame(policies, seed)
    results = {b: evaluate(frame, policies, 2024, backend=b).long for b in BACKENDS}
    for b in BACKENDS:
        assert results[b].equals(results["polars"]), b
    assert results["polars"]["amount_fen"].null_count() < results["polars"].height


PG_URL = os.environ.get("KECHUANG_TEST_DATABASE_URL", "")


@pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="needs KECHUANG_TEST_DATABASE_URL=postgresql...")
@pytest.mark.parametrize("year", [2024, 2025])
def test_postgres_push_down_agrees(year):
    frame = generate_facts(required_columns(LIBRARY), 400, seed=9, null_pct=8, boundary_pct=10)
    pg = evaluate(frame, LIBRARY, year, backend="postgres", dsn=PG_URL, explain=True).long
    assert pg.equals(evaluate(frame, LIBRARY, year, backend="polars", explain=True).long)


def test_sql_renders_for_every_dialect():
    from kechuang.policy.engine import sql_backend

    outputs = {}
    for cp in compile_all(LIBRARY, 2024):
        outputs.update(cp.outputs())
    for dialect in sql_backend.DIALECTS:
        sql = sql_backend.render_select(outputs, dialect=dialect)
        assert sql.startswith("SELECT") and "FROM facts" in sql
    assert "//" not in sql_backend.render_select(outputs, dialect="sqlite")


def test_frame_order_and_types_match():
    frame = generate_facts(required_columns(LIBRARY), 50, seed=5)
    long = evaluate(frame, LIBRARY, 2024, backend="sql").long
    assert long.schema["eligible"] == pl.Boolean and long.schema["amount_fen"] == pl.Int64
    # Grouped by policy (id order), enterprises in facts order within each.
    assert long["credit_code"].to_list()[:50] == [f"SYN{i}" for i in range(50)]
    assert long["policy_id"].to_list() == [cp.id for cp in compile_all(LIBRARY, 2024) for _ in range(50)]
