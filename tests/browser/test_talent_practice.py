"""Industry practice in a real browser: the university officer records a secondment by picking the teacher and
the host in the search-as-you-type pickers (htmx; a later search keeps the choice), the host enterprise sees
the record with its rating form — at 1280 px and on a 390 px phone."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in
from tests.browser.test_talent_journey import _page

pytestmark = pytest.mark.browser


def test_officer_records_a_secondment_with_the_pickers(chromium, live_server):
    ctx, page = _page(chromium, live_server)
    try:
        log_in(page, "demo_tto")
        page.goto("/talent")
        page.get_by_role("link", name="产学研践习").first.click()
        page.get_by_role("link", name="登记产学研践习").click()
        first = page.locator("#pick-person_id input[type=radio]").first  # the university's people, before typing
        teacher_id = first.get_attribute("value")
        teacher = page.locator("#pick-person_id label.record-choice strong").first.inner_text()
        first.check()
        page.locator("#f-host_q").press_sequentially("有限公司", delay=40)
        host = page.locator("#pick-host_organisation_id input[type=radio]").first
        host.wait_for()
        host_name = page.locator("#pick-host_organisation_id label.record-choice strong").first.inner_text()
        host.check()
        page.locator("#f-person_q").press_sequentially("不存在的名字", delay=20)  # another search ...
        page.wait_for_function("document.querySelectorAll('#pick-person_id input').length === 1")
        assert page.locator(f"#pick-person_id input[value='{teacher_id}']").is_checked()  # ... keeps the choice
        page.locator("#f-kind").select_option("secondment")
        page.locator("#f-start_date").fill("2025-09-01")
        page.locator("#f-end_date").fill("2026-08-31")
        page.locator("#f-tasks").fill("挂职担任企业研发总监，负责视觉检测产品线。")
        page.locator("button[value=save]").click()
        page.wait_for_url(re.compile(r"/talent/practice/\d+\?done=created"))
        assert teacher in page.locator("h1").inner_text() and host_name in page.locator(".page-head").inner_text()
        shot(page, "talent-practice-recorded")
    finally:
        ctx.close()


def test_host_enterprise_reaches_its_placement_on_a_phone(chromium, live_server):
    ctx, page = _page(chromium, live_server, phone=True)
    try:
        log_in(page, "demo_enterprise")
        page.goto("/talent/practice")
        rows = page.locator("#practice-results tbody a")
        assert rows.count() >= 1
        rows.first.click()
        assert page.get_by_role("heading", name="接收单位评价").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width} px)"
        shot(page, "talent-practice-host-phone")
    finally:
        ctx.close()
