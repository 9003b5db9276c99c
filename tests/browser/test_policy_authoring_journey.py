"""Policy editor and sandbox in a real browser (demo data: the shipped library synced in by ``demo load``):
an officer sees a policy's versions, a save refused at line:column, then simulates a lower threshold with
charts, at 1280 px and 390 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_officer_edits_and_simulates_a_policy(desktop):
    page = desktop
    log_in(page, "demo_commission")
    page.goto("/policy/editor")
    page.get_by_role("link", name="科技创新券（企业）").click()
    page.wait_for_url("**/policy/editor/innovation-voucher")
    assert "内置政策库" in page.locator("#h-versions + .table-wrap").inner_text()
    shot(page, "policy-authoring-01-editor")
    text = page.locator("#f-yaml_text")
    text.fill(text.input_value().replace("when: has_tech_sme", "when: has_tech_smee"))
    page.locator("#f-reason").fill("typo test")
    page.get_by_role("button", name="保存为新版本").click()
    alert = page.locator(".alert-error")
    assert "innovation-voucher@v2:" in alert.inner_text() and "has_tech_smee" in alert.inner_text()
    shot(page, "policy-authoring-02-refused")

    page.goto("/policy/sandbox?policy=rd-super-deduction")
    fields = page.locator("input[name^='param.']")
    assert fields.count() >= 1
    page.get_by_role("button", name="模拟").click()
    page.wait_for_selector("#h-result")
    page.wait_for_selector("[data-chart='policySandbox'][data-chart-ready='true']")
    assert page.locator("[data-chart='policySandbox']").count() == 3
    shot(page, "policy-authoring-03-sandbox")


def test_sandbox_on_a_phone(phone):
    page = phone
    log_in(page, "demo_commission")
    page.goto("/policy/sandbox?policy=innovation-voucher")
    page.locator("input[name='param.share']").fill("0.6")
    page.get_by_role("button", name="模拟").click()
    page.wait_for_selector("#h-result")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, width
    shot(page, "policy-authoring-04-sandbox-phone")
