"""Transfer API: the main journey over HTTP, scoping (404), guards (403), idempotent income."""

from __future__ import annotations

from kechuang.transfer.service import today as service_today
from tests.transfer.helpers import achievement, world


def test_journey_over_http(session, client_as):
    w = world(session)
    # client_as overrides the principal app-wide: make the client right before each call
    def tto():
        return client_as(w.tto_a)

    def researcher():
        return client_as(w.researcher)

    def commission():
        return client_as(w.commission)

    r = tto().post("/api/v1/transfer/achievements", json={
        "kind": "invention_patent", "title": "一种电池", "number": "ZL2024API.1", "trl": 6,
        "owners": [{"organisation_id": w.uni_a.id, "share": "1"}],
        "members": [{"person_id": w.alice.id, "contribution": "0.5"}, {"person_id": w.bob.id, "contribution": "0.5"}]})
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    r = researcher().post("/api/v1/transfer/applications", json={
        "achievement_id": aid, "organisation_id": w.uni_a.id, "kind": "full_ownership", "agreed_income_share": "0.3"})
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    assert researcher().post(f"/api/v1/transfer/applications/{app_id}/submit").json()["state"] == "submitted"
    assert tto().post(f"/api/v1/transfer/applications/{app_id}/review").json()["state"] == "tto_review"
    r = tto().post(f"/api/v1/transfer/applications/{app_id}/notice", json={"on": "2024-01-01"})
    assert r.json()["state"] == "notice"
    r = tto().post(f"/api/v1/transfer/applications/{app_id}/decision", json={"approve": True, "reason": "同意"})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    # a refused transition: 409 with from/to in the message
    r = tto().post(f"/api/v1/transfer/applications/{app_id}/review")
    assert r.status_code == 409 and "“已批准”" in r.json()["error"]["message"]  # state names translated
    # TTO of institution B: 404 (not 403) on A's application
    assert client_as(w.tto_b).get(f"/api/v1/transfer/applications/{app_id}").status_code == 404
    assert client_as(w.tto_b).post(f"/api/v1/transfer/applications/{app_id}/review").status_code == 404
    # contract by the seller, registration by the commission
    r = tto().post("/api/v1/transfer/contracts", json={
        "number": "HT-API-1", "category": "licence", "seller_organisation_id": w.uni_a.id,
        "buyer_organisation_id": w.company.id, "subject": "许可", "signed_date": "2024-02-01",
        "total_fen": 1_000_000, "achievement_id": aid,
        "payments": [{"due_date": "2024-03-01", "amount_fen": 1_000_000}]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = tto().post(f"/api/v1/transfer/contracts/{cid}/submit")
    assert r.json()["state"] == "submitted" and r.json()["registration_deadline_date"]
    assert tto().post(f"/api/v1/transfer/contracts/{cid}/register", json={"certificate_number": "C1"}).status_code \
        == 403
    r = commission().post(f"/api/v1/transfer/contracts/{cid}/register", json={"certificate_number": "C1"})
    assert r.json()["state"] == "registered"
    assert client_as(w.enterprise).get(f"/api/v1/transfer/contracts/{cid}").json()["payments"][0]["amount_fen"] \
        == 1_000_000
    # income: created once, then returned (200) for the same key
    body = {"idempotency_key": "api-1", "contract_id": cid, "received_date": "2024-03-01", "amount_fen": 1_000_001}
    first = tto().post("/api/v1/transfer/income", json=body)
    assert first.status_code == 201, first.text
    shares = first.json()["shares"]
    assert sum(s["amount_fen"] for s in shares) == 1_000_001
    assert [s["amount_fen"] for s in shares if s["party"] == "institution"] == [300_000]  # 30% agreed
    second = tto().post("/api/v1/transfer/income", json=body)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    mine = researcher().get(f"/api/v1/transfer/income/{first.json()['id']}").json()["shares"]
    assert [s["person_id"] for s in mine] == [w.alice.id]
    assert commission().post("/api/v1/transfer/income", json=body).status_code == 403  # read-only
    r = commission().get("/api/v1/transfer/stats", params={"year": 2024})
    assert r.status_code == 200 and {i["indicator"] for i in r.json()} >= {"empowered_results", "contract_turnover"}
    r = commission().get("/api/v1/transfer/stats/records", params={"indicator": "empowered_results",
                                                                   "year": service_today().year})
    assert r.status_code == 200 and app_id in {x["id"] for x in r.json()}


def test_guards(session, client_as):
    w = world(session)
    a = achievement(session, w)
    assert client_as(None).get("/api/v1/transfer/achievements").status_code == 401
    assert client_as(w.enterprise).get("/api/v1/transfer/stats", params={"year": 2024}).status_code == 403
    assert client_as(w.enterprise).get(f"/api/v1/transfer/achievements/{a.id}").status_code == 404
    r = client_as(w.enterprise).get("/api/v1/transfer/achievements", params={"open": "true"})
    assert a.id in {i["id"] for i in r.json()["items"]}
    assert client_as(w.researcher).post("/api/v1/transfer/transfers", json={
        "achievement_id": a.id, "mode": "assignment"}).status_code == 403
    r = client_as(w.tto_a).get("/api/v1/transfer/ledger", params={"format": "xlsx"})
    assert r.status_code == 200 and r.content[:2] == b"PK"


def test_transfer_missing_steps_over_http(session, client_as):
    w = world(session)
    a = achievement(session, w)
    def tto():
        return client_as(w.tto_a)

    r = tto().post("/api/v1/transfer/transfers", json={
        "achievement_id": a.id, "mode": "assignment", "counterparty_organisation_id": w.company.id,
        "price_fen": 100, "pricing_route": "auction"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    detail = client_as(w.tto_a).get(f"/api/v1/transfer/transfers/{tid}", headers={"accept-language": "en"}).json()
    assert detail["missing_steps"]
    r = tto().post(f"/api/v1/transfer/transfers/{tid}/sign")
    assert r.status_code == 409
    tto().patch(f"/api/v1/transfer/transfers/{tid}/evidence", json={
        "auction_record": "拍卖公告 2024-01", "decision_record": "会议纪要", "conflicts_declared": True,
        "no_improper_gain_declared": True})
    assert tto().post(f"/api/v1/transfer/transfers/{tid}/sign").json()["state"] == "signed"
    assert tto().post(f"/api/v1/transfer/transfers/{tid}/complete").json()["state"] == "completed"
    assert client_as(w.enterprise).get(f"/api/v1/transfer/transfers/{tid}").status_code == 200  # counterparty


def test_equity_awards_over_http(session, client_as):
    from decimal import Decimal

    from kechuang.transfer import service
    from kechuang.transfer.schemas import TransferCreate

    w = world(session)
    a = achievement(session, w, members=[(w.alice, "1")])
    t = service.create_transfer(session, w.tto_a, TransferCreate(
        achievement_id=a.id, mode="equity", counterparty_organisation_id=w.company.id, equity_share=Decimal("0.25"),
        company_is_new=True, pricing_route="negotiated"))
    r = client_as(w.researcher).get(f"/api/v1/transfer/transfers/{t.id}/equity-awards")
    assert r.status_code == 200, r.text
    assert r.json()["members"] == [{"person_id": w.alice.id, "share": "0.125000"}]
