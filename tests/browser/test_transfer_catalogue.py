"""The open listing, the 赋权 pilot list and the revenue-sharing rules in a real browser (zh and en, 1280 and
390 px): an investor filters the listing and opens a summary, the commission adds and ends a pilot period,
the TTO records a rule version (a field error first). Screenshots test-artifacts/transfer-catalogue-*.png."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot
from tests.browser.test_transfer_journey import _as

pytestmark = pytest.mark.browser


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.parametrize("width", [1280, 390])
def test_catalogue_pages(chromium, live_server, width):
    for lang in ("zh", "en"):
        ctx, page = _as(chromium, live_server, "demo_investor", width=width)
        page.goto(f"/lang/{lang}?next=/transfer/open")
        page.goto("/transfer/open")
        assert page.locator("#open-results tbody tr").count() >= 1
        page.locator("#f-trl").fill("5")
        page.locator("form[role=search] button[type=submit]").click()
        page.wait_for_url("**trl=5**")
        shot(page, f"transfer-catalogue-open-{lang}-{width}")
        _no_horizontal_scroll(page)
        page.locator("#open-results tbody tr a").first.click()
        page.wait_for_url("**/transfer/open/*")
        shot(page, f"transfer-catalogue-summary-{lang}-{width}")
        _no_horizontal_scroll(page)
        ctx.close()

        ctx, page = _as(chromium, live_server, "demo_commission", width=width)
        page.goto(f"/lang/{lang}?next=/transfer/pilots")
        page.goto("/transfer/pilots")
        page.locator("#f-basis").fill("test")
        page.locator("#f-start_date").fill("")
        page.locator("form[action='/transfer/pilots'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#start_date-error").count() == 1
        shot(page, f"transfer-catalogue-pilots-{lang}-{width}")
        _no_horizontal_scroll(page)
        page.goto("/transfer/rules")
        shot(page, f"transfer-catalogue-rules-commission-{lang}-{width}")
        ctx.close()

        ctx, page = _as(chromium, live_server, "demo_tto", width=width)
        page.goto(f"/lang/{lang}?next=/transfer/rules")
        page.goto("/transfer/rules")
        page.locator("#f-team_share").fill("30")
        page.locator("#f-department_share").fill("20")
        page.locator("#f-institution_share").fill("50")
        page.locator("#f-basis").fill("办法")
        page.locator("form[action='/transfer/rules'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#team_share-error").count() == 1 and page.locator("#f-team_share").input_value() == "30"
        shot(page, f"transfer-catalogue-rules-{lang}-{width}")
        _no_horizontal_scroll(page)
        ctx.close()
