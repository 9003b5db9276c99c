"""Matter and life suites in a real browser: the PBMC cell-type leaderboard with its three baselines, the
quality report of its registered dataset (class balance shown), and the solubility leaderboard on a phone."""

from __future__ import annotations

import pytest

from kechuang.science.tasks import TASKS
from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_life_and_matter_leaderboards_and_dataset_report(desktop):
    if "pbmc-cell-type" not in TASKS:
        pytest.skip("extra 'science' not installed")
    page = desktop
    log_in(page, "demo_commission")
    page.goto("/science/tasks/pbmc-cell-type?lang=en")
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == 3
    assert "baseline-majority-class" in rows.last.inner_text()  # lowest balanced accuracy last
    shot(page, "science-suites-01-pbmc-leaderboard-en")
    page.goto("/science?lang=en")
    page.get_by_role("link", name="PBMC 68k, reduced: 700 annotated blood cells (scanpy build)").click()
    page.wait_for_url("**/science/datasets/*")
    report = page.locator("#quality-report").inner_text()
    assert "class_balance" in report and "Dendritic" in report and "split_leakage" in report
    shot(page, "science-suites-02-pbmc-quality-report-en")


def test_solubility_leaderboard_on_a_phone(phone):
    if "aqueous-solubility" not in TASKS:
        pytest.skip("extra 'science' not installed")
    page = phone
    log_in(page, "demo_commission")
    page.goto("/science/tasks/aqueous-solubility")
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == 4 and "baseline-mean" in rows.last.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no page-wide horizontal scroll
    shot(page, "science-suites-03-solubility-leaderboard-phone")
