"""``kechuang policy check`` and ``kechuang policy eval`` end to end on small files."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from kechuang.cli import app
from kechuang.policy.language import LIBRARY_DIR

runner = CliRunner()
LOAN = LIBRARY_DIR / "sh-loan-insurance-2025.yaml"

FACTS = """credit_code,province,loan_product,loan_repayment_date,serious_dishonesty,premium_paid_fen
91310000AAAAAAAAA1,上海,科技履约贷,2025-03-01,false,300000
91310000AAAAAAAAA2,上海,科技微贷通,2025-03-01,,12345
91310000AAAAAAAAA3,江苏,科技履约贷,2025-09-01,true,1
"""


def invoke(*args):
    return runner.invoke(app, list(args))


def test_check_library_passes():
    r = invoke("policy", "check", str(LIBRARY_DIR))
    assert r.exit_code == 0, r.output
    assert "ok   sh-loan-insurance-2025: 7/7 tests passed" in r.output
    assert "0 load problems" in r.output


def test_check_fails_on_wrong_expectation_and_on_bad_syntax(tmp_path: Path):
    text = LOAN.read_text(encoding="utf-8").replace("amount_fen: 150000", "amount_fen: 150001")
    (tmp_path / "loan.yaml").write_text(text, encoding="utf-8")
    r = invoke("policy", "check", str(tmp_path))
    assert r.exit_code == 1
    assert "FAIL sh-loan-insurance-2025: 6/7 tests passed" in r.output
    assert "amount_fen: expected 150001, got 150000" in r.output
    bad = text.replace("when: NOT serious_dishonesty", "when: NOT serious_dishonesty AND")
    (tmp_path / "loan.yaml").write_text(bad, encoding="utf-8")
    r = invoke("policy", "check", str(tmp_path))
    assert r.exit_code == 1
    line = next(i for i, x in enumerate(bad.splitlines(), 1) if "NOT serious_dishonesty AND" in x)
    assert f"{tmp_path / 'loan.yaml'}:{line}:" in r.output
    assert "syntax error" in r.output


def write_facts(tmp_path: Path, text: str = FACTS) -> Path:
    f = tmp_path / "facts.csv"
    f.write_text(text, encoding="utf-8")
    return f


@pytest.fixture
def loan_dir(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    d.mkdir()
    shutil.copy(LOAN, d)
    return d


@pytest.mark.parametrize("backend", ["polars", "sql"])
def test_eval_csv(tmp_path: Path, loan_dir: Path, backend: str):
    out = tmp_path / "out.csv"
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(write_facts(tmp_path)), "--year", "2024",
               "--out", str(out), "--backend", backend)
    assert r.exit_code == 0, r.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "credit_code,policy_id,eligible,amount_fen,failed_clauses"
    assert lines[1] == '91310000AAAAAAAAA1,sh-loan-insurance-2025,true,150000,""'
    assert lines[2] == '91310000AAAAAAAAA2,sh-loan-insurance-2025,,,""'
    assert lines[3] == "91310000AAAAAAAAA3,sh-loan-insurance-2025,false,,registered_sh;repayment_window;honest"


def test_eval_parquet_and_explain(tmp_path: Path, loan_dir: Path):
    out = tmp_path / "out.parquet"
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(write_facts(tmp_path)), "--year", "2024",
               "--out", str(out), "--explain")
    assert r.exit_code == 0, r.output
    df = pl.read_parquet(out)
    assert df["eligible"].to_list() == [True, None, False]
    assert df["amount_fen"].to_list() == [150000, None, None]
    assert df["clause.honest"].to_list() == [True, None, False]
    assert df["unknown_clauses"].to_list() == ["", "honest", ""]
    # Parquet facts work too.
    facts_pq = tmp_path / "facts.parquet"
    pl.read_csv(write_facts(tmp_path)).write_parquet(facts_pq)
    out2 = tmp_path / "out2.csv"
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(facts_pq), "--year", "2024",
               "--out", str(out2), "--explain")
    assert r.exit_code == 0, r.output
    assert "clause.repayment_window" in out2.read_text(encoding="utf-8").splitlines()[0]


def test_bad_facts_file_is_refused_with_the_full_list(tmp_path: Path, loan_dir: Path):
    bad = FACTS.replace("premium_paid_fen", "premium").replace("2025-03-01,false", "2025-03-01,maybe")
    out = tmp_path / "out.csv"
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(write_facts(tmp_path, bad)),
               "--year", "2024", "--out", str(out))
    assert r.exit_code == 2
    assert "missing columns: premium_paid_fen" in r.output
    assert "column serious_dishonesty must be bool; row 1 has 'maybe'" in r.output
    assert not out.exists()
    assert list(tmp_path.glob(".out.csv*")) == []


def test_float_money_is_refused(tmp_path: Path, loan_dir: Path):
    pq = tmp_path / "facts.parquet"
    pl.read_csv(write_facts(tmp_path)).with_columns(pl.col("premium_paid_fen").cast(pl.Float64)).write_parquet(pq)
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(pq), "--year", "2024",
               "--out", str(tmp_path / "o.csv"))
    assert r.exit_code == 2
    assert "premium_paid_fen must be int_fen" in r.output and "never a float" in r.output


def test_bad_policy_dir_is_refused(tmp_path: Path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "x.yaml").write_text("id: x\ntitle: {zh: a, en: b}\n", encoding="utf-8")
    r = invoke("policy", "eval", "--policies", str(d), "--facts", str(write_facts(tmp_path)), "--year", "2024",
               "--out", str(tmp_path / "o.csv"))
    assert r.exit_code == 1
    assert f"{d / 'x.yaml'}:" in r.output


def test_existing_output_is_not_touched_when_refused(tmp_path: Path, loan_dir: Path):
    out = tmp_path / "out.csv"
    out.write_text("previous", encoding="utf-8")
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(write_facts(tmp_path, "credit_code\nX\n")),
               "--year", "2024", "--out", str(out))
    assert r.exit_code == 2
    assert out.read_text(encoding="utf-8") == "previous"


def test_no_policy_for_the_year_writes_an_empty_table(tmp_path: Path, loan_dir: Path):
    out = tmp_path / "out.csv"
    r = invoke("policy", "eval", "--policies", str(loan_dir), "--facts", str(write_facts(tmp_path)), "--year", "2019",
               "--out", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").splitlines() == ["credit_code,policy_id,eligible,amount_fen,failed_clauses"]
