"""The main journeys in a real browser (headless Chromium): log-in per role, own organisation, another's by
URL, language switch, import with an error report, audit chain verification. Screenshots in test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ARTIFACTS, server_log_tail, shot

pytestmark = pytest.mark.browser
DEMO_PASSWORD = "kechuang-demo-2026"


def log_in(page, username: str) -> None:
    """Log in through the form and land on the dashboard."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    try:
        page.wait_for_url(re.compile(r"/$"), timeout=30_000)
    except PlaywrightTimeout:  # say what the page showed instead (a throttle message, a server error...)
        body = page.locator("body").inner_text(timeout=5_000)[:800]
        raise AssertionError(f"log-in as {username} did not reach the dashboard; at {page.url}: {body}\n"
                             f"server log:\n{server_log_tail()}") from None


def test_enterprise_user_sees_own_organisation_but_not_another(desktop):
    page = desktop
    page.goto("/login")
    shot(page, "01-login-zh")
    log_in(page, "demo_enterprise")
    assert page.locator("h1").inner_text().startswith("欢迎")
    shot(page, "02-dashboard-enterprise-zh")

    page.get_by_text("本单位").click()
    page.wait_for_url(re.compile(r"/registry/organisations/\d+$"))
    own_id = int(page.url.rsplit("/", 1)[1])
    page.locator("[data-chart-ready=true]").wait_for()  # ECharts drew the facts over the years
    assert page.get_by_role("heading", name="历年数据").is_visible()
    assert page.get_by_text("合成演示数据").first.is_visible()  # the synthetic-data banner
    shot(page, "03-organisation-360-zh")

    other_id = own_id + 1 if own_id > 1 else own_id + 2
    response = page.goto(f"/registry/organisations/{other_id}")
    assert response.status == 404
    assert page.get_by_role("heading", name="页面不存在").is_visible()
    shot(page, "04-other-organisation-404-zh")

    page.goto("/registry/organisations")
    assert page.locator("#org-results tbody tr").count() == 1  # the list holds only the own organisation


def test_language_switch_is_remembered(desktop):
    page = desktop
    log_in(page, "demo_commission")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().startswith("Welcome")
    page.goto("/registry/organisations")
    assert page.get_by_role("heading", name="Organisations").is_visible()  # remembered across pages
    page.get_by_label("District").select_option("浦东新区")
    page.locator("#org-results tbody tr").first.wait_for()
    page.wait_for_function("location.search.includes('district=')")  # htmx swapped the results in place
    shot(page, "05-organisations-en")
    page.locator("#org-results tbody a").first.click()
    page.locator("[data-chart-ready=true]").wait_for()
    assert page.get_by_role("heading", name="Facts over the years").is_visible()
    shot(page, "05b-organisation-360-en")
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", name="历年数据").is_visible()


def test_commission_officer_reads_the_import_error_report(desktop):
    page = desktop
    log_in(page, "demo_commission")
    page.get_by_role("link", name="导入", exact=True).click()
    page.wait_for_url("**/registry/import")
    csv = "统一社会信用代码,名称,机构类型,所在区,成立日期\n91310115MA1K4ABC1X,坏数据公司,enterprise,火星区,2020-13-01\n"
    page.set_input_files("#f-file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.get_by_role("button", name="上传并校验").click()
    report = page.locator("#import-report")
    report.wait_for()
    text = report.inner_text()
    assert "火星区" in text and "不是上海市的 16 个区之一" in text
    assert page.get_by_text("文件未导入").is_visible()
    shot(page, "06-import-error-report-zh")


def test_auditor_verifies_the_chain(desktop):
    page = desktop
    log_in(page, "demo_auditor")
    page.get_by_role("link", name="审计日志", exact=True).click()
    page.wait_for_url("**/audit")
    shot(page, "07-audit-log-zh")
    page.get_by_role("button", name="校验哈希链").click()
    result = page.locator("#verify-result")
    result.wait_for()
    assert "哈希链完好" in result.inner_text()
    shot(page, "08-audit-verified-zh")


def test_phone_layout(phone):
    page = phone
    log_in(page, "demo_commission")
    page.goto("/registry/organisations")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"horizontal scrolling at 390 px ({width} px wide)"
    shot(page, "09-organisations-390px-zh", full_page=False)
    page.locator("#org-results tbody a").first.click()
    page.wait_for_url(re.compile(r"/registry/organisations/\d+$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "10-organisation-360-390px-zh")
    chart = page.locator("[data-chart-ready=true]")
    chart.wait_for()
    chart.screenshot(path=str(ARTIFACTS / "11-chart-390px-zh.png"))
