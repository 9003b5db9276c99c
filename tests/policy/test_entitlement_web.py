"""Entitlements through the JSON API and the pages: the flow end to end, and cross-tenant refusal (another
enterprise's entitlement answers 404 on every route; officer-only routes answer 403)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from kechuang.core.auth import SYSTEM, Role
from kechuang.policy import service
from kechuang.policy.models import Entitlement
from tests.conftest import principal
from tests.factories import make_fact, make_organisation
from tests.policy.test_entitlements import COMMISSION, COMMISSION_B, PERIOD, _policies

HTML = {"accept": "text/html"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without CSRF token"
    return m.group(1)


def _setup(session, n=2):
    orgs = []
    for i in range(n):
        org = make_organisation(session, district="浦东新区" if i == 0 else "徐汇区")
        make_fact(session, org, PERIOD, rd_expense_fen=2_000_000_00)
        service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "premium_paid_fen",
                                                         "value": 300_000 * (i + 1)}], source="bank")
        orgs.append(org)
    service.run_period(session, COMMISSION, PERIOD, execute=True, policies=_policies())
    today = date.today()
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=today - timedelta(days=20))
    service.close_notice(session, COMMISSION, notice.id, today=today)
    ents = [session.query(Entitlement).filter_by(organisation_id=o.id).one() for o in orgs]
    return orgs, ents


def _ent_user(org, uid=700):
    return principal(Role.ENTERPRISE, user_id=uid, username=f"e{org.id}", organisation_id=org.id)


def test_api_flow_confirm_approve_batch_return(session, client_as):
    (a, b), (ea, eb) = _setup(session)
    ua = client_as(_ent_user(a))
    r = ua.get("/api/v1/policy/entitlements")
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [ea.id]
    r = ua.post(f"/api/v1/policy/entitlements/{ea.id}/confirm",
                json={"bank_name": "中国银行", "account_name": a.name_zh, "account_no": "6222000011112222"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert r.json()["account_no_masked"] == "****2222" and "account_no" not in r.json()
    bad = ua.post(f"/api/v1/policy/entitlements/{ea.id}/confirm",
                  json={"bank_name": "中国银行", "account_name": a.name_zh, "account_no": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "account_no"
    officer = client_as(COMMISSION)
    assert officer.post(f"/api/v1/policy/entitlements/{ea.id}/approve").json()["status"] == "approved"
    r = officer.post("/api/v1/policy/payment-batches", json={})
    assert r.status_code == 201 and r.json()["lines"] == 1 and r.json()["total_fen"] == 150_000
    bid = r.json()["id"]
    csv_file = officer.get(f"/api/v1/policy/payment-batches/{bid}/file")
    assert csv_file.status_code == 200 and csv_file.text.splitlines()[1].startswith(f"{ea.id},{a.credit_code},")
    xlsx = officer.get(f"/api/v1/policy/payment-batches/{bid}/file?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    r = officer.post(f"/api/v1/policy/payment-batches/{bid}/return",
                     files={"file": ("return.csv", f"line_ref,result,bank_ref\n{ea.id},paid,X1\n".encode())})
    assert r.status_code == 200 and r.json() == {"paid": 1, "failed": 0, "unchanged": 0}
    ua = client_as(_ent_user(a))
    assert ua.get(f"/api/v1/policy/entitlements/{ea.id}").json()["status"] == "paid"
    events = ua.get(f"/api/v1/policy/entitlements/{ea.id}/events").json()
    assert [e["action"] for e in events] == ["computed", "notice", "notified", "confirmed", "approved", "in_batch",
                                             "paid"]
    officer = client_as(COMMISSION)
    runs = officer.get("/api/v1/policy/runs").json()
    lines = officer.get(f"/api/v1/policy/notices/{ea.notice_id}/lines").json()
    assert {x["credit_code"] for x in lines} == {a.credit_code, b.credit_code}
    assert officer.get("/api/v1/policy/notices/999999/lines").status_code == 404
    assert officer.get("/api/v1/policy/adjustments").json() == []
    assert runs[0]["period"] == PERIOD and runs[0]["eligible"] == 2


def test_api_cross_tenant_refused(session, client_as):
    (a, b), (ea, eb) = _setup(session)
    ua = client_as(_ent_user(a))
    for method, url, body in (
        ("get", f"/api/v1/policy/entitlements/{eb.id}", None),
        ("get", f"/api/v1/policy/entitlements/{eb.id}/events", None),
        ("post", f"/api/v1/policy/entitlements/{eb.id}/confirm",
         {"bank_name": "x", "account_name": "x", "account_no": "6222000011112222"}),
        ("post", f"/api/v1/policy/entitlements/{eb.id}/decline", {"reason": ""}),
        ("get", f"/api/v1/policy/enterprises/{b.id}/explanations?period={PERIOD}", None),
    ):
        r = getattr(ua, method)(url, json=body) if body is not None else getattr(ua, method)(url)
        assert r.status_code == 404, (url, r.status_code)
    assert ua.get("/api/v1/policy/entitlements/999999").status_code == 404
    for method, url in (("post", f"/api/v1/policy/entitlements/{ea.id}/approve"), ("get", "/api/v1/policy/runs"),
                        ("post", "/api/v1/policy/payment-batches"), ("post", "/api/v1/policy/lapse")):
        r = ua.post(url, json={}) if method == "post" else ua.get(url)
        assert r.status_code == 403, url
    assert session.get(Entitlement, eb.id).status == "notified"
    # A district officer sees only their district.
    district = client_as(principal(Role.DISTRICT, user_id=31, username="xh", district="徐汇区"))
    assert [x["id"] for x in district.get("/api/v1/policy/entitlements").json()["items"]] == [eb.id]
    assert district.get(f"/api/v1/policy/entitlements/{ea.id}").status_code == 404
    # An auditor reads but cannot act.
    auditor = client_as(principal(Role.AUDITOR, user_id=41))
    assert auditor.get("/api/v1/policy/entitlements").json()["total"] == 2
    assert auditor.post(f"/api/v1/policy/entitlements/{ea.id}/approve").status_code == 403
    assert client_as(None).get("/api/v1/policy/entitlements").status_code == 401


def test_api_run_dry_then_execute_then_no_change(session, client_as, monkeypatch):
    org = make_organisation(session)
    make_fact(session, org, PERIOD, rd_expense_fen=2_000_000_00)
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "loan_product",
                                                     "value": "科技履约贷"}], source="bank")
    officer = client_as(COMMISSION)
    dry = officer.post("/api/v1/policy/runs", json={"period": PERIOD})
    assert dry.status_code == 200 and dry.json()["executed"] is False and dry.json()["run_id"] is None
    done = officer.post("/api/v1/policy/runs", json={"period": PERIOD, "execute": True}).json()
    again = officer.post("/api/v1/policy/runs", json={"period": PERIOD, "execute": True}).json()
    assert again["no_change"] and again["run_id"] == done["run_id"]
    assert officer.post("/api/v1/policy/runs", json={"period": 1999}).status_code == 422
    cat = officer.get("/api/v1/policy/catalogue").json()
    loan = next(p for p in cat if p["id"] == "sh-loan-insurance-2025")
    assert loan["basis"]["doc"] == "沪科〔2025〕212号" and loan["clauses"][0]["label"]["zh"] == "注册地在上海"
    voucher = next(p for p in cat if p["id"] == "innovation-voucher")
    assert "cap_fen" in voucher["unconfirmed_params"]


def test_api_objections_and_second_approval(session, client_as, monkeypatch):
    monkeypatch.setattr(service.settings, "policy_second_approval_fen", 100_000)
    (a, b), (ea, eb) = _setup(session)
    ua = client_as(_ent_user(a))
    r = ua.post("/api/v1/policy/objections", json={"policy_id": "innovation-voucher", "period": PERIOD,
                                                   "text": "我们有技术服务合同。"})
    assert r.status_code == 201 and r.json()["kind"] == "ineligible"
    officer = client_as(COMMISSION)
    r = officer.post(f"/api/v1/policy/objections/{r.json()['id']}/decision",
                     json={"decision": "upheld", "note": "合同已核实，补录后重新测算。"})
    assert r.status_code == 200 and r.json()["status"] == "upheld"
    ua = client_as(_ent_user(a))  # one app: the last client_as() decides who calls
    ua.post(f"/api/v1/policy/entitlements/{ea.id}/confirm",
            json={"bank_name": "中国银行", "account_name": a.name_zh, "account_no": "6222000011112222"})
    officer = client_as(COMMISSION)
    assert officer.post(f"/api/v1/policy/entitlements/{ea.id}/approve").json()["status"] == "confirmed"
    same = officer.post(f"/api/v1/policy/entitlements/{ea.id}/approve")
    assert same.status_code == 409
    assert client_as(COMMISSION_B).post(f"/api/v1/policy/entitlements/{ea.id}/approve").json()["status"] == "approved"


def test_pages_enterprise_and_officer(session, client_as):
    (a, b), (ea, eb) = _setup(session)
    ua = client_as(_ent_user(a))
    dashboard = ua.get("/", headers=HTML)
    assert "待您确认的政策兑现" in dashboard.text and 'href="/policy/mine"' in dashboard.text
    page = ua.get("/policy/mine", headers=HTML)
    assert page.status_code == 200 and "确认账户" in page.text and a.name_zh in page.text
    assert b.name_zh not in page.text
    token = _csrf(page.text)
    assert ua.get(f"/policy/entitlements/{ea.id}", headers=HTML).status_code == 200
    assert ua.get(f"/policy/entitlements/{eb.id}", headers=HTML).status_code == 404
    r = ua.post(f"/policy/entitlements/{eb.id}/confirm", data={"csrf_token": token, "bank_name": "x",
                                                               "account_name": "x", "account_no": "6222000011112222"},
                headers=HTML, follow_redirects=False)
    assert r.status_code == 404 and session.get(Entitlement, eb.id).status == "notified"
    r = ua.post(f"/policy/entitlements/{eb.id}/decline", data={"csrf_token": token}, headers=HTML,
                follow_redirects=False)
    assert r.status_code == 404 and session.get(Entitlement, eb.id).status == "notified"
    bad = ua.post(f"/policy/entitlements/{ea.id}/confirm", data={"csrf_token": token, "bank_name": "",
                                                                 "account_name": "x", "account_no": "1"},
                  headers=HTML, follow_redirects=False)
    assert bad.status_code == 422 and "aria-invalid" in bad.text
    ok = ua.post(f"/policy/entitlements/{ea.id}/confirm", data={"csrf_token": token, "bank_name": "中国银行",
                                                                "account_name": a.name_zh,
                                                                "account_no": "6222000011112222"},
                 headers=HTML, follow_redirects=False)
    assert ok.status_code == 303 and session.get(Entitlement, ea.id).status == "confirmed"
    assert ua.get("/policy/queues/approval", headers=HTML).status_code == 403

    officer = client_as(COMMISSION)
    for url in ("/policy", "/policy/queues/notice", "/policy/queues/objections", "/policy/queues/approval",
                "/policy/queues/payment", "/policy/runs", "/policy/sh-loan-insurance-2025",
                f"/policy/entitlements/{ea.id}", f"/policy/notices/{ea.notice_id}"):
        assert officer.get(url, headers=HTML).status_code == 200, url
    assert officer.get("/policy/no-such-policy", headers=HTML).status_code == 404
    queue = officer.get("/policy/queues/approval", headers=HTML)
    assert a.name_zh in queue.text
    token = _csrf(queue.text)
    r = officer.post(f"/policy/entitlements/{ea.id}/approve", data={"csrf_token": token, "back": "queue"},
                     headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and session.get(Entitlement, ea.id).status == "approved"
    r = officer.post("/policy/batches", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    payment = officer.get("/policy/queues/payment", headers=HTML)
    assert "PB-" in payment.text
    bid = session.get(Entitlement, ea.id).batch_id
    bad = officer.post(f"/policy/batches/{bid}/return", data={"csrf_token": token},
                       files={"file": ("r.csv", b"line_ref,result\n999,paid\n")}, headers=HTML,
                       follow_redirects=False)
    assert bad.status_code == 422 and session.get(Entitlement, ea.id).status == "in_batch"
    ok = officer.post(f"/policy/batches/{bid}/return", data={"csrf_token": token},
                      files={"file": ("r.csv", f"line_ref,result\n{ea.id},paid\n".encode())}, headers=HTML,
                      follow_redirects=False)
    assert ok.status_code == 303 and session.get(Entitlement, ea.id).status == "paid"
    en = officer.get("/policy?lang=en", headers=HTML)
    assert "Policy catalogue" in en.text and "Premium subsidy for tech performance loans" in en.text
