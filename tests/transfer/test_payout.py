"""Payout of team members' income shares: unpaid → paid (date, reference) by the TTO officer of the
institution that received the income; idempotent; a lost race writes nothing; audited; the amount never
changes. Service, API (403/404/409/422) and pages (zh/en, htmx row form, the researcher's ledgers)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from kechuang.core.audit import AuditEntry
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.transfer import service
from kechuang.transfer.models import IncomeShare
from kechuang.transfer.schemas import IncomeIn, PayoutIn
from kechuang.web.templating import format_date
from tests.transfer.helpers import achievement, world

RECEIVED = date(2024, 6, 1)


def _income(session, w):
    """1,000.01 yuan under the legal default: team 50% (rounded up) over alice/bob/carol 50/30/20."""
    a = achievement(session, w)
    event, _ = service.record_income(session, w.tto_a, IncomeIn(
        idempotency_key=f"payout-{a.id}", achievement_id=a.id, received_date=RECEIVED, amount_fen=1000_01))
    shares = service.income_shares(session, w.tto_a, event.id)
    return event, {(s.party, s.person_id): s for s in shares}


def _audits(session, share_id: int) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "transfer.income.payout", AuditEntry.object_id == str(share_id)))


def test_pay_once_then_again_is_idempotent_and_audited(session):
    w = world(session)
    event, shares = _income(session, w)
    alice = shares[("member", w.alice.id)]
    amounts = {k: s.amount_fen for k, s in shares.items()}
    assert {s.payout_status for (party, _), s in shares.items() if party == "member"} == {"unpaid"}
    assert shares[("institution", None)].payout_status is None  # only team members' shares are paid out

    paid, changed = service.record_payout(session, w.tto_a, alice.id, PayoutIn(paid_date=date(2024, 7, 10),
                                                                               reference=" PAY-2024-07 "))
    assert changed and (paid.payout_status, paid.paid_date, paid.payout_reference) == \
        ("paid", date(2024, 7, 10), "PAY-2024-07")
    assert _audits(session, alice.id) == 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "transfer.income.payout")).one()
    assert entry.after["amount_fen"] == alice.amount_fen and entry.before == {"payout_status": "unpaid"}

    again, changed = service.record_payout(session, w.tto_a, alice.id, PayoutIn(paid_date=date(2024, 7, 10),
                                                                                reference="PAY-2024-07"))
    assert not changed and again.paid_date == date(2024, 7, 10)
    assert _audits(session, alice.id) == 1  # nothing written the second time
    with pytest.raises(Conflict) as exc:  # another payment of a paid share
        service.record_payout(session, w.tto_a, alice.id, PayoutIn(paid_date=date(2024, 7, 11), reference="X"))
    assert "2024-07-10" in exc.value.render_message("en")
    # the money is untouched: every part keeps its fen, the parts still sum to the net income
    after = {(s.party, s.person_id): s.amount_fen for s in service.income_shares(session, w.tto_a, event.id)}
    assert after == amounts and sum(after.values()) == event.net_fen
    # the others stay unpaid; the researcher's ledger shows paid with the date
    ledger = {x["share_id"]: x for x in service.person_ledger(session, w.researcher, w.alice.id)}
    assert (ledger[alice.id]["payout_status"], ledger[alice.id]["paid_date"]) == ("paid", date(2024, 7, 10))
    assert shares[("member", w.bob.id)].payout_status == "unpaid"


def test_a_lost_race_writes_nothing(session):
    """The status moves by ``UPDATE … WHERE payout_status = 'unpaid'``: when another writer paid the share
    after this one read it, the update matches no row, nothing is written and the caller gets the winner's
    payment (the same one: unchanged; a different one: 409)."""
    w = world(session)
    _event, shares = _income(session, w)
    bob = shares[("member", w.bob.id)]
    assert bob.payout_status == "unpaid"  # read (and held in the session) before the other writer commits
    session.execute(update(IncomeShare).where(IncomeShare.id == bob.id).values(
        payout_status="paid", paid_date=date(2024, 7, 1), payout_reference="OTHER")
        .execution_options(synchronize_session=False))
    with pytest.raises(Conflict):
        service.record_payout(session, w.tto_a, bob.id, PayoutIn(paid_date=date(2024, 7, 2), reference="MINE"))
    same, changed = service.record_payout(session, w.tto_a, bob.id,
                                          PayoutIn(paid_date=date(2024, 7, 1), reference="OTHER"))
    assert not changed and same.payout_reference == "OTHER"
    assert _audits(session, bob.id) == 0


def test_refusals(session):
    w = world(session)
    _event, shares = _income(session, w)
    alice = shares[("member", w.alice.id)]
    ok = PayoutIn(paid_date=date(2024, 7, 10), reference="PAY-1")
    with pytest.raises(NotFound):  # another institution's TTO
        service.record_payout(session, w.tto_b, alice.id, ok)
    with pytest.raises(NotFound):
        service.record_payout(session, w.tto_a, 10**9, ok)
    with pytest.raises(PermissionDenied):  # the researcher cannot mark their own share paid
        service.record_payout(session, w.researcher, alice.id, ok)
    with pytest.raises(PermissionDenied):
        service.record_payout(session, w.commission, alice.id, ok)
    with pytest.raises(Conflict):  # the institution's own part is not paid out
        service.record_payout(session, w.tto_a, shares[("institution", None)].id, ok)
    with pytest.raises(ValidationFailed) as exc:
        service.record_payout(session, w.tto_a, alice.id, PayoutIn(paid_date=RECEIVED - timedelta(days=1),
                                                                   reference="EARLY"))
    assert exc.value.errors[0].field == "paid_date"
    with pytest.raises(ValidationFailed):
        service.record_payout(session, w.tto_a, alice.id, PayoutIn(paid_date=service.today() + timedelta(days=1),
                                                                   reference="LATER"))
    session.refresh(alice)
    assert alice.payout_status == "unpaid" and _audits(session, alice.id) == 0


def test_api(session, client_as):
    w = world(session)
    _event, shares = _income(session, w)
    sid = shares[("member", w.alice.id)].id
    url = f"/api/v1/transfer/income/shares/{sid}/payout"
    body = {"paid_date": "2024-07-10", "reference": "PAY-2024-07"}
    assert client_as(w.researcher).post(url, json=body).status_code == 403
    assert client_as(w.tto_b).post(url, json=body).status_code == 404
    r = client_as(w.tto_a).post(url, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["payout_status"] == "paid" and r.json()["paid_date"] == "2024-07-10"
    assert r.json()["amount_fen"] == shares[("member", w.alice.id)].amount_fen
    r = client_as(w.tto_a).post(url, json=body)
    assert r.status_code == 200 and r.json()["payout_reference"] == "PAY-2024-07"  # idempotent
    assert client_as(w.tto_a).post(url, json={**body, "reference": "OTHER"}).status_code == 409
    assert client_as(w.tto_a).post(url, json={"paid_date": "2024-07-10", "reference": " "}).status_code == 422
    assert _audits(session, sid) == 1
    lines = client_as(w.researcher).get(f"/api/v1/transfer/people/{w.alice.id}/income").json()
    assert (lines[0]["payout_status"], lines[0]["paid_date"]) == ("paid", "2024-07-10")


def _html(client, lang):
    client.headers["accept"] = "text/html"
    client.cookies.set("lang", lang)
    return client


@pytest.mark.parametrize(("lang", "words"), [("zh", ("未发放", "已发放", "记录发放")),
                                            ("en", ("Unpaid", "Paid out", "Record payment"))])
def test_pages(session, client_as, lang, words):
    unpaid, paid, button = words
    unpaid, paid = f'badge-warning">{unpaid}</span>', f'badge-success">{paid}</span>'
    w = world(session)
    event, shares = _income(session, w)
    alice, bob = shares[("member", w.alice.id)], shares[("member", w.bob.id)]
    page = f"/transfer/income/{event.id}?lang={lang}"
    tto = _html(client_as(w.tto_a), lang)
    html = tto.get(page).text
    assert html.count(f'action="/transfer/income/{event.id}/shares/') == 3 and button in html and unpaid in html

    def post(c, share, data, **kw):
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get(page).text).group(1)
        return c.post(f"/transfer/income/{event.id}/shares/{share.id}/payout", data={"csrf_token": token, **data},
                      follow_redirects=False, **kw)

    hx = {"HX-Request": "true"}
    # htmx: a refused date is shown in the row (200, htmx swaps 2xx only), the typed values kept
    r = post(tto, alice, {"paid_date": "2024-05-31", "reference": "PAY-7"}, headers=hx)
    assert r.status_code == 200 and f'id="paid-{alice.id}-error"' in r.text and 'value="PAY-7"' in r.text
    r = post(tto, alice, {"paid_date": "2024-07-10", "reference": "PAY-7"}, headers=hx)
    assert r.status_code == 200 and 'id="split"' in r.text and "PAY-7" in r.text and paid in r.text
    assert r.text.count(f'action="/transfer/income/{event.id}/shares/') == 2
    # without htmx: redirect back to the row; errors answer with their status
    r = post(tto, bob, {"paid_date": "", "reference": ""})
    assert r.status_code == 422 and f'id="ref-{bob.id}-error"' in r.text
    r = post(tto, bob, {"paid_date": "2024-07-11", "reference": "PAY-8"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"#share-{bob.id}")
    # another institution's officer: 404; the researcher: 403 and no form on their page
    other = _html(client_as(w.tto_b), lang)
    token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/transfer").text).group(1)
    assert other.post(f"/transfer/income/{event.id}/shares/{bob.id}/payout",
                      data={"csrf_token": token, "paid_date": "2024-07-11", "reference": "PAY-8"}).status_code == 404
    researcher = _html(client_as(w.researcher), lang)
    r = post(researcher, alice, {"paid_date": "2024-07-11", "reference": "X"})
    assert r.status_code == 403
    mine = _html(client_as(w.researcher), lang).get(page).text
    assert "payout-form" not in mine and paid in mine and "PAY-7" in mine
    # the researcher's page and ledger: paid with the date
    me = _html(client_as(w.researcher), lang).get(f"/transfer/me?lang={lang}").text
    assert paid in me and format_date(date(2024, 7, 10), lang) in me
    carol = _html(client_as(w.tto_a), lang).get(f"/transfer/people/{w.carol.id}/income?lang={lang}").text
    assert unpaid in carol
