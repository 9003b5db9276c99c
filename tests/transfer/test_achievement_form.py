"""Registering and correcting an achievement: the service rule (editable until something refers to it), the
API, and the HTML form with its field errors (field + reason, typed values kept) in both languages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from kechuang.core.audit import AuditEntry
from kechuang.core.errors import NotFound, ValidationFailed
from kechuang.registry.models import Affiliation
from kechuang.transfer import service
from kechuang.transfer.models import AchievementMember, LedgerEntry
from kechuang.transfer.schemas import (
    AchievementCreate,
    ApplicationCreate,
    IncomeIn,
    MemberIn,
    OwnerIn,
    TransferCreate,
    ValuationIn,
)
from tests.transfer.helpers import achievement, contract, world
from tests.transfer.test_pages import _As, _csrf, _html, _post

D = Decimal


def _data(a, **changes) -> AchievementCreate:
    base = {"kind": a.kind, "title": a.title, "number": a.number, "trl": a.trl, "fields": a.fields,
            "keywords": a.keywords, "government_funding_fen": a.government_funding_fen,
            "is_classified": a.is_classified,
            "owners": [OwnerIn(organisation_id=o.organisation_id, share=o.share) for o in a.owners],
            "members": [MemberIn(person_id=m.person_id, contribution=m.contribution) for m in a.members]}
    return AchievementCreate(**{**base, **changes})


def _entries(session, a) -> dict[int, LedgerEntry]:
    return {e.organisation_id: e for e in session.scalars(select(LedgerEntry).where(
        LedgerEntry.achievement_id == a.id))}


# ---------------------------------------------------------------- service
def test_update_replaces_fields_owners_and_team_and_follows_the_ledger(session):
    w = world(session)
    a = achievement(session, w)
    old_title = a.title
    service.update_achievement(session, w.tto_a, a.id, _data(
        a, title="更正后的题目", trl=7,
        owners=[OwnerIn(organisation_id=w.uni_a.id, share=D("0.6")), OwnerIn(organisation_id=w.uni_b.id,
                                                                           share=D("0.4"))],
        members=[MemberIn(person_id=w.alice.id, contribution=D("0.7")),
                 MemberIn(person_id=w.carol.id, contribution=D("0.3"))]), on=date(2024, 2, 1))
    session.expire_all()
    got = service.access_achievement_by_id(session, w.tto_a, a.id)
    assert (got.title, got.trl) == ("更正后的题目", 7)
    assert {o.organisation_id: o.share for o in got.owners} == {w.uni_a.id: D("0.6"), w.uni_b.id: D("0.4")}
    assert {m.person_id: m.contribution for m in got.members} == {w.alice.id: D("0.7"), w.carol.id: D("0.3")}
    entries = _entries(session, a)
    assert set(entries) == {w.uni_a.id, w.uni_b.id}
    assert entries[w.uni_b.id].stage == "registered" and entries[w.uni_b.id].registered_date == date(2024, 2, 1)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "transfer.achievement.update",
                                                     AuditEntry.object_id == str(a.id))).one()
    assert (entry.before["title"], entry.after["title"]) == (old_title, "更正后的题目")
    assert len(entry.before["members"]) == 3 and len(entry.after["members"]) == 2
    # the co-owner goes again: its untouched ledger entry goes with it
    service.update_achievement(session, w.tto_a, a.id, _data(got, owners=[OwnerIn(organisation_id=w.uni_a.id,
                                                                                  share=D(1))]))
    assert set(_entries(session, a)) == {w.uni_a.id}


def test_update_keeps_the_rules_of_create(session):
    w = world(session)
    a = achievement(session, w)
    other = achievement(session, w)
    with pytest.raises(ValidationFailed) as exc:
        service.update_achievement(session, w.tto_a, a.id, _data(
            a, number=other.number, members=[MemberIn(person_id=w.alice.id, contribution=D("0.9"))],
            owners=[OwnerIn(organisation_id=w.uni_b.id, share=D(1))]))
    fields = {e.field for e in exc.value.errors}
    assert fields == {"number", "members", "owners"}
    reasons = " ".join(e.render("en")["reason"] for e in exc.value.errors)
    assert "sum to 90.00%" in reasons and "Your institution must be one of the owners" in reasons
    service.update_achievement(session, w.tto_a, a.id, _data(a, number=a.number))  # its own number is fine


def test_update_is_refused_for_another_institution_and_for_other_roles(session):
    w = world(session)
    a = achievement(session, w)
    with pytest.raises(NotFound):
        service.update_achievement(session, w.tto_b, a.id, _data(a))
    for p in (w.commission, w.researcher, w.enterprise):
        with pytest.raises(Exception) as exc:
            service.update_achievement(session, p, a.id, _data(a))
        assert getattr(exc.value, "status_code", None) == 403


@pytest.mark.parametrize("built", ["application", "transfer", "contract", "income"])
def test_a_result_something_refers_to_is_frozen(session, built):
    w = world(session)
    a = achievement(session, w)
    assert service.is_editable(session, w.tto_a, a)
    if built == "application":
        service.create_application(session, w.researcher, ApplicationCreate(
            achievement_id=a.id, organisation_id=w.uni_a.id, kind="full_ownership"))
    elif built == "transfer":
        service.create_transfer(session, w.tto_a, TransferCreate(achievement_id=a.id, mode="self_implementation"))
    elif built == "contract":
        contract(session, w, achievement_id=a.id)
    else:
        service.record_income(session, w.tto_a, IncomeIn(idempotency_key="frozen-1", achievement_id=a.id,
                                                         received_date=date(2024, 5, 1), amount_fen=100_00))
    assert not service.is_editable(session, w.tto_a, a)
    with pytest.raises(service.AchievementLocked) as exc:
        service.update_achievement(session, w.tto_a, a.id, _data(a, title="改"))
    assert exc.value.status_code == 409
    words = {"application": "赋权 application", "transfer": "transfer", "contract": "technology contract",
             "income": "income"}[built]
    assert words in exc.value.render_message("en") and "no longer be edited" in exc.value.render_message("en")
    assert "不能再编辑" in exc.value.render_message("zh")


def test_a_co_owner_that_valued_the_result_stays(session):
    w = world(session)
    a = achievement(session, w)
    service.update_achievement(session, w.tto_a, a.id, _data(a, owners=[
        OwnerIn(organisation_id=w.uni_a.id, share=D("0.5")), OwnerIn(organisation_id=w.uni_b.id, share=D("0.5"))]))
    service.add_valuation(session, w.tto_b, a.id, ValuationIn(valuation_date=date(2024, 3, 1), method="cost",
                                                              value_fen=10_000_00))
    with pytest.raises(ValidationFailed) as exc:
        service.update_achievement(session, w.tto_a, a.id, _data(a, owners=[OwnerIn(organisation_id=w.uni_a.id,
                                                                                     share=D(1))]))
    assert exc.value.errors[0].field == "owners" and "乙研究所" in exc.value.errors[0].render("en")["reason"]
    assert set(_entries(session, a)) == {w.uni_a.id, w.uni_b.id}


# ---------------------------------------------------------------- API
def test_api_put_corrects_and_then_refuses(session, client_as):
    w = world(session)
    a = achievement(session, w)
    body = _data(a, title="API 更正").model_dump(mode="json")
    r = client_as(w.tto_a).put(f"/api/v1/transfer/achievements/{a.id}", json=body)
    assert r.status_code == 200 and r.json()["title"] == "API 更正"
    assert client_as(w.tto_b).put(f"/api/v1/transfer/achievements/{a.id}", json=body).status_code == 404
    assert client_as(w.commission).put(f"/api/v1/transfer/achievements/{a.id}", json=body).status_code == 403
    service.create_transfer(session, w.tto_a, TransferCreate(achievement_id=a.id, mode="self_implementation"))
    r = client_as(w.tto_a).put(f"/api/v1/transfer/achievements/{a.id}", json=body, headers={"accept-language": "en"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


# ---------------------------------------------------------------- pages
def _form(w, **over) -> dict:
    data = {"kind": "invention_patent", "title": "一种页面登记的方法", "number": "ZL202410000777.1", "trl": "4",
            "fields": "新材料、能源", "keywords": "电池，固态", "government_funding": "1,200,000.50",
            "owner": [f"#{w.uni_a.id}", ""], "owner_share": ["100", ""],
            "member": [f"#{w.alice.id}", w.bob.external_id, ""], "member_share": ["60", "40", ""]}
    data.update(over)
    return data


def test_register_a_result_through_the_form(session, client_as):
    w = world(session)
    session.add(Affiliation(person_id=w.alice.id, organisation_id=w.uni_a.id))
    session.flush()
    tto = _As(client_as, w.tto_a)
    page = tto.get("/transfer/achievements/new")
    assert page.status_code == 200
    assert f'value="{w.uni_a.name_zh} · {w.uni_a.credit_code}"' in page.text  # own institution prefilled at 100%
    assert f"{w.alice.name_zh} · #{w.alice.id}" in page.text  # the institution's people in the picker
    assert 'href="/transfer/achievements/new"' in tto.get("/transfer").text
    r = _post(tto, "/transfer/achievements", "/transfer/achievements/new", _form(w))
    a_id = int(r.headers["location"].rsplit("/", 1)[1])
    a = service.access_achievement_by_id(session, w.tto_a, a_id)
    assert (a.title, a.trl, a.government_funding_fen) == ("一种页面登记的方法", 4, 120000050)
    assert a.fields == ["新材料", "能源"] and a.keywords == ["电池", "固态"]
    assert {m.person_id: m.contribution for m in a.members} == {w.alice.id: D("0.6"), w.bob.id: D("0.4")}
    assert _entries(session, a)[w.uni_a.id].stage == "registered"
    page = tto.get(f"/transfer/achievements/{a_id}")
    assert f'href="/transfer/achievements/{a_id}/edit"' in page.text


def test_form_errors_stay_next_to_their_fields(session, client_as):
    w = world(session)
    tto = _As(client_as, w.tto_a)
    bad = _post(tto, "/transfer/achievements", "/transfer/achievements/new", _form(
        w, title="", member=[f"#{w.alice.id}", "无此人", ""], member_share=["60", "30", ""],
        government_funding="12.345"), expect=422)
    html = bad.text
    assert 'id="title-error"' in html and 'id="member-1-error"' in html and "无此人" in html
    assert 'id="government_funding-error"' in html and 'value="12.345"' in html
    assert 'id="f-member-1"' in html and 'aria-invalid="true" aria-describedby="member-1-error"' in html
    # shares that do not add up: the team fieldset carries the service's reason; values are kept
    bad = _post(tto, "/transfer/achievements", "/transfer/achievements/new",
                _form(w, member_share=["60", "30", ""]), expect=422)
    assert 'id="members-error"' in bad.text and "90.00%" in bad.text and 'value="30"' in bad.text
    # in English, a share of zero and a missing share name their rows
    c = _html(client_as(w.tto_a))
    token = _csrf(c.get("/transfer/achievements/new?lang=en").text)
    r = c.post("/transfer/achievements?lang=en", data={"csrf_token": token, **_form(
        w, owner_share=["0", ""], member_share=["", "40", ""])})
    assert r.status_code == 422
    assert "A share is above 0%." in r.text and "Enter the share in percent." in r.text
    assert 'id="owner_share-0-error"' in r.text and 'id="member_share-0-error"' in r.text
    assert not service.list_achievements(session, w.tto_a, service.PageParams())[0]


def test_edit_page_until_the_result_is_used(session, client_as):
    w = world(session)
    a = achievement(session, w)
    tto = _As(client_as, w.tto_a)
    url = f"/transfer/achievements/{a.id}/edit"
    page = tto.get(url)
    assert page.status_code == 200 and f'value="{a.title}"' in page.text and 'value="50"' in page.text
    _post(tto, url, url, _form(w, title="更正题目", number=a.number, member=[f"#{w.alice.id}"], member_share=["100"]))
    assert [m.person_id for m in session.scalars(select(AchievementMember).where(
        AchievementMember.achievement_id == a.id))] == [w.alice.id]
    assert _html(client_as(w.tto_b)).get(url).status_code == 404
    assert _html(client_as(w.commission)).get(url).status_code == 403
    service.create_transfer(session, w.tto_a, TransferCreate(achievement_id=a.id, mode="self_implementation"))
    locked = tto.get(url + "?lang=en")
    assert locked.status_code == 409 and "a transfer refers to it" in locked.text
    assert f'href="{url}"' not in tto.get(f"/transfer/achievements/{a.id}").text
    refused = _post(tto, url, f"/transfer/achievements/{a.id}", _form(w, number=a.number), expect=409)
    assert "alert-error" in refused.text


@pytest.mark.parametrize("who", ["commission", "researcher", "enterprise"])
def test_only_tto_officers_register_results(session, client_as, who):
    w = world(session)
    p = {"commission": w.commission, "researcher": w.researcher, "enterprise": w.enterprise}[who]
    assert _html(client_as(p)).get("/transfer/achievements/new").status_code == 403
    assert 'href="/transfer/achievements/new"' not in _html(client_as(w.commission)).get("/transfer").text
