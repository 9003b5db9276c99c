"""Demo log-ins: one account per role, bound to suitable demo records. Only usable in demo mode
(``KECHUANG_DEMO_MODE=true``): ``service.authenticate`` refuses ``is_demo`` accounts otherwise.

Called by ``kechuang demo load`` (``ensure_demo_users``) and ``kechuang demo logins`` (``demo_logins``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kechuang.accounts import service
from kechuang.accounts.models import UserAccount
from kechuang.accounts.schemas import UserCreate
from kechuang.core.auth import SYSTEM, Role
from kechuang.registry import reference as ref
from kechuang.registry.models import Organisation, Person

# A published, demo-only password: accepted only while settings.demo_mode is true.
DEMO_PASSWORD = "kechuang-demo-2026"

DEMO_USERNAMES: dict[Role, str] = {
    Role.COMMISSION: "demo_commission",
    Role.DISTRICT: "demo_district",
    Role.ENTERPRISE: "demo_enterprise",
    Role.TTO: "demo_tto",
    Role.RESEARCHER: "demo_researcher",
    Role.EXPERT: "demo_expert",
    Role.SERVICE_PROVIDER: "demo_service",
    Role.INVESTOR: "demo_investor",
    Role.HANDLING_UNIT: "demo_unit",
    Role.AUDITOR: "demo_auditor",
    Role.ADMIN: "demo_admin",
}
DEMO_DISPLAY: dict[Role, str] = {
    Role.COMMISSION: "市科委演示账号", Role.DISTRICT: "区科委演示账号", Role.ENTERPRISE: "企业演示账号",
    Role.TTO: "技术转移办公室演示账号", Role.RESEARCHER: "科研人员演示账号", Role.EXPERT: "专家演示账号",
    Role.SERVICE_PROVIDER: "服务机构演示账号", Role.INVESTOR: "投资机构演示账号",
    Role.HANDLING_UNIT: "承办单位演示账号", Role.AUDITOR: "审计演示账号",
    Role.ADMIN: "管理员演示账号",
}


@dataclass(frozen=True)
class DemoLogin:
    """One demo log-in as printed by ``make run`` / ``kechuang demo logins``."""

    role: str
    username: str
    password: str
    bound_to: str | None


def _first_org(session: Session, kinds: frozenset[str] | set[str]) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.kind.in_(sorted(kinds)))
                          .order_by(Organisation.id).limit(1))


def _first_person_with_role(session: Session, role: str) -> Person | None:
    last_id = 0
    while True:  # JSON list column: filtered in Python, in batches (portable across SQLite and PostgreSQL)
        batch = session.scalars(select(Person).where(Person.id > last_id).order_by(Person.id).limit(500)).all()
        if not batch:
            return None
        for p in batch:
            if role in (p.roles or []):
                return p
        last_id = batch[-1].id


def _binding(session: Session, role: Role) -> dict | None:
    """The binding of ``role``'s demo account; ``None`` when there is nothing suitable to bind to."""
    if role is Role.ENTERPRISE:
        org = _first_org(session, {"enterprise"})
        return None if org is None else {"organisation_id": org.id}
    if role is Role.TTO:
        org = _first_org(session, {"university"}) or _first_org(session, ref.INSTITUTION_KINDS)
        return None if org is None else {"organisation_id": org.id}
    if role is Role.DISTRICT:
        district = session.scalar(select(Organisation.district).where(
            Organisation.kind == "enterprise", Organisation.district.is_not(None)).order_by(Organisation.id).limit(1))
        return {"district": district if district in ref.DISTRICTS else "浦东新区"}
    if role in (Role.RESEARCHER, Role.EXPERT):
        person = _first_person_with_role(session, role.value)
        return None if person is None else {"person_id": person.id}
    if role is Role.HANDLING_UNIT:  # a co-handling unit of the seed reply (demo generator's HANDLING_UNITS)
        org = session.scalar(select(Organisation).where(Organisation.kind == "government",
                                                        Organisation.name_zh.startswith("上海市教育委员会"))
                             .order_by(Organisation.id).limit(1))
        return None if org is None else {"organisation_id": org.id}
    if role in (Role.SERVICE_PROVIDER, Role.INVESTOR):
        org = _first_org(session, service.ROLE_ORG_KINDS[role])
        return {"organisation_id": org.id} if org else {}
    return {}


def ensure_demo_users(session: Session) -> list[DemoLogin]:
    """Create the missing demo accounts (one per role; a role is skipped when nothing suitable exists to
    bind it to) and return every demo log-in. Idempotent; audited as the system."""
    shared_hash: str | None = None
    for role, username in DEMO_USERNAMES.items():
        if session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is not None:
            continue
        binding = _binding(session, role)
        if binding is None:
            continue
        shared_hash = shared_hash or service.hash_password(DEMO_PASSWORD)
        service.create_user(session, SYSTEM, UserCreate(username=username, display_name=DEMO_DISPLAY[role],
                                                        password="-", role=role, **binding),
                            is_demo=True, password_hash=shared_hash)
    return demo_logins(session)


def _bound_to(session: Session, user: UserAccount) -> str | None:
    if user.organisation_id:
        org = session.get(Organisation, user.organisation_id)
        return f"{org.name_zh} (#{org.id})" if org else None
    if user.person_id:
        person = session.get(Person, user.person_id)
        return f"{person.name_zh} (#{person.id})" if person else None
    return user.district


def demo_logins(session: Session) -> list[DemoLogin]:
    """Every demo account in role order: role, username, the demo password and what it is bound to."""
    order = {u: i for i, u in enumerate(DEMO_USERNAMES.values())}
    users = session.scalars(select(UserAccount).where(UserAccount.is_demo.is_(True))).all()
    users = sorted(users, key=lambda u: (order.get(u.username, len(order)), u.username))
    return [DemoLogin(u.role, u.username, DEMO_PASSWORD, _bound_to(session, u)) for u in users]
