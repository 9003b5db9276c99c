"""Income received without a technology contract (e.g. licence royalties reported directly): the form on the
achievement page, its field errors, idempotency, scoping, and the service's refusal of a contract or transfer
of another result."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from kechuang.core.errors import ValidationFailed
from kechuang.transfer import service
from kechuang.transfer.models import IncomeEvent, IncomeShare
from kechuang.transfer.schemas import IncomeIn, TransferCreate
from tests.transfer.helpers import achievement, contract, world
from tests.transfer.test_pages import _As, _csrf, _html, _post


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def _licence(session, w, a):
    t = service.create_transfer(session, w.tto_a, TransferCreate(achievement_id=a.id, mode="self_implementation"))
    service.complete_transfer(session, w.tto_a, t.id, on=date(2024, 4, 1))
    return t


def test_royalties_recorded_on_the_achievement_page_are_split_exactly(session, client_as):
    w = world(session)
    a = achievement(session, w)
    t = _licence(session, w, a)
    tto = _As(client_as, w.tto_a)
    url = f"/transfer/achievements/{a.id}"
    page = tto.get(f"{url}?income_transfer={t.id}")
    assert f'action="/transfer/achievements/{a.id}/income"' in page.text
    assert f'<option value="{t.id}" selected>' in page.text  # preselected from the transfer page's link
    assert f"?income_transfer={t.id}#income" in tto.get(f"/transfer/transfers/{t.id}").text
    key = _key(page.text)
    form = {"idempotency_key": key, "received_date": "2024-06-30", "amount": "10,000.03", "costs": "0.01",
            "cost_note": "汇款手续费", "transfer_id": str(t.id)}
    r = _post(tto, f"{url}/income", url, form)
    event_id = int(r.headers["location"].rsplit("/", 1)[1])
    e = session.get(IncomeEvent, event_id)
    assert (e.contract_id, e.transfer_id, e.achievement_id, e.amount_fen, e.net_fen) == (None, t.id, a.id,
                                                                                         1_000_003, 1_000_002)
    parts = list(session.scalars(select(IncomeShare).where(IncomeShare.income_event_id == e.id)))
    assert sum(p.amount_fen for p in parts) == e.net_fen
    # legal default (no rule): the team gets at least half, rounded up to the fen, split 50/30/20
    assert sum(p.amount_fen for p in parts if p.party == "member") == 500_001
    # the same form posted twice (a double click) records the income once
    _post(tto, f"{url}/income", url, form)
    assert session.scalar(select(IncomeEvent.id).where(IncomeEvent.idempotency_key == key)) == e.id
    assert len(list(session.scalars(select(IncomeEvent).where(IncomeEvent.achievement_id == a.id)))) == 1
    assert "transfer #" in tto.get(f"{url}?lang=en").text


def test_income_form_errors_stay_on_the_form(session, client_as):
    w = world(session)
    a = achievement(session, w)
    tto = _As(client_as, w.tto_a)
    url = f"/transfer/achievements/{a.id}"
    bad = _post(tto, f"{url}/income", url, {"idempotency_key": "k-err", "received_date": "30/06/2024",
                                            "amount": "", "costs": "1.234"}, expect=422)
    for field in ("received_date", "amount", "costs"):
        assert f'id="{field}-error"' in bad.text, field
    assert 'value="30/06/2024"' in bad.text and "<details class=\"card\" open>" in bad.text
    bad = _post(tto, f"{url}/income", url, {"idempotency_key": "k-err", "received_date": "2024-06-30",
                                            "amount": "100", "costs": "150"}, expect=422)
    assert 'id="costs-error"' in bad.text and 'value="150"' in bad.text
    other = achievement(session, w)
    t = _licence(session, w, other)
    c = _html(client_as(w.tto_a))
    token = _csrf(c.get(f"{url}?lang=en").text)
    r = c.post(f"{url}/income?lang=en", data={"csrf_token": token, "idempotency_key": "k-x", "transfer_id": str(t.id),
                                               "received_date": "2024-06-30", "amount": "100"})
    assert r.status_code == 422 and 'id="transfer_id-error"' in r.text and "This transfer is of another result." \
        in r.text
    assert session.scalar(select(IncomeEvent.id).where(IncomeEvent.achievement_id == a.id)) is None


def test_only_the_owning_tto_records_income(session, client_as):
    w = world(session)
    a = achievement(session, w)
    url = f"/transfer/achievements/{a.id}"
    data = {"idempotency_key": "k-scope", "received_date": "2024-06-30", "amount": "100"}
    assert "Record income without a contract" not in _html(client_as(w.commission)).get(f"{url}?lang=en").text
    for p in (w.commission, w.researcher, w.enterprise):
        assert _post(_As(client_as, p), f"{url}/income", "/login", data, expect=403)
    assert _post(_As(client_as, w.tto_b), f"{url}/income", "/login", data, expect=404)
    assert session.scalar(select(IncomeEvent.id).where(IncomeEvent.idempotency_key == "k-scope")) is None


def test_service_refuses_a_contract_or_transfer_of_another_result(session):
    w = world(session)
    a, b = achievement(session, w), achievement(session, w)
    c = contract(session, w, achievement_id=b.id)
    t = _licence(session, w, b)
    for field, extra in (("contract_id", {"contract_id": c.id}), ("transfer_id", {"transfer_id": t.id})):
        with pytest.raises(ValidationFailed) as exc:
            service.record_income(session, w.tto_a, IncomeIn(idempotency_key=f"x-{field}", achievement_id=a.id,
                                                             received_date=date(2024, 5, 1), amount_fen=100_00,
                                                             **extra))
        assert exc.value.errors[0].field == field
    event, created = service.record_income(session, w.tto_a, IncomeIn(
        idempotency_key="ok", transfer_id=t.id, received_date=date(2024, 5, 1), amount_fen=100_00))
    assert created and event.achievement_id == b.id and event.contract_id is None
