"""The talent demo: a published blind round with an appeal, an applied R&D round in review whose team dossier
links the showcase transfer records, the demo expert's pending assignment, practice records; idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from kechuang.core.auth import SYSTEM, Role
from kechuang.demo import generator
from kechuang.talent import demo
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import Appeal, Dossier, ReviewAssignment, TalentEvaluation
from kechuang.transfer import demo as transfer_demo
from tests.conftest import principal


def test_demo_rounds(session):
    generator.load(session, SYSTEM, generator.generate("small", 2025), source="demo:small:test")
    transfer_demo.load(session, "small", 2025)
    counts = demo.load(session, 2025)
    assert counts == {"evaluations": 3, "dossiers": 6, "reviews": 15, "practice": 2}
    evs = session.scalars(select(TalentEvaluation).order_by(TalentEvaluation.id)).all()
    assert [e.status for e in evs] == ["published", "reviewing", "reviewing"] and all(e.is_synthetic for e in evs)
    assert all("演示" in e.title for e in evs)
    assert session.scalar(select(func.count(Appeal.id))) == 1
    uni, researcher = transfer_demo.demo_people(session)
    team = session.scalars(select(Dossier).where(Dossier.evaluation_id == evs[1].id)).one()
    assert team.lead_person_id == researcher.id and team.kind == "team"
    detail = svc.access_dossier_by_id(session, principal(Role.RESEARCHER, person_id=researcher.id), team.id)
    assert any(w.verified and w.ref_type == "transfer" for w in detail.works)
    assert team.evidence["market"]["contract_technical_fen"] > 0
    expert = svc.expert_pool(session)[0]
    mine = svc.my_assignments(session, principal(Role.EXPERT, person_id=expert.id))
    assert any(a["status"] == "assigned" for a in mine)
    assert session.scalar(select(func.count(ReviewAssignment.id)).where(
        ReviewAssignment.evaluation_id == evs[1].id)) >= 2
    assert demo.load(session, 2025) == {}  # idempotent
