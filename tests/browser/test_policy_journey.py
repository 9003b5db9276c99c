"""Issue 4 in a real browser: the demo enterprise opens "my policies", reads why it qualifies and its near
misses, confirms its bank account; an officer approves it and exports the payment batch (CSV), then imports
the bank's return file. Screenshots in test-artifacts/ (desktop and phone)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_enterprise_confirms_and_officer_approves_and_pays(desktop, phone):
    page = desktop
    log_in(page, "demo_enterprise")
    notification = page.get_by_role("link", name=re.compile("待您确认的政策兑现"))
    assert notification.locator(".stat-value").inner_text() == "1"
    shot(page, "39-policy-dashboard-notified-zh")
    notification.click()
    page.wait_for_url(re.compile(r"/policy/mine"))
    card = page.locator("article.ent-card", has_text="待企业确认").first
    assert card.is_visible()
    assert card.get_by_text("科技履约贷保费补贴").is_visible()
    assert card.get_by_text("请在").is_visible()  # the deadline
    assert page.get_by_role("heading", name="差一点符合").is_visible()
    shot(page, "40-policy-mine-notified-zh")

    # A wrong account number is refused beside the field; nothing changes.
    card.get_by_label("开户银行").fill("中国银行上海市分行")
    card.get_by_label("银行账号").fill("12-ab")
    card.get_by_role("button", name="确认账户").click()
    assert page.get_by_text("8至32位数字。").first.is_visible()
    card = page.locator("article.ent-card", has_text="待企业确认").first
    card.get_by_label("开户银行").fill("中国银行上海市分行")
    card.get_by_label("银行账号").fill("6222 0210 0123 4567")
    card.get_by_role("button", name="确认账户").click()
    page.wait_for_url(re.compile(r"/policy/mine\?done=confirmed"))
    assert page.locator("#message").is_visible()
    confirmed = page.locator("article.ent-card", has_text="科技履约贷保费补贴").first
    assert confirmed.get_by_text("已确认").is_visible()
    ent_link = confirmed.get_by_role("link", name="详情与办理记录").get_attribute("href")
    shot(page, "41-policy-mine-confirmed-zh")

    # The same page on a phone.
    log_in(phone, "demo_enterprise")
    phone.goto("/policy/mine")
    assert phone.get_by_role("heading", name="差一点符合").is_visible()
    shot(phone, "42-policy-mine-phone-zh")

    # The officer approves it and exports the payment batch.
    page.context.clear_cookies()
    log_in(page, "demo_commission")
    page.goto("/policy/queues/approval")
    row = page.locator(f"tr#a{ent_link.rsplit('/', 1)[1]}")
    assert row.is_visible()
    shot(page, "43-policy-queue-approval-zh")
    row.get_by_role("button", name="批准").click()
    page.wait_for_url(re.compile(r"/policy/queues/approval\?done=approved"))
    page.goto(ent_link)
    assert page.locator("#ent-status").inner_text() == "已批准"
    assert page.locator("#history").get_by_text("企业已确认账户").is_visible()
    shot(page, "44-policy-entitlement-approved-zh")

    page.goto("/policy/queues/payment")
    page.get_by_role("button", name="生成拨付批次").click()
    page.wait_for_url(re.compile(r"/policy/queues/payment\?done=batch"))
    batch = page.locator("article.ent-card").first
    with page.expect_download() as dl:
        batch.get_by_role("link", name="下载CSV").click()
    path = ARTIFACTS / "policy-payment-batch.csv"
    dl.value.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("line_ref,credit_code,payee,bank_name,account_no,amount_fen")
    ours = [x for x in lines[1:] if x.startswith(ent_link.rsplit("/", 1)[1] + ",")]
    assert len(ours) == 1 and "6222021001234567" in ours[0]
    shot(page, "45-policy-queue-payment-zh")

    # The bank's return file marks every line paid.
    ret = ARTIFACTS / "policy-bank-return.csv"
    ret.write_text("line_ref,result,bank_ref\n" + "".join(f"{x.split(',')[0]},paid,R{i}\n"
                                                           for i, x in enumerate(lines[1:])), encoding="utf-8")
    batch.locator("input[type=file]").set_input_files(str(ret))
    batch.get_by_role("button", name="导入回单").click()
    page.wait_for_url(re.compile(r"/policy/queues/payment\?done=returned"))
    assert page.locator("article.ent-card").first.get_by_text("已回单").is_visible()
    page.goto(ent_link)
    assert page.locator("#ent-status").inner_text() == "已拨付"
    shot(page, "46-policy-entitlement-paid-zh")

    # Catalogue and a policy's figures; the English version.
    page.goto("/policy/sh-loan-insurance-2025")
    assert page.locator("#periods").is_visible()
    shot(page, "47-policy-detail-zh")
    page.goto("/policy?lang=en")
    assert page.get_by_role("heading", name="Policy catalogue").is_visible()
    assert page.get_by_text("Basis unconfirmed").first.is_visible()
    shot(page, "48-policy-catalogue-en")
