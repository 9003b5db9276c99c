"""Talent pages: the scheme designer's live feedback and refusal, versions, pilot comparison, the rule-text
audit with highlighted clauses and decisions, the commission dashboard with drill-down, and the evaluation
journey through the forms (dossier linking a transferred result, blind workbench, results, appeal); scoping
per role (employer officer: own unit; commission: all; researchers: own) and no identity on blind pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from kechuang.core.auth import Role
from kechuang.talent import service
from kechuang.talent.models import Dossier, EvaluationScheme, ReviewAssignment, RuleFinding
from tests.conftest import principal
from tests.talent.world import APPLIED, achievement, make_world, scheme_in_force, transfer


def _html(client):
    client.headers["accept"] = "text/html"
    return client


class _As:
    """A fresh HTML client for ``p`` at each use (``client_as`` overrides the principal app-wide)."""

    def __init__(self, client_as, p):
        self.client_as, self.p = client_as, p

    def __getattr__(self, name):
        return getattr(_html(self.client_as(self.p)), name)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without CSRF token"
    return m.group(1)


def _post(client: _As, url: str, page_url: str, data, expect: int = 303, headers=None, files=None):
    c = _html(client.client_as(client.p))
    token = _csrf(c.get(page_url).text)
    data = {"csrf_token": token, **(data if isinstance(data, dict) else _multi(data))}
    r = c.post(url, data=data, files=files, headers=headers or {}, follow_redirects=False)
    assert r.status_code == expect, r.text[-3000:]
    return r


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _designer_form(*, title_score: bool, cycle: int = 5) -> list[tuple[str, str]]:
    """A basic-research scheme typed into the designer; ``title_score`` adds a scored talent-title indicator."""
    rows = [("original", "代表作原创价值", "representative_work", "score", "0.5" if not title_score else "0.4"),
            ("potential", "发展潜力", "potential", "score", "0.25"),
            ("team", "团队贡献", "team_contribution", "score", "0.25" if not title_score else "0.2")]
    if title_score:
        rows.append(("hat", "人才称号", "talent_title", "score", "0.15"))
    form = [("scheme_key", "uni-basic"), ("title_zh", "某大学基础研究类评价方案"), ("title_en", "Basic research scheme"),
            ("category", "basic_research"), ("cycle_years", str(cycle)), ("blind", "1"), ("methods", "peer_review"),
            ("methods", "international_peer_review"), ("rw_min", "1"), ("rw_max", "3"), ("rw_share", "1/3"),
            ("rw_types", "paper"), ("rw_types", "transferred_result"), ("rw_types", "dataset"),
            ("form_fields", "name, unit, representative_works, plan"),
            ("must_not_use", "talent_title"), ("must_not_use", "paper_count"), ("must_not_use", "impact_factor"),
            ("basis_doc_0", "国科发才〔2022〕255号"), ("basis_url_0", "https://hk.crntt.com/doc/7_0_106517978_5_1110100957.html")]
    for i, (iid, label, basis, role, weight) in enumerate(rows):
        form += [(f"ind_id_{i}", iid), (f"ind_label_zh_{i}", label), (f"ind_label_en_{i}", iid),
                 (f"ind_basis_{i}", basis), (f"ind_role_{i}", role), (f"ind_weight_{i}", weight)]
    return form


def test_designer_gives_live_feedback_refuses_and_saves_versions(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=0)
    tto = _As(client_as, w.tto)
    page = tto.get("/talent/schemes/new")
    assert page.status_code == 200 and 'hx-post="/talent/schemes/check"' in page.text
    # Live check (htmx): the talent title scored breaks two rules; reasons in Chinese with the basis cited.
    bad = _designer_form(title_score=True)
    r = _post(tto, "/talent/schemes/check", "/talent/schemes/new", bad, expect=200, headers={"HX-Request": "true"})
    assert 'data-compliant="false"' in r.text and 'data-rule="no-talent-title"' in r.text
    assert "不得将人才称号" in r.text and "国科发才〔2022〕255号" in r.text
    assert 'data-rule="must-not-use-respected"' in r.text
    # Saving it is refused, nothing stored.
    r = _post(tto, "/talent/schemes/new", "/talent/schemes/new", [*bad, ("action", "save")], expect=422)
    assert "no-talent-title" in r.text and 'value="hat"' in r.text
    assert session.scalar(select(EvaluationScheme.id).where(EvaluationScheme.scheme_key == "uni-basic")) is None
    # A short cycle is named too.
    r = _post(tto, "/talent/schemes/check", "/talent/schemes/new", _designer_form(title_score=False, cycle=1), expect=200)
    assert 'data-rule="cycle-too-short-basic"' in r.text and "3年" in r.text
    # Fixed: saved as version 1, then a new version from it.
    r = _post(tto, "/talent/schemes/new", "/talent/schemes/new", [*_designer_form(title_score=False), ("action", "save")])
    url = r.headers["location"].split("?")[0]
    detail = tto.get(url)
    assert detail.status_code == 200 and "255号" in detail.text and 'data-compliant="true"' in detail.text
    scheme_id = int(url.rsplit("/", 1)[1])
    _post(tto, f"/talent/schemes/{scheme_id}/in-force", url, {})
    assert session.get(EvaluationScheme, scheme_id).status == "in_force"
    edit = tto.get(f"/talent/schemes/new?from={scheme_id}")
    assert 'value="uni-basic"' in edit.text and 'value="original"' in edit.text
    r = _post(tto, "/talent/schemes/new", f"/talent/schemes/new?from={scheme_id}",
              [*_designer_form(title_score=False, cycle=6), ("action", "save")])
    v2 = tto.get(r.headers["location"])
    assert v2.status_code == 200 and v2.text.count('href="/talent/schemes/') >= 2
    # Another unit's officer cannot see it; the commission can; a researcher cannot read schemes.
    assert _As(client_as, w.tto_other).get(url).status_code == 404
    assert _As(client_as, w.commission).get(url).status_code == 200
    assert _As(client_as, w.researcher(w.candidates[0])).get(url).status_code == 403


def test_feedback_in_english(session, client_as):
    w = make_world(session, n_candidates=0, n_experts=0)
    tto = _As(client_as, w.tto)
    c = _html(client_as(w.tto))
    c.cookies.set("lang", "en")
    token = _csrf(c.get("/talent/schemes/new").text)
    r = c.post("/talent/schemes/check", data={"csrf_token": token, **_multi(_designer_form(title_score=True))})
    assert r.status_code == 200
    assert "Talent titles (\"hats\") must not be used" in r.text.replace("&#34;", '"').replace("&quot;", '"')
    assert "不得将人才称号" not in r.text
    assert tto.get("/talent/framework").status_code == 200


def test_pilot_standards_side_by_side(session, client_as):
    w = make_world(session, n_candidates=0, n_experts=0)
    from kechuang.talent.scheme import SCHEMES_DIR

    other = principal(Role.TTO, organisation_id=w.other_uni.id, user_id=12)
    for p, org, name in ((w.tto, w.uni, "basic-research-example.yaml"), (other, w.other_uni, "applied-rd-example.yaml")):
        s = service.create_scheme(session, p, org.id, (SCHEMES_DIR / name).read_text(encoding="utf-8"), is_pilot=True)
        service.put_in_force(session, p, s.id)
    page = _As(client_as, w.commission).get("/talent/schemes/compare")
    assert page.status_code == 200
    assert w.uni.name_zh in page.text and w.other_uni.name_zh in page.text
    assert "评价周期" in page.text and "基础研究类" in page.text and "应用研发类" in page.text
    # An officer compares only what it may read: its own unit's pilot standard.
    own = _As(client_as, w.tto).get("/talent/schemes/compare")
    assert w.other_uni.name_zh not in own.text


RULES = ("第一条 为规范岗位聘用，制定本办法。\n"
         "第二条 入选国家级人才计划者可直接聘为正高级专业技术职务。\n"
         "第三条 不得将人才称号作为评聘职称的前置条件。\n"
         "第四条 以第一作者发表SCI论文3篇以上者，每篇奖励2万元。\n")


def test_rule_audit_highlights_and_decisions(session, client_as):
    w = make_world(session, n_candidates=0, n_experts=0)
    tto = _As(client_as, w.tto)
    r = _post(tto, "/talent/audits", "/talent/audits", {"title": "岗位聘用办法"},
              files={"file": ("rules.txt", RULES.encode("utf-8"), "text/plain")})
    url = r.headers["location"]
    page = tto.get(url)
    assert page.status_code == 200
    marks = re.findall(r'<mark class="clause clause-open" id="clause-(\d+)"', page.text)
    assert len(marks) == 2  # 第二条 and 第四条; the prohibition in 第三条 is compliant
    assert "入选国家级人才计划者可直接聘为正高级专业技术职务" in page.text
    assert "不得将人才称号（“帽子”）作为" in page.text  # the reason, in Chinese
    finding_id = int(marks[0])
    # htmx decision swaps the card; the finding is revised.
    r = _post(tto, f"/talent/findings/{finding_id}/decision", url, {"decision": "revised", "note": "已修订"},
              expect=200, headers={"HX-Request": "true"})
    assert f'id="finding-{finding_id}"' in r.text and "finding-revised" in r.text
    assert session.get(RuleFinding, finding_id).status == "revised"
    # Another unit's officer: 404 on the document and the decision.
    other = _As(client_as, w.tto_other)
    assert other.get(url).status_code == 404
    c = _html(client_as(w.tto_other))
    token = _csrf(c.get("/talent/audits").text)
    assert c.post(f"/talent/findings/{finding_id}/decision", data={"csrf_token": token, "decision": "dismissed"},
                  follow_redirects=False).status_code == 404
    # Drill-down: remaining findings of the unit.
    com = _As(client_as, w.commission)
    rem = com.get(f"/talent/findings?organisation={w.uni.id}&status=remaining")
    assert rem.status_code == 200 and "SCI论文3篇" in rem.text and "入选国家级人才计划" not in rem.text
    # Upload refused with the field named.
    r = _post(tto, "/talent/audits", "/talent/audits", {"title": "x"},
              files={"file": ("rules.exe", b"MZ\x00\x00", "application/octet-stream")}, expect=422)
    assert 'id="file-error"' in r.text


def test_dashboard_scoped_and_drillable(session, client_as):
    w = make_world(session, n_candidates=0, n_experts=0)
    other = principal(Role.TTO, organisation_id=w.other_uni.id, user_id=12)
    service.run_audit(session, other, w.other_uni.id, "r.txt", RULES.encode("utf-8"))
    page = _As(client_as, w.commission).get("/talent/dashboard")
    assert page.status_code == 200
    assert w.uni.name_zh in page.text and w.other_uni.name_zh in page.text
    assert f"/talent/schemes?organisation={w.uni.id}&category=basic_research&status=in_force" in page.text
    assert f"/talent/findings?organisation={w.other_uni.id}&status=remaining" in page.text
    drill = _As(client_as, w.commission).get(f"/talent/schemes?organisation={w.uni.id}&category=basic_research&status=in_force")
    assert drill.status_code == 200 and "example-university-basic-research" in drill.text
    own = _As(client_as, w.tto).get("/talent/dashboard")
    assert w.uni.name_zh in own.text and w.other_uni.name_zh not in own.text
    assert _As(client_as, w.researcher(w.candidates[0]) if w.candidates else principal(Role.RESEARCHER, person_id=1)
               ).get("/talent/dashboard").status_code == 403


def test_evaluation_journey_through_the_pages(session, client_as):
    w = make_world(session, n_candidates=2, n_experts=3)
    for e in w.experts:
        e.discipline_codes = ["0702"]
    cand = w.candidates[0]
    a = achievement(session, w.uni, [cand])
    t = transfer(session, a, w.uni, w.firm)
    tto = _As(client_as, w.tto)
    blind_applied = scheme_in_force(session, w.uni, APPLIED.replace("id: example-institute-applied-rd",
                                                                    "id: blind-applied\nblind: true"))
    r = _post(tto, "/talent/evaluations", "/talent/evaluations",
              {"scheme_id": str(blind_applied), "round_label": "2026", "reviewers_per_dossier": "2",
               "load_cap": "5", "calibration": "bias", "seed": "1"})
    ev_url = r.headers["location"]
    ev_id = int(ev_url.rsplit("/", 1)[1])

    me = _As(client_as, w.researcher(cand))
    assert "开始我的申报" in me.get(ev_url).text or "/talent/dossiers/new?evaluation=" in me.get(ev_url).text
    r = _post(me, "/talent/dossiers/new", f"/talent/dossiers/new?evaluation={ev_id}",
              {"evaluation": str(ev_id), "kind": "individual", "field": "0702",
               "plan": f"{cand.name_zh}的三年计划", "contribution": "负责技术路线"})
    d_url = r.headers["location"]
    d_id = int(d_url.rsplit("/", 1)[1])
    found = me.get(f"/talent/records/search?type=transfer&q={a.title[:4]}")
    assert f'value="transfer:{t.id}:transferred_result"' in found.text
    # Another candidate finds nothing of this record.
    assert f"transfer:{t.id}" not in _As(client_as, w.researcher(w.candidates[1])).get(
        "/talent/records/search?type=transfer").text
    _post(me, f"{d_url}/works", d_url, {"ref_pick": f"transfer:{t.id}:transferred_result",
                                         "contribution_statement": f"本人{cand.name_zh}主持该成果的研发与转化。"})
    # A record that does not name the candidate is refused with the reason.
    a2 = achievement(session, w.other_uni, [w.candidates[1]])
    t2 = transfer(session, a2, w.other_uni, w.firm)
    bad = _post(me, f"{d_url}/works", d_url, {"ref_pick": f"transfer:{t2.id}:transferred_result",
                                               "contribution_statement": "这不是我的成果但我想链接它。"}, expect=422)
    assert "ref_id" in bad.text or "不" in bad.text
    for i in range(2):
        _post(me, f"{d_url}/works", d_url, {"kind": "technical_solution", "title": f"技术方案{i}",
                                             "contribution_statement": f"{cand.name_zh}（{w.uni.name_zh}）完成方案设计{i}。"})
    r = _post(me, f"{d_url}/submit", d_url, {})
    assert session.get(Dossier, d_id).status == "submitted"
    page = me.get(d_url)
    assert "已核验" in page.text or "Verified" in page.text

    _post(tto, f"{ev_url}/draw", ev_url, {})
    assigned = list(session.scalars(select(ReviewAssignment).where(ReviewAssignment.dossier_id == d_id)))
    assert len(assigned) == 2
    experts = {e.id: e for e in w.experts}
    for k, asg in enumerate(assigned):
        rev = _As(client_as, w.expert(experts[asg.reviewer_person_id]))
        listing = rev.get("/talent/reviews")
        bench = rev.get(f"/talent/reviews/{asg.id}")
        for html in (listing.text, bench.text):
            assert cand.name_zh not in html and w.uni.name_zh not in html and (cand.name_en or "§") not in html
        assert "■■" in bench.text  # names blanked out of the free text
        form = {"comment": "方案扎实"}
        from kechuang.talent import dossier_service as dsvc

        for ind in dsvc.scored_indicators(dsvc.scheme_of(session, dsvc.access_evaluation_by_id(session, w.tto, ev_id))):
            form[f"score.{ind.id}"] = str(80 - 10 * k)
        _post(rev, f"/talent/reviews/{asg.id}", f"/talent/reviews/{asg.id}", form)
        # Another reviewer's assignment: 404.
        other = next(x for x in assigned if x.id != asg.id)
        assert rev.get(f"/talent/reviews/{other.id}").status_code == 404
    _post(tto, f"{ev_url}/results", ev_url, {})
    _post(tto, f"/talent/dossiers/{d_id}/decision", ev_url, {"outcome": "pass", "reasons": "代表作经核验，市场证据充分。"})
    # Before publication the candidate sees no result.
    assert "专家组结论" not in me.get(d_url).text
    _post(tto, f"{ev_url}/publish", ev_url, {})
    page = me.get(d_url)
    assert "专家组结论" in page.text and "提出申诉" in page.text
    _post(me, f"{d_url}/appeal", d_url, {"grounds": "转化收益未被充分考虑，请复核。"})
    from kechuang.talent.models import Appeal

    ap = session.scalar(select(Appeal).where(Appeal.dossier_id == d_id))
    assert ap is not None and ap.status == "filed"
    _post(tto, f"/talent/appeals/{ap.id}/decision", ev_url,
          {"status": "upheld", "new_outcome": "excellent", "outcome_reason": "复核后认定转化成效突出。"})
    final = me.get(d_url)
    assert "复核后认定转化成效突出" in final.text
    # The commission reads the round; another unit's officer does not; the other candidate not this dossier.
    assert _As(client_as, w.commission).get(ev_url).status_code == 200
    assert _As(client_as, w.tto_other).get(ev_url).status_code == 404
    assert _As(client_as, w.researcher(w.candidates[1])).get(d_url).status_code == 404
    # Works drill-down from the dashboard.
    works = _As(client_as, w.commission).get(f"/talent/works?organisation={w.uni.id}&verified=1")
    assert works.status_code == 200 and a.title in works.text


def test_reviewer_workbench_has_no_identity_for_unit_in_free_text(session, client_as):
    """Blind: even a contribution statement that names the candidate and the unit is blanked."""
    w = make_world(session, n_candidates=1, n_experts=2)
    from tests.talent.world import basic_dossier, open_evaluation

    ev_id = open_evaluation(session, w, reviewers_per_dossier=1)
    basic_dossier(session, w, ev_id, w.candidates[0])
    from kechuang.talent import dossier_service as dsvc

    dsvc.draw_reviewers(session, w.tto, ev_id)
    asg = session.scalar(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev_id))
    rev = next(e for e in w.experts if e.id == asg.reviewer_person_id)
    html = _As(client_as, w.expert(rev)).get(f"/talent/reviews/{asg.id}").text
    assert w.candidates[0].name_zh not in html and w.uni.name_zh not in html
    assert _As(client_as, w.tto).get(f"/talent/reviews/{asg.id}").status_code == 403


def test_audit_page_in_english_and_designer_requires_an_id(session, client_as):
    w = make_world(session, n_candidates=0, n_experts=0)
    run = service.run_audit(session, w.tto, w.uni.id, "r.txt", RULES.encode("utf-8"))
    c = _html(client_as(w.tto))
    c.cookies.set("lang", "en")
    page = c.get(f"/talent/audits/{run.id}")
    assert page.status_code == 200
    assert "must not be a condition for or be linked to" in page.text and "不得将人才称号（“帽子”）作为" not in page.text
    assert "Mark revised" in page.text
    tto = _As(client_as, w.tto)
    form = [(k, v) for k, v in _designer_form(title_score=False) if k != "scheme_key"] + [("scheme_key", ""),
                                                                                         ("action", "save")]
    r = _post(tto, "/talent/schemes/new", "/talent/schemes/new", form, expect=422)
    assert 'field-invalid' in r.text
    assert session.scalar(select(EvaluationScheme.id).where(EvaluationScheme.scheme_key == "")) is None


def test_every_page_per_role(session, client_as):
    """Each role gets its pages (200) and is refused the others (403), with no server error."""
    w = make_world(session, n_candidates=1, n_experts=1)
    researcher, expert = w.researcher(w.candidates[0]), w.expert(w.experts[0])
    expect = {
        "/talent": {w.tto: 200, w.commission: 200, researcher: 200, expert: 403},
        "/talent/framework": {w.tto: 200, w.commission: 200, researcher: 200, expert: 403},
        "/talent/schemes": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/schemes/new": {w.tto: 200, w.commission: 403, researcher: 403, expert: 403},
        "/talent/schemes/compare": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/audits": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/findings": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/works": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/dashboard": {w.tto: 200, w.commission: 200, researcher: 403, expert: 403},
        "/talent/evaluations": {w.tto: 200, w.commission: 200, researcher: 200, expert: 403},
        "/talent/reviews": {w.tto: 403, w.commission: 403, researcher: 403, expert: 200},
        "/talent/records/search?type=transfer": {w.tto: 403, w.commission: 403, researcher: 200, expert: 403},
    }
    for url, by_role in expect.items():
        for p, status in by_role.items():
            r = _As(client_as, p).get(url)
            assert r.status_code == status, (url, p.role, r.status_code)
    assert _As(client_as, None).get("/talent/dashboard", follow_redirects=False).status_code in (303, 307, 401)


def test_service_refuses_non_compliant_scheme_when_asked(session):
    import pytest

    from kechuang.core.errors import PermissionDenied, ValidationFailed
    from tests.talent.world import BASIC

    w = make_world(session, n_candidates=0, n_experts=0)
    bad = BASIC.replace("basis: potential", "basis: talent_title")
    with pytest.raises(ValidationFailed) as exc:
        service.create_scheme(session, w.tto, w.uni.id, bad, refuse_violations=True)
    assert any(e.params.get("rule") == "no-talent-title" for e in exc.value.errors)
    kept = service.create_scheme(session, w.tto, w.uni.id, bad)  # the API keeps non-compliant drafts
    assert kept.compliant is False
    rows = service.scheme_overview(session, w.commission)
    mine = next(r for r in rows if r["organisation_id"] == w.uni.id and r["category"] == "basic_research")
    assert mine["non_compliant"] == 1 and mine["in_force"] == 1 and mine["cycle_years"] == [5]
    with pytest.raises(PermissionDenied):
        service.linkable_records(session, w.tto, "transfer")
