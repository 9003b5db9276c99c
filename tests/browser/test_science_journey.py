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
    assert rows.count() == 4  # three baselines and the demo ONNX model
    assert "baseline-perfect-model" in rows.first.inner_text()  # lowest RMSE first
    assert page.locator("#skill-chart polyline").count() == 4
    shot(page, "science-01-leaderboard-en")
    rows.first.get_by_role("link").last.click()  # the run (the first link is the model card)
    page.wait_for_url("**/science/runs/*")
    assert page.locator("#run-scores").is_visible()
    page.goto("/science?lang=en")
    page.get_by_role("link", name="Lorenz-96 model states (synthetic demo)").click()
    page.wait_for_url("**/science/datasets/*")
    report = page.locator("#quality-report")
    assert report.is_visible() and "split_leakage" in report.inner_text()
    assert "checksums" in report.inner_text()
    shot(page, "science-02-quality-report-en")


def test_gridded_forecast_job_with_progress_model_card_and_suite(desktop):
    """Queue a run from the gridded weather task page, watch it finish (htmx polling; the web process's
    worker executes it), then the run page, the model card of the uploaded demo forecast and the weather suite."""
    page = desktop
    log_in(page, "demo_commission")
    page.goto("/science/tasks/gridded-weather-forecast?lang=en")
    assert page.locator("#leaderboard tbody tr").count() >= 4
    assert page.locator("#skill-chart polyline").count() >= 3
    assert page.locator("#by-variable").is_visible()
    shot(page, "science-03-gridded-task-en")
    page.select_option("#f-model", "baseline-persistence")
    page.locator("#run-form button[type=submit]").click()
    page.wait_for_url("**/science/jobs/*")
    assert page.locator("#job-status [role=progressbar]").is_visible()
    page.wait_for_selector("#job-status a[href^='/science/runs/']", timeout=60_000)
    assert page.locator("#job-status .badge-success").is_visible()
    shot(page, "science-04-job-done-en")
    page.locator("#job-status a[href^='/science/runs/']").click()
    page.wait_for_url("**/science/runs/*")
    assert page.locator("#run-items tbody tr").count() == 50
    page.goto("/science/models/demo-gridded-forecast?lang=en")
    assert page.locator("#model-card").is_visible()
    page.locator("#model-runs a[href^='/science/runs/']").first.click()
    page.wait_for_url("**/science/runs/*")
    assert page.locator("#run-nonfinite").is_visible() and "8" in page.locator("#run-nonfinite").inner_text()
    shot(page, "science-05-run-nonfinite-en")
    page.goto("/science/models?lang=en")
    assert page.locator("#model-catalogue tbody tr").count() > 5
    shot(page, "science-06-model-catalogue-en")
    page.goto("/science/models/demo-gridded-forecast")
    shot(page, "science-07-model-card-zh")
    page.goto("/science/suites/weather?lang=en")
    assert page.locator(".suite-board").count() >= 3
    shot(page, "science-08-weather-suite-en")


def test_suite_and_model_form_on_a_phone(phone):
    page = phone
    log_in(page, "demo_commission")
    page.goto("/science/suites/weather")
    assert page.locator(".suite-board").first.is_visible()
    shot(page, "science-09-suite-phone-zh")
    page.goto("/science/models/new")
    assert page.locator("#model-form").is_visible()
    shot(page, "science-10-model-form-phone-zh")
