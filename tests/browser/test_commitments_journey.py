"""Issue 8 in a real browser: import the seed reply, link two commitments to a shipped policy and a transfer
statistic, mark one done with evidence, print the progress report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser
SEED = Path(__file__).resolve().parents[2] / "src" / "kechuang" / "commitments" / "seed" / "hukeitifu-2025-56.txt"


def _update(page, phrase: str):
    card = page.locator("article", has_text=phrase)
    card.locator("summary").click()
    return card


def test_import_link_complete_and_print(desktop):
    page = desktop
    log_in(page, "demo_commission")
    page.goto("/commitments/import")
    page.get_by_label("答复函文本").fill(SEED.read_text(encoding="utf-8"))
    page.get_by_role("button", name="识别").click()
    assert page.get_by_role("heading", name=re.compile("沪科提复〔2025〕56号")).is_visible()
    assert page.get_by_text("section 2 announces 3 items but lists 4").is_visible()
    shot(page, "20-commitments-import-preview-zh")
    page.get_by_role("button", name="保存此答复").click()
    page.wait_for_url(re.compile(r"/commitments/replies/\d+$"))
    reply_url = page.url

    card = _update(page, "着眼培育壮大企业科技创新主体")
    card.get_by_label("落实载体类型").select_option("policy")
    card.get_by_label("落实载体标识").fill("sh-loan-insurance-2025")
    card.get_by_role("button", name="关联").click()
    page.wait_for_url(re.compile(r"/commitments/replies/\d+"))

    card = _update(page, "加快科技成果转化全部赋权改革复制推广")
    card.get_by_label("落实载体类型").select_option("transfer_stat")
    card.get_by_label("落实载体标识").fill("empowered_results")
    card.get_by_role("button", name="关联").click()
    page.wait_for_url(re.compile(r"/commitments/replies/\d+"))

    card = _update(page, "着眼培育壮大企业科技创新主体")
    card.get_by_label("状态").select_option("done")
    card.get_by_label("佐证").fill("免申即享政策上线：科技履约贷保费补贴（沪科〔2025〕212号）")
    card.get_by_role("button", name="保存状态").click()
    page.wait_for_url(re.compile(r"/commitments/replies/\d+"))

    card = page.locator("article", has_text="着眼培育壮大企业科技创新主体")
    assert card.get_by_text("policy: sh-loan-insurance-2025").is_visible()
    assert card.get_by_text("已完成").first.is_visible() or card.get_by_text("完成").first.is_visible()
    assert page.locator("article", has_text="加快科技成果转化全部赋权改革复制推广").get_by_text(
        "transfer_stat: empowered_results").is_visible()
    shot(page, "21-commitments-progress-zh")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "21-commitments-progress-top-zh", full_page=False)
    page.locator("#r-trend").scroll_into_view_if_needed()
    shot(page, "21-commitments-indicators-zh", full_page=False)

    page.goto(reply_url + "/report")
    assert page.get_by_text("报告值").first.is_visible() and page.get_by_text("计算值").first.is_visible()
    assert page.get_by_text("科技履约贷保费补贴").first.is_visible()
    shot(page, "22-commitments-report-zh", full_page=False)
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "22-commitments-report-zh.pdf"))
    assert (ARTIFACTS / "22-commitments-report-zh.pdf").stat().st_size > 10_000
