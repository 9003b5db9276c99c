"""Run the ``tests:`` kept beside each policy (what ``kechuang policy check`` does). Each test runs on
the Polars backend and, as a cross-check, on the row evaluator used by explanations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from kechuang.policy.engine import compile_policy, required_columns, run_wide, to_long
from kechuang.policy.engine.core import evaluate
from kechuang.policy.facts_io import frame_from_records, row_values
from kechuang.policy.language import Policy, PolicyError, Problem, check_references, load_file, policy_files

_PY_TYPES = {"int_fen": (int,), "int": (int,), "decimal": (int, Decimal), "bool": (bool,), "str": (str,),
             "date": (date,)}


@dataclass
class TestOutcome:
    """One policy test: passed or the reason it failed."""

    policy_id: str
    name: str
    ok: bool
    message: str = ""
    file: str = ""
    line: int = 0


def row_outcome(cp, row: dict) -> tuple[bool | None, int | None, list[str]]:
    """(eligible, amount_fen, failed clause ids) of one row by the row evaluator."""
    vals = {cid: evaluate(c, row) for cid, c in cp.clauses.items()}
    failed = [cid for cid, v in vals.items() if v is False]
    elig = False if failed else (None if any(v is None for v in vals.values()) else True)
    amount = evaluate(cp.amount, row) if cp.amount is not None else None
    if elig and cp.amount is not None and amount is None:
        elig = None
    return elig, (amount if elig else None), failed


def run_policy_tests(policy: Policy, backend: str = "polars") -> list[TestOutcome]:
    """Run one policy's own tests."""
    out: list[TestOutcome] = []
    cols = required_columns([policy])
    by_year: dict[int, list] = {}
    for t in policy.tests:
        by_year.setdefault(t.year or policy.default_year(), []).append(t)
    for year, tests in sorted(by_year.items()):
        bad_types = []
        for t in tests:
            for col, v in t.facts.items():
                typ = cols.get(col)
                if typ is None or v is None:
                    continue
                ok = isinstance(v, _PY_TYPES[typ]) and not (typ != "bool" and isinstance(v, bool))
                if not ok:
                    bad_types.append(TestOutcome(policy.id, t.name, False, f"fact {col} must be {typ}, got {v!r}",
                                                 policy.file, t.line))
        if bad_types:
            out.extend(bad_types)
            continue
        try:
            cp = compile_policy(policy, year)
        except (PolicyError, ValueError) as exc:
            out.extend(TestOutcome(policy.id, t.name, False, str(exc), policy.file, t.line) for t in tests)
            continue
        frame = frame_from_records([t.facts for t in tests], cols)
        long = to_long(frame["credit_code"], run_wide(frame, [cp], backend), [cp])
        for i, t in enumerate(tests):
            elig, amount, failed = long["eligible"][i], long["amount_fen"][i], long["failed_clauses"][i]
            failed_ids = [x for x in (failed or "").split(";") if x]
            r_elig, r_amount, r_failed = row_outcome(cp, row_values(t.facts, cols))
            problems = []
            if elig != t.eligible:
                problems.append(f"eligible: expected {_show(t.eligible)}, got {_show(elig)}")
            if t.expect_amount and amount != t.amount_fen:
                problems.append(f"amount_fen: expected {t.amount_fen}, got {amount}")
            if t.failed is not None and sorted(t.failed) != sorted(failed_ids):
                problems.append(f"failed clauses: expected {sorted(t.failed)}, got {sorted(failed_ids)}")
            if (r_elig, r_amount, sorted(r_failed)) != (elig, amount, sorted(failed_ids)):
                problems.append(f"backends disagree: {backend}=({elig}, {amount}, {failed_ids}) "
                                f"row=({r_elig}, {r_amount}, {r_failed})")
            out.append(TestOutcome(policy.id, t.name, not problems, "; ".join(problems), policy.file, t.line))
    return out


def _show(v: bool | None) -> str:
    return "unknown" if v is None else str(v).lower()


@dataclass
class CheckReport:
    """Result of checking a directory: load problems, loaded policies, test outcomes."""

    problems: list[Problem]
    policies: list[Policy]
    outcomes: list[TestOutcome]

    @property
    def ok(self) -> bool:
        return not self.problems and all(o.ok for o in self.outcomes)


def check_directory(directory: str | Path, backend: str = "polars") -> CheckReport:
    """Load every policy file of ``directory`` and run every policy's tests."""
    problems: list[Problem] = []
    policies: list[Policy] = []
    files = policy_files(directory)
    if not files:
        problems.append(Problem(str(directory), 1, 1, "no policy files (*.yaml) here"))
    for f in files:
        try:
            policies.append(load_file(f))
        except PolicyError as exc:
            problems.extend(exc.problems)
    problems.extend(check_references(policies))
    outcomes: list[TestOutcome] = []
    for p in policies:
        outcomes.extend(run_policy_tests(p, backend))
    return CheckReport(problems, policies, outcomes)
