"""Pages of the open listing, the 赋权 pilot list and the revenue-sharing rules: render in zh and en, who may
read and write, another institution's data answers 404, field errors beside the fields with the input kept."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kechuang.core.auth import Role
from kechuang.transfer import service
from kechuang.transfer.models import EmpowermentPilot
from kechuang.transfer.schemas import RuleIn
from tests.conftest import principal
from tests.queries import count_queries
from tests.transfer.helpers import achievement, world
from tests.transfer.test_pages import _As, _post


def _get(client, url: str, lang: str = "zh"):
    return client.get(url, headers={"accept-language": lang, "cookie": f"lang={lang}"})


# ---------------------------------------------------------------- open listing
def test_open_listing_renders_filters_and_hides_confidential_fields(session, client_as):
    w = world(session)
    a = achievement(session, w)
    secret = achievement(session, w, classified=True)
    b = achievement(session, w, owner=w.uni_b, kind="software_copyright")
    b.trl, b.fields = 8, ["人工智能"]
    session.flush()
    enterprise = _As(client_as, w.enterprise)
    zh = _get(enterprise, "/transfer/open")
    assert zh.status_code == 200 and "可转化科技成果" in zh.text and "Results open for transfer" not in zh.text
    assert a.title in zh.text and b.title in zh.text and secret.title not in zh.text
    en = _get(enterprise, "/transfer/open", "en")
    assert "Results open for transfer" in en.text
    # filters: kind, field, lowest TRL, search by number
    assert a.title not in enterprise.get("/transfer/open?kind=software_copyright").text
    only_ai = enterprise.get("/transfer/open?field=人工智能").text
    assert b.title in only_ai and a.title not in only_ai
    trl = enterprise.get("/transfer/open?trl=6").text
    assert b.title in trl and a.title not in trl
    assert a.title in enterprise.get(f"/transfer/open?q={a.number}").text
    # pagination through the shared helper
    paged = enterprise.get("/transfer/open?per_page=1&sort=id")
    assert a.title in paged.text and b.title not in paged.text and "page=2" in paged.text
    # htmx asks for the results only
    part = enterprise.get("/transfer/open?trl=6", headers={"hx-request": "true"})
    assert part.text.lstrip().startswith('<div id="open-results">')
    # a bad TRL is shown beside the field, the typed value kept
    bad = enterprise.get("/transfer/open?trl=12&q=abc")
    assert bad.status_code == 422 and 'id="trl-error"' in bad.text and 'value="12"' in bad.text
    assert 'value="abc"' in bad.text

    summary = _get(enterprise, f"/transfer/open/{a.id}")
    assert summary.status_code == 200 and a.title in summary.text and "甲大学" in summary.text
    for hidden in ("政府资助", "Government funding", "/transfer/people/", "book", "账面"):
        assert hidden not in summary.text
    assert f'href="/transfer/achievements/{a.id}"' not in summary.text  # no full record for the enterprise
    assert "Owning institutions" in _get(enterprise, f"/transfer/open/{a.id}", "en").text
    # the owner's TTO gets a link to the full record
    assert f'href="/transfer/achievements/{a.id}"' in _As(client_as, w.tto_a).get(f"/transfer/open/{a.id}").text
    # a classified result is not in the listing: 404 like a missing one
    assert enterprise.get(f"/transfer/open/{secret.id}").status_code == 404
    assert enterprise.get("/transfer/open/999999").status_code == 404


def test_results_no_longer_available_leave_the_listing(session, client_as):
    w = world(session)
    a = achievement(session, w)
    enterprise = _As(client_as, w.enterprise)
    service.set_stage(session, w.tto_a, a.id, "licensed")  # a licensed result may be licensed again
    assert a.title in enterprise.get("/transfer/open").text
    service.set_stage(session, w.tto_a, a.id, "transferred")
    assert a.title not in enterprise.get("/transfer/open").text
    assert enterprise.get(f"/transfer/open/{a.id}").status_code == 404
    assert _As(client_as, w.tto_a).get(f"/transfer/achievements/{a.id}").status_code == 200  # the record stays


def test_open_listing_is_for_logged_in_readers_only(session, client_as):
    w = world(session)
    a = achievement(session, w)
    investor = _As(client_as, principal(Role.INVESTOR))
    assert investor.get("/transfer/open").status_code == 200
    assert investor.get(f"/transfer/open/{a.id}").status_code == 200
    assert _As(client_as, principal(Role.EXPERT)).get("/transfer/open").status_code == 403
    anon = _As(client_as, None).get("/transfer/open", follow_redirects=False)
    assert anon.status_code in (303, 401)


def test_open_listing_field_filter_on_the_api(session, client_as):
    w = world(session)
    a = achievement(session, w)
    r = client_as(w.enterprise).get("/api/v1/transfer/achievements", params={"open": "true", "field": "新材料",
                                                                              "trl_min": 5})
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [a.id]
    assert client_as(w.enterprise).get("/api/v1/transfer/achievements?open=true&field=新").json()["total"] == 0


# ---------------------------------------------------------------- pilot list
def test_pilot_list_commission_adds_and_ends_others_read(session, client_as):
    w = world(session)  # uni_a on the list from 2023-08-01
    commission = _As(client_as, w.commission)
    zh = _get(commission, "/transfer/pilots")
    assert zh.status_code == 200 and "甲大学" in zh.text and 'action="/transfer/pilots"' in zh.text and "增加试点单位" in zh.text
    assert "Add an institution" in _get(commission, "/transfer/pilots", "en").text
    # field errors beside the fields, typed values kept
    bad = _post(commission, "/transfer/pilots", "/transfer/pilots",
                {"organisation_id": str(w.uni_b.id), "start_date": "2024-13-01", "end_date": "",
                 "basis": "第二批"}, expect=422)
    assert 'id="start_date-error"' in bad.text and 'value="2024-13-01"' in bad.text and 'value="第二批"' in bad.text
    bad = _post(commission, "/transfer/pilots", "/transfer/pilots",
                {"organisation_id": str(w.uni_b.id), "start_date": "2024-05-01", "end_date": "2024-01-01",
                 "basis": "第二批"}, expect=422)
    assert 'id="end_date-error"' in bad.text
    # an overlapping period of the same institution is refused beside the start date
    bad = _post(commission, "/transfer/pilots", "/transfer/pilots",
                {"organisation_id": str(w.uni_a.id), "start_date": "2024-05-01", "basis": "重复"}, expect=422)
    assert 'id="start_date-error"' in bad.text and 'value="重复"' in bad.text
    _post(commission, "/transfer/pilots", "/transfer/pilots",
          {"organisation_id": str(w.uni_b.id), "start_date": "2024-05-01", "basis": "沪科规〔2023〕9号 第二批"})
    pilot_b = session.query(EmpowermentPilot).filter_by(organisation_id=w.uni_b.id).one()
    assert pilot_b.start_date == date(2024, 5, 1) and pilot_b.end_date is None
    # ending: before the start is refused beside the row's date field
    bad = _post(commission, f"/transfer/pilots/{pilot_b.id}/end", "/transfer/pilots", {"end_date": "2024-01-01"},
                expect=422)
    assert f'id="end-{pilot_b.id}-error"' in bad.text and 'value="2024-01-01"' in bad.text
    _post(commission, f"/transfer/pilots/{pilot_b.id}/end", "/transfer/pilots", {"end_date": "2025-12-31"})
    session.refresh(pilot_b)
    assert pilot_b.end_date == date(2025, 12, 31)
    assert not service._on_pilot(session, w.uni_b.id, date(2026, 1, 1))
    assert service._on_pilot(session, w.uni_b.id, date(2025, 6, 1))
    # a missing pilot answers 404
    assert _post(commission, "/transfer/pilots/999999/end", "/transfer/pilots", {"end_date": "2025-01-01"},
                 expect=404)
    # others read it without the forms; a TTO cannot write
    tto = _As(client_as, w.tto_a)
    page = tto.get("/transfer/pilots")
    assert page.status_code == 200 and "乙研究所" in page.text and 'action="/transfer/pilots"' not in page.text
    assert _post(tto, "/transfer/pilots", "/transfer/pilots",
                 {"organisation_id": str(w.uni_b.id), "start_date": "2027-01-01", "basis": "x"}, expect=403)
    assert _As(client_as, principal(Role.EXPERT)).get("/transfer/pilots").status_code == 403


# ---------------------------------------------------------------- revenue-sharing rules
def test_rules_tto_records_versions_commission_reads_all(session, client_as):
    w = world(session)
    service.set_revenue_rule(session, w.tto_b, RuleIn(
        organisation_id=w.uni_b.id, valid_from_date=date(2020, 1, 1), team_share=Decimal("0.7"),
        department_share=Decimal("0.1"), institution_share=Decimal("0.2"), basis="乙所办法"))
    tto = _As(client_as, w.tto_a)
    zh = _get(tto, "/transfer/rules")
    assert zh.status_code == 200 and 'action="/transfer/rules"' in zh.text and "乙所办法" not in zh.text
    assert "登记新版本" in zh.text and 'inputmode="decimal"' in zh.text
    assert "Record a new version" in _get(tto, "/transfer/rules", "en").text
    # the team below the legal minimum: the reason beside the team share, every typed value kept
    bad = _post(tto, "/transfer/rules", "/transfer/rules",
                {"valid_from_date": "2024-01-01", "team_share": "40", "department_share": "20",
                 "institution_share": "40", "basis": "甲大学办法"}, expect=422)
    assert 'id="team_share-error"' in bad.text and 'value="40"' in bad.text and 'value="甲大学办法"' in bad.text
    bad = _post(tto, "/transfer/rules", "/transfer/rules",
                {"valid_from_date": "", "team_share": "abc", "department_share": "",
                 "institution_share": "30", "basis": ""}, expect=422)
    for f in ("valid_from_date", "team_share", "department_share", "basis"):
        assert f'id="{f}-error"' in bad.text
    assert 'value="abc"' in bad.text
    _post(tto, "/transfer/rules", "/transfer/rules",
          {"valid_from_date": "2020-01-01", "team_share": "70", "department_share": "10",
           "institution_share": "20", "basis": "甲大学办法（2020）"})
    _post(tto, "/transfer/rules", "/transfer/rules",
          {"valid_from_date": "2024-01-01", "team_share": "80", "department_share": "5",
           "institution_share": "15", "basis": "甲大学办法（2024）"})
    # the same date again is refused beside the date
    dup = _post(tto, "/transfer/rules", "/transfer/rules",
                {"valid_from_date": "2024-01-01", "team_share": "90", "department_share": "5",
                 "institution_share": "5", "basis": "x"}, expect=422)
    assert 'id="valid_from_date-error"' in dup.text
    rules = service.list_rules(session, w.tto_a)
    assert [(r.valid_from_date, r.team_share) for r in rules] == [(date(2024, 1, 1), Decimal("0.8")),
                                                                   (date(2020, 1, 1), Decimal("0.7"))]
    assert service.rule_in_force(rules, w.uni_a.id, date(2023, 6, 1)).valid_from_date == date(2020, 1, 1)
    page = tto.get("/transfer/rules").text
    assert "甲大学办法（2024）" in page and "80.00%" in page and "现行" in page and "已被取代" in page
    # another institution's rules answer 404 to a TTO
    assert tto.get(f"/transfer/rules?organisation_id={w.uni_b.id}").status_code == 404
    # the commission reads every institution's, without the form
    commission = _As(client_as, w.commission)
    all_rules = commission.get("/transfer/rules").text
    assert "甲大学办法（2024）" in all_rules and "乙所办法" in all_rules and 'action="/transfer/rules"' not in all_rules
    one = commission.get(f"/transfer/rules?organisation_id={w.uni_b.id}").text
    assert "乙所办法" in one and "甲大学办法" not in one
    assert commission.get("/transfer/rules?organisation_id=999999").status_code == 404
    # the commission cannot record, a researcher or an enterprise cannot read
    assert _post(commission, "/transfer/rules", "/transfer/pilots",
                 {"valid_from_date": "2025-01-01", "team_share": "70", "department_share": "10",
                  "institution_share": "20", "basis": "x"}, expect=403)
    assert _As(client_as, w.researcher).get("/transfer/rules").status_code == 403
    assert _As(client_as, w.enterprise).get("/transfer/rules").status_code == 403


def test_workbench_links_the_new_pages(session, client_as):
    w = world(session)
    page = _As(client_as, w.tto_a).get("/transfer").text
    assert 'href="/transfer/open"' in page and 'href="/transfer/pilots"' in page and 'href="/transfer/rules"' in page
    assert 'href="/transfer/rules"' not in _As(client_as, w.enterprise).get("/transfer").text
    me = _As(client_as, w.researcher).get("/transfer/me").text
    assert 'href="/transfer/open"' in me and 'href="/transfer/pilots"' in me


def test_pilot_and_rule_api(session, client_as):
    w = world(session)
    def commission():
        return client_as(w.commission)

    def tto():
        return client_as(w.tto_a)

    r = commission().post("/api/v1/transfer/pilots", json={"organisation_id": w.uni_b.id, "start_date": "2024-05-01",
                                                         "basis": "第二批"})
    assert r.status_code == 201
    pid = r.json()["id"]
    overlap = commission().post("/api/v1/transfer/pilots", json={"organisation_id": w.uni_b.id,
                                                               "start_date": "2025-01-01", "basis": "x"})
    assert overlap.status_code == 422 and overlap.json()["error"]["errors"][0]["field"] == "start_date"
    ended = commission().post(f"/api/v1/transfer/pilots/{pid}/end", json={"end_date": "2025-12-31"})
    assert ended.status_code == 200 and ended.json()["end_date"] == "2025-12-31"
    assert commission().post(f"/api/v1/transfer/pilots/{pid}/end", json={"end_date": "2026-06-30"}).status_code == 422
    assert commission().post("/api/v1/transfer/pilots/999999/end", json={"end_date": "2026-06-30"}).status_code == 404
    assert tto().post(f"/api/v1/transfer/pilots/{pid}/end", json={"end_date": "2025-06-30"}).status_code == 403
    listed = tto().get("/api/v1/transfer/pilots").json()
    assert {p["organisation_id"] for p in listed} == {w.uni_a.id, w.uni_b.id}
    assert client_as(principal(Role.EXPERT)).get("/api/v1/transfer/pilots").status_code == 403

    rule = {"organisation_id": w.uni_a.id, "valid_from_date": "2024-01-01", "team_share": "0.7",
            "department_share": "0.1", "institution_share": "0.2", "basis": "办法"}
    assert tto().post("/api/v1/transfer/rules", json=rule).status_code == 201
    assert tto().post("/api/v1/transfer/rules", json=rule).status_code == 422  # same date again
    assert [r["valid_from_date"] for r in tto().get("/api/v1/transfer/rules").json()] == ["2024-01-01"]
    assert tto().get(f"/api/v1/transfer/rules?organisation_id={w.uni_b.id}").status_code == 404
    assert len(client_as(w.commission).get("/api/v1/transfer/rules").json()) == 1
    assert client_as(w.enterprise).get("/api/v1/transfer/rules").status_code == 403


def test_open_listing_queries_do_not_grow_with_the_rows(session, client_as):

    w = world(session)
    counts = []
    for n in (2, 12):
        for _ in range(n - (2 if counts else 0)):
            achievement(session, w, owner=w.uni_b if n % 2 else w.uni_a)
        client = _As(client_as, principal(Role.INVESTOR))
        with count_queries(session) as seen:
            assert client.get("/transfer/open?per_page=50").status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1] and counts[1] <= 6, counts
