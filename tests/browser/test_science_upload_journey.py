"""Dataset upload in a real browser: a researcher fills the Croissant/DataCite form, attaches two CSV files,
sees field errors next to the fields first (phone width), then lands on the dataset page with the quality
report (desktop, Chinese and English)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser
TRAIN = b"station,pm25,label\nxuhui,35.1,good\npudong,48.0,fair\njingan,22.4,good\n"
TEST = b"station,pm25,label\nminhang,51.2,fair\nxuhui,35.1,good\n"


def _fill(page, slug: str) -> None:
    page.fill("#f-name", "PM2.5 sample (browser test)")
    page.fill("#f-slug", slug)
    page.fill("#f-identifier", "https://example.org/pm25-sample")
    page.fill("#f-publisher", "SSTC test lab")
    page.fill("#f-licence", "CC-BY-4.0")
    page.fill("#f-subjects", "air quality, PM2.5")
    page.fill("#f-description", "Three stations, hand-made rows for the upload journey.")
    page.fill("#f-creators", "Li Lei; 0000-0002-1825-0097; SSTC lab")
    page.fill("#f-provenance", "Typed by hand.")
    page.fill("#f-label", "label")
    page.set_input_files("#f-files", [{"name": "train.csv", "mimeType": "text/csv", "buffer": TRAIN},
                                      {"name": "test.csv", "mimeType": "text/csv", "buffer": TEST}])


def test_researcher_uploads_a_dataset_and_reads_its_quality_report(desktop, phone):
    page = phone
    log_in(page, "demo_researcher")
    page.goto("/science/datasets/new?lang=en")
    _fill(page, "pm25-browser")
    page.fill("#f-version", "one")
    page.fill("#f-creators", "Li Lei; 0000-0002-1825-0098")
    page.locator("#dataset-form button[type=submit]").click()
    page.wait_for_selector("#version-error")
    assert page.locator("#f-version").get_attribute("aria-invalid") == "true"
    assert "ORCID" in page.locator("#creators-error").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shot(page, "science-upload-01-errors-390-en")

    page = desktop
    log_in(page, "demo_researcher")
    page.goto("/science")
    page.locator("#add-dataset").click()
    page.wait_for_url("**/science/datasets/new")
    _fill(page, "pm25-browser")
    shot(page, "science-upload-02-form-zh")
    page.locator("#dataset-form button[type=submit]").click()
    page.wait_for_url("**/science/datasets/*?added=1")
    report = page.locator("#quality-report")
    assert report.is_visible() and "split_leakage" in report.inner_text()  # xuhui is in both splits
    assert page.locator(".alert-success").is_visible()
    shot(page, "science-upload-03-report-zh")
    page.goto(page.url + "&lang=en")
    assert "class_balance" in page.locator("#quality-report").inner_text()
    shot(page, "science-upload-04-report-en")
