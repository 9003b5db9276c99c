"""Payout of team members' shares in a real browser (zh and en, 1280 and 390 px): the demo TTO officer opens an
income split, records a payment in the row through htmx (a missing reference first, shown in that row, typed
date kept), and the demo researcher sees the line paid with its date. Screenshots
test-artifacts/transfer-payout-*.png."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_transfer_journey import _as

pytestmark = pytest.mark.browser


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.parametrize("width", [1280, 390])
def test_record_payout(chromium, live_server, width):
    for lang in ("zh", "en"):
        ctx, page = _as(chromium, live_server, "demo_researcher", width=width)
        page.goto(f"/lang/{lang}?next=/transfer/me")
        page.goto("/transfer/me")
        href = page.locator("#h-ledger ~ .table-wrap tbody tr a").first.get_attribute("href")
        ctx.close()

        ctx, page = _as(chromium, live_server, "demo_tto", width=width)
        page.goto(f"/lang/{lang}?next={href}")
        page.goto(href)
        forms = page.locator("form.payout-form")
        before = forms.count()
        assert before > 0, page.content()[-3000:]
        form = forms.first
        form.locator("input[name=reference]").fill("")
        form.locator("button[type=submit]").click()
        page.wait_for_selector(".payout-form .field-error")
        assert page.locator("form.payout-form").count() == before  # swapped in place, still unpaid
        shot(page, f"transfer-payout-error-{lang}-{width}")
        form = page.locator("form.payout-form").first
        form.locator("input[name=reference]").fill(f"PAY-{lang}-{width}")
        form.locator("button[type=submit]").click()
        page.wait_for_function(f"document.querySelectorAll('form.payout-form').length == {before - 1}")
        assert page.get_by_text(f"PAY-{lang}-{width}").count() == 1
        shot(page, f"transfer-payout-split-{lang}-{width}")
        _no_horizontal_scroll(page)
        ctx.close()

        ctx, page = _as(chromium, live_server, "demo_researcher", width=width)
        page.goto(f"/lang/{lang}?next=/transfer/me")
        page.goto("/transfer/me")
        shot(page, f"transfer-payout-me-{lang}-{width}")
        _no_horizontal_scroll(page)
        ctx.close()
