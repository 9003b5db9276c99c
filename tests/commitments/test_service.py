import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from kechuang.commitments import report as report_render
from kechuang.commitments import service
from kechuang.commitments.models import Commitment, IndicatorReported, ProposalReply
from kechuang.commitments.schemas import CommitmentUpdate, LinkIn, StatusChange
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import use_locale
from kechuang.registry.models import Qualification
from tests.conftest import principal
from tests.factories import make_fact, make_organisation

SEED = Path(__file__).resolve().parents[2] / "src" / "kechuang" / "commitments" / "seed" / "hukeitifu-2025-56.txt"
DOC = "沪科提复〔2025〕56号"


@pytest.fixture
def seed_text():
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def imported(session, system, seed_text):
    result, _ = service.import_reply(session, system, seed_text, execute=True)
    return result


def test_dry_run_writes_nothing(session, system, seed_text):
    result, parsed = service.import_reply(session, system, seed_text)
    assert not result.executed and result.commitments == 22
    assert session.scalar(select(func.count()).select_from(ProposalReply)) == 0


def test_import_saves_everything_once(session, system, seed_text, imported):
    assert imported.commitments == 22 and imported.figures == 8
    reply = session.scalar(select(ProposalReply).where(ProposalReply.doc_no == DOC))
    assert reply.is_public and reply.handling_result == "解决或采纳"
    assert session.scalar(select(func.count()).select_from(IndicatorReported)) == 8
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    again, _ = service.import_reply(session, system, seed_text, execute=True)
    assert again.unchanged and again.reply_id == imported.reply_id
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    with pytest.raises(Conflict):
        service.import_reply(session, system, seed_text.replace("葛梦然", "某某"), execute=True)


def test_only_the_proposal_office_imports(session, seed_text):
    with pytest.raises(PermissionDenied):
        service.import_reply(session, principal(Role.ENTERPRISE, organisation_id=1), seed_text, execute=True)


def test_public_sees_only_public_replies(session, imported):
    assert [r.doc_no for r in service.list_replies(session, None)] == [DOC]
    session.execute(ProposalReply.__table__.update().values(is_public=False))
    session.expire_all()
    assert service.list_replies(session, None) == []
    with pytest.raises(NotFound):
        service.progress_report(session, None, DOC)
    assert service.list_replies(session, principal(Role.AUDITOR))


def _first(session):
    return session.scalar(select(Commitment).order_by(Commitment.ordinal))


def test_status_flow_needs_evidence_and_is_audited(session, system, imported):
    c = _first(session)
    service.change_status(session, system, c.id, StatusChange(status="in_progress", note="启动"))
    with pytest.raises(ValidationFailed) as exc:
        service.change_status(session, system, c.id, StatusChange(status="done"))
    assert exc.value.errors[0].field == "evidence"
    service.change_status(session, system, c.id, StatusChange(status="done", evidence="平台上线公告 2025-11"))
    with pytest.raises(Conflict):
        service.change_status(session, system, c.id, StatusChange(status="dropped"))
    assert [e.to_status for e in service.history(session, system, c.id)] == ["in_progress", "done"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(c.id),
                                                              AuditEntry.object_type == "commitment")).all()
    assert actions.count("commitments.commitment.status") == 2


def test_links_validate_the_deliverable(session, system, imported):
    c = _first(session)
    lk = service.link(session, system, c.id, LinkIn(deliverable_type="indicator", deliverable_key="empowered_results"))
    assert service.link(session, system, c.id, LinkIn(deliverable_type="indicator",
                                                      deliverable_key="empowered_results")).id == lk.id
    with pytest.raises(ValidationFailed):
        service.link(session, system, c.id, LinkIn(deliverable_type="indicator", deliverable_key="nope"))
    with pytest.raises(ValidationFailed):
        service.link(session, system, c.id, LinkIn(deliverable_type="spaceship", deliverable_key="x"))
    service.link(session, system, c.id, LinkIn(deliverable_type="feature", deliverable_key="science.evaluation"))
    assert len(service.links(session, system, c.id)) == 2


def test_corrections(session, system, imported):
    c = _first(session)
    service.update_commitment(session, system, c.id, CommitmentUpdate(kind="platform", target_date=date(2020, 1, 1),
                                                                       owner="前沿处"))
    with pytest.raises(ValidationFailed):
        service.update_commitment(session, system, c.id, CommitmentUpdate(kind="wish"))
    report = service.progress_report(session, system, DOC, today=date(2026, 1, 1))
    assert report["overdue"] == 1 and report["commitments"][0]["owner"] == "前沿处"


def test_reported_and_computed_never_share_a_field(session, system, imported):
    org = make_organisation(session, is_synthetic=True)
    make_fact(session, org, 2024, rd_expense_fen=123_456_789_00, is_synthetic=True)
    session.add(Qualification(organisation_id=org.id, kind="high_tech", number="GR1", valid_from_date=date(2023, 1, 1),
                              is_synthetic=True))
    session.flush()
    service.compute_indicators(session, system, "2024")
    rows = {(r.code, r.period): r for r in service.indicator_rows(session)}
    turnover = rows[("tech_contract_turnover", "2024")]
    # Reported from the letter; computed from kechuang's (here empty) technology-contract records.
    assert turnover.reported_value == Decimal("5200.73") and turnover.computed_value == 0
    assert turnover.difference == Decimal("-5200.73")
    assert turnover.reported_source == f"{DOC}, p. 1" and "transfer.stats" in turnover.computed_query
    assert ("tech_contract_turnover_yoy", "2024") not in rows or rows[("tech_contract_turnover_yoy",
                                                                      "2024")].computed_value is None
    ht = rows[("high_tech_enterprises", "2024")]
    assert ht.reported_value is None and ht.computed_value >= 1 and ht.computed_from_synthetic_data
    assert "qualification" in ht.computed_query
    report = service.progress_report(session, system, DOC)
    html = report_render.to_html(report)
    assert "报告值" in html and "计算值" in html  # zh by default
    with use_locale("en"):
        html_en = report_render.to_html(report)
        xlsx = report_render.to_xlsx(report)
    assert "Reported value" in html_en and "Computed value" in html_en
    assert "computed from synthetic demo data" in html_en
    ws = load_workbook(io.BytesIO(xlsx))["Indicators"]
    header = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
    assert "Reported value" in header and "Computed value" in header
    assert header.index("Reported value") != header.index("Computed value")
    json.loads(report_render.to_json(report))


def test_api_public_read_and_guarded_write(session, imported, client_as):
    anon = client_as(None)
    assert anon.get("/api/v1/commitments/replies").json()[0]["doc_no"] == DOC
    r = anon.get(f"/api/v1/commitments/replies/{DOC}/commitments")
    assert r.status_code == 200 and len(r.json()) == 22
    cid = r.json()[0]["id"]
    assert anon.post(f"/api/v1/commitments/commitments/{cid}/status", json={"status": "done"}).status_code == 401
    ent = client_as(principal(Role.ENTERPRISE, organisation_id=1))
    assert ent.post(f"/api/v1/commitments/commitments/{cid}/status",
                    json={"status": "in_progress"}).status_code == 403
    off = client_as(principal(Role.COMMISSION))
    ok = off.post(f"/api/v1/commitments/commitments/{cid}/status", json={"status": "done", "evidence": "文件"})
    assert ok.status_code == 200 and ok.json()["status"] == "done"
    html = anon.get(f"/api/v1/commitments/replies/{DOC}/report", params={"format": "html"})
    assert html.status_code == 200 and "沪科提复" in html.text


# ---------------------------------------------------------------- handling units (承办单位)
def _unit_officer(session, name_zh: str):
    org = make_organisation(session, kind="government", name_zh=name_zh)
    return principal(Role.HANDLING_UNIT, organisation_id=org.id, username="unit")


def test_handling_unit_updates_only_its_own_commitments(session, imported):
    edu = _unit_officer(session, "上海市教育委员会（演示）")
    commitments = service.list_commitments(session, edu, DOC)
    own = next(c for c in commitments if "市教委" in c.co_units)
    other = next(c for c in commitments if c.co_units == ["市国资委"])
    assert service.may_track(session, edu, own) and not service.may_track(session, edu, other)
    done = service.change_status(session, edu, own.id, StatusChange(status="in_progress", note="已启动"))
    assert done.status == "in_progress"
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "commitments.commitment.status" and entry.actor_role == "handling_unit_officer"
    with pytest.raises(PermissionDenied):
        service.change_status(session, edu, other.id, StatusChange(status="in_progress"))
    with pytest.raises(PermissionDenied):  # the unit tracks status; correcting or linking stays with the office
        service.link(session, edu, own.id, LinkIn(deliverable_type="feature", deliverable_key="policy.sandbox"))


def test_unknown_government_unit_tracks_nothing(session, imported):
    district = _unit_officer(session, "浦东新区科学技术委员会（演示）")
    c = service.list_commitments(session, district, DOC)[0]
    assert not service.may_track(session, district, c)
    with pytest.raises(PermissionDenied):
        service.change_status(session, district, c.id, StatusChange(status="in_progress"))


def test_handling_unit_reads_non_public_replies_it_handles(session, imported):
    reply = session.scalar(select(ProposalReply).where(ProposalReply.doc_no == DOC))
    reply.is_public = False
    session.flush()
    assert service.list_replies(session, None) == []
    assert [r.doc_no for r in service.list_replies(session, _unit_officer(session, "上海市人才工作局"))] == [DOC]
    assert service.list_replies(session, _unit_officer(session, "上海市财政局")) == []
