"""The evaluation-cycle rule (合理设置评价周期, SPEC §6, 国科发才〔2022〕255号): a person with a published result in
an evaluation of the same unit and category is refused a new dossier (and its submission) until the scheme's
``cycle_years`` have passed since that publication; an appeal decided later does not restart the cycle; other
categories and other units are not affected. Service, API and the dossier form; the commission overview counts
people re-evaluated inside the cycle (older data)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from kechuang.core.errors import Conflict
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import Dossier, ReviewAssignment, TalentEvaluation
from tests.talent.test_pages import _As, _post
from tests.talent.world import affiliate, basic_dossier, make_world, open_evaluation, scheme_in_force

CYCLE = 5  # the basic-research example scheme's cycle_years


def _run_and_publish(session, w, ev_id: int, dossier_ids: list[int]) -> None:
    svc.draw_reviewers(session, w.tto, ev_id)
    for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev_id)):
        reviewer = next(e for e in w.experts if e.id == a.reviewer_person_id)
        svc.submit_review(session, w.expert(reviewer), a.id, {"original_contribution": 70, "potential": 70, "team": 70})
    svc.compute_results(session, w.tto, ev_id)
    for d in dossier_ids:
        svc.decide(session, w.tto, d, "fail", "代表作的创新性论证不足，暂不通过。")
    svc.publish(session, w.tto, ev_id)


def _published_round(session, w, people, round_label="2025") -> tuple[int, list[int]]:
    ev_id = open_evaluation(session, w, round_label=round_label, reviewers_per_dossier=2, load_cap=5)
    ids = [basic_dossier(session, w, ev_id, p) for p in people]
    _run_and_publish(session, w, ev_id, ids)
    return ev_id, ids


def _publish_on(session, ev_id: int, day) -> None:
    """Move the evaluation's publication to noon (Shanghai) of ``day`` (older data)."""
    ev = session.get(TalentEvaluation, ev_id)
    ev.published_at = datetime.combine(day, time(12), tzinfo=svc.SHANGHAI).astimezone(UTC)
    session.flush()


def test_refused_inside_the_cycle_with_the_earlier_evaluation_named(session):
    w = make_world(session, n_candidates=3, n_experts=4)
    first, second, fresh = w.candidates
    ev_a, _ = _published_round(session, w, [first, second])
    title_a = session.get(TalentEvaluation, ev_a).title
    ev_b = open_evaluation(session, w, round_label="2026")
    with pytest.raises(svc.CycleNotElapsed) as exc:
        svc.create_dossier(session, w.researcher(first), svc.DossierIn(evaluation_id=ev_b, field="0701"))
    assert isinstance(exc.value, Conflict) and exc.value.status_code == 409
    published = svc.today()
    nxt = svc.add_years(published, CYCLE)
    [err] = exc.value.errors
    assert err.field == "lead_person_id" and err.value == first.id
    zh = err.render("zh")["reason"]
    en = err.render("en")["reason"]
    for text in (zh, en):
        assert title_a in text and published.isoformat() in text and nxt.isoformat() in text
        assert first.name_zh in text
    assert "published" in en and "公布" in zh
    assert session.scalar(select(Dossier.id).where(Dossier.evaluation_id == ev_b)) is None
    # Someone never evaluated is not affected; a team with a member inside the cycle is refused on that member.
    assert svc.create_dossier(session, w.researcher(fresh), svc.DossierIn(evaluation_id=ev_b)).id
    ev_c = open_evaluation(session, w, round_label="2026-team")
    with pytest.raises(svc.CycleNotElapsed) as exc:
        svc.create_dossier(session, w.researcher(fresh), svc.DossierIn(
            evaluation_id=ev_c, kind="team", team_name="理论组",
            members=[svc.MemberIn(person_id=second.id, role="core")]))
    assert [e.field for e in exc.value.errors] == ["members[0].person_id"]


def test_allowed_after_the_cycle_and_an_appeal_does_not_restart_it(session):
    w = make_world(session, n_candidates=2, n_experts=4)
    first, second = w.candidates
    ev_a, (d1, _d2) = _published_round(session, w, [first, second])
    # The appeal is decided now, years after the publication moved below: the cycle still counts from it.
    appeal = svc.file_appeal(session, w.researcher(first), d1, "第二篇代表作的贡献说明被误读，请求复核。")
    svc.decide_appeal(session, w.tto, appeal.id, "upheld", "复核后改判为合格，理由见复核意见。", new_outcome="pass")
    ev_b = open_evaluation(session, w, round_label="2031")
    opened = svc.round_date(session.get(TalentEvaluation, ev_b))
    # Published exactly one cycle before the round opened: the cycle has elapsed (boundary included).
    _publish_on(session, ev_a, svc.add_years(opened, -CYCLE))
    assert svc.create_dossier(session, w.researcher(first), svc.DossierIn(evaluation_id=ev_b)).id
    # One day later the second candidate is still inside it.
    _publish_on(session, ev_a, svc.add_years(opened, -CYCLE) + timedelta(days=1))
    with pytest.raises(svc.CycleNotElapsed) as exc:
        svc.create_dossier(session, w.researcher(second), svc.DossierIn(evaluation_id=ev_b))
    assert exc.value.errors[0].params["next_date"] == (opened + timedelta(days=1)).isoformat()


def test_other_category_and_other_unit_are_not_affected(session):
    w = make_world(session, n_candidates=1, n_experts=4)
    [first] = w.candidates
    _published_round(session, w, [first])
    applied = open_evaluation(session, w, scheme_id=w.applied_scheme_id, round_label="2026")
    assert svc.create_dossier(session, w.researcher(first), svc.DossierIn(evaluation_id=applied)).id
    affiliate(session, first, w.other_uni)
    other_scheme = scheme_in_force(session, w.other_uni)
    other = svc.create_evaluation(session, w.tto_other, svc.EvaluationIn(scheme_id=other_scheme, round_label="2026"))
    assert svc.create_dossier(session, w.researcher(first), svc.DossierIn(evaluation_id=other.id)).id


def test_submission_refused_when_a_parallel_round_was_published_meanwhile(session):
    w = make_world(session, n_candidates=1, n_experts=4)
    [first] = w.candidates
    ev_a = open_evaluation(session, w, round_label="2025", reviewers_per_dossier=2, load_cap=5)
    ev_b = open_evaluation(session, w, round_label="2026")
    d_a = basic_dossier(session, w, ev_a, first)
    d_b = basic_dossier(session, w, ev_b, first, submit=False)  # both rounds open, nothing published yet
    _run_and_publish(session, w, ev_a, [d_a])
    with pytest.raises(svc.CycleNotElapsed):
        svc.submit_dossier(session, w.researcher(first), d_b)
    assert session.get(Dossier, d_b).status == "draft"


def test_overview_counts_people_re_evaluated_inside_the_cycle(session):
    w = make_world(session, n_candidates=2, n_experts=4)
    first, second = w.candidates
    ev_a, _ = _published_round(session, w, [first, second])
    _publish_on(session, ev_a, svc.today() - timedelta(days=366 * CYCLE + 2))
    ev_b, _ = _published_round(session, w, [first], round_label="2026")
    row = next(r for r in svc.evaluation_overview(session, w.commission) if r["category"] == "basic_research")
    assert row["reevaluated_in_cycle"] == 0 and row["evaluations"] == 2
    # Older data: the earlier result was published two years before the later round.
    _publish_on(session, ev_a, svc.today() - timedelta(days=730))
    row = next(r for r in svc.evaluation_overview(session, w.commission) if r["category"] == "basic_research")
    assert row["reevaluated_in_cycle"] == 1
    assert ev_b in row["evaluation_ids"]


def test_api_and_dossier_form_answer_409_with_the_message(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=4)
    [first] = w.candidates
    ev_a, _ = _published_round(session, w, [first])
    title_a = session.get(TalentEvaluation, ev_a).title
    ev_b = open_evaluation(session, w, round_label="2026")
    nxt = svc.add_years(svc.today(), CYCLE).isoformat()
    r = client_as(w.researcher(first)).post("/api/v1/talent/dossiers", json={"evaluation_id": ev_b})
    assert r.status_code == 409, r.text
    body = r.json()["error"]
    assert body["code"] == "cycle_not_elapsed"
    [err] = body["errors"]
    assert err["field"] == "lead_person_id" and title_a in err["reason"] and nxt in err["reason"]
    me = _As(client_as, w.researcher(first))
    page = _post(me, "/talent/dossiers/new", f"/talent/dossiers/new?evaluation={ev_b}",
                 {"evaluation": str(ev_b), "kind": "individual"}, expect=409)
    assert title_a in page.text and nxt in page.text and "评价周期" in page.text
    assert session.scalar(select(Dossier.id).where(Dossier.evaluation_id == ev_b)) is None
    en = _As(client_as, w.researcher(first))
    c = en.client_as(en.p)
    c.headers["accept"] = "text/html"
    c.cookies.set("lang", "en")
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get(f"/talent/dossiers/new?evaluation={ev_b}").text)
    r = c.post("/talent/dossiers/new", data={"csrf_token": token.group(1), "evaluation": str(ev_b),
                                             "kind": "individual"}, follow_redirects=False)
    assert r.status_code == 409 and "evaluation cycle is 5 years" in r.text and nxt in r.text


def test_submit_page_shows_the_refusal_above_the_dossier(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=4)
    [first] = w.candidates
    ev_a = open_evaluation(session, w, round_label="2025", reviewers_per_dossier=2, load_cap=5)
    ev_b = open_evaluation(session, w, round_label="2026")
    d_a = basic_dossier(session, w, ev_a, first)
    d_b = basic_dossier(session, w, ev_b, first, submit=False)
    _run_and_publish(session, w, ev_a, [d_a])
    me = _As(client_as, w.researcher(first))
    page = _post(me, f"/talent/dossiers/{d_b}/submit", f"/talent/dossiers/{d_b}", {}, expect=409)
    title_a = session.get(TalentEvaluation, ev_a).title
    assert title_a in page.text and "评价周期" in page.text and 'href="#f-lead_person_id"' not in page.text
    assert session.get(Dossier, d_b).status == "draft"
