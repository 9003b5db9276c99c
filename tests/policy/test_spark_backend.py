"""Spark SQL backend (local mode, one shared small session) gives the same results as every other backend
on the same data: the shipped library with NULLs and boundary values, and every construct (money, unknowns,
dates, lags). Marker ``spark``: `make test` and .ci/run install PySpark and Java and run it."""

from __future__ import annotations

import os

import pytest

from kechuang.policy.engine import BACKENDS, compile_all, evaluate, required_columns, spark_backend
from kechuang.policy.synthetic import generate_facts

from .test_backends import CONSTRUCTS, LIBRARY, construct_frame, construct_policies

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module", autouse=True)
def _spark():
    if not spark_backend.available():
        if os.environ.get("CI"):
            pytest.fail("PySpark or Java is missing: `make test` installs the extra 'spark', .ci/run installs Java")
        pytest.skip("PySpark or Java is missing (pip install -e '.[spark]'; apt-get install openjdk-17-jre-headless)")
    yield
    spark_backend.stop()


def test_library_agrees_with_every_backend():
    frame = generate_facts(required_columns(LIBRARY), 500, seed=4, null_pct=8, boundary_pct=10)
    for year in (2024, 2025):
        spark = evaluate(frame, LIBRARY, year, backend="spark", explain=True).long
        assert spark.height == 500 * len(compile_all(LIBRARY, year))
        for b in BACKENDS:
            assert spark.equals(evaluate(frame, LIBRARY, year, backend=b, explain=True).long), (b, year)
        assert set(spark["eligible"].to_list()) == {True, False, None}
        assert spark["amount_fen"].fill_null(0).sum() > 0


def test_constructs_agree():
    policies = construct_policies()
    frame = construct_frame(policies, seed=13)
    spark = evaluate(frame, policies, 2024, backend="spark").long
    assert spark.equals(evaluate(frame, policies, 2024, backend="polars").long)
    assert len(CONSTRUCTS) == spark["policy_id"].n_unique()
