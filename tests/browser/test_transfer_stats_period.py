"""The statistics period picker in a browser: a quarter through htmx (charts redrawn, short address), drill-down
for the same quarter, a date range with a field error, at 1280 and 390 px, in Chinese and English."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def _context(chromium, live_server, width: int):
    context = chromium.new_context(viewport={"width": width, "height": 900 if width > 500 else 844},
                                   base_url=live_server, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, "demo_commission")
    return context, page


@pytest.mark.parametrize("width", [1280, 390])
def test_period_picker(chromium, live_server, width):
    ctx, page = _context(chromium, live_server, width)
    try:
        page.goto("/transfer/stats?year=2024")
        page.wait_for_selector("[data-chart='transferYears'][data-chart-ready]")
        assert not page.locator("#f-q").is_visible() and not page.locator("#f-from").is_visible()
        page.select_option("#f-kind", "quarter")
        assert page.locator("#f-q").is_visible() and not page.locator("#f-from").is_visible()
        page.select_option("#f-q", "3")
        page.locator("#stats-main form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/transfer/stats\?period=2024Q3$"))  # htmx pushed the short address
        page.wait_for_selector("[data-chart='transferYears'][data-chart-ready]")  # redrawn after the swap
        assert "2024Q3" in page.locator(".period-summary").inner_text()
        assert "2024Q3" in page.locator("#ind-contract_turnover .meta").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
        shot(page, f"transfer-40-stats-quarter-{width}px-zh")
        page.locator("#ind-contract_turnover a.stat-value").click()
        page.wait_for_url(re.compile(r"/transfer/stats/records\?indicator=contract_turnover&period=2024Q3"))
        dates = page.locator("tbody td:nth-child(4)").all_inner_texts()
        assert dates and all("2024年7月" in d or "2024年8月" in d or "2024年9月" in d for d in dates[:50])
        page.goto("/lang/en?next=/transfer/stats%3Fperiod%3D2024Q3")
        page.select_option("#f-kind", "range")
        assert page.locator("#f-from").is_visible() and not page.locator("#f-year").is_visible()
        page.fill("#f-from", "2024-05-31")
        page.fill("#f-to", "2024-02-10")
        page.locator("#stats-main form button[type=submit]").click()
        page.wait_for_selector("#f-to-error")
        assert "must not be before the start date 2024-05-31" in page.locator("#f-to-error").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
        shot(page, f"transfer-41-stats-range-error-{width}px-en")
        page.fill("#f-from", "2024-02-10")
        page.fill("#f-to", "2024-05-31")
        page.locator("#stats-main form button[type=submit]").click()
        page.wait_for_url(re.compile(r"period=2024-02-10\.\.2024-05-31"))
        page.wait_for_selector("[data-chart='transferYears'][data-chart-ready]")
        assert "2023-02-10..2023-05-31" in page.locator(".period-summary").inner_text()
        shot(page, f"transfer-42-stats-range-{width}px-en")
    finally:
        ctx.close()
