"""Synthetic talent-evaluation demo data for the pilot units and the evaluation journey (every record marked
synthetic; names end in "（演示）"): standards of three 立新标 pilot units in force, a rule-text audit of a pilot unit's old rules with decided findings, and, for
the demo university (the demo TTO officer's), a candidate with a completed licence of their patent and two
reviewers outside the university, with log-ins ``talent_candidate``, ``talent_reviewer_a`` and
``talent_reviewer_b`` (demo password). Idempotent: nothing is written when the candidate's log-in exists.

Called by ``kechuang demo load --execute`` after ``talent.demo`` (evaluation rounds); the browser test of the
evaluation journey logs in with these accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.registry.models import Affiliation, Organisation, Person
from kechuang.talent import service
from kechuang.talent.scheme import SCHEMES_DIR
from kechuang.transfer.models import Achievement, AchievementMember, Transfer

CANDIDATE_LOGIN = "talent_candidate"
REVIEWER_LOGINS = ("talent_reviewer_a", "talent_reviewer_b")
DEMO_DISCIPLINE = "0702"  # 物理学 (学科目录 code); the generator's people use other codes, so these reviewers match

OLD_RULES = """某研究院岗位聘用与绩效奖励办法（演示）

第一条 为规范岗位聘用和绩效奖励，制定本办法。
第二条 入选国家级人才计划者可直接聘为二级研究员岗位，并享受每年20万元人才津贴。
第三条 申报正高级职称须以第一作者发表SCI论文5篇以上。
第四条 不得将人才称号作为评聘职称的前置条件。
第五条 科研人员年度考核按照岗位职责和实际贡献确定等次。
第六条 在影响因子10以上期刊发表论文的，每篇奖励5万元。
第七条 主持国家级项目2项以上者优先配置实验用房。
"""


@dataclass
class Loaded:
    """What the demo step wrote."""

    pilot_schemes: int = 0
    audits: int = 0
    accounts: int = 0


def _first(session: Session, kinds: tuple[str, ...], skip: set[int], n: int = 1) -> list[Organisation]:
    rows = session.scalars(select(Organisation).where(Organisation.kind.in_(kinds), ~Organisation.id.in_(skip or {-1}))
                           .order_by(Organisation.id).limit(n))
    return list(rows)


def _demo_university(session: Session) -> Organisation | None:
    from kechuang.accounts.models import UserAccount

    org_id = session.scalar(select(UserAccount.organisation_id).where(UserAccount.username == "demo_tto"))
    if org_id:
        return session.get(Organisation, org_id)
    found = _first(session, ("university",), set())
    return found[0] if found else None


def _person(session: Session, name_zh: str, name_en: str, roles: list[str], org: Organisation) -> Person:
    p = Person(name_zh=name_zh, name_en=name_en, roles=roles, discipline_codes=[DEMO_DISCIPLINE],
               talent_category="applied_rd", is_synthetic=True)
    session.add(p)
    session.flush()
    session.add(Affiliation(person_id=p.id, organisation_id=org.id, position="研究员", start_date=date(2015, 9, 1)))
    session.flush()
    return p


def _account(session: Session, username: str, role: Role, person: Person, display: str) -> None:
    from kechuang.accounts import service as accounts_service
    from kechuang.accounts.demo import DEMO_PASSWORD
    from kechuang.accounts.schemas import UserCreate

    accounts_service.create_user(session, SYSTEM, UserCreate(username=username, display_name=display, password="-",
                                                             role=role, person_id=person.id),
                                 is_demo=True, password_hash=accounts_service.hash_password(DEMO_PASSWORD))


def load(session: Session, principal: Principal = SYSTEM) -> Loaded:
    """Write the talent demo (idempotent)."""
    from kechuang.accounts.models import UserAccount

    out = Loaded()
    if session.scalar(select(UserAccount.id).where(UserAccount.username == CANDIDATE_LOGIN)) is not None:
        return out
    uni = _demo_university(session)
    if uni is None:
        return out
    firm = next(iter(_first(session, ("enterprise",), {uni.id})), None)
    others = _first(session, ("university", "research_institute"), {uni.id}, 5)
    if firm is None or len(others) < 3:
        return out
    # 立新标 pilot units' own standards, in force.
    for org, name in zip(others[:3], ("basic-research-example.yaml", "applied-rd-example.yaml",
                                      "tech-service-example.yaml"), strict=False):
        text = (SCHEMES_DIR / name).read_text(encoding="utf-8")
        s = service.create_scheme(session, principal, org.id, text, is_pilot=True)
        service.put_in_force(session, principal, s.id)
        out.pilot_schemes += 1
    # A pilot unit audits its old rules: one clause revised, one dismissed after review.
    run = service.run_audit(session, principal, others[1].id, "岗位聘用与绩效奖励办法（演示）.txt",
                            OLD_RULES.encode("utf-8"), "岗位聘用与绩效奖励办法（演示）")
    session.refresh(run)
    findings = service.access_audit_by_id(session, principal, run.id).findings
    if findings:
        service.decide_finding(session, principal, findings[0].id, "revised", "第二条已删除（演示）")
    if len(findings) > 1:
        service.decide_finding(session, principal, findings[1].id, "confirmed", None)
    out.audits += 1
    # The demo university's candidate with a licensed patent, and two reviewers outside the university.
    cand = _person(session, "林思远（演示）", "Lin Siyuan (demo)", ["researcher"], uni)
    a = Achievement(kind="invention_patent", title="一种低功耗无线传感芯片的制备方法（演示）", number="ZL2023DEMO001.X",
                    is_synthetic=True)
    session.add(a)
    session.flush()
    session.add(AchievementMember(achievement_id=a.id, person_id=cand.id, contribution=1))
    session.add(Transfer(achievement_id=a.id, organisation_id=uni.id, counterparty_organisation_id=firm.id,
                         mode="licence", price_fen=120_000_000, state="completed", signed_date=date(2025, 3, 1),
                         completed_date=date(2025, 4, 1)))
    session.flush()
    _account(session, CANDIDATE_LOGIN, Role.RESEARCHER, cand, "候选人演示账号（人才评价）")
    for login, org, name_zh, name_en in zip(REVIEWER_LOGINS, others[3:5] if len(others) >= 5 else others[:2],
                                            ("周明哲（演示）", "吴雅琴（演示）"), ("Zhou Mingzhe (demo)", "Wu Yaqin (demo)"),
                                            strict=False):
        expert = _person(session, name_zh, name_en, ["expert"], org)
        _account(session, login, Role.EXPERT, expert, "评审专家演示账号（人才评价）")
    out.accounts = 3
    return out
