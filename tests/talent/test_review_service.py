"""Dossier, review and practice rules at the service level: verified links to transfer records and market
evidence, representative-work rules, conflicts of interest excluded, load caps and the seeded draw,
calibration of a systematically harsh reviewer, appeals, industry practice counted as evidence, and
cross-unit refusals."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.pagination import PageParams
from kechuang.talent import assignment, calibration
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import Dossier, ReviewAssignment, TalentEvaluation
from tests.conftest import principal
from tests.factories import make_organisation, make_person
from tests.talent.world import (
    PAPER_TEXT,
    achievement,
    affiliate,
    basic_dossier,
    contract,
    income,
    make_world,
    open_evaluation,
    relation,
    transfer,
)

STATEMENT = "本人负责核心算法设计与工程实现，贡献约百分之六十。"


def _errors(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


# ---------------------------------------------------------------- verified links and market evidence
def test_links_to_transfer_records_are_verified_and_bring_market_evidence(session):
    w = make_world(session, n_candidates=2, n_experts=0)
    cand, stranger = w.candidates
    a = achievement(session, w.uni, [cand])
    t = transfer(session, a, w.uni, w.firm, mode="licence")
    c = contract(session, w.uni, w.firm, achievement_id=a.id, technical_fen=30_000_000)
    income(session, a, w.uni, 12_000_000)
    draft_t = transfer(session, a, w.uni, w.firm, state="draft")
    unregistered = contract(session, w.uni, w.firm, achievement_id=a.id, state="submitted")
    ev = open_evaluation(session, w, scheme_id=w.applied_scheme_id)
    me = w.researcher(cand)
    d = svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev))

    work = svc.add_work(session, me, d.id, svc.WorkIn(kind="transferred_result", contribution_statement=STATEMENT,
                                                      ref_type="transfer", ref_id=t.id))
    assert work.verified and work.title == a.title and work.identifier == a.number and work.year == 2025
    # A record that does not name the candidate, a draft transfer, an unregistered contract, a wrong kind:
    other_a = achievement(session, w.uni, [stranger])
    for ref_type, ref_id, kind in (("transfer", transfer(session, other_a, w.uni, w.firm).id, "transferred_result"),
                                   ("achievement", other_a.id, "patent"), ("transfer", draft_t.id, "transferred_result"),
                                   ("contract", unregistered.id, "transferred_result"),
                                   ("achievement", 999_999, "patent")):
        with pytest.raises(ValidationFailed) as exc:
            svc.add_work(session, me, d.id, svc.WorkIn(kind=kind, contribution_statement=STATEMENT,
                                                       ref_type=ref_type, ref_id=ref_id))
        assert _errors(exc) == ["ref_id"], (ref_type, ref_id)
    with pytest.raises(ValidationFailed) as exc:
        svc.add_work(session, me, d.id, svc.WorkIn(kind="paper", contribution_statement=STATEMENT,
                                                   ref_type="transfer", ref_id=t.id, domestic_journal=True))
    assert _errors(exc) == ["ref_type"]
    with pytest.raises(ValidationFailed) as exc:
        svc.add_work(session, me, d.id, svc.WorkIn(kind="patent", contribution_statement="短", title="x"))
    assert _errors(exc) == ["contribution_statement"]

    svc.add_work(session, me, d.id, svc.WorkIn(kind="patent", contribution_statement=STATEMENT,
                                               ref_type="achievement", ref_id=a.id))
    svc.add_work(session, me, d.id, svc.WorkIn(kind="technical_solution", title="某工艺技术方案",
                                               contribution_statement=STATEMENT))
    svc.submit_dossier(session, me, d.id)
    market = d.evidence["market"]
    assert market["contracts"] == 1 and market["contract_ids"] == [c.id]
    assert market["contract_technical_fen"] == 30_000_000 and isinstance(market["contract_technical_fen"], int)
    assert market["licences"] == 1 and market["transfer_ids"] == [t.id]
    assert market["income_fen"] == 12_000_000
    assert [x.verified for x in d.works] == [True, True, False]


def test_representative_work_rules_of_the_scheme_are_enforced(session):
    w = make_world(session, n_candidates=1, n_experts=0)
    ev = open_evaluation(session, w)
    d_id = basic_dossier(session, w, ev, w.candidates[0], submit=False, domestic=(True, False))
    me = w.researcher(w.candidates[0])
    with pytest.raises(ValidationFailed) as exc:  # two works, the scheme asks for 3–5
        svc.submit_dossier(session, me, d_id)
    assert _errors(exc) == ["works"]
    svc.add_work(session, me, d_id, svc.WorkIn(kind="standard", title="某国家标准", contribution_statement=STATEMENT))
    with pytest.raises(ValidationFailed) as exc:  # a standard is not a basic-research representative work here
        svc.submit_dossier(session, me, d_id)
    assert _errors(exc) == ["works[2].kind"]
    with pytest.raises(ValidationFailed) as exc:
        svc.add_work(session, me, d_id, svc.WorkIn(kind="paper", title="x", contribution_statement=STATEMENT))
    assert _errors(exc) == ["domestic_journal"]


def test_dataset_links_are_verified_by_creator(session):
    from kechuang.science.models import Dataset

    w = make_world(session, n_candidates=1, n_experts=0)
    cand = w.candidates[0]
    cand.orcid = "0000-0002-1825-0097"
    ds = Dataset(slug="t", version="1.0.0", name="测试数据集", description="d", publisher="p", publication_year=2024,
                 identifier="kc:t", creators=[{"name": "Someone", "orcid": cand.orcid}])
    other = Dataset(slug="u", version="1.0.0", name="别人的数据集", description="d", publisher="p",
                    publication_year=2024, identifier="kc:u", creators=[{"name": "别人"}])
    session.add_all([ds, other])
    session.flush()
    ev = open_evaluation(session, w)
    me = w.researcher(cand)
    d = svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev))
    work = svc.add_work(session, me, d.id, svc.WorkIn(kind="dataset", contribution_statement=STATEMENT,
                                                      ref_type="dataset", ref_id=ds.id))
    assert work.verified and work.title == "测试数据集"
    with pytest.raises(ValidationFailed):
        svc.add_work(session, me, d.id, svc.WorkIn(kind="dataset", contribution_statement=STATEMENT,
                                                   ref_type="dataset", ref_id=other.id))


# ---------------------------------------------------------------- conflicts and load caps
def test_conflicted_reviewers_are_never_drawn(session):
    w = make_world(session, n_candidates=1, n_experts=3)
    cand = w.candidates[0]
    colleague = make_person(session, name_zh="同校专家", roles=["expert"])
    affiliate(session, colleague, w.uni)
    coauthor = make_person(session, name_zh="合作者专家", roles=["expert", "researcher"])
    affiliate(session, coauthor, make_organisation(session, kind="institute"))
    holder = make_person(session, name_zh="股东专家", roles=["expert"])
    affiliate(session, holder, make_organisation(session, kind="institute"))
    legal_rep = make_person(session, name_zh="法人专家", roles=["expert"])
    affiliate(session, legal_rep, make_organisation(session, kind="institute"))
    declared = make_person(session, name_zh="声明合作者", roles=["expert"])
    affiliate(session, declared, make_organisation(session, kind="institute"))
    left = make_person(session, name_zh="已离职专家", roles=["expert"])  # left the university years ago
    session.add_all([])
    from kechuang.registry.models import Affiliation

    session.add(Affiliation(person_id=left.id, organisation_id=w.uni.id, start_date=date(2000, 1, 1),
                            end_date=date(2010, 1, 1)))
    affiliate(session, left, make_organisation(session, kind="institute"))
    # The candidate's licensed patent names the co-author; the licensee has the shareholder; the candidate's
    # spin-off has the other expert as legal representative.
    a = achievement(session, w.uni, [cand, coauthor])
    t = transfer(session, a, w.uni, w.firm)
    relation(session, w.firm, holder, "shareholder")
    spin_off = make_organisation(session, kind="enterprise")
    relation(session, spin_off, cand, "shareholder")
    relation(session, spin_off, legal_rep, "legal_representative")

    ev_id = open_evaluation(session, w, scheme_id=w.applied_scheme_id, reviewers_per_dossier=5, load_cap=5)
    me = w.researcher(cand)
    d = svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev_id))
    svc.add_work(session, me, d.id, svc.WorkIn(kind="transferred_result", contribution_statement=STATEMENT,
                                               ref_type="transfer", ref_id=t.id))
    svc.add_work(session, me, d.id, svc.WorkIn(kind="technical_solution", title="方案", contribution_statement=STATEMENT,
                                               coauthor_person_ids=[declared.id]))
    svc.submit_dossier(session, me, d.id)
    out = svc.draw_reviewers(session, w.tto, ev_id)
    drawn = set(session.scalars(select(ReviewAssignment.reviewer_person_id).where(ReviewAssignment.dossier_id == d.id)))
    assert drawn == {e.id for e in w.experts} | {left.id}
    excluded = out["excluded"][str(d.id)]
    assert excluded == {str(colleague.id): ["same_unit"], str(coauthor.id): ["coauthor"],
                        str(holder.id): ["shareholder"], str(legal_rep.id): ["legal_representative"],
                        str(declared.id): ["coauthor"]}
    assert out["short"] == {str(d.id): 1}  # five wanted, four eligible: short rather than conflicted
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "talent.evaluation.draw")).one()
    assert entry.after["excluded"][str(d.id)] == excluded
    # Adding a named expert by hand goes through the same conflict check.
    with pytest.raises(Conflict) as exc:
        svc.assign_reviewer(session, w.tto, ev_id, d.id, holder.id)
    assert "shareholder" in exc.value.render_message("en")
    with pytest.raises(ValidationFailed):
        svc.assign_reviewer(session, w.tto, ev_id, d.id, cand.id)  # not an expert
    fresh = make_person(session, roles=["expert"])
    a = svc.assign_reviewer(session, w.tto, ev_id, d.id, fresh.id)
    assert svc.assign_reviewer(session, w.tto, ev_id, d.id, fresh.id).id == a.id
    with pytest.raises(NotFound):
        svc.assign_reviewer(session, w.tto_other, ev_id, d.id, fresh.id)


def test_load_caps_and_the_seeded_draw(session):
    w = make_world(session, n_candidates=5, n_experts=4)
    ev_id = open_evaluation(session, w, reviewers_per_dossier=3, load_cap=3, seed=42)
    ids = [basic_dossier(session, w, ev_id, c) for c in w.candidates]
    out = svc.draw_reviewers(session, w.tto, ev_id)
    rows = session.execute(select(ReviewAssignment.reviewer_person_id, ReviewAssignment.dossier_id).where(
        ReviewAssignment.evaluation_id == ev_id)).all()
    load: dict[int, int] = {}
    for r, _ in rows:
        load[r] = load.get(r, 0) + 1
    assert max(load.values()) <= 3 and len(rows) == 12  # 4 reviewers × cap 3 < 5 dossiers × 3
    assert sum(out["short"].values()) == 3 and set(map(int, out["short"])) <= set(ids)
    assert session.get(TalentEvaluation, ev_id).status == "reviewing"
    # Drawing again adds nobody (caps reached); a decline frees a place that another reviewer fills.
    assert svc.draw_reviewers(session, w.tto, ev_id)["assigned"] == 0
    a = session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev_id)).first()
    reviewer = next(e for e in w.experts if e.id == a.reviewer_person_id)
    svc.decline_assignment(session, w.expert(reviewer), a.id, "与候选人曾合作项目，申请回避。")
    again = svc.draw_reviewers(session, w.tto, ev_id)
    assert again["assigned"] <= 1
    assert a.reviewer_person_id not in set(session.scalars(select(ReviewAssignment.reviewer_person_id).where(
        ReviewAssignment.dossier_id == a.dossier_id, ReviewAssignment.status != "declined")))

    # The pure draw: same seed, same result; caps and conflicts hold on a larger pool.
    dossiers, reviewers = list(range(40)), [f"r{i}" for i in range(15)]
    conflicts = {d: {f"r{d % 15}", f"r{(d * 7) % 15}"} for d in dossiers}
    one = assignment.draw_reviewers(dossiers, reviewers, conflicts, per_dossier=3, load_cap=8, seed=5)
    two = assignment.draw_reviewers(dossiers, reviewers, conflicts, per_dossier=3, load_cap=8, seed=5)
    other = assignment.draw_reviewers(dossiers, reviewers, conflicts, per_dossier=3, load_cap=8, seed=6)
    assert one.assigned == two.assigned and one.assigned != other.assigned
    assert max(one.load.values()) <= 8 and not one.short
    assert all(not set(rs) & conflicts[d] and len(set(rs)) == 3 for d, rs in one.assigned.items())


# ---------------------------------------------------------------- calibration
TRUTH = {f"d{i}": 60 + 3 * i for i in range(8)}  # d7 best
BIAS = {"harsh": -18, "kind": 6, "mid": 2, "fair": 0}
# The harsh reviewer happens to read the best dossiers: raw means rank them too low.
DESIGN = {"harsh": ["d7", "d6", "d5", "d4"], "kind": ["d0", "d1", "d2", "d3", "d7"],
          "mid": ["d4", "d5", "d0", "d1", "d6"], "fair": ["d2", "d3", "d6", "d7", "d4", "d0"]}


def _triples(noise: float = 0.5):
    import random

    rng = random.Random(3)
    return [(r, d, TRUTH[d] + BIAS[r] + rng.uniform(-noise, noise)) for r, ds in DESIGN.items() for d in ds]


def _truth_order() -> list[str]:
    return sorted(TRUTH, key=TRUTH.get, reverse=True)


def test_calibration_recovers_the_truth_with_a_harsh_reviewer():
    raw = calibration.calibrate(_triples(), "none")
    assert sorted(raw.rank, key=raw.rank.get) != _truth_order()  # raw means are misled
    fitted = calibration.calibrate(_triples(), "bias")
    assert sorted(fitted.rank, key=fitted.rank.get) == _truth_order()
    assert min(fitted.reviewer_bias, key=fitted.reviewer_bias.get) == "harsh"
    assert fitted.reviewer_bias["harsh"] < -10
    z = calibration.calibrate(_triples(), "zscore")
    assert min(z.reviewer_bias, key=z.reviewer_bias.get) == "harsh"
    with pytest.raises(ValueError):
        calibration.calibrate(_triples(), "median")


def test_service_ranks_by_calibrated_scores(session):
    w = make_world(session, n_candidates=8, n_experts=4)
    ev_id = open_evaluation(session, w, reviewers_per_dossier=2, load_cap=8, calibration="bias")
    ids = [basic_dossier(session, w, ev_id, c) for c in w.candidates]
    truth = {d: 60 + 3 * i for i, d in enumerate(ids)}
    harsh = w.experts[0]
    # Assign by hand (the design above) instead of drawing, to control who reads what.
    ev = session.get(TalentEvaluation, ev_id)
    ev.status = "reviewing"
    names = {"harsh": w.experts[0], "kind": w.experts[1], "mid": w.experts[2], "fair": w.experts[3]}
    bias = {names[k].id: v for k, v in BIAS.items()}
    for key, ds in DESIGN.items():
        for dname in ds:
            session.add(ReviewAssignment(evaluation_id=ev_id, dossier_id=ids[int(dname[1:])],
                                         reviewer_person_id=names[key].id))
    session.flush()
    for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev_id)):
        s = Decimal(truth[a.dossier_id] + bias[a.reviewer_person_id])
        reviewer = next(e for e in w.experts if e.id == a.reviewer_person_id)
        svc.submit_review(session, w.expert(reviewer), a.id, {"original_contribution": s, "potential": s, "team": s})
    out = svc.compute_results(session, w.tto, ev_id)
    ranks = {int(k): v["rank"] for k, v in out["dossiers"].items()}
    assert sorted(ranks, key=ranks.get) == sorted(ids, key=truth.get, reverse=True)
    assert out["reviewer_bias"][str(harsh.id)] < -10
    raw_ranks = sorted(ids, key=lambda d: -out["dossiers"][str(d)]["raw"])
    assert raw_ranks != sorted(ids, key=truth.get, reverse=True)
    assert session.get(Dossier, ids[-1]).rank == 1


# ---------------------------------------------------------------- appeals
def _published(session, w, n=2):
    ev_id = open_evaluation(session, w, reviewers_per_dossier=2, load_cap=5, appeal_days=15)
    ids = [basic_dossier(session, w, ev_id, c) for c in w.candidates[:n]]
    svc.draw_reviewers(session, w.tto, ev_id)
    for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev_id)):
        reviewer = next(e for e in w.experts if e.id == a.reviewer_person_id)
        svc.submit_review(session, w.expert(reviewer), a.id, {"original_contribution": 70, "potential": 70, "team": 70})
    svc.compute_results(session, w.tto, ev_id)
    for d in ids:
        svc.decide(session, w.tto, d, "fail", "代表作的创新性论证不足，暂不通过。")
    svc.publish(session, w.tto, ev_id)
    return ev_id, ids


def test_appeal_rules(session):
    w = make_world(session, n_candidates=2, n_experts=4)
    ev_id, (d1, d2) = _published(session, w)
    c1, c2 = (w.researcher(c) for c in w.candidates[:2])
    appeal = svc.file_appeal(session, c1, d1, "第二篇代表作的贡献说明被误读，请求复核。")
    assert appeal.previous_outcome == "fail" and appeal.status == "filed"
    with pytest.raises(NotFound):  # not the lead of d1
        svc.file_appeal(session, c2, d1, "第二篇代表作的贡献说明被误读，请求复核。")
    with pytest.raises(ValidationFailed) as exc:
        svc.decide_appeal(session, w.tto, appeal.id, "rejected", "维持原结论，理由充分。", new_outcome="pass")
    assert _errors(exc) == ["new_outcome"]
    svc.decide_appeal(session, w.tto, appeal.id, "rejected", "复核后维持原结论，理由见评审意见。")
    assert svc.decision_of(session, c1, d1).outcome == "fail"
    assert svc.decide_appeal(session, w.tto, appeal.id, "rejected", "复核后维持原结论，理由见评审意见。") is appeal
    # The appeal period ends appeal_days after publication.
    ev = session.get(TalentEvaluation, ev_id)
    ev.published_at = ev.published_at - timedelta(days=16)
    with pytest.raises(Conflict):
        svc.file_appeal(session, c2, d2, "评审程序存在瑕疵，请求复核本次结果。")
    # Decisions cannot be changed after publication except through an appeal.
    with pytest.raises(Conflict):
        svc.decide(session, w.tto, d2, "pass", "改判理由（不应被接受）。")


# ---------------------------------------------------------------- industry practice
def test_placements_count_as_evidence(session):
    w = make_world(session, n_candidates=2, n_experts=2)
    teacher, other = w.candidates
    host = make_organisation(session, kind="enterprise", name_zh="宿主企业有限公司")
    host_user = principal(Role.ENTERPRISE, organisation_id=host.id)
    # The 2024 round is one full academic year: a single term is refused.
    short = svc.PracticeIn(person_id=teacher.id, host_organisation_id=host.id, kind="placement", round_label="2024",
                           start_date=date(2024, 9, 1), end_date=date(2025, 1, 31), tasks="参与企业产线工艺改进项目。",
                           mentor_name="王工")
    with pytest.raises(ValidationFailed) as exc:
        svc.create_practice(session, w.tto, short)
    assert _errors(exc) == ["end_date"]
    full = svc.PracticeIn(**{**short.__dict__, "end_date": date(2025, 7, 10)})
    p = svc.create_practice(session, w.tto, full)
    with pytest.raises(NotFound):  # another university cannot see or record for it
        svc.access_practice_by_id(session, w.tto_other, p.id)
    with pytest.raises(ValidationFailed):  # not its teacher
        svc.create_practice(session, w.tto_other, full)
    # The host evaluates, the teacher reports; another enterprise and another teacher get 404.
    with pytest.raises(NotFound):
        svc.host_evaluate_practice(session, principal(Role.ENTERPRISE, organisation_id=w.firm.id), p.id, "good")
    with pytest.raises(NotFound):
        svc.report_practice_outcome(session, w.researcher(other), p.id, "别人的报告内容，不应被接受。")
    svc.host_evaluate_practice(session, host_user, p.id, "excellent", "解决了两项工艺难题。")
    assert p.status == "active"
    svc.report_practice_outcome(session, w.researcher(teacher), p.id, "完成产线良率提升方案，形成技术报告两份。")
    assert p.status == "completed"
    # Leave for entrepreneurship completes with the return date.
    leave = svc.create_practice(session, w.tto, svc.PracticeIn(
        person_id=teacher.id, host_organisation_id=w.firm.id, kind="entrepreneurship", start_date=date(2021, 3, 1),
        end_date=date(2024, 2, 28), tasks="离岗创办科技型企业，负责技术研发。"))
    with pytest.raises(Conflict):
        svc.host_evaluate_practice(session, principal(Role.ENTERPRISE, organisation_id=w.firm.id), leave.id, "good")
    svc.record_return(session, w.tto, leave.id, date(2024, 2, 20), "企业完成A轮融资后返岗。")
    assert leave.status == "completed"

    # In the teacher's later evaluation both records are evidence, visible to reviewers without the host's name.
    ev_id = open_evaluation(session, w, reviewers_per_dossier=1, load_cap=5)
    d_id = basic_dossier(session, w, ev_id, teacher)
    evidence = session.get(Dossier, d_id).evidence["practice"]
    assert [(e["kind"], e["host_rating"]) for e in evidence] == [("entrepreneurship", None), ("placement", "excellent")]
    svc.draw_reviewers(session, w.tto, ev_id)
    a = session.scalars(select(ReviewAssignment).where(ReviewAssignment.dossier_id == d_id)).one()
    reviewer = next(e for e in w.experts if e.id == a.reviewer_person_id)
    view = svc.reviewer_view(session, w.expert(reviewer), a.id)
    assert [x["kind"] for x in view["practice"]] == ["entrepreneurship", "placement"]
    assert all(x["host"] is None for x in view["practice"])
    assert {"talent.practice.create", "talent.practice.host_evaluate", "talent.practice.report",
            "talent.practice.return"} <= set(session.scalars(select(AuditEntry.action)))


# ---------------------------------------------------------------- cross-unit refusals
def test_cross_unit_refusals(session):
    w = make_world(session, n_candidates=1, n_experts=2)
    ev_id = open_evaluation(session, w, reviewers_per_dossier=1)
    d_id = basic_dossier(session, w, ev_id, w.candidates[0])
    outsider = make_person(session)
    affiliate(session, outsider, w.other_uni)
    with pytest.raises(NotFound):  # not working at the unit
        svc.create_dossier(session, w.researcher(outsider), svc.DossierIn(evaluation_id=ev_id))
    with pytest.raises(NotFound):
        svc.access_dossier_by_id(session, w.researcher(outsider), d_id)
    for call in (lambda: svc.access_evaluation_by_id(session, w.tto_other, ev_id),
                 lambda: svc.draw_reviewers(session, w.tto_other, ev_id),
                 lambda: svc.access_dossier_by_id(session, w.tto_other, d_id),
                 lambda: svc.decide(session, w.tto_other, d_id, "pass", "跨单位的决定不应被接受。"),
                 lambda: svc.add_work(session, w.researcher(outsider), d_id, svc.WorkIn(
                     kind="paper", title="x", domestic_journal=True, contribution_statement=PAPER_TEXT))):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(PermissionDenied):
        svc.create_evaluation(session, w.commission, svc.EvaluationIn(scheme_id=w.scheme_id, round_label="x"))
    with pytest.raises(PermissionDenied):
        svc.access_dossier_by_id(session, w.expert(w.experts[0]), d_id)
    assert svc.access_dossier_by_id(session, w.commission, d_id).id == d_id
    assert svc.list_evaluations(session, w.tto_other, PageParams()) == ([], 0)
    svc.draw_reviewers(session, w.tto, ev_id)
    a = session.scalars(select(ReviewAssignment).where(ReviewAssignment.dossier_id == d_id)).one()
    not_assigned = next(e for e in w.experts if e.id != a.reviewer_person_id)
    with pytest.raises(NotFound):
        svc.reviewer_view(session, w.expert(not_assigned), a.id)
    with pytest.raises(NotFound):
        svc.submit_review(session, w.expert(not_assigned), a.id, {})
    # Only a scheme in force of the officer's own unit can be applied.
    with pytest.raises(ValidationFailed):
        from kechuang.talent import service as scheme_service
        from tests.talent.world import BASIC

        draft = scheme_service.create_scheme(session, w.tto, w.uni.id, BASIC)
        svc.create_evaluation(session, w.tto, svc.EvaluationIn(scheme_id=draft.id, round_label="2027"))


def test_no_talent_title_anywhere():
    from kechuang.talent import dossier_schemas, models

    banned = ("talent_title", "honor", "honour", "hat", "title_level")
    for table in (models.TalentEvaluation, models.Dossier, models.DossierMember, models.RepresentativeWork,
                  models.ReviewAssignment, models.ReviewScore, models.PanelDecision, models.Appeal,
                  models.PracticeRecord):
        for col in table.__table__.columns:
            assert not any(b in col.key for b in banned), (table.__tablename__, col.key)
    for name in dir(dossier_schemas):
        cls = getattr(dossier_schemas, name)
        if isinstance(cls, type) and hasattr(cls, "model_fields"):
            assert not any(any(b in f for b in banned) for f in cls.model_fields), name


# ---------------------------------------------------------------- teams and non-blind schemes
def test_team_dossier_and_open_review(session):
    w = make_world(session, n_candidates=3, n_experts=2)
    lead, core, member = w.candidates
    ev_id = open_evaluation(session, w, scheme_id=w.applied_scheme_id, reviewers_per_dossier=1)
    me = w.researcher(lead)
    with pytest.raises(ValidationFailed) as exc:
        svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev_id, kind="team",
                                                      members=[svc.MemberIn(person_id=core.id, role="boss")]))
    assert sorted(_errors(exc)) == ["members[0].role", "team_name"]
    with pytest.raises(ValidationFailed) as exc:
        svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev_id, members=[svc.MemberIn(person_id=core.id)]))
    assert _errors(exc) == ["members"]
    d = svc.create_dossier(session, me, svc.DossierIn(
        evaluation_id=ev_id, kind="team", team_name="智能检测团队",
        members=[svc.MemberIn(person_id=core.id, role="core", contribution="负责算法"),
                 svc.MemberIn(person_id=member.id, role="member", contribution="负责测试")]))
    assert [(m.role, m.position) for m in d.members] == [("lead", 0), ("core", 1), ("member", 2)]
    # A team member reads the dossier but only the lead edits it; a patent of the core member verifies.
    assert svc.access_dossier_by_id(session, w.researcher(member), d.id).id == d.id
    a = achievement(session, w.uni, [core])
    with pytest.raises(NotFound):
        svc.add_work(session, w.researcher(core), d.id, svc.WorkIn(kind="patent", contribution_statement=STATEMENT,
                                                                   ref_type="achievement", ref_id=a.id))
    assert svc.add_work(session, me, d.id, svc.WorkIn(kind="patent", contribution_statement=STATEMENT,
                                                      ref_type="achievement", ref_id=a.id)).verified
    svc.add_work(session, me, d.id, svc.WorkIn(kind="standard", title="团体标准", contribution_statement=STATEMENT))
    svc.submit_dossier(session, me, d.id)
    svc.draw_reviewers(session, w.tto, ev_id)
    asg = session.scalars(select(ReviewAssignment).where(ReviewAssignment.dossier_id == d.id)).one()
    reviewer = next(e for e in w.experts if e.id == asg.reviewer_person_id)
    view = svc.reviewer_view(session, w.expert(reviewer), asg.id)
    # The applied R&D example scheme is not blind: identity is shown, with the team's roles.
    assert view["blind"] is False
    assert view["identity"]["team_name"] == "智能检测团队" and view["identity"]["unit"] == w.uni.name_zh
    assert [m["role"] for m in view["identity"]["members"]] == ["lead", "core", "member"]
    assert [r["role"] for r in view["team_roles"]] == ["lead", "core", "member"]
    assert view["works"][0]["identifier"] == a.number
