"""The evaluation journey through the API: a blind basic-research round, dossiers, reviewer draw, reviewers
who see no identity (asserted on the JSON), calibrated results, panel decisions, publication and appeal;
scoping of every role (404 across units, 403 for roles without the permission)."""

from __future__ import annotations

import json

from sqlalchemy import select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.talent.models import ReviewAssignment
from tests.conftest import principal
from tests.talent.world import PAPER_TEXT, make_world


def _paper(i: int, name: str, unit: str, domestic: bool) -> dict:
    return {"kind": "paper", "title": f"论文{i}", "year": 2024, "venue": "物理学报" if domestic else "Nature",
            "domestic_journal": domestic, "contribution_statement": f"{PAPER_TEXT}作者{name}，单位{unit}。",
            "identifier": f"10.1000/xyz{i}"}


def test_blind_round_journey(session, client_as):
    w = make_world(session, n_candidates=3, n_experts=5)
    r = client_as(w.tto).post("/api/v1/talent/evaluations", json={"scheme_id": w.scheme_id, "round_label": "2026",
                                                         "reviewers_per_dossier": 2, "load_cap": 3, "seed": 7})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["blind"] is True and ev["status"] == "open" and ev["category"] == "basic_research"
    # Another unit's officer cannot see it; the commission can.
    assert client_as(w.tto_other).get(f"/api/v1/talent/evaluations/{ev['id']}").status_code == 404
    assert client_as(w.commission).get(f"/api/v1/talent/evaluations/{ev['id']}").status_code == 200

    dossier_ids = []
    for c in w.candidates:
        r = client_as(w.researcher(c)).post("/api/v1/talent/dossiers", json={"evaluation_id": ev["id"], "field": "0701",
                                                     "plan": f"{c.name_zh}（{w.uni.name_zh}）的研究计划",
                                                     "talent_title": "长江学者"})
        assert r.status_code == 201, r.text
        d = r.json()
        assert "talent_title" not in json.dumps(d) and "长江学者" not in json.dumps(d)
        for i, dom in enumerate((False, False, False)):
            assert client_as(w.researcher(c)).post(f"/api/v1/talent/dossiers/{d['id']}/works",
                           json=_paper(i, c.name_zh, w.uni.name_zh, dom)).status_code == 201
        # No domestic paper: the scheme's 1/3 share refuses the submission, naming the rule.
        r = client_as(w.researcher(c)).post(f"/api/v1/talent/dossiers/{d['id']}/submit")
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["error"]["errors"]] == ["works"]
        work_id = client_as(w.researcher(c)).get(f"/api/v1/talent/dossiers/{d['id']}").json()["works"][0]["id"]
        assert client_as(w.researcher(c)).delete(f"/api/v1/talent/dossiers/{d['id']}/works/{work_id}").status_code == 204
        assert client_as(w.researcher(c)).post(f"/api/v1/talent/dossiers/{d['id']}/works",
                       json=_paper(9, c.name_zh, w.uni.name_zh, True)).status_code == 201
        r = client_as(w.researcher(c)).post(f"/api/v1/talent/dossiers/{d['id']}/submit")
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
        assert client_as(w.researcher(c)).post(f"/api/v1/talent/dossiers/{d['id']}/submit").status_code == 200  # idempotent
        dossier_ids.append(d["id"])
    # Candidates see only their own dossier.
    assert [d["id"] for d in client_as(w.researcher(w.candidates[1])).get("/api/v1/talent/dossiers").json()["items"]] == \
        [dossier_ids[1]]
    assert client_as(w.researcher(w.candidates[1])).get(f"/api/v1/talent/dossiers/{dossier_ids[0]}").status_code == 404
    assert [d["id"] for d in client_as(w.researcher(w.candidates[1])).get(f"/api/v1/talent/evaluations/{ev['id']}/dossiers").json()["items"]] == [dossier_ids[1]]

    r = client_as(w.tto).post(f"/api/v1/talent/evaluations/{ev['id']}/draw")
    assert r.status_code == 200, r.text
    assert r.json()["assigned"] == 6 and r.json()["short"] == {}

    # Reviewers: only their assignments, and no identity anywhere in the JSON.
    secrets_ = {w.uni.name_zh, w.uni.name_en} | {c.name_zh for c in w.candidates} | {c.name_en for c in w.candidates}
    secrets_.add("示例大学")  # the unit's own scheme title names it: blind rounds show category and round only
    submitted = 0
    for e in w.experts:
        listing = client_as(w.expert(e)).get("/api/v1/talent/reviews")
        assert not any(s in listing.text for s in secrets_) and "dossier_id" not in listing.text
        mine = listing.json()["items"]
        for a in mine:
            r = client_as(w.expert(e)).get(f"/api/v1/talent/reviews/{a['assignment_id']}")
            assert r.status_code == 200
            body = r.text
            for s in secrets_:
                assert s not in body, f"{s!r} leaked to a reviewer"
            data = r.json()
            assert data["identity"] is None and data["blind"] is True
            assert all(wk["identifier"] is None for wk in data["works"])
            assert "person_id" not in body and "dossier_id" not in body and "lead" not in json.dumps(data["works"])
            assert "■■" in data["works"][0]["contribution_statement"]
            ids = [i["id"] for i in data["indicators"]]
            assert ids == ["original_contribution", "potential", "team"]
            r = client_as(w.expert(e)).post(f"/api/v1/talent/reviews/{a['assignment_id']}",
                        json={"scores": {k: 80 for k in ids}, "comment": "扎实"})
            assert r.status_code == 200 and r.json()["status"] == "submitted"
            assert "dossier_id" not in r.text
            submitted += 1
        # Someone else's assignment: 404; dossiers are not readable by reviewers at all.
        others = session.scalars(select(ReviewAssignment.id).where(ReviewAssignment.reviewer_person_id != e.id)).all()
        assert client_as(w.expert(e)).get(f"/api/v1/talent/reviews/{others[0]}").status_code == 404
        assert client_as(w.expert(e)).get(f"/api/v1/talent/dossiers/{dossier_ids[0]}").status_code == 403
    assert submitted == 6
    # Bad scores name the field.
    a_id = session.scalars(select(ReviewAssignment)).first()
    r = client_as(w.expert(next(e for e in w.experts if e.id == a_id.reviewer_person_id))).post(
        f"/api/v1/talent/reviews/{a_id.id}", json={"scores": {"original_contribution": 120, "potential": 1}})
    assert r.status_code == 422 and "scores.original_contribution" in r.text and "scores.team" in r.text

    r = client_as(w.tto).post(f"/api/v1/talent/evaluations/{ev['id']}/results")
    assert r.status_code == 200 and r.json()["reviews"] == 6 and r.json()["method"] == "bias"
    # The panel decides with written reasons; publishing needs every decision.
    r = client_as(w.tto).post(f"/api/v1/talent/dossiers/{dossier_ids[0]}/decision", json={"outcome": "pass", "reasons": "短"})
    assert r.status_code == 422 and "reasons" in r.text
    assert client_as(w.tto).post(f"/api/v1/talent/evaluations/{ev['id']}/publish").status_code == 409
    # Before publication the candidate sees neither rank nor decision.
    res = client_as(w.researcher(w.candidates[0])).get(f"/api/v1/talent/dossiers/{dossier_ids[0]}/result").json()
    assert res["decision"] is None and res["dossier"]["rank"] is None
    for d_id, outcome in zip(dossier_ids, ("excellent", "pass", "fail"), strict=True):
        r = client_as(w.tto).post(f"/api/v1/talent/dossiers/{d_id}/decision",
                         json={"outcome": outcome, "reasons": "代表作的原创性与学术贡献经同行评议认定。"})
        assert r.status_code == 200, r.text
    assert client_as(w.tto).post(f"/api/v1/talent/evaluations/{ev['id']}/publish").json()["status"] == "published"

    # The candidate reads the result and appeals once; the officer decides the appeal.
    res = client_as(w.researcher(w.candidates[2])).get(f"/api/v1/talent/dossiers/{dossier_ids[2]}/result").json()
    assert res["decision"]["outcome"] == "fail" and res["dossier"]["rank"] is not None
    assert "reviewer" not in json.dumps(res)
    assert client_as(w.researcher(w.candidates[2])).post(f"/api/v1/talent/dossiers/{dossier_ids[2]}/appeal", json={"grounds": "短"}).status_code == 422
    r = client_as(w.researcher(w.candidates[2])).post(f"/api/v1/talent/dossiers/{dossier_ids[2]}/appeal",
                   json={"grounds": "评审未考虑第三篇代表作的数据集贡献，请求复核。"})
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert client_as(w.researcher(w.candidates[2])).post(f"/api/v1/talent/dossiers/{dossier_ids[2]}/appeal",
                      json={"grounds": "评审未考虑第三篇代表作的数据集贡献，请求复核。"}).status_code == 409
    assert client_as(w.researcher(w.candidates[0])).post(
        f"/api/v1/talent/dossiers/{dossier_ids[2]}/appeal", json={"grounds": "x" * 20}).status_code == 404
    assert client_as(w.tto_other).post(f"/api/v1/talent/appeals/{appeal['id']}/decision", json={
        "status": "upheld", "outcome_reason": "复核认定贡献属实。", "new_outcome": "pass"}).status_code == 404
    r = client_as(w.tto).post(f"/api/v1/talent/appeals/{appeal['id']}/decision",
                     json={"status": "upheld", "outcome_reason": "复核认定数据集贡献属实，改为合格。", "new_outcome": "pass"})
    assert r.status_code == 200 and r.json()["new_outcome"] == "pass"
    res = client_as(w.researcher(w.candidates[2])).get(f"/api/v1/talent/dossiers/{dossier_ids[2]}/result").json()
    assert res["decision"]["outcome"] == "pass" and res["appeal"]["status"] == "upheld"
    assert "复核认定" in res["decision"]["reasons"]
    assert client_as(w.tto).post(f"/api/v1/talent/appeals/{appeal['id']}/decision",
                        json={"status": "rejected", "outcome_reason": "另一个结论的理由文本。"}).status_code == 409
    # The officer's review table names reviewers; candidates and the commission cannot read it.
    assert client_as(w.tto).get(f"/api/v1/talent/evaluations/{ev['id']}/reviews").json()["total"] == 6
    assert client_as(w.researcher(w.candidates[2])).get(f"/api/v1/talent/evaluations/{ev['id']}/reviews").status_code == 404
    assert client_as(w.commission).get(f"/api/v1/talent/evaluations/{ev['id']}/reviews").status_code == 404
    # The commission's overview.
    rows = client_as(w.commission).get("/api/v1/talent/evaluation-overview").json()
    row = next(x for x in rows if x["organisation_id"] == w.uni.id)
    assert row["dossiers"] == 3 and row["works"] == 9 and row["verified_works"] == 0 and row["appeals"] == 1
    assert row["cycle_years"] == [5] and ev["id"] in row["evaluation_ids"]
    assert client_as(w.researcher(w.candidates[2])).get("/api/v1/talent/evaluation-overview").status_code == 404
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("talent.%"))))
    assert {"talent.evaluation.create", "talent.dossier.create", "talent.work.add", "talent.work.remove",
            "talent.dossier.submit", "talent.evaluation.draw", "talent.review.submit", "talent.evaluation.results",
            "talent.decision.record", "talent.evaluation.publish", "talent.appeal.file",
            "talent.appeal.decide"} <= actions


def test_roles_without_permission_are_refused(session, client_as):
    w = make_world(session, n_candidates=1, n_experts=1)
    assert client_as(w.commission).post("/api/v1/talent/evaluations", json={"scheme_id": w.scheme_id,
                                                               "round_label": "x"}).status_code == 403
    assert client_as(w.commission).post("/api/v1/talent/dossiers", json={"evaluation_id": 1}).status_code == 403
    assert client_as(w.tto).get("/api/v1/talent/reviews").status_code == 403
    assert client_as(principal(Role.ENTERPRISE, organisation_id=w.firm.id)).get(
        "/api/v1/talent/evaluations").status_code == 403
    # An officer cannot open a round under another unit's scheme, nor with a scheme not in force.
    assert client_as(w.tto_other).post("/api/v1/talent/evaluations", json={
        "scheme_id": w.scheme_id, "round_label": "2026"}).status_code == 404
