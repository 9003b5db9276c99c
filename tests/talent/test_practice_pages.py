"""Industry-practice pages (产学研践习, 挂职, 离岗创业): the home university's officer records a teacher's
placement through the pickers, corrects it and records a return from leave; the teacher files the outcome
report; the host enterprise rates it; lists are paginated, filtered and scoped per role (another unit's
record answers 404, in the pages and the API); every write is audited."""

from __future__ import annotations

import html
import re
from datetime import date

from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import PracticeRecord
from tests.conftest import principal
from tests.factories import make_organisation, make_person
from tests.queries import count_queries
from tests.talent.test_pages import _As, _csrf
from tests.talent.world import affiliate, make_world

TASKS = "参与企业产线缺陷检测系统研发，负责算法设计与现场部署。"


def _placement(session, w, teacher, host, **kw) -> PracticeRecord:
    data = {"person_id": teacher.id, "host_organisation_id": host.id, "kind": "placement", "round_label": "2024",
            "start_date": date(2024, 9, 1), "end_date": date(2025, 7, 10), "tasks": TASKS, **kw}
    return svc.create_practice(session, w.tto, svc.PracticeIn(**data))


def _post(client: _As, url: str, page_url: str, data: dict, expect: int = 303):
    c = client.client_as(client.p)
    c.headers["accept"] = "text/html"
    r = c.post(url, data={"csrf_token": _csrf(c.get(page_url).text), **data}, follow_redirects=False)
    assert r.status_code == expect, r.text[-3000:]
    return r


def _actions(session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("talent.practice.%"))
                                .order_by(AuditEntry.id)))


def test_officer_records_a_placement_through_the_pickers_and_corrects_it(session, client_as):
    w = make_world(session, n_candidates=2, n_experts=0)
    teacher = w.candidates[0]
    outsider = make_person(session, name_zh="外校教师", name_en="Outside Teacher")
    affiliate(session, outsider, w.other_uni)
    tto = _As(client_as, w.tto)

    form = tto.get("/talent/practice/new")
    assert form.status_code == 200
    assert 'hx-get="/talent/practice/people"' in form.text and 'hx-get="/talent/practice/hosts"' in form.text
    assert "talent_title" not in form.text and "人才称号" not in form.text
    # Teacher picker: the registry's people search, scoped to the officer's university.
    people = tto.get("/talent/practice/people", params={"person_q": "候选人"}).text
    assert f'value="{teacher.id}"' in people and f'value="{outsider.id}"' not in people
    assert f'value="{outsider.id}"' not in tto.get("/talent/practice/people", params={"person_q": "外校"}).text
    # Host picker: by name (two characters at least) or credit code; never the officer's own university.
    assert f'value="{w.firm.id}"' in tto.get("/talent/practice/hosts", params={"host_q": "测试科技"}).text
    assert f'value="{w.firm.id}"' in tto.get("/talent/practice/hosts", params={"host_q": w.firm.credit_code}).text
    assert 'type="radio"' not in tto.get("/talent/practice/hosts", params={"host_q": "测"}).text
    assert f'value="{w.uni.id}"' not in tto.get("/talent/practice/hosts", params={"host_q": "示例理工"}).text
    # The choice survives another search (it stays listed, checked).
    kept = tto.get("/talent/practice/hosts", params={"host_q": "另一所", "host_organisation_id": w.firm.id}).text
    assert re.search(rf'value="{w.firm.id}" checked', kept)

    # Without JavaScript "Search" re-renders the form with the matches and what was typed.
    r = _post(tto, "/talent/practice/new", "/talent/practice/new",
              {"action": "search", "person_q": "候选人甲", "host_q": "测试科技", "tasks": TASKS}, expect=200)
    assert f'value="{teacher.id}"' in r.text and f'value="{w.firm.id}"' in r.text and TASKS in r.text

    # Refused with the reasons beside the fields: nothing chosen, a 2024 placement shorter than the year.
    r = _post(tto, "/talent/practice/new", "/talent/practice/new",
              {"kind": "placement", "round_label": "2024", "start_date": "2024-09-01", "end_date": "2025-01-31",
               "tasks": "短"}, expect=422)
    assert "请从列表中选择教师" in r.text and 'id="f-person_id"' in r.text and "field-invalid" in r.text
    r = _post(tto, "/talent/practice/new", "/talent/practice/new",
              {"person_id": teacher.id, "host_organisation_id": w.firm.id, "kind": "placement", "round_label": "2024",
               "start_date": "2024-09-01", "end_date": "2025-01-31", "tasks": "短"}, expect=422)
    assert "2024-09-01" in r.text and "2025-06-30" in r.text and 'aria-invalid="true"' in r.text
    assert session.scalar(select(func.count()).select_from(PracticeRecord)) == 0

    r = _post(tto, "/talent/practice/new", "/talent/practice/new",
              {"person_id": teacher.id, "host_organisation_id": w.firm.id, "kind": "placement", "round_label": "2024",
               "start_date": "2024-09-01", "end_date": "2025-07-10", "tasks": TASKS, "mentor_name": "王工"})
    pid = int(re.search(r"/talent/practice/(\d+)", r.headers["location"]).group(1))
    page = tto.get(r.headers["location"])
    assert page.status_code == 200 and TASKS in page.text and "王工" in page.text and "测试科技有限公司" in page.text
    assert "已保存" in page.text and f'href="/talent/practice/{pid}/edit"' in page.text

    edit = tto.get(f"/talent/practice/{pid}/edit")
    assert edit.status_code == 200 and 'value="2025-07-10"' in edit.text
    _post(tto, f"/talent/practice/{pid}/edit", f"/talent/practice/{pid}/edit",
          {"end_date": "2025-01-31", "tasks": TASKS, "round_label": "2024"}, expect=422)
    _post(tto, f"/talent/practice/{pid}/edit", f"/talent/practice/{pid}/edit",
          {"end_date": "2025-08-31", "tasks": TASKS + "另承担员工培训。", "round_label": "2024", "mentor_name": "李工"})
    rec = session.get(PracticeRecord, pid)
    assert (rec.end_date, rec.mentor_name) == (date(2025, 8, 31), "李工") and rec.tasks.endswith("员工培训。")
    assert _actions(session) == ["talent.practice.create", "talent.practice.update"]


def test_teacher_reports_host_rates_and_leave_closes_with_the_return(session, client_as):
    w = make_world(session, n_candidates=2, n_experts=0)
    teacher, colleague = w.candidates
    p = _placement(session, w, teacher, w.firm)
    leave = svc.create_practice(session, w.tto, svc.PracticeIn(
        person_id=colleague.id, host_organisation_id=w.firm.id, kind="entrepreneurship", start_date=date(2023, 3, 1),
        end_date=date(2026, 2, 28), tasks="离岗创办科技企业，转化本人专利成果。"))
    me, host = _As(client_as, w.researcher(teacher)), _As(client_as, principal(Role.ENTERPRISE, organisation_id=w.firm.id))

    page = me.get(f"/talent/practice/{p.id}")
    assert page.status_code == 200 and f'action="/talent/practice/{p.id}/report"' in page.text
    assert "/edit" not in page.text and "host-evaluation" not in page.text
    _post(me, f"/talent/practice/{p.id}/report", f"/talent/practice/{p.id}", {"outcome_report": "短"}, expect=422)
    _post(me, f"/talent/practice/{p.id}/report", f"/talent/practice/{p.id}",
          {"outcome_report": "完成产线良率提升方案，形成技术报告两份。"})
    assert me.get(f"/talent/practice/{leave.id}").status_code == 404  # a colleague's record

    hosted = host.get(f"/talent/practice/{p.id}")
    assert f'action="/talent/practice/{p.id}/host-evaluation"' in hosted.text and "/report" not in hosted.text
    _post(host, f"/talent/practice/{p.id}/host-evaluation", f"/talent/practice/{p.id}",
          {"host_rating": "nonsense"}, expect=422)
    _post(host, f"/talent/practice/{p.id}/host-evaluation", f"/talent/practice/{p.id}",
          {"host_rating": "excellent", "host_evaluation": "解决了两项工艺难题。"})
    assert session.get(PracticeRecord, p.id).status == "completed"
    done = host.get(f"/talent/practice/{p.id}?lang=en")
    assert "Completed" in done.text and "host-evaluation" not in done.text  # closed: no more forms
    other_host = _As(client_as, principal(Role.ENTERPRISE, organisation_id=w.other_uni.id))
    assert other_host.get(f"/talent/practice/{p.id}").status_code == 404

    tto = _As(client_as, w.tto)
    page = tto.get(f"/talent/practice/{leave.id}")
    assert f'action="/talent/practice/{leave.id}/return"' in page.text and "host-evaluation" not in page.text
    _post(tto, f"/talent/practice/{leave.id}/return", f"/talent/practice/{leave.id}",
          {"return_date": "2022-01-01"}, expect=422)  # before the start
    _post(tto, f"/talent/practice/{leave.id}/return", f"/talent/practice/{leave.id}",
          {"return_date": "2025-12-31", "outcome_report": "企业完成A轮融资，本人按期返岗。"})
    rec = session.get(PracticeRecord, leave.id)
    assert (rec.status, rec.return_date) == ("completed", date(2025, 12, 31))
    assert tto.get(f"/talent/practice/{leave.id}/edit").status_code == 200  # renders; saving is refused (409)
    _post(tto, f"/talent/practice/{leave.id}/edit", f"/talent/practice/{leave.id}/edit",
          {"end_date": "2026-06-30", "tasks": "离岗创办科技企业，转化本人专利成果。"}, expect=409)
    assert _actions(session) == ["talent.practice.create", "talent.practice.create", "talent.practice.report",
                                 "talent.practice.host_evaluate", "talent.practice.return"]


def test_another_units_record_is_404_in_pages_and_api(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=0)
    p = _placement(session, w, w.candidates[0], w.firm)
    other = _As(client_as, w.tto_other)
    for url in (f"/talent/practice/{p.id}", f"/talent/practice/{p.id}/edit"):
        assert other.get(url).status_code == 404, url
    c = other.client_as(other.p)
    c.headers["accept"] = "text/html"
    token = _csrf(c.get("/talent/practice/new").text)
    for url, data in ((f"/talent/practice/{p.id}/edit", {"end_date": "2025-08-31", "tasks": TASKS}),
                      (f"/talent/practice/{p.id}/return", {"return_date": "2025-08-31"})):
        assert c.post(url, data={"csrf_token": token, **data}, follow_redirects=False).status_code == 404, url
    assert f"/talent/practice/{p.id}" not in other.get("/talent/practice").text
    # ... the teacher picker does not offer the other university's people
    assert f'value="{w.candidates[0].id}"' not in other.get("/talent/practice/people").text
    api = client_as(w.tto_other)
    assert api.get(f"/api/v1/talent/practice/{p.id}").status_code == 404
    assert api.patch(f"/api/v1/talent/practice/{p.id}", json={"end_date": "2025-08-31", "tasks": TASKS}).status_code == 404
    assert api.get("/api/v1/talent/practice").json()["total"] == 0
    assert session.get(PracticeRecord, p.id).end_date == date(2025, 7, 10)
    mine = client_as(w.tto).patch(f"/api/v1/talent/practice/{p.id}", json={"end_date": "2025-08-31", "tasks": TASKS,
                                                                           "round_label": "2024"})
    assert mine.status_code == 200 and mine.json()["end_date"] == "2025-08-31"
    short = client_as(w.tto).patch(f"/api/v1/talent/practice/{p.id}", json={"end_date": "2025-01-31", "tasks": TASKS,
                                                                            "round_label": "2024"})
    assert short.status_code == 422 and short.json()["error"]["errors"][0]["field"] == "end_date"


def test_roles_reach_the_pages_they_may_use(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=1)
    p = _placement(session, w, w.candidates[0], w.firm)
    host = principal(Role.ENTERPRISE, organisation_id=w.firm.id)
    researcher, expert = w.researcher(w.candidates[0]), w.expert(w.experts[0])
    expect = {
        "/talent/practice": {w.tto: 200, w.commission: 200, researcher: 200, host: 200, expert: 403},
        "/talent/practice/new": {w.tto: 200, w.commission: 403, researcher: 403, host: 403, expert: 403},
        "/talent/practice/people": {w.tto: 200, w.commission: 403, researcher: 403, host: 403, expert: 403},
        "/talent/practice/hosts?host_q=测试": {w.tto: 200, w.commission: 403, researcher: 403, host: 403},
        f"/talent/practice/{p.id}": {w.tto: 200, w.commission: 200, researcher: 200, host: 200, expert: 403},
        f"/talent/practice/{p.id}/edit": {w.tto: 200, w.commission: 403, researcher: 403, host: 403},
    }
    for url, by_role in expect.items():
        for who, status in by_role.items():
            assert _As(client_as, who).get(url).status_code == status, (url, who.role)
    # Navigation and the talent home link the pages; only the officer is offered "Record".
    assert 'href="/talent/practice"' in _As(client_as, host).get("/talent/practice").text
    home = _As(client_as, w.commission).get("/talent")
    assert 'href="/talent/practice"' in home.text
    assert 'href="/talent/practice/new"' not in _As(client_as, w.commission).get("/talent/practice").text
    assert 'href="/talent/practice/new"' in _As(client_as, w.tto).get("/talent/practice").text
    # The commission reads every unit's records, read-only.
    page = _As(client_as, w.commission).get(f"/talent/practice/{p.id}")
    main = page.text.split("<main", 1)[1].split("</main>")[0]
    assert page.status_code == 200 and "/edit" not in main and "<form" not in main


def test_list_is_paginated_filtered_sorted_and_answers_htmx_with_the_results(session, client_as):
    w = make_world(session, n_candidates=3, n_experts=0)
    hosts = [w.firm] + [make_organisation(session, name_zh=f"践习企业{i}") for i in range(4)]
    for i, host in enumerate(hosts):
        _placement(session, w, w.candidates[i % 3], host, start_date=date(2024, 9 - i, 1))
    svc.create_practice(session, w.tto, svc.PracticeIn(
        person_id=w.candidates[0].id, host_organisation_id=w.firm.id, kind="secondment", start_date=date(2025, 9, 1),
        end_date=date(2026, 8, 31), tasks="挂职担任企业技术副总，负责研发体系建设。"))
    tto = _As(client_as, w.tto)
    first = tto.get("/talent/practice?per_page=4")
    assert first.status_code == 200 and "共 6 条 · 第 1/2 页" in first.text
    assert len(re.findall(r'<a href="/talent/practice/\d+">', first.text)) == 4
    second = tto.get("/talent/practice?per_page=4&page=2")
    assert len(re.findall(r'<a href="/talent/practice/\d+">', second.text)) == 2
    ids = [int(x) for x in re.findall(r'<a href="/talent/practice/(\d+)">', first.text + second.text)]
    assert len(set(ids)) == 6
    oldest_first = tto.get("/talent/practice?sort=start_date&per_page=1")
    oldest = session.scalar(select(PracticeRecord.id).order_by(PracticeRecord.start_date).limit(1))
    assert f'href="/talent/practice/{oldest}"' in oldest_first.text
    assert tto.get("/talent/practice?sort=nonsense").status_code == 422
    sec = tto.get("/talent/practice?kind=secondment")
    assert len(re.findall(r'<a href="/talent/practice/\d+">', sec.text)) == 1
    by_name = tto.get("/talent/practice", params={"q": w.candidates[1].name_zh})
    assert len(re.findall(r'<a href="/talent/practice/\d+">', by_name.text)) == 2
    partial = tto.get("/talent/practice?page=2&per_page=4", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="practice-results">') and "<html" not in partial.text
    # The number of queries does not grow with the rows shown.
    with count_queries(session) as few:
        tto.get("/talent/practice?per_page=2")
    with count_queries(session) as many:
        tto.get("/talent/practice?per_page=6")
    assert len(many) == len(few), (len(few), len(many))
    # API: the same page shape as the other lists.
    body = client_as(w.tto).get("/api/v1/talent/practice", params={"per_page": 4, "kind": "placement"}).json()
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (5, 1, 4, 4)
    assert client_as(w.tto).get("/api/v1/talent/practice", params={"status": "nonsense"}).status_code == 422


def test_pages_render_in_english(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=0)
    p = _placement(session, w, w.candidates[0], w.firm)
    tto = _As(client_as, w.tto)
    for url, words in (("/talent/practice?lang=en", ["Industry practice", "Record industry practice", "Under way"]),
                       ("/talent/practice/new?lang=en", ["Search the people of your university", "Search organisations",
                                                         "2024 round"]),
                       (f"/talent/practice/{p.id}?lang=en", ["Outcome report", "Host's evaluation", "Not evaluated yet."])):
        text = html.unescape(tto.get(url).text)
        for word in words:
            assert word in text, (url, word)


def test_saved_message_once_and_synthetic_banner_follows_the_people_shown(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=0)
    teacher = w.candidates[0]
    rec = _placement(session, w, teacher, w.firm)
    tto = _As(client_as, w.tto)
    page = tto.get(f"/talent/practice/{rec.id}", params={"done": "created"}).text
    assert page.count("践习记录已保存") == 1
    assert "synthetic-banner" not in page
    teacher.is_synthetic = True
    session.flush()
    assert "synthetic-banner" in tto.get(f"/talent/practice/{rec.id}").text
    assert "synthetic-banner" in tto.get("/talent/practice").text
