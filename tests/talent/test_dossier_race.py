"""A dossier submitted twice at the same moment (same candidate, same round) is created once; the other
submission is answered 409 with the bilingual message — in the service, through the API and through the
form. The race is real: COMMITTED data, two threads with their own sessions, both past the existence check
before either inserts (a barrier in ``_new_code``), so the database's unique constraint decides. The
fixture removes what it committed."""

from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict
from kechuang.db import session_scope
from kechuang.registry.models import Affiliation, Organisation, Person
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import Dossier, EvaluationScheme, TalentEvaluation
from tests.concurrency import race
from tests.factories import make_organisation, make_person
from tests.talent.world import BASIC, affiliate, scheme_in_force

MESSAGE = {"zh": "您在本次评价中已有申报材料", "en": "You already have a dossier in this evaluation."}


@pytest.fixture
def committed_round(engine):
    """A university with a basic-research scheme in force, an open round and one candidate — committed."""
    with session_scope() as s:
        last = s.scalar(select(func.max(AuditEntry.id))) or 0
        uni = make_organisation(s, kind="university", name_zh="并发测试大学", name_en="Race Test University")
        cand = make_person(s, name_zh="并发候选人", name_en="Race Candidate")
        affiliate(s, cand, uni, start=date(2015, 1, 1))
        tto = Principal(role=Role.TTO, organisation_id=uni.id, user_id=91, username="race-tto")
        scheme_id = scheme_in_force(s, uni, BASIC)
        ev = svc.create_evaluation(s, tto, svc.EvaluationIn(scheme_id=scheme_id, round_label="race"))
        ids = {"uni": uni.id, "person": cand.id, "evaluation": ev.id}
    yield ids
    with session_scope() as s:
        s.execute(delete(Dossier).where(Dossier.evaluation_id == ids["evaluation"]))  # members cascade
        s.execute(delete(TalentEvaluation).where(TalentEvaluation.id == ids["evaluation"]))
        s.execute(delete(EvaluationScheme).where(EvaluationScheme.organisation_id == ids["uni"]))
        s.execute(delete(Affiliation).where(Affiliation.person_id == ids["person"]))
        s.execute(delete(Person).where(Person.id == ids["person"]))
        s.execute(delete(Organisation).where(Organisation.id == ids["uni"]))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last))


@pytest.fixture
def both_past_the_check(monkeypatch):
    """Hold each submission after the existence check until both have passed it."""
    barrier = threading.Barrier(2, timeout=20)
    original = svc._new_code

    def new_code(session, evaluation_id):
        barrier.wait()
        return original(session, evaluation_id)

    monkeypatch.setattr(svc, "_new_code", new_code)
    return barrier


def _race(fn) -> list:
    return race(fn, what="a submission")


def _dossiers(evaluation_id: int) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Dossier).where(Dossier.evaluation_id == evaluation_id))


def _candidate(ids) -> Principal:
    return Principal(role=Role.RESEARCHER, person_id=ids["person"], user_id=92, username="race-candidate")


def test_service_answers_conflict_to_the_second_of_two_simultaneous_submissions(committed_round,
                                                                                 both_past_the_check):
    ids = committed_round

    def submit(_i: int):
        with session_scope() as s:
            return svc.create_dossier(s, _candidate(ids), svc.DossierIn(evaluation_id=ids["evaluation"],
                                                                         plan="同时提交两次的评价材料。")).id

    results = _race(submit)
    created = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(created) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], Conflict) and refused[0].status_code == 409
    assert refused[0].render_message("en") == MESSAGE["en"]
    assert MESSAGE["zh"] in refused[0].render_message("zh")
    assert _dossiers(ids["evaluation"]) == 1
    with session_scope() as s:  # one audit entry, for the dossier that exists
        entries = list(s.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "talent.dossier.create",
                                                                    AuditEntry.object_id == str(created[0]))))
        assert len(entries) == 1


def _app_as(principal: Principal):
    """The real app (sessions from the engine, committed per request) acting as ``principal``."""
    from kechuang.app import create_app
    from kechuang.core import deps

    app = create_app()
    app.dependency_overrides[deps.get_optional_principal] = lambda: principal
    return app


def test_api_answers_201_and_409_to_two_simultaneous_posts(committed_round, both_past_the_check):
    ids = committed_round
    app = _app_as(_candidate(ids))
    langs = ["zh", "en"]

    def post(i: int):
        with TestClient(app, headers={"accept": "application/json", "accept-language": langs[i]}) as c:
            return c.post("/api/v1/talent/dossiers", json={"evaluation_id": ids["evaluation"], "field": "0701"})

    results = _race(post)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    i = next(i for i, r in enumerate(results) if r.status_code == 409)
    body = results[i].json()["error"]
    assert body["code"] == "conflict"
    assert MESSAGE[langs[i]] in body["message"]
    assert _dossiers(ids["evaluation"]) == 1


def test_form_answers_a_redirect_and_a_409_page_to_two_simultaneous_posts(committed_round, both_past_the_check):
    ids = committed_round
    app = _app_as(_candidate(ids))
    clients = [TestClient(app, headers={"accept": "text/html"}) for _ in range(2)]
    tokens = []
    for c in clients:
        page = c.get(f"/talent/dossiers/new?evaluation={ids['evaluation']}&lang=en")
        assert page.status_code == 200
        tokens.append(re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1))

    def post(i: int):
        return clients[i].post("/talent/dossiers/new?lang=en", data={
            "csrf_token": tokens[i], "evaluation": str(ids["evaluation"]), "kind": "individual",
            "plan": "同时提交两次的评价材料。"}, follow_redirects=False)

    results = _race(post)
    for c in clients:
        c.close()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.status_code for r in results) == [303, 409], [r.text[-2000:] for r in results]
    won = next(r for r in results if r.status_code == 303)
    lost = next(r for r in results if r.status_code == 409)
    dossier_id = int(won.headers["location"].rsplit("/", 1)[1])
    assert MESSAGE["en"] in lost.text and f'href="/talent/dossiers/{dossier_id}"' in lost.text
    assert 'action="/talent/dossiers/new"' not in lost.text  # no second form to submit
    assert _dossiers(ids["evaluation"]) == 1


def test_a_second_dossier_one_after_the_other_is_409_in_api_and_form(session, client_as):
    """The plain case (the existence check, no race): the same 409 and message."""
    from tests.talent.world import make_world, open_evaluation

    w = make_world(session, n_candidates=1, n_experts=0)
    ev_id = open_evaluation(session, w)
    me = client_as(w.researcher(w.candidates[0]))
    assert me.post("/api/v1/talent/dossiers", json={"evaluation_id": ev_id}).status_code == 201
    again = me.post("/api/v1/talent/dossiers?lang=en", json={"evaluation_id": ev_id})
    assert again.status_code == 409 and again.json()["error"]["message"] == MESSAGE["en"]
    me.headers["accept"] = "text/html"
    page = me.get(f"/talent/dossiers/new?evaluation={ev_id}")
    assert page.status_code == 200 and MESSAGE["zh"] in page.text and 'action="/talent/dossiers/new"' not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', me.get("/talent").text).group(1)
    form = me.post("/talent/dossiers/new", data={"csrf_token": token, "evaluation": str(ev_id), "kind": "individual"},
                   follow_redirects=False)
    assert form.status_code == 409 and MESSAGE["zh"] in form.text
