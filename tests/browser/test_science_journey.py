"""AI for Science in a real browser: a task leaderboard with its baselines and chart, and a dataset's quality
report (demo data: built-in baselines and the synthetic Lorenz-96 dataset)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_researcher_reads_a_leaderboard_and_a_quality_report(desktop):
    page = desktop
    log_in(page, "demo_commission")
    page.goto("/science?lang=en")
    page.get_by_role("link", name="Lorenz-96 forecasting (40 variables, 0.1–1.0 MTU)").click()
    page.wait_for_url("**/science/tasks/lorenz96-forecast")
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == 3
    assert "baseline-perfect-model" in rows.first.inner_text()  # lowest RMSE first
    assert page.locator("#skill-chart polyline").count() == 3
    shot(page, "science-01-leaderboard-en")
    rows.first.get_by_role("link").click()
    page.wait_for_url("**/science/runs/*")
    assert page.locator("#run-scores").is_visible()
    page.goto("/science?lang=en")
    page.get_by_role("link", name="Lorenz-96 model states (synthetic demo)").click()
    page.wait_for_url("**/science/datasets/*")
    report = page.locator("#quality-report")
    assert report.is_visible() and "split_leakage" in report.inner_text()
    assert "checksums" in report.inner_text()
    shot(page, "science-02-quality-report-en")
