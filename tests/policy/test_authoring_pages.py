"""Policy editor and sandbox: pages and JSON API, with their guards."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from kechuang.core.auth import Role
from kechuang.policy import versions
from tests.conftest import principal
from tests.factories import make_fact, make_organisation
from tests.policy.test_sandbox import POLICY

COMMISSION = principal(Role.COMMISSION, user_id=7, username="officer7")
DISTRICT = principal(Role.DISTRICT, user_id=8, username="district8", district="徐汇区")
ENTERPRISE = principal(Role.ENTERPRISE, user_id=9, organisation_id=1)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without CSRF token"
    return m.group(1)


def _html(client):
    client.headers["accept"] = "text/html"
    return client


@pytest.fixture
def published(session):
    for district, rd in [("徐汇区", 4), ("浦东新区", 6)]:
        org = make_organisation(session, district=district)
        make_fact(session, org, 2024, revenue_fen=100_000_000_00, rd_expense_fen=rd * 1_000_000_00)
    v = versions.save_version(session, COMMISSION, POLICY, "test policy")
    versions.publish(session, COMMISSION, v.id)
    return v


def test_editor_save_errors_at_line_col_then_new_version_and_publish(session, client_as, published):
    c = _html(client_as(COMMISSION))
    page = c.get("/policy/editor")
    assert page.status_code == 200 and "sandbox-rd" in page.text
    page = c.get("/policy/editor/sandbox-rd")
    assert page.status_code == 200 and "v1" in page.text and "test policy" in page.text
    token = _csrf(page.text)
    bad = c.post("/policy/editor/sandbox-rd", data={"csrf_token": token, "reason": "typo",
                                                    "yaml_text": POLICY.replace("rd_intensity >=", "rd_intensty >=")})
    assert bad.status_code == 422 and "sandbox-rd@v2:12:11" in bad.text and "unknown name &#39;rd_intensty&#39;" in bad.text
    no_reason = c.post("/policy/editor/sandbox-rd", data={"csrf_token": token, "reason": " ", "yaml_text": POLICY + "#"})
    assert no_reason.status_code == 422 and "f-reason" in no_reason.text
    ok = c.post("/policy/editor/sandbox-rd", data={"csrf_token": token, "reason": "lower the threshold",
                                                   "yaml_text": POLICY.replace("0.05}", "0.04}")}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/policy/editor/sandbox-rd?saved=2"
    page = c.get("/policy/editor/sandbox-rd?saved=2")
    assert "lower the threshold" in page.text and "officer7" in page.text
    vid = int(re.search(r'/policy/editor/versions/(\d+)/publish', page.text).group(1))
    pub = c.post(f"/policy/editor/versions/{vid}/publish", data={"csrf_token": token}, follow_redirects=False)
    assert pub.status_code == 303
    assert versions.published_version_of(session, "sandbox-rd").id == vid


def test_district_officer_edits_but_cannot_publish_enterprise_refused(client_as, published):
    d = _html(client_as(DISTRICT))
    page = d.get("/policy/editor/sandbox-rd")
    assert page.status_code == 200 and "/publish" not in page.text
    token = _csrf(page.text)
    assert d.post(f"/policy/editor/versions/{published.id}/publish", data={"csrf_token": token}).status_code == 403
    e = _html(client_as(ENTERPRISE))
    assert e.get("/policy/editor").status_code == 403
    assert e.get("/policy/sandbox").status_code == 403


def test_new_policy_page(client_as, published):
    c = _html(client_as(COMMISSION))
    page = c.get("/policy/editor/new")
    assert page.status_code == 200 and "new-policy-id" in page.text
    token = _csrf(page.text)
    text = POLICY.replace("sandbox-rd", "sandbox-new")
    r = c.post("/policy/editor/new", data={"csrf_token": token, "yaml_text": text, "reason": "new"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/policy/editor/sandbox-new")
    dup = c.post("/policy/editor/new", data={"csrf_token": token, "yaml_text": text + "#", "reason": "again"})
    assert dup.status_code == 409


def test_sandbox_page_params_chart_table_and_xlsx(client_as, published):
    c = _html(client_as(COMMISSION))
    page = c.get("/policy/sandbox?policy=sandbox-rd")
    assert page.status_code == 200 and 'name="param.min_intensity"' in page.text
    token = _csrf(page.text)
    r = c.post("/policy/sandbox", data={"csrf_token": token, "mode": "params", "policy": "sandbox-rd",
                                        "param.min_intensity": "0.04"})
    assert r.status_code == 200
    assert 'data-chart="policySandbox"' in r.text and "chart-policySandbox" in r.text
    assert "徐汇区" in r.text and "40.00 万元" in r.text and 'id="sandbox-policies"' in r.text
    x = c.post("/policy/sandbox", data={"csrf_token": token, "mode": "params", "policy": "sandbox-rd",
                                        "param.min_intensity": "0.04", "export": "1"})
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "changes" in load_workbook(io.BytesIO(x.content)).sheetnames
    bad = c.post("/policy/sandbox", data={"csrf_token": token, "mode": "params", "policy": "sandbox-rd",
                                          "param.cap_fen": "1.5"})
    assert bad.status_code == 422 and "f-param.cap_fen" in bad.text
    draft = c.post("/policy/sandbox", data={"csrf_token": token, "mode": "draft",
                                            "yaml_text": POLICY.replace("0.05}", "0.07}")})
    assert draft.status_code == 200 and ("No longer eligible" in draft.text or "不再符合" in draft.text)
    page = c.get(f"/policy/sandbox?version={published.id}")
    assert page.status_code == 200 and "sandbox-rd" in page.text


def test_api_versions_and_sandbox(client_as, published):
    c = client_as(COMMISSION)
    lst = c.get("/api/v1/policy/versions").json()
    row = next(x for x in lst if x["key"] == "sandbox-rd")
    assert row["published"]["version"] == 1
    r = c.post("/api/v1/policy/versions", json={"yaml_text": POLICY + "# note\n", "reason": "comment",
                                                "policy_key": "sandbox-rd"})
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["status"] == "draft"
    bad = c.post("/api/v1/policy/versions", json={"yaml_text": "id: [", "reason": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "yaml_text"
    assert c.post(f"/api/v1/policy/versions/{r.json()['id']}/publish").json()["status"] == "published"
    assert c.get(f"/api/v1/policy/versions/{published.id}").json()["status"] == "retired"
    s = c.post("/api/v1/policy/sandbox", json={"policy_key": "sandbox-rd", "params": {"min_intensity": "0.04"},
                                               "year": 2024}).json()
    assert s["counts"]["gain"] >= 1 and s["total_fen"] - s["base_total_fen"] == s["gained_fen"] - s["lost_fen"]
    assert s["in_run"] and s["run_policies"] == ["sandbox-rd"] and s["run_fen"] == s["total_fen"]
    assert {c["policy_id"] for c in s["changes"]} == {"sandbox-rd"} and s["changes"][0]["draft_excluded_by"] is None
    assert [e["policy_id"] for e in s["by_policy"]] == ["sandbox-rd"]
    x = c.post("/api/v1/policy/sandbox/export", json={"policy_key": "sandbox-rd", "year": 2024})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    e = client_as(ENTERPRISE)
    assert e.get("/api/v1/policy/versions").status_code == 403
    assert e.post("/api/v1/policy/sandbox", json={"policy_key": "sandbox-rd"}).status_code == 403
    assert client_as(DISTRICT).post(f"/api/v1/policy/versions/{published.id}/publish").status_code == 403
    assert client_as(None).get("/api/v1/policy/versions").status_code == 401
