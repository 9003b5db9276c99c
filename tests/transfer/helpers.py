"""Factories for transfer tests: two institutions, a team, a pilot, achievements, contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.transfer import service
from kechuang.transfer.schemas import AchievementCreate, ContractCreate, MemberIn, OwnerIn, PilotIn
from tests.conftest import principal
from tests.factories import make_organisation, make_person

D = Decimal
_n = iter(range(1, 10**6))


@dataclass
class World:
    uni_a: object
    uni_b: object
    company: object
    alice: object
    bob: object
    carol: object
    tto_a: Principal
    tto_b: Principal
    researcher: Principal  # alice
    commission: Principal
    enterprise: Principal


def world(session: Session, pilot: bool = True) -> World:
    a = make_organisation(session, kind="university", name_zh="甲大学", ownership="state_owned")
    b = make_organisation(session, kind="research_institute", name_zh="乙研究所", ownership="state_owned")
    c = make_organisation(session, kind="enterprise", name_zh="丙科技有限公司")
    alice, bob, carol = make_person(session), make_person(session), make_person(session)
    if pilot:
        service.add_pilot(session, SYSTEM, PilotIn(organisation_id=a.id, start_date=date(2023, 8, 1),
                                                   basis="沪科规〔2023〕9号 试点"))
    return World(a, b, c, alice, bob, carol,
                 principal(Role.TTO, organisation_id=a.id), principal(Role.TTO, organisation_id=b.id),
                 principal(Role.RESEARCHER, person_id=alice.id), principal(Role.COMMISSION),
                 principal(Role.ENTERPRISE, organisation_id=c.id))


def achievement(session: Session, w: World, *, owner=None, classified: bool = False,
                members: list[tuple[object, str]] | None = None, kind: str = "invention_patent"):
    owner = owner or w.uni_a
    tto = w.tto_a if owner is w.uni_a else w.tto_b
    members = members or [(w.alice, "0.5"), (w.bob, "0.3"), (w.carol, "0.2")]
    return service.create_achievement(session, tto, AchievementCreate(
        kind=kind, title=f"一种测试方法 {next(_n)}", number=f"ZL2023{next(_n):08d}.X", trl=5,
        fields=["新材料"], keywords=["测试"], government_funding_fen=100_000_00, is_classified=classified,
        owners=[OwnerIn(organisation_id=owner.id, share=D(1))],
        members=[MemberIn(person_id=p.id, contribution=D(c)) for p, c in members]), on=date(2024, 1, 1))


def contract(session: Session, w: World, *, seller=None, buyer=None, total=1_000_000_00, non_tech=0,
             signed=date(2024, 3, 1), category="transfer", achievement_id=None, principal_=None, **kw):
    seller = seller or w.uni_a
    buyer = buyer or w.company
    p = principal_ or SYSTEM
    return service.create_contract(session, p, ContractCreate(
        number=f"HT{next(_n):08d}", category=category, seller_organisation_id=seller.id,
        buyer_organisation_id=buyer.id, subject="技术转让", signed_date=signed, total_fen=total,
        non_technical_fen=non_tech, achievement_id=achievement_id, **kw))
