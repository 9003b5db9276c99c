"""Every talent list is paginated with ``core.pagination`` (``page``, ``per_page``, ``sort`` from a whitelist,
``total``): rounds, dossiers, the reviewer's assignments, the officer's review table, appeals, representative
works — in the API (``Page`` shape) and on the pages (shared pagination macro, htmx results partial)."""

from __future__ import annotations

import re

from kechuang.core.auth import Role
from kechuang.talent import dossier_service as svc
from tests.conftest import principal
from tests.talent.test_pages import _As
from tests.talent.world import basic_dossier, make_world, open_evaluation


def _round(session, *, n_dossiers: int = 3):
    w = make_world(session, n_candidates=n_dossiers, n_experts=6)
    ev = open_evaluation(session, w, reviewers_per_dossier=2)
    open_evaluation(session, w, scheme_id=w.applied_scheme_id, round_label="2027")
    ids = [basic_dossier(session, w, ev, c) for c in w.candidates]
    svc.draw_reviewers(session, w.tto, ev)
    return w, ev, ids


class _Api:
    """A fresh JSON client for ``p`` at each call (``client_as`` switches the principal app-wide)."""

    def __init__(self, client_as, p):
        self.client_as, self.p = client_as, p

    def get(self, url, **kw):
        return self.client_as(self.p).get(url, **kw)


def _page(body: dict, total: int, page: int, per_page: int, n: int) -> None:
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (total, page, per_page, n), body


def test_api_lists_are_pages(session, client_as):
    w, ev, ids = _round(session)
    api = _Api(client_as, w.tto)
    _page(api.get("/api/v1/talent/evaluations", params={"per_page": 1}).json(), 2, 1, 1, 1)
    second = api.get("/api/v1/talent/evaluations", params={"per_page": 1, "page": 2}).json()
    _page(second, 2, 2, 1, 1)
    assert second["items"][0]["id"] == ev  # newest first: the applied round was opened after
    assert [e["id"] for e in api.get("/api/v1/talent/evaluations", params={"sort": "id"}).json()["items"]][0] == ev
    _page(api.get("/api/v1/talent/evaluations", params={"status": "reviewing"}).json(), 1, 1, 25, 1)
    assert api.get("/api/v1/talent/evaluations", params={"sort": "title"}).status_code == 422
    assert api.get("/api/v1/talent/evaluations", params={"per_page": 500}).status_code == 422

    body = api.get(f"/api/v1/talent/evaluations/{ev}/dossiers", params={"per_page": 2}).json()
    _page(body, 3, 1, 2, 2)
    assert [d["id"] for d in body["items"]] == ids[:2]
    assert [d["id"] for d in api.get(f"/api/v1/talent/evaluations/{ev}/dossiers",
                                     params={"sort": "-id"}).json()["items"]] == ids[::-1]
    _page(api.get("/api/v1/talent/dossiers", params={"evaluation_id": ev, "status": "draft"}).json(), 0, 1, 25, 0)
    mine = client_as(w.researcher(w.candidates[1])).get("/api/v1/talent/dossiers").json()
    assert [d["id"] for d in mine["items"]] == [ids[1]] and mine["total"] == 1

    table = api.get(f"/api/v1/talent/evaluations/{ev}/reviews", params={"per_page": 4}).json()
    _page(table, 6, 1, 4, 4)
    assert {"reviewer_name", "scores", "dossier_id"} <= set(table["items"][0])
    _page(api.get(f"/api/v1/talent/evaluations/{ev}/appeals").json(), 0, 1, 25, 0)
    assert client_as(w.researcher(w.candidates[0])).get(f"/api/v1/talent/evaluations/{ev}/appeals").status_code == 404

    reviewer = next(e for e in w.experts if svc.my_assignments(session, w.expert(e)))
    n = len(svc.my_assignments(session, w.expert(reviewer)))
    body = client_as(w.expert(reviewer)).get("/api/v1/talent/reviews", params={"per_page": 1}).json()
    _page(body, n, 1, 1, 1)
    assert "dossier_id" not in body["items"][0]  # the reviewer-facing shape, paginated


def test_pages_are_paginated_with_the_shared_macro(session, client_as):
    w, ev, ids = _round(session)
    tto = _As(client_as, w.tto)
    page = tto.get("/talent/evaluations?per_page=1")
    assert page.status_code == 200 and "共 2 条 · 第 1/2 页" in page.text
    assert len(re.findall(r'<a href="/talent/evaluations/\d+">', page.text)) == 1
    partial = tto.get("/talent/evaluations?per_page=1&page=2", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="evaluations-results">')
    assert f'<a href="/talent/evaluations/{ev}">' in partial.text
    filtered = tto.get("/talent/evaluations?status=reviewing")
    assert len(re.findall(r'<a href="/talent/evaluations/\d+">', filtered.text)) == 1
    assert f"/talent/evaluations/{ev}" in filtered.text
    assert len(re.findall(r'<a href="/talent/evaluations/\d+">', tto.get("/talent/evaluations?q=2027").text)) == 1

    works = tto.get("/talent/works?per_page=4")
    assert works.status_code == 200 and "共 9 条 · 第 1/3 页" in works.text
    assert len(re.findall(r'<a href="/talent/dossiers/\d+">', works.text)) == 4

    reviewer = next(e for e in w.experts if svc.my_assignments(session, w.expert(e)))
    n = len(svc.my_assignments(session, w.expert(reviewer)))
    rev = _As(client_as, w.expert(reviewer)).get("/talent/reviews?per_page=1")
    assert rev.status_code == 200 and f"共 {n} 条 · 第 1/{n} 页" in rev.text
    assert len(re.findall(r'<a href="/talent/reviews/\d+">', rev.text)) == 1
    # Scope is kept on every page: the other university's officer sees no round at all.
    other = _As(client_as, w.tto_other).get("/talent/evaluations?per_page=1")
    assert "共 0 条" in other.text and f"/talent/evaluations/{ev}" not in other.text
    assert _As(client_as, principal(Role.EXPERT, person_id=None)).get("/talent/reviews").status_code == 200
