"""Every shipped policy loads, carries its basis and status, and passes its own tests (through the
same function ``kechuang policy check`` uses), on every backend."""

from __future__ import annotations

import pytest

from kechuang.policy.engine import BACKENDS
from kechuang.policy.language import LIBRARY_DIR, load_directory, policy_files
from kechuang.policy.testing import check_directory, run_policy_tests

LIB = load_directory(LIBRARY_DIR)


def test_library_has_at_least_ten_policies():
    assert len(policy_files(LIBRARY_DIR)) >= 10
    assert len({p.id for p in LIB}) == len(LIB)


@pytest.mark.parametrize("policy", LIB, ids=lambda p: p.id)
def test_policy_own_tests_pass(policy):
    outcomes = run_policy_tests(policy)
    assert outcomes, "each policy keeps its own tests"
    assert [o for o in outcomes if not o.ok] == []
    kinds = {o.name for o in outcomes}
    assert len(kinds) >= 4
    expected = {t.eligible for t in policy.tests}
    assert {True, False, None} <= expected, "eligible, ineligible and unknown cases"


@pytest.mark.parametrize("policy", LIB, ids=lambda p: p.id)
def test_policy_has_basis_and_labels(policy):
    assert policy.basis["doc"] and policy.basis["status"] in ("confirmed", "unconfirmed")
    assert policy.title["zh"] and policy.title["en"]
    for c in policy.clauses:
        assert c.label["zh"] and c.label["en"]


def test_unconfirmed_numbers_are_marked():
    by_id = {p.id: p for p in LIB}
    assert by_id["innovation-voucher"].params["cap_fen"].status == "unconfirmed"
    assert by_id["innovation-voucher"].basis["status"] == "unconfirmed"
    assert by_id["sh-loan-insurance-2025"].basis == {
        "doc": "沪科〔2025〕212号", "url": by_id["sh-loan-insurance-2025"].basis["url"], "status": "confirmed"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_directory_on_every_backend(backend):
    report = check_directory(LIBRARY_DIR, backend)
    assert report.ok, [str(p) for p in report.problems] + [o.message for o in report.outcomes if not o.ok]
