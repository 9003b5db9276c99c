import re
from pathlib import Path

import pytest
from sqlalchemy import select

from kechuang.commitments import service
from kechuang.commitments.models import Commitment
from kechuang.core.auth import Role
from tests.conftest import principal

SEED = Path(__file__).resolve().parents[2] / "src" / "kechuang" / "commitments" / "seed" / "hukeitifu-2025-56.txt"


@pytest.fixture
def reply_id(session, system):
    result, _ = service.import_reply(session, system, SEED.read_text(encoding="utf-8"), execute=True)
    return result.reply_id


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without CSRF token"
    return m.group(1)


def test_public_sees_the_reply_without_forms(client_as, reply_id):
    c = client_as(None)
    c.headers["accept"] = "text/html"
    r = c.get("/commitments")
    assert r.status_code == 200 and "沪科提复〔2025〕56号" in r.text
    page = c.get(f"/commitments/replies/{reply_id}")
    assert page.status_code == 200
    assert "我委将全面落实“人工智能+”战略" in page.text and "5,200.73" in page.text
    assert "/status" not in page.text  # no tracking forms for the public
    printable = c.get(f"/commitments/replies/{reply_id}/report")
    assert printable.status_code == 200 and "沪科提复〔2025〕56号" in printable.text


def test_officer_marks_done_with_evidence_and_links(session, client_as, reply_id):
    c = client_as(principal(Role.COMMISSION))
    c.headers["accept"] = "text/html"
    page = c.get(f"/commitments/replies/{reply_id}")
    token = _csrf(page.text)
    cid = session.scalar(select(Commitment.id).where(Commitment.reply_id == reply_id).order_by(Commitment.ordinal))
    bad = c.post(f"/commitments/commitments/{cid}/status", data={"csrf_token": token, "status": "done"},
                 follow_redirects=False)
    assert bad.status_code == 422 and "alert-error" in bad.text
    ok = c.post(f"/commitments/commitments/{cid}/status",
                data={"csrf_token": token, "status": "done", "evidence": "评测体系上线通知"}, follow_redirects=False)
    assert ok.status_code == 303
    linked = c.post(f"/commitments/commitments/{cid}/links",
                    data={"csrf_token": token, "deliverable_type": "feature", "deliverable_key": "science.evaluation"},
                    follow_redirects=False)
    assert linked.status_code == 303
    after = c.get(f"/commitments/replies/{reply_id}").text
    assert "评测体系上线通知" in after and "science.evaluation" in after


def test_import_preview_then_save(client_as):
    c = client_as(principal(Role.COMMISSION))
    c.headers["accept"] = "text/html"
    token = _csrf(c.get("/commitments/import").text)
    text = SEED.read_text(encoding="utf-8")
    preview = c.post("/commitments/import", data={"csrf_token": token, "text": text})
    assert preview.status_code == 200 and "沪科提复〔2025〕56号" in preview.text and "section 2 announces" in preview.text
    saved = c.post("/commitments/import", data={"csrf_token": token, "text": text, "execute": "1"},
                   follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/commitments/replies/")


def test_enterprise_cannot_import(client_as):
    c = client_as(principal(Role.ENTERPRISE, organisation_id=1))
    c.headers["accept"] = "text/html"
    assert c.get("/commitments/import").status_code == 403


def test_progress_by_unit_filters_commitments(client_as, reply_id):
    c = client_as(None)
    c.headers["accept"] = "text/html"
    page = c.get(f"/commitments/replies/{reply_id}", params={"unit": "市教委"}).text
    assert 'id="by-unit"' in page and "市人才局" in page
    assert "配合市教委，结合新工科" in page
    assert "加快研究研发准备金制度" not in page  # a 市国资委 commitment


def test_handling_unit_sees_forms_only_for_its_commitments_and_posts_status(session, client_as, reply_id):
    from tests.factories import make_organisation

    edu = make_organisation(session, kind="government", name_zh="上海市教育委员会（演示）")
    c = client_as(principal(Role.HANDLING_UNIT, organisation_id=edu.id))
    c.headers["accept"] = "text/html"
    page = c.get(f"/commitments/replies/{reply_id}")
    commitments = session.scalars(select(Commitment).where(Commitment.reply_id == reply_id)).all()
    own = {x.id for x in commitments if "市教委" in x.co_units}
    forms = {int(m) for m in re.findall(r'action="/commitments/commitments/(\d+)/status"', page.text)}
    assert forms == own and "/links" not in page.text  # status updates only; linking stays with the office
    target = min(own)
    r = c.post(f"/commitments/commitments/{target}/status", follow_redirects=False,
               data={"status": "in_progress", "note": "", "evidence": "", "csrf_token": _csrf(page.text)})
    assert r.status_code == 303
    assert session.get(Commitment, target).status == "in_progress"
    other = next(x.id for x in commitments if x.id not in own)
    api = client_as(principal(Role.HANDLING_UNIT, organisation_id=edu.id))
    refused = api.post(f"/api/v1/commitments/commitments/{other}/status", json={"status": "in_progress"})
    assert refused.status_code == 403
