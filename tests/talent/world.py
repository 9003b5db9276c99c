"""Fixtures for the evaluation/dossier/review tests: a university with a basic-research scheme in force
(blind, 3–5 works of paper/dataset/software, ≥1/3 domestic papers) and an applied R&D scheme, candidates,
an expert pool, and transfer records (plain factory functions, GUIDE habit 8)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.registry.models import Affiliation, Organisation, OrganisationRelation, Person
from kechuang.talent import dossier_service as svc
from kechuang.talent import service as scheme_service
from kechuang.talent.scheme import SCHEMES_DIR
from kechuang.transfer.models import Achievement, AchievementMember, IncomeEvent, TechnologyContract, Transfer
from tests.conftest import principal
from tests.factories import make_organisation, make_person

BASIC = (SCHEMES_DIR / "basic-research-example.yaml").read_text(encoding="utf-8")
APPLIED = (SCHEMES_DIR / "applied-rd-example.yaml").read_text(encoding="utf-8")
_n = itertools.count(1)


def affiliate(session: Session, person: Person, org: Organisation, start: date = date(2015, 1, 1)) -> None:
    session.add(Affiliation(person_id=person.id, organisation_id=org.id, position="教授", start_date=start))
    session.flush()


def scheme_in_force(session: Session, org: Organisation, content: str = BASIC) -> int:
    tto = Principal(role=Role.TTO, organisation_id=org.id, username="tto")
    s = scheme_service.create_scheme(session, tto, org.id, content)
    scheme_service.put_in_force(session, tto, s.id)
    return s.id


def achievement(session: Session, owner: Organisation, members: list[Person], kind: str = "invention_patent") -> Achievement:
    a = Achievement(kind=kind, title=f"一种测试方法{next(_n)}", number=f"ZL2024{next(_n):07d}.X")
    session.add(a)
    session.flush()
    for p in members:
        session.add(AchievementMember(achievement_id=a.id, person_id=p.id, contribution=1 / len(members)))
    session.flush()
    return a


def transfer(session: Session, a: Achievement, org: Organisation, buyer: Organisation, *, mode: str = "licence",
             state: str = "completed", price_fen: int = 50_000_000) -> Transfer:
    t = Transfer(achievement_id=a.id, organisation_id=org.id, counterparty_organisation_id=buyer.id, mode=mode,
                 price_fen=price_fen, state=state, signed_date=date(2025, 3, 1),
                 completed_date=date(2025, 4, 1) if state == "completed" else None)
    session.add(t)
    session.flush()
    return t


def contract(session: Session, seller: Organisation, buyer: Organisation, *, achievement_id: int | None = None,
             transfer_id: int | None = None, state: str = "registered", technical_fen: int = 30_000_000,
             category: str = "licence") -> TechnologyContract:
    c = TechnologyContract(number=f"HT{next(_n):08d}", category=category, seller_organisation_id=seller.id,
                           buyer_organisation_id=buyer.id, subject="测试技术许可合同", signed_date=date(2025, 3, 1),
                           total_fen=technical_fen, technical_fen=technical_fen, achievement_id=achievement_id,
                           transfer_id=transfer_id, state=state, registered_date=date(2025, 3, 20))
    session.add(c)
    session.flush()
    return c


def income(session: Session, a: Achievement, org: Organisation, amount_fen: int) -> IncomeEvent:
    e = IncomeEvent(idempotency_key=f"k{next(_n)}", achievement_id=a.id, organisation_id=org.id,
                    received_date=date(2025, 5, 1), amount_fen=amount_fen, net_fen=amount_fen, rule_basis="test")
    session.add(e)
    session.flush()
    return e


def relation(session: Session, org: Organisation, person: Person, kind: str = "shareholder") -> None:
    session.add(OrganisationRelation(organisation_id=org.id, kind=kind, related_person_id=person.id,
                                     share=0.2 if kind == "shareholder" else None))
    session.flush()


@dataclass
class World:
    uni: Organisation
    other_uni: Organisation
    firm: Organisation
    tto: Principal
    tto_other: Principal
    commission: Principal
    scheme_id: int
    applied_scheme_id: int
    candidates: list[Person]
    experts: list[Person]
    expert_orgs: list[Organisation] = field(default_factory=list)

    def researcher(self, p: Person) -> Principal:
        return principal(Role.RESEARCHER, person_id=p.id, user_id=1000 + p.id)

    def expert(self, p: Person) -> Principal:
        return principal(Role.EXPERT, person_id=p.id, user_id=2000 + p.id)


def make_world(session: Session, *, n_candidates: int = 4, n_experts: int = 6) -> World:
    uni = make_organisation(session, kind="university", name_zh="示例理工大学", name_en="Example Tech University")
    other_uni = make_organisation(session, kind="university", name_zh="另一所大学", name_en="Other University")
    firm = make_organisation(session, kind="enterprise", name_zh="测试科技有限公司")
    candidates = []
    for i in range(n_candidates):
        p = make_person(session, name_zh=f"候选人{chr(0x7532 + i)}", name_en=f"Candidate {chr(65 + i)}")
        affiliate(session, p, uni)
        candidates.append(p)
    experts, orgs = [], []
    for i in range(n_experts):
        p = make_person(session, name_zh=f"专家{i}", name_en=f"Expert {i}", roles=["expert"])
        o = make_organisation(session, kind="university", name_zh=f"评审单位{i}")
        affiliate(session, p, o)
        experts.append(p)
        orgs.append(o)
    return World(uni=uni, other_uni=other_uni, firm=firm,
                 tto=principal(Role.TTO, organisation_id=uni.id, user_id=11),
                 tto_other=principal(Role.TTO, organisation_id=other_uni.id, user_id=12),
                 commission=principal(Role.COMMISSION, user_id=13),
                 scheme_id=scheme_in_force(session, uni), applied_scheme_id=scheme_in_force(session, uni, APPLIED),
                 candidates=candidates, experts=experts, expert_orgs=orgs)


def open_evaluation(session: Session, w: World, *, scheme_id: int | None = None, **kw) -> int:
    data = svc.EvaluationIn(scheme_id=scheme_id or w.scheme_id, round_label=kw.pop("round_label", "2026"), **kw)
    return svc.create_evaluation(session, w.tto, data).id


PAPER_TEXT = "本人为第一作者兼通讯作者，提出了核心方法并完成主要实验。"


def basic_dossier(session: Session, w: World, ev_id: int, person: Person, *, submit: bool = True,
                  domestic: tuple[bool, bool, bool] = (True, False, False)) -> int:
    """A basic-research dossier of three typed papers (the first domestic by default)."""
    me = w.researcher(person)
    d = svc.create_dossier(session, me, svc.DossierIn(evaluation_id=ev_id, field="0701",
                                                      plan=f"{person.name_zh}的五年研究计划：继续深化理论研究。"))
    for i, dom in enumerate(domestic):
        svc.add_work(session, me, d.id, svc.WorkIn(
            kind="paper", title=f"论文{i}：{person.name_zh}关于某问题的研究", year=2024, venue="物理学报" if dom else "Phys. Rev. B",
            domestic_journal=dom, contribution_statement=PAPER_TEXT + f"（{person.name_zh}，{w.uni.name_zh}）"))
    if submit:
        svc.submit_dossier(session, me, d.id)
    return d.id


__all__ = ["SYSTEM", "World", "make_world"]
