"""Demo data for talent evaluation (synthetic, labelled 演示): at the demo TTO officer's university, a published
basic-research round (blind, calibrated, one appeal waiting for its outcome) and an applied R&D round in review
whose team dossier of the demo researcher links the showcase transfer records; at a second university a blind
round in which the demo expert has a dossier to score; industry-practice records (a completed 2024 placement,
a secondment under way).

Everything is written through ``dossier_service`` (audited step by step), deterministic for a seed, and
skipped when the university already has demo evaluations. Called by ``kechuang demo load --execute``.
"""

from __future__ import annotations

import contextlib
import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, ValidationFailed
from kechuang.registry.models import Affiliation, Organisation, Person
from kechuang.talent import dossier_service as svc
from kechuang.talent import service as scheme_service
from kechuang.talent.models import Dossier, EvaluationScheme, ReviewAssignment, TalentEvaluation
from kechuang.talent.scheme import SCHEMES_DIR
from kechuang.transfer.models import AchievementMember, Transfer

LABEL = "（演示）"


def _people_with_role(session: Session, role: str, limit: int, exclude: set[int]) -> list[Person]:
    out: list[Person] = []
    last = 0
    while len(out) < limit:
        batch = session.scalars(select(Person).where(Person.id > last).order_by(Person.id).limit(500)).all()
        if not batch:
            break
        out += [p for p in batch if role in (p.roles or []) and p.id not in exclude]
        last = batch[-1].id
    return out[:limit]


def _scheme(session: Session, tto: Principal, uni: Organisation, file: str) -> int:
    content = (SCHEMES_DIR / file).read_text(encoding="utf-8")
    key = scheme_service.sch.parse_scheme_text(content).id
    row = session.scalar(select(EvaluationScheme).where(
        EvaluationScheme.organisation_id == uni.id, EvaluationScheme.scheme_key == key,
        EvaluationScheme.status == "in_force"))
    if row is not None:
        return row.id
    row = scheme_service.create_scheme(session, tto, uni.id, content)
    scheme_service.put_in_force(session, tto, row.id)
    return row.id


def _affiliate(session: Session, person: Person, uni: Organisation) -> None:
    """Demo candidates work at the university (their synthetic affiliation is added if missing)."""
    if svc._current_orgs(session, [person.id]).get(person.id, set()) & {uni.id}:
        return
    session.add(Affiliation(person_id=person.id, organisation_id=uni.id, position="研究员" + LABEL,
                            start_date=date(2018, 9, 1)))
    session.flush()


def _scores(rng: random.Random, quality: float, bias: float, indicators: list[str]) -> dict[str, Decimal]:
    return {k: Decimal(str(round(min(100.0, max(0.0, quality + bias + rng.uniform(-4, 4))), 1))) for k in indicators}


def load(session: Session, seed: int = 2025) -> dict[str, int]:
    """Write the demo rounds; returns counts (empty when there is no university, researcher or expert pool)."""
    from kechuang.transfer import demo as transfer_demo

    uni, researcher = transfer_demo.demo_people(session)
    if uni is None or researcher is None:
        return {}
    if session.scalar(select(TalentEvaluation.id).where(TalentEvaluation.organisation_id == uni.id,
                                                        TalentEvaluation.is_synthetic.is_(True))):
        return {}
    rng = random.Random(seed)
    tto = Principal(role=Role.TTO, user_id=None, username="demo-loader", organisation_id=uni.id)
    system = Principal(role=Role.SYSTEM, user_id=None, username="demo-loader")
    colleagues = _people_with_role(session, "researcher", 5, {researcher.id})
    experts = [p for p in svc.expert_pool(session)][:40]
    if len(colleagues) < 3 or len(experts) < 4:
        return {}
    for p in [researcher, *colleagues]:
        _affiliate(session, p, uni)
    basic_id = _scheme(session, tto, uni, "basic-research-example.yaml")
    applied_id = _scheme(session, tto, uni, "applied-rd-example.yaml")
    counts = {"evaluations": 0, "dossiers": 0, "reviews": 0, "practice": 0}

    # Industry practice: a completed 2024 placement of a colleague (evidence in the basic round) and a
    # secondment of the demo researcher under way.
    hosts = list(session.scalars(select(Organisation).where(Organisation.kind == "enterprise")
                                 .order_by(Organisation.id).limit(3)))
    if hosts:
        p = svc.create_practice(session, tto, svc.PracticeIn(
            person_id=colleagues[0].id, host_organisation_id=hosts[0].id, kind="placement", round_label="2024",
            start_date=date(2024, 9, 1), end_date=date(2025, 7, 15), mentor_name="企业导师" + LABEL,
            tasks="参与企业智能产线的视觉检测算法开发与现场部署" + LABEL, is_synthetic=True))
        svc.report_practice_outcome(session, system, p.id, "完成两条产线的缺陷检测系统部署，形成企业技术标准草案一项" + LABEL)
        svc.host_evaluate_practice(session, system, p.id, "excellent", "解决了企业长期存在的漏检问题" + LABEL)
        svc.create_practice(session, tto, svc.PracticeIn(
            person_id=researcher.id, host_organisation_id=hosts[-1].id, kind="secondment",
            start_date=svc.today() - timedelta(days=90), end_date=svc.today() + timedelta(days=275),
            mentor_name="技术副总" + LABEL, tasks="赴企业挂职技术副总，牵头新产品研发" + LABEL, is_synthetic=True))
        counts["practice"] = 2

    # A published, blind basic-research round of five colleagues; expert 0 is systematically harsh.
    ev = svc.create_evaluation(session, tto, svc.EvaluationIn(
        scheme_id=basic_id, round_label=f"{svc.today().year - 1}", title="基础研究类人才评价" + LABEL,
        reviewers_per_dossier=3, load_cap=4, calibration="bias", seed=seed, is_synthetic=True))
    counts["evaluations"] += 1
    quality = {}
    for i, person in enumerate(colleagues):
        me = Principal(role=Role.RESEARCHER, user_id=None, username="demo-loader", person_id=person.id)
        d = svc.create_dossier(session, me, svc.DossierIn(
            evaluation_id=ev.id, field="0812", plan="未来五年聚焦可信人工智能的基础理论" + LABEL, is_synthetic=True))
        for j in range(3):
            svc.add_work(session, me, d.id, svc.WorkIn(
                kind="paper", title=f"代表作论文{j + 1}：关于学习理论的若干结果{LABEL}", year=2022 + j,
                venue="中国科学：信息科学" if j == 0 else "Journal of Machine Learning Research",
                domestic_journal=j == 0, contribution_statement="提出核心证明思路并完成全部理论推导" + LABEL))
        svc.submit_dossier(session, me, d.id)
        quality[d.id] = 62 + 6 * i + rng.uniform(-2, 2)
        counts["dossiers"] += 1
    svc.draw_reviewers(session, tto, ev.id)
    drawn = sorted(set(session.scalars(select(ReviewAssignment.reviewer_person_id).where(
        ReviewAssignment.evaluation_id == ev.id))))
    bias = {r: (-15.0 if k == 0 else rng.uniform(-3, 3)) for k, r in enumerate(drawn)}  # the first is harsh
    indicators = [i.id for i in svc.scored_indicators(svc.scheme_of(session, ev))]
    for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev.id)
                             .order_by(ReviewAssignment.id)):
        reviewer = Principal(role=Role.EXPERT, user_id=None, username="demo-loader", person_id=a.reviewer_person_id)
        svc.submit_review(session, reviewer, a.id, _scores(rng, quality[a.dossier_id], bias.get(a.reviewer_person_id, 0),
                                                           indicators), "代表作原创性较强" + LABEL)
        counts["reviews"] += 1
    svc.compute_results(session, tto, ev.id)
    ranked = sorted(quality, key=quality.get, reverse=True)
    for rank, d_id in enumerate(ranked):
        outcome = "excellent" if rank == 0 else ("fail" if rank == len(ranked) - 1 else "pass")
        svc.decide(session, tto, d_id, outcome, "经同行评议与校准排序，评审委员会认定如上" + LABEL)
    svc.publish(session, tto, ev.id)
    lead_of_last = session.scalar(select(Dossier.lead_person_id).where(Dossier.id == ranked[-1]))
    svc.file_appeal(session, Principal(role=Role.RESEARCHER, user_id=None, username="demo-loader",
                                       person_id=lead_of_last), ranked[-1],
                    "第三项代表作的数据贡献未被评审充分考虑，申请复核" + LABEL)

    # An applied R&D round in review: the demo researcher's dossier links the showcase transfer records.
    ev2 = svc.create_evaluation(session, tto, svc.EvaluationIn(
        scheme_id=applied_id, round_label=f"{svc.today().year}", title="应用研发类人才评价" + LABEL,
        reviewers_per_dossier=2, load_cap=4, calibration="bias", seed=seed + 1, is_synthetic=True))
    counts["evaluations"] += 1
    d = svc.create_dossier(session, system, svc.DossierIn(
        evaluation_id=ev2.id, kind="team", team_name="智能检测团队" + LABEL, field="0812",
        plan="推进晶圆检测技术在三家企业落地" + LABEL, is_synthetic=True,
        members=[svc.MemberIn(person_id=colleagues[1].id, role="core", contribution="算法实现与现场调试" + LABEL)]),
        lead_person_id=researcher.id)
    me = Principal(role=Role.RESEARCHER, user_id=None, username="demo-loader", person_id=researcher.id)
    transfers = list(session.scalars(select(Transfer).join(
        AchievementMember, AchievementMember.achievement_id == Transfer.achievement_id).where(
        AchievementMember.person_id == researcher.id, Transfer.state.in_(("signed", "completed")))
        .order_by(Transfer.id.desc()).limit(2)))  # the showcase (newest) first
    for t in transfers:
        svc.add_work(session, me, d.id, svc.WorkIn(kind="transferred_result", ref_type="transfer", ref_id=t.id,
                                                   contribution_statement="本人为第一完成人，负责核心算法" + LABEL))
    while len(d.works) < 2:
        svc.add_work(session, me, d.id, svc.WorkIn(
            kind="technical_solution", title=f"晶圆缺陷在线检测技术方案{len(d.works) + 1}{LABEL}",
            contribution_statement="牵头方案设计并完成工程验证" + LABEL))
    svc.submit_dossier(session, me, d.id)
    counts["dossiers"] += 1
    svc.draw_reviewers(session, tto, ev2.id)
    counts["evaluations"] += _other_university_round(session, rng, uni, researcher, colleagues, experts[0], seed)
    return counts


def _other_university_round(session: Session, rng: random.Random, uni: Organisation, researcher: Person,
                            colleagues: list[Person], demo_expert: Person, seed: int) -> int:
    """A blind round at a second university in which the demo expert (who may work at the first one) has a
    dossier to score."""
    other = session.scalar(select(Organisation).where(Organisation.kind == "university", Organisation.id != uni.id)
                           .order_by(Organisation.id).limit(1))
    if other is None:
        return 0
    tto = Principal(role=Role.TTO, user_id=None, username="demo-loader", organisation_id=other.id)
    scheme_id = _scheme(session, tto, other, "basic-research-example.yaml")
    ev = svc.create_evaluation(session, tto, svc.EvaluationIn(
        scheme_id=scheme_id, round_label=f"{svc.today().year}", title="青年教师基础研究类评价" + LABEL,
        reviewers_per_dossier=2, load_cap=3, seed=seed + 2, is_synthetic=True))
    skip = {researcher.id, demo_expert.id} | {p.id for p in colleagues}
    candidates = _people_with_role(session, "researcher", 2, skip)
    for person in candidates:
        _affiliate(session, person, other)
        me = Principal(role=Role.RESEARCHER, user_id=None, username="demo-loader", person_id=person.id)
        d = svc.create_dossier(session, me, svc.DossierIn(
            evaluation_id=ev.id, field="0702", plan="围绕量子材料的输运性质开展系统研究" + LABEL, is_synthetic=True))
        for j in range(3):
            svc.add_work(session, me, d.id, svc.WorkIn(
                kind="paper", title=f"代表作论文{j + 1}：二维材料中的反常输运{LABEL}", year=2023 + j % 2,
                venue="物理学报" if j == 0 else "Physical Review Letters", domestic_journal=j == 0,
                contribution_statement=f"{person.name_zh}为第一作者，完成样品制备与测量（{other.name_zh}）{LABEL}"))
        svc.submit_dossier(session, me, d.id)
    svc.draw_reviewers(session, tto, ev.id)
    for d_id in session.scalars(select(Dossier.id).where(Dossier.evaluation_id == ev.id).order_by(Dossier.id)):
        with contextlib.suppress(Conflict, ValidationFailed):  # conflicted in a custom data set: skip
            svc.assign_reviewer(session, tto, ev.id, d_id, demo_expert.id)
            break
    return 1
