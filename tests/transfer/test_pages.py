"""Transfer pages: the journey through the HTML forms (赋权 → notice → decision → transfer → contract →
registration → income → split → dossier), field errors kept on the form, scoping per role, exports."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from kechuang.core.auth import SYSTEM, Role
from kechuang.transfer import service
from tests.conftest import principal
from tests.transfer.helpers import achievement, contract, world


def _html(client):
    client.headers["accept"] = "text/html"
    return client


class _As:
    """A fresh client for ``principal`` at each use (``client_as`` overrides the principal app-wide)."""

    def __init__(self, client_as, p):
        self.client_as, self.p = client_as, p

    def __getattr__(self, name):
        return getattr(_html(self.client_as(self.p)), name)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without CSRF token"
    return m.group(1)


def _post(client, url: str, page_url: str, data: dict, expect: int = 303):
    if isinstance(client, _As):
        client = _html(client.client_as(client.p))
    token = _csrf(client.get(page_url).text)
    r = client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)
    assert r.status_code == expect, r.text[-3000:]
    return r


def test_journey_through_the_forms(session, client_as):
    w = world(session)
    a = achievement(session, w)
    researcher = _As(client_as, w.researcher)
    page = researcher.get(f"/transfer/achievements/{a.id}")
    assert page.status_code == 200 and 'action="/transfer/achievements/' in page.text
    # a use right below the minimum is refused on the form, with the typed value kept
    bad = _post(researcher, f"/transfer/achievements/{a.id}/applications", f"/transfer/achievements/{a.id}",
                {"organisation_id": w.uni_a.id, "kind": "use_right", "use_right_years": "5"}, expect=422)
    assert 'id="use_right_years-error"' in bad.text and 'value="5"' in bad.text
    r = _post(researcher, f"/transfer/achievements/{a.id}/applications", f"/transfer/achievements/{a.id}",
              {"organisation_id": w.uni_a.id, "kind": "full_ownership", "agreed_income_share": "30"})
    app_url = r.headers["location"]
    app_id = int(app_url.rsplit("/", 1)[1])
    assert service.access_application_by_id(session, w.tto_a, app_id).state == "submitted"
    assert researcher.get("/transfer/me").status_code == 200

    tto = _As(client_as, w.tto_a)
    _post(tto, f"{app_url}/review", app_url, {})
    start = date.today() - timedelta(days=30)
    _post(tto, f"{app_url}/notice", app_url, {"notice_start_date": start.isoformat()})
    # an objection inside the notice blocks the decision until resolved
    _post(tto, f"{app_url}/objections", app_url, {"objector": "课题组成员丁", "objection_reason": "贡献未列",
                                                  "raised_date": (start + timedelta(days=2)).isoformat()})
    blocked = _post(tto, f"{app_url}/decision", app_url, {"decision": "approve", "reason": "同意"}, expect=409)
    assert "异议" in blocked.text or "objection" in blocked.text
    obj = service.list_objections(session, w.tto_a, app_id)[0]
    _post(tto, f"/transfer/objections/{obj.id}/resolve", app_url, {"application_id": app_id, "resolution": "已补列"})
    _post(tto, f"{app_url}/decision", app_url, {"decision": "approve", "reason": "公示期满无未决异议，同意赋权"})
    assert service.access_application_by_id(session, w.tto_a, app_id).state == "approved"

    # a transfer with missing steps cannot be signed; the page lists them
    r = _post(tto, f"/transfer/achievements/{a.id}/transfers", f"/transfer/achievements/{a.id}",
              {"mode": "licence", "counterparty_organisation_id": w.company.id, "licence_type": "ordinary",
               "licence_term_years": "5", "territory": "中国大陆", "price": "1200000", "pricing_route": "negotiated"})
    t_url = r.headers["location"]
    t_id = int(t_url.rsplit("/", 1)[1])
    refused = _post(tto, f"{t_url}/sign", t_url, {}, expect=409)
    assert "alert-error" in refused.text
    n0 = start.isoformat()
    n1 = (start + timedelta(days=20)).isoformat()
    _post(tto, f"{t_url}/evidence", t_url, {
        "decision_record": "校长办公会纪要", "market_name": "上海技术交易所", "unit_notice_start_date": n0,
        "unit_notice_end_date": n1, "market_notice_start_date": n0, "market_notice_end_date": n1,
        "conflicts_declared": "1", "no_improper_gain_declared": "1"})
    _post(tto, f"{t_url}/sign", t_url, {})
    _post(tto, f"{t_url}/complete", t_url, {})

    # contract registration form: 技术交易额 above 成交额 is an error on the field, values kept
    form = f"/transfer/contracts/new?transfer_id={t_id}"
    assert tto.get(form).status_code == 200
    bad = _post(tto, "/transfer/contracts", form, {
        "number": "HT-PAGE-1", "category": "licence", "buyer_organisation_id": w.company.id, "subject": "许可",
        "signed_date": date.today().isoformat(), "total": "1200000", "technical": "1300000",
        "transfer_id": t_id, "achievement_id": a.id}, expect=422)
    assert 'id="technical-error"' in bad.text and 'value="1300000"' in bad.text and 'value="HT-PAGE-1"' in bad.text
    r = _post(tto, "/transfer/contracts", form, {
        "number": "HT-PAGE-1", "category": "licence", "buyer_organisation_id": w.company.id, "subject": "许可",
        "signed_date": date.today().isoformat(), "total": "1200000", "non_technical": "0", "transfer_id": t_id,
        "achievement_id": a.id, "payment_dates": [date.today().isoformat()], "payment_amounts": ["1200000"]})
    c_url = r.headers["location"]
    commission = _As(client_as, w.commission)
    refused = _post(commission, f"{c_url}/review", c_url, {"decision": "register", "certificate_number": ""},
                    expect=422)
    assert "certificate_number-error" in refused.text
    _post(commission, f"{c_url}/review", c_url, {"decision": "register", "certificate_number": "2026310000777"})
    assert "2026310000777" in tto.get(c_url).text

    # income → exact split (100,000.01 yuan over a 50/30/20 team under the legal default)
    r = _post(tto, f"{c_url}/income", c_url, {"idempotency_key": "page-k1", "received_date": date.today().isoformat(),
                                              "amount": "100000.01", "costs": "0.01"})
    i_url = r.headers["location"]
    split = tto.get(i_url).text
    assert 'id="split-check"' in split and "10,000,000" in split
    mine = researcher.get(i_url).text
    assert "split-total" not in mine  # the researcher sees only their own part
    assert "page-k1" not in mine

    # dossier: complete, with evidence; printable
    dossier = commission.get(f"{t_url}/dossier").text
    assert 'class="dossier-verdict ok"' in dossier and "/accounts/audit/entries/" in dossier
    printable = tto.get(f"{t_url}/dossier/print")
    assert printable.status_code == 200 and "@media print" not in printable.text and "transfer.css" in printable.text
    assert 'class="dossier-verdict ok"' in printable.text


def test_every_page_renders_per_role_and_scoping(session, client_as):
    w = world(session)
    a = achievement(session, w)
    other = achievement(session, w, owner=w.uni_b)
    for p in (w.tto_a, w.commission, principal(Role.AUDITOR), w.enterprise):
        c = _html(client_as(p))
        assert c.get("/transfer").status_code == 200, p.role
    assert _html(client_as(w.researcher)).get("/transfer", follow_redirects=False).headers["location"] == "/transfer/me"
    tto = _As(client_as, w.tto_a)
    assert tto.get(f"/transfer/achievements/{other.id}").status_code == 404  # another institution's
    commission = _As(client_as, w.commission)
    assert commission.get(f"/transfer/achievements/{other.id}").status_code == 200
    assert "Start a transfer" not in commission.get(f"/transfer/achievements/{a.id}?lang=en").text  # read-only
    assert _html(client_as(w.enterprise)).get(f"/transfer/achievements/{a.id}").status_code == 404
    assert _html(client_as(w.enterprise)).get("/transfer/contracts/new").status_code == 200
    assert _html(client_as(w.researcher)).get("/transfer/stats").status_code == 403
    x = tto.get("/transfer/ledger.xlsx")
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert any(a.title in (r or ()) for r in rows) and not any(other.title in (r or ()) for r in rows)
    en = tto.get("/transfer?lang=en").text
    assert "Technology transfer" in en and "单列管理 ledger" in en


@pytest.mark.parametrize("who", ["commission", "tto"])
def test_stats_dashboard_drill_down_and_export(session, client_as, who):
    w = world(session)
    for i, y in enumerate((2024, 2025)):
        c = contract(session, w, total=(i + 1) * 1_000_000_00, signed=date(y, 3, 1))
        service.submit_contract(session, SYSTEM, c.id, on=date(y, 3, 2))
        service.register_contract(session, w.commission, c.id, f"CERT{y}", on=date(y, 3, 10))
    c = _html(client_as(w.commission if who == "commission" else w.tto_a))
    page = c.get("/transfer/stats?year=2025")
    assert page.status_code == 200 and 'data-chart="transferYears"' in page.text
    assert "+100.0%" in page.text  # 200万 vs 100万
    records = c.get("/transfer/stats/records?indicator=contract_turnover&year=2025")
    assert records.status_code == 200 and "CERT" not in records.text and "HT" in records.text
    x = c.get("/transfer/stats.xlsx?year=2025")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    if who == "commission":
        bad = c.get("/transfer/stats?year=2025&institution=NOPE")
        assert bad.status_code == 200 and "field-error" in bad.text


def test_ledger_update_form_and_person_income_pages(session, client_as):
    w = world(session)
    a = achievement(session, w)
    tto = _As(client_as, w.tto_a)
    url = f"/transfer/achievements/{a.id}"
    bad = _post(tto, f"{url}/ledger", url, {"valuation_date": "2024-05-01", "value": "12.5"}, expect=422)
    assert 'id="value-error"' in bad.text and 'value="12.5"' in bad.text  # method missing, values kept
    _post(tto, f"{url}/ledger", url, {"stage": "dormant", "book_value": "1000", "valuation_date": "2024-05-01",
                                      "method": "income", "value": "250000", "update_book_value": "1"})
    row = next(r for r in service.ledger_rows(session, w.tto_a) if r["achievement_id"] == a.id)
    assert (row["stage"], row["book_value_fen"], row["valuation_fen"]) == ("dormant", 250000_00, 250000_00)
    assert _html(client_as(w.commission)).post(f"{url}/ledger", data={"stage": "abandoned"}).status_code == 403
    service.record_income(session, w.tto_a, service.IncomeIn(
        idempotency_key="p-1", achievement_id=a.id, received_date=date(2024, 6, 1), amount_fen=1000_00))
    own = _html(client_as(w.researcher)).get(f"/transfer/people/{w.alice.id}/income?lang=en").text
    assert "¥250.00" in own  # half of 1,000 yuan to the team (legal default), half of that by contribution
    assert _html(client_as(w.researcher)).get(f"/transfer/people/{w.bob.id}/income").status_code == 404
    assert _html(client_as(w.commission)).get(f"/transfer/people/{w.bob.id}/income").status_code == 200
