"""Talent API and service: schemes (versioned, refused while non-compliant), rule audits with officer
decisions, per-institution progress, scoping (404) and guards (403)."""

from __future__ import annotations

import yaml

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.talent.scheme import SCHEMES_DIR
from tests.conftest import principal
from tests.factories import make_organisation

BASIC = (SCHEMES_DIR / "basic-research-example.yaml").read_text(encoding="utf-8")


def _hat_scheme() -> str:
    data = yaml.safe_load(BASIC)
    data["indicators"][0]["weight"] = 0.3
    data["indicators"].append({"id": "hats", "basis": "talent_title", "weight": 0.2})
    return yaml.safe_dump(data, allow_unicode=True)


def test_scheme_journey_and_scoping(session, client_as):
    uni, other = make_organisation(session, kind="university"), make_organisation(session, kind="university")
    tto = principal(Role.TTO, organisation_id=uni.id, user_id=None)
    tto_b = principal(Role.TTO, organisation_id=other.id)
    commission = principal(Role.COMMISSION)

    r = client_as(tto).post("/api/v1/talent/schemes/check", json={"content": _hat_scheme()})
    assert r.status_code == 200 and r.json()["compliant"] is False
    assert "no-talent-title" in {v["rule"] for v in r.json()["violations"]}

    r = client_as(tto).post("/api/v1/talent/schemes", json={"organisation_id": uni.id, "content": _hat_scheme()})
    assert r.status_code == 201, r.text
    bad = r.json()
    assert bad["version"] == 1 and bad["compliant"] is False and bad["status"] == "draft"
    r = client_as(tto).post(f"/api/v1/talent/schemes/{bad['id']}/in-force")
    assert r.status_code == 409 and "no-talent-title" in r.json()["error"]["message"]

    r = client_as(tto).post("/api/v1/talent/schemes", json={"organisation_id": uni.id, "content": BASIC})
    good = r.json()
    assert good["version"] == 2 and good["compliant"] is True and good["violations"] == []
    r = client_as(tto).post(f"/api/v1/talent/schemes/{good['id']}/in-force")
    assert r.status_code == 200 and r.json()["status"] == "in_force"

    # Another institution's officer: 404 on read and write, and may not file for uni.
    assert client_as(tto_b).get(f"/api/v1/talent/schemes/{good['id']}").status_code == 404
    assert client_as(tto_b).post(f"/api/v1/talent/schemes/{good['id']}/in-force").status_code == 404
    r = client_as(tto_b).post("/api/v1/talent/schemes", json={"organisation_id": uni.id, "content": BASIC})
    assert r.status_code == 404
    assert client_as(tto_b).get("/api/v1/talent/schemes").json()["total"] == 0
    # The commission sees all but does not write schemes.
    assert client_as(commission).get("/api/v1/talent/schemes?category=basic_research").json()["total"] == 2
    r = client_as(commission).post("/api/v1/talent/schemes", json={"organisation_id": uni.id, "content": BASIC})
    assert r.status_code == 403
    # A malformed scheme is a 422 naming the problem.
    r = client_as(tto).post("/api/v1/talent/schemes", json={"organisation_id": uni.id, "content": "id: x"})
    assert r.status_code == 422 and "invalid-scheme" in r.text
    assert session.query(AuditEntry).filter(AuditEntry.action.like("talent.scheme.%")).count() == 3


def test_rule_audit_decisions_and_progress(session, client_as):
    uni, other = make_organisation(session, kind="university"), make_organisation(session, kind="university")
    tto = principal(Role.TTO, organisation_id=uni.id)
    tto_b = principal(Role.TTO, organisation_id=other.id)
    commission = principal(Role.COMMISSION)
    text = ("第一条 不得将人才称号作为职称评审的前置条件。\n"
            "第二条 入选国家级人才计划者可直接聘为教授。\n第三条 每发表一篇SCI论文奖励2000元。\n")
    r = client_as(tto).post("/api/v1/talent/audits", data={"organisation_id": str(uni.id), "title": "人事制度"},
                            files={"file": ("rules.txt", text.encode("utf-8"), "text/plain")})
    assert r.status_code == 201, r.text
    run = r.json()
    assert [f["basis"] for f in run["findings"]] == ["talent_title", "paper_count"]
    for f in run["findings"]:
        assert run["text"][f["start_offset"]:f["end_offset"]] == f["clause"]
    first, second = (f["id"] for f in run["findings"])

    assert client_as(tto_b).get(f"/api/v1/talent/audits/{run['id']}").status_code == 404
    r = client_as(tto_b).post(f"/api/v1/talent/findings/{first}/decision", json={"decision": "dismissed"})
    assert r.status_code == 404
    r = client_as(tto).post(f"/api/v1/talent/findings/{first}/decision", json={"decision": "revised", "note": "已修订"})
    assert r.status_code == 200 and r.json()["status"] == "revised"
    r = client_as(commission).post(f"/api/v1/talent/findings/{second}/decision", json={"decision": "confirmed"})
    assert r.status_code == 200
    assert client_as(tto).post(f"/api/v1/talent/findings/{second}/decision",
                               json={"decision": "maybe"}).status_code == 422

    rows = client_as(commission).get("/api/v1/talent/audit-progress").json()
    row = next(x for x in rows if x["organisation_id"] == uni.id)
    assert (row["found"], row["revised"], row["confirmed"], row["remaining"]) == (2, 1, 1, 1)
    assert client_as(tto_b).get("/api/v1/talent/audit-progress").json() == []
    # Unreadable upload: 422; audits need the manage permission.
    r = client_as(tto).post("/api/v1/talent/audits", data={"organisation_id": str(uni.id)},
                            files={"file": ("x.pdf", b"not a pdf", "application/pdf")})
    assert r.status_code == 422
    r = client_as(commission).post("/api/v1/talent/audits", data={"organisation_id": str(uni.id)},
                                   files={"file": ("r.txt", text.encode(), "text/plain")})
    assert r.status_code == 403
    assert client_as(principal(Role.ENTERPRISE, organisation_id=uni.id)).get("/api/v1/talent/audits").status_code == 403
    assert client_as(None).get("/api/v1/talent/audits").status_code == 401
