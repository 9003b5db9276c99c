"""Results-transfer business rules, state machines and permission checks. Callers: api, CLI, import.

Roles (issue 5): a TTO officer manages only their institution (``principal.organisation_id``); a researcher
sees their own applications, agreements and income (``principal.person_id``); commission officers and
auditors read everything (classified results excepted) and see statistics; enterprises see the contracts
and transfers they are a party to. Classified (涉密) results never appear in open listings and cannot be
empowered. Every write is audited in the same transaction; services only flush.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, cast, exists, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, get_locale, gettext
from kechuang.core.pagination import PageParams, SortSpec, paginate
from kechuang.core.permissions import has, permission, require
from kechuang.db import utcnow
from kechuang.registry.models import Organisation, Person
from kechuang.transfer import params, sharing
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    AchievementOwner,
    ContractPayment,
    EmpowermentApplication,
    EmpowermentObjection,
    EmpowermentPilot,
    IncomeEvent,
    IncomeShare,
    LedgerEntry,
    RevenueRule,
    TechnologyContract,
    Transfer,
    ValuationEvent,
)
from kechuang.transfer.schemas import (
    AchievementCreate,
    ApplicationCreate,
    ContractCreate,
    IncomeIn,
    ObjectionIn,
    PayoutIn,
    PilotIn,
    RuleIn,
    TransferCreate,
    TransferEvidence,
    ValuationIn,
)

# ---------------------------------------------------------------- vocabularies
ACHIEVEMENT_KINDS: dict[str, str] = {
    "invention_patent": N_("Invention patent"),  # 发明专利
    "utility_model": N_("Utility model"),  # 实用新型
    "design": N_("Design patent"),  # 外观设计
    "software_copyright": N_("Software copyright"),  # 软件著作权
    "ic_layout": N_("IC layout design"),  # 集成电路布图设计
    "plant_variety": N_("Plant variety"),  # 植物新品种
    "technical_secret": N_("Technical secret"),  # 技术秘密
    "drug_registration": N_("Drug registration"),  # 药品注册证书
    "device_registration": N_("Medical device registration"),  # 医疗器械注册证
}
LEDGER_STAGES: dict[str, str] = {
    "registered": N_("Registered"), "empowered": N_("Empowered"), "licensed": N_("Licensed"),
    "transferred": N_("Transferred"), "invested": N_("Invested"), "dormant": N_("Dormant"),
    "abandoned": N_("Abandoned"),
}
VALUATION_METHODS: dict[str, str] = {
    "cost": N_("Cost approach"), "market": N_("Market approach"), "income": N_("Income approach"),
    "transaction": N_("Transaction price"),
}
APPLICATION_KINDS: dict[str, str] = {
    "full_ownership": N_("Full ownership"),  # 全部赋权
    "partial_ownership": N_("Partial ownership"),  # 部分赋权
    "use_right": N_("Long-term use right"),  # 长期使用权
}
TRANSFER_MODES: dict[str, str] = {
    "assignment": N_("Assignment"),  # 转让
    "licence": N_("Licence"),  # 许可
    "equity": N_("Equity investment"),  # 作价投资
    "self_implementation": N_("Self-implementation"),  # 自行实施
}
LICENCE_TYPES: dict[str, str] = {"exclusive": N_("Exclusive"), "sole": N_("Sole"), "ordinary": N_("Ordinary")}
PRICING_ROUTES: dict[str, str] = {
    "negotiated": N_("Negotiated price"),  # 协议定价
    "listing": N_("Listing on a technology market"),  # 挂牌交易
    "auction": N_("Auction"),  # 拍卖
}
CONTRACT_CATEGORIES: dict[str, str] = {
    "development_commissioned": N_("Technology development (commissioned)"),  # 技术开发（委托）
    "development_cooperative": N_("Technology development (cooperative)"),  # 技术开发（合作）
    "transfer": N_("Technology transfer"),  # 技术转让
    "licence": N_("Technology licence"),  # 技术许可
    "consulting": N_("Technology consulting"),  # 技术咨询
    "service": N_("Technology service"),  # 技术服务
}
_LEDGER_STAGE_OF_MODE = {"assignment": "transferred", "licence": "licensed", "equity": "invested"}

# ---------------------------------------------------------------- permissions (GUIDE habit 5)
READ = permission("transfer.read", Role.COMMISSION, Role.AUDITOR, Role.TTO, Role.RESEARCHER, Role.ENTERPRISE,
                  Role.INVESTOR)
MANAGE = permission("transfer.manage", Role.TTO)  # an institution's achievements, ledger, reviews, transfers
APPLY = permission("transfer.apply", Role.RESEARCHER)
CONTRACT_WRITE = permission("transfer.contract.write", Role.TTO, Role.ENTERPRISE)  # the seller registers
# The commission acts as the registration body (技术合同登记机构); otherwise it reads records read-only.
REGISTER = permission("transfer.contract.register", Role.COMMISSION)
PILOT = permission("transfer.pilot", Role.COMMISSION)  # the 赋权 pilot list (沪科规〔2023〕9号)
RULES = permission("transfer.rule.read", Role.COMMISSION, Role.AUDITOR, Role.TTO)  # revenue-sharing rules
STATS = permission("transfer.stats", Role.COMMISSION, Role.AUDITOR, Role.TTO)
IMPORT = permission("transfer.import")  # operators only (SYSTEM): bulk records from other systems

_ALL_DATA = (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today's date in Shanghai (deadlines and notice periods are local dates)."""
    return datetime.now(SHANGHAI).date()


def _org(principal: Principal) -> int:
    return principal.organisation_id or -1


def _person(principal: Principal) -> int:
    return principal.person_id or -1


def _invalid(field: str, reason: str, value: Any = None, **params_: Any) -> ValidationFailed:
    return ValidationFailed(errors=[FieldError(field, reason, params_, value=value)])


class TransitionRefused(Conflict):
    """A refused state transition (409): says from which state, to which, and why (translated at render)."""

    def __init__(self, obj: str, state: str, to: str, why: str, items: list[str] | None = None, **why_params: Any):
        self.obj, self.state, self.to, self.why = obj, state, to, why
        self.items = list(items or [])
        self.why_params = why_params
        super().__init__(N_("Cannot move the {object} from '{state}' to '{to}': {why}"))

    def render_message(self, locale: str | None = None) -> str:
        """The message with its reason and missing items in ``locale``."""
        p = dict(self.why_params)
        if isinstance(p.get("allowed"), str):
            p["allowed"] = ", ".join(gettext(x.strip(), locale) for x in p["allowed"].split(","))
        if self.items:
            p["items"] = "; ".join(gettext(i, locale) for i in self.items)
        why = gettext(self.why, locale, **p)
        return gettext(self.message, locale, object=gettext(self.obj, locale), state=gettext(self.state, locale),
                       to=gettext(self.to, locale), why=why)


# State names as shown in refusal messages (English keeps the code; Chinese says e.g. 公示中).
STATE_NAMES = (N_("draft"), N_("submitted"), N_("tto_review"), N_("notice"), N_("approved"), N_("rejected"),
               N_("signed"), N_("completed"), N_("cancelled"), N_("registered"), N_("refused"))


_OBJ = {"application": N_("application"), "transfer": N_("transfer"), "contract": N_("contract")}


def _refuse(obj: str, action: str, state: str, to: str, why: str, items: list[str] | None = None,
            **params_: Any) -> TransitionRefused:
    """A refused state transition of ``obj`` by ``action``: says from, to and why."""
    return TransitionRefused(_OBJ[obj], state, to, why, items, **params_)


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors=errors)


# ---------------------------------------------------------------- scoping (GUIDE habit 4)
def _member_of(person_id: int):
    return exists().where(AchievementMember.achievement_id == Achievement.id,
                          AchievementMember.person_id == person_id)


def _owned_by(org_id: int):
    return exists().where(AchievementOwner.achievement_id == Achievement.id,
                          AchievementOwner.organisation_id == org_id)


def readable_achievements(principal: Principal) -> Select:
    """Achievements ``principal`` may read: own institution's (TTO), own team's (researcher), all
    non-classified ones (commission, auditor); operators see everything."""
    require(principal, READ)
    stmt = select(Achievement)
    if principal.role is Role.SYSTEM:
        return stmt
    if principal.role in _ALL_DATA:
        return stmt.where(Achievement.is_classified.is_(False))
    if principal.role is Role.TTO:
        return stmt.where(_owned_by(_org(principal)))
    if principal.role is Role.RESEARCHER:
        return stmt.where(_member_of(_person(principal)))
    return stmt.where(false())


# Ledger stages after which the institution no longer has the result to offer (assigned, contributed to a
# company, abandoned); a licensed result can be licensed again.
GONE_STAGES = ("transferred", "invested", "abandoned")


def open_achievements(principal: Principal) -> Select:
    """The open listing (for enterprises and investors looking for technology): never classified results, nor
    those whose every ledger entry is in a ``GONE_STAGES`` stage."""
    require(principal, READ)
    entry = exists().where(LedgerEntry.achievement_id == Achievement.id)
    available = exists().where(LedgerEntry.achievement_id == Achievement.id, LedgerEntry.stage.not_in(GONE_STAGES))
    return select(Achievement).where(Achievement.is_classified.is_(False), or_(~entry, available))


def open_owners(session: Session, achievement_ids: Iterable[int]) -> dict[int, list[int]]:
    """Owning institutions of open-listing results by achievement id, in one query (the listing's contact)."""
    ids = set(achievement_ids)
    out: dict[int, list[int]] = {}
    if ids:
        for a_id, org_id in session.execute(select(AchievementOwner.achievement_id, AchievementOwner.organisation_id)
                                            .where(AchievementOwner.achievement_id.in_(ids))
                                            .order_by(AchievementOwner.id)):
            out.setdefault(a_id, []).append(org_id)
    return out


def can_read_achievement(session: Session, principal: Principal, achievement_id: int) -> bool:
    """Whether ``principal`` may open the full record (not only the open listing's summary)."""
    return has(principal, READ) and session.scalar(
        readable_achievements(principal).with_only_columns(Achievement.id)
        .where(Achievement.id == achievement_id)) is not None


def access_achievement_by_id(session: Session, principal: Principal, achievement_id: int) -> Achievement:
    """The achievement with owners and members if visible to ``principal``; the same 404 otherwise."""
    stmt = readable_achievements(principal).where(Achievement.id == achievement_id).options(
        selectinload(Achievement.owners), selectinload(Achievement.members))
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


def _managed_achievement(session: Session, principal: Principal, achievement_id: int) -> Achievement:
    """An achievement the TTO's institution owns (operators: any)."""
    require(principal, MANAGE)
    stmt = select(Achievement).where(Achievement.id == achievement_id).options(
        selectinload(Achievement.owners), selectinload(Achievement.members))
    if not principal.is_system:
        stmt = stmt.where(_owned_by(_org(principal)))
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


def readable_applications(principal: Principal) -> Select:
    """赋权 applications: own institution's (TTO), own (researcher), all (commission, auditor)."""
    require(principal, READ)
    stmt = select(EmpowermentApplication)
    if principal.role in _ALL_DATA:
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(EmpowermentApplication.organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        return stmt.where(EmpowermentApplication.applicant_person_id == _person(principal))
    return stmt.where(false())


def access_application_by_id(session: Session, principal: Principal, application_id: int) -> EmpowermentApplication:
    """The application if visible to ``principal``; the same 404 for missing and forbidden."""
    obj = session.scalar(readable_applications(principal).where(EmpowermentApplication.id == application_id))
    if obj is None:
        raise NotFound()
    return obj


def readable_transfers(principal: Principal) -> Select:
    """Transfers: own institution's (TTO), where the enterprise is the counterparty, all (commission)."""
    require(principal, READ)
    stmt = select(Transfer)
    if principal.role in _ALL_DATA:
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(Transfer.organisation_id == _org(principal))
    if principal.role in (Role.ENTERPRISE, Role.INVESTOR):
        return stmt.where(Transfer.counterparty_organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        return stmt.where(exists().where(AchievementMember.achievement_id == Transfer.achievement_id,
                                         AchievementMember.person_id == _person(principal)))
    return stmt.where(false())


def access_transfer_by_id(session: Session, principal: Principal, transfer_id: int) -> Transfer:
    """The transfer if visible to ``principal``; the same 404 otherwise."""
    obj = session.scalar(readable_transfers(principal).where(Transfer.id == transfer_id))
    if obj is None:
        raise NotFound()
    return obj


def readable_contracts(principal: Principal) -> Select:
    """Technology contracts: those where the caller's organisation is seller or buyer (TTO, enterprise);
    all (commission, auditor)."""
    require(principal, READ)
    stmt = select(TechnologyContract)
    if principal.role in _ALL_DATA:
        return stmt
    if principal.role in (Role.TTO, Role.ENTERPRISE):
        org = _org(principal)
        return stmt.where(or_(TechnologyContract.seller_organisation_id == org,
                              TechnologyContract.buyer_organisation_id == org))
    return stmt.where(false())


def access_contract_by_id(session: Session, principal: Principal, contract_id: int) -> TechnologyContract:
    """The contract with its payment schedule if visible; the same 404 otherwise."""
    stmt = readable_contracts(principal).where(TechnologyContract.id == contract_id).options(
        selectinload(TechnologyContract.payments))
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


def readable_income(principal: Principal) -> Select:
    """Income events: own institution's (TTO), those with a share for the researcher, all (commission)."""
    require(principal, READ)
    stmt = select(IncomeEvent)
    if principal.role in _ALL_DATA:
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(IncomeEvent.organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        return stmt.where(exists().where(IncomeShare.income_event_id == IncomeEvent.id,
                                         IncomeShare.person_id == _person(principal)))
    return stmt.where(false())


# ---------------------------------------------------------------- achievements
def _shares_problems(items: list[tuple[int, Decimal]], field: str, id_name: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not items:
        errors.append(FieldError(field, N_("At least one is required.")))
        return errors
    ids = [i for i, _s in items]
    if len(set(ids)) != len(ids):
        errors.append(FieldError(field, N_("The same {what} is listed twice."), {"what": id_name}))
    if any(s <= 0 or s > 1 for _i, s in items):
        errors.append(FieldError(field, N_("Each share is a fraction above 0 and at most 1.")))
    total = sum((s for _i, s in items), Decimal(0))
    if total != 1:
        errors.append(FieldError(field, N_("Shares must sum to 100% (they sum to {total})."),
                                 {"total": f"{total * 100:.2f}%"}, value=str(total)))
    return errors


def achievement_problems(data: dict[str, Any]) -> list[FieldError]:
    """Every rule an achievement's fields break (create and import)."""
    errors: list[FieldError] = []
    kind = data.get("kind")
    if kind not in ACHIEVEMENT_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."),
                                 {"allowed": ", ".join(ACHIEVEMENT_KINDS)}, value=kind))
    trl = data.get("trl")
    if trl is not None and not 1 <= trl <= 9:
        errors.append(FieldError("trl", N_("The technology readiness level is 1 to 9."), value=trl))
    if (data.get("government_funding_fen") or 0) < 0:
        errors.append(FieldError("government_funding_fen", N_("An amount cannot be negative."),
                                 value=data.get("government_funding_fen")))
    if kind not in (None, "technical_secret") and not data.get("number") and kind in ACHIEVEMENT_KINDS:
        errors.append(FieldError("number", N_("A {kind} needs its number."), {"kind": kind}))
    owners = [(o["organisation_id"], Decimal(o["share"])) for o in data.get("owners") or []]
    members = [(m["person_id"], Decimal(m["contribution"])) for m in data.get("members") or []]
    errors += _shares_problems(owners, "owners", "organisation")
    errors += _shares_problems(members, "members", "person")
    return errors


def _check_refs(session: Session, org_ids: Iterable[int], person_ids: Iterable[int]) -> list[FieldError]:
    errors: list[FieldError] = []
    orgs = set(org_ids)
    found = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(orgs)))) if orgs else set()
    for missing in sorted(orgs - found):
        errors.append(FieldError("organisation_id", N_("No organisation with id {id}."), {"id": missing},
                                 value=missing))
    people = set(person_ids)
    found = set(session.scalars(select(Person.id).where(Person.id.in_(people)))) if people else set()
    for missing in sorted(people - found):
        errors.append(FieldError("person_id", N_("No person with id {id}."), {"id": missing}, value=missing))
    return errors


def create_achievement(session: Session, principal: Principal, data: AchievementCreate,
                       on: date | None = None) -> Achievement:
    """Record an achievement with owners and team; each owning institution's ledger gets it as 'registered'."""
    require(principal, MANAGE)
    values = data.model_dump()
    errors = achievement_problems(values)
    owner_ids = [o.organisation_id for o in data.owners]
    if not principal.is_system and _org(principal) not in owner_ids:
        errors.append(FieldError("owners", N_("Your institution must be one of the owners.")))
    errors += _check_refs(session, owner_ids, [m.person_id for m in data.members])
    if data.number and session.scalar(select(Achievement.id).where(Achievement.kind == data.kind,
                                                                   Achievement.number == data.number)):
        errors.append(FieldError("number", N_("This number is already recorded."), value=data.number))
    _raise_if(errors)
    fields = {k: v for k, v in values.items() if k not in ("owners", "members")}
    obj = Achievement(**fields)
    obj.owners = [AchievementOwner(organisation_id=o.organisation_id, share=o.share) for o in data.owners]
    obj.members = [AchievementMember(person_id=m.person_id, contribution=m.contribution) for m in data.members]
    session.add(obj)
    session.flush()
    for o in data.owners:
        session.add(LedgerEntry(organisation_id=o.organisation_id, achievement_id=obj.id, stage="registered",
                                registered_date=on or today()))
    audit.record(session, principal, "transfer.achievement.create", "achievement", obj.id,
                 after={**fields, "owners": [o.model_dump() for o in data.owners],
                        "members": [m.model_dump() for m in data.members]})
    return obj


class AchievementLocked(Conflict):
    """The achievement has records built on it and can no longer be edited (409); names them."""

    def __init__(self, items: list[str]):
        self.items = list(items)
        super().__init__(N_("This result can no longer be edited: {items}."), items="; ".join(self.items))

    def render_message(self, locale: str | None = None) -> str:
        """The message with the blocking records in ``locale``."""
        return gettext(self.message, locale, items="; ".join(gettext(i, locale) for i in self.items))


def achievement_locks(session: Session, achievement_id: int) -> list[str]:
    """Why an achievement can no longer be edited (empty: editable). Its owners, team and shares feed 赋权
    eligibility, transfers, contracts and income splits, so it is frozen once any of these refers to it."""
    checks = ((EmpowermentApplication.achievement_id, N_("a 赋权 application refers to it")),
              (Transfer.achievement_id, N_("a transfer refers to it")),
              (TechnologyContract.achievement_id, N_("a technology contract refers to it")),
              (IncomeEvent.achievement_id, N_("income has been recorded for it")))
    return [why for col, why in checks
            if session.scalar(select(col).where(col == achievement_id).limit(1)) is not None]


def is_editable(session: Session, principal: Principal, achievement: Achievement) -> bool:
    """Whether ``principal`` may edit ``achievement`` now (TTO of an owner, nothing built on it yet)."""
    if not has(principal, MANAGE):
        return False
    if not principal.is_system and not any(o.organisation_id == principal.organisation_id
                                           for o in achievement.owners):
        return False
    return not achievement_locks(session, achievement.id)


_ACH_FIELDS = ["kind", "title", "number", "trl", "fields", "keywords", "government_funding_fen", "is_classified"]


def update_achievement(session: Session, principal: Principal, achievement_id: int, data: AchievementCreate,
                       on: date | None = None) -> Achievement:
    """Correct an achievement of the caller's institution while nothing refers to it (``achievement_locks``):
    fields, owners and team as in ``create_achievement``. New owners get a 'registered' ledger entry; a
    removed owner's entry goes too, unless that owner has changed its stage, book value or valuations."""
    ach = _managed_achievement(session, principal, achievement_id)
    locks = achievement_locks(session, ach.id)
    if locks:
        raise AchievementLocked(locks)
    values = data.model_dump()
    errors = achievement_problems(values)
    owner_ids = [o.organisation_id for o in data.owners]
    if not principal.is_system and _org(principal) not in owner_ids:
        errors.append(FieldError("owners", N_("Your institution must be one of the owners.")))
    errors += _check_refs(session, owner_ids, [m.person_id for m in data.members])
    if data.number and session.scalar(select(Achievement.id).where(
            Achievement.kind == data.kind, Achievement.number == data.number, Achievement.id != ach.id)):
        errors.append(FieldError("number", N_("This number is already recorded."), value=data.number))
    removed = {o.organisation_id for o in ach.owners} - set(owner_ids)
    entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.achievement_id == ach.id)))
    for e in entries:
        if e.organisation_id in removed and (e.stage != "registered" or e.book_value_fen or session.scalar(
                select(ValuationEvent.id).where(ValuationEvent.ledger_entry_id == e.id).limit(1))):
            org = session.get(Organisation, e.organisation_id)
            errors.append(FieldError("owners", N_("{name} has updated this result on its ledger (stage, book "
                                                  "value or valuations); it stays an owner."),
                                     {"name": org.name_zh if org else e.organisation_id}, value=e.organisation_id))
    _raise_if(errors)
    before = {**audit.snapshot(ach, _ACH_FIELDS),
              "owners": [{"organisation_id": o.organisation_id, "share": str(o.share)} for o in ach.owners],
              "members": [{"person_id": m.person_id, "contribution": str(m.contribution)} for m in ach.members]}
    for k in _ACH_FIELDS:
        setattr(ach, k, values[k])
    _sync_rows(ach.owners, {o.organisation_id: o.share for o in data.owners}, "organisation_id", "share",
               AchievementOwner)
    _sync_rows(ach.members, {m.person_id: m.contribution for m in data.members}, "person_id", "contribution",
               AchievementMember)
    have = {e.organisation_id for e in entries}
    for e in entries:
        if e.organisation_id in removed:
            session.delete(e)
    for org_id in owner_ids:
        if org_id not in have:
            session.add(LedgerEntry(organisation_id=org_id, achievement_id=ach.id, stage="registered",
                                    registered_date=on or today()))
    session.flush()
    audit.record(session, principal, "transfer.achievement.update", "achievement", ach.id, before=before,
                 after={**{k: values[k] for k in _ACH_FIELDS}, "owners": [o.model_dump(mode="json") for o in data.owners],
                        "members": [m.model_dump(mode="json") for m in data.members]})
    return ach


def _sync_rows(rows: list, wanted: dict, key: str, field: str, model: type) -> None:
    """Make the child rows ``rows`` hold exactly ``wanted`` (key → value): update rows in place, add new keys, remove
    the rest. In place because the key is unique per achievement: delete-then-insert of the same key would collide
    in one flush."""
    have = {getattr(r, key): r for r in rows}
    for k, value in wanted.items():
        if k in have:
            setattr(have.pop(k), field, value)
        else:
            rows.append(model(**{key: k, field: value}))
    for gone in have.values():
        rows.remove(gone)


# ---------------------------------------------------------------- pickers for the achievement form
_ID_RE = re.compile(r"#(\d+)\s*$")
_ORCID_RE = re.compile(r"\b(\d{4}-\d{4}-\d{4}-\d{3}[\dX])\b")
_CREDIT_RE = re.compile(r"\b([0-9A-HJ-NPQRTUWXY]{18})\b")


def owner_choices(session: Session, principal: Principal, limit: int = 500) -> list[Organisation]:
    """Institutions that may own results (universities, institutes, hospitals, new R&D institutions), the
    caller's own first."""
    from kechuang.registry.reference import INSTITUTION_KINDS

    require(principal, MANAGE)
    rows = list(session.scalars(select(Organisation).where(Organisation.kind.in_(sorted(INSTITUTION_KINDS)))
                                .order_by(Organisation.id).limit(limit)))
    return sorted(rows, key=lambda o: o.id != principal.organisation_id)


def team_choices(session: Session, principal: Principal, also: Iterable[int] = (), limit: int = 1000) -> list[Person]:
    """People affiliated with the caller's institution (and the people ``also`` named, e.g. the current team)."""
    from kechuang.registry.models import Affiliation

    require(principal, MANAGE)
    cond = Person.id.in_(select(Affiliation.person_id).where(Affiliation.organisation_id == _org(principal)))
    extra = {i for i in also if i}
    if extra:
        cond = or_(cond, Person.id.in_(extra))
    return list(session.scalars(select(Person).where(cond).order_by(Person.id).limit(limit)))


def person_label(p: Person) -> str:
    """How the form shows a person and reads it back: name · #id."""
    return f"{p.name_zh} · #{p.id}"


def organisation_label(o: Organisation) -> str:
    """How the form shows an organisation and reads it back: name · credit code."""
    return f"{o.name_zh} · {o.credit_code}"


def find_organisation(session: Session, text: str) -> Organisation | None:
    """The organisation a form entry names: ``#id``, a credit code, or an exact Chinese or English name."""
    text = (text or "").strip()
    if not text:
        return None
    if m := _ID_RE.search(text):
        return session.get(Organisation, int(m.group(1)))
    if m := _CREDIT_RE.search(text.upper()):
        return session.scalar(select(Organisation).where(Organisation.credit_code == m.group(1)))
    found = list(session.scalars(select(Organisation).where(
        or_(Organisation.name_zh == text, Organisation.name_en == text)).limit(2)))
    return found[0] if len(found) == 1 else None


def find_person(session: Session, principal: Principal, text: str) -> Person | None:
    """The person a form entry names: ``#id``, an ORCID iD, an external id, or a name that is unique among
    the people of the caller's institution (else in the registry)."""
    text = (text or "").strip()
    if not text:
        return None
    if m := _ID_RE.search(text):
        return session.get(Person, int(m.group(1)))
    if m := _ORCID_RE.search(text.upper()):
        return session.scalar(select(Person).where(Person.orcid == m.group(1)))
    by_ext = session.scalar(select(Person).where(Person.external_id == text))
    if by_ext is not None:
        return by_ext
    from kechuang.registry.models import Affiliation

    same = or_(Person.name_zh == text, Person.name_en == text)
    colleagues = Person.id.in_(select(Affiliation.person_id).where(Affiliation.organisation_id == _org(principal)))
    for stmt in (select(Person).where(same, colleagues), select(Person).where(same)):
        found = list(session.scalars(stmt.limit(2)))
        if len(found) == 1:
            return found[0]
        if found:
            return None  # ambiguous: the form asks for the #id
    return None


ACHIEVEMENT_SORT = SortSpec({"id": Achievement.id, "title": Achievement.title, "kind": Achievement.kind,
                             "trl": Achievement.trl}, default="-id")


def _has_field(field: str):
    # ``fields`` is a JSON list stored as text with ASCII escapes; match one whole element, on SQLite and
    # PostgreSQL alike (autoescape: ``/`` escapes LIKE wildcards, so the backslashes stay literal).
    return cast(Achievement.fields, String).contains(json.dumps(field.strip()), autoescape=True)


def list_achievements(session: Session, principal: Principal, params_: PageParams, *, open_listing: bool = False,
                      kind: str | None = None, field: str | None = None,
                      trl_min: int | None = None) -> tuple[list[Achievement], int]:
    """A page of achievements readable by ``principal`` (or of the open listing); search in title and number,
    filters by kind, field (one whole element of ``fields``) and lowest TRL."""
    stmt = open_achievements(principal) if open_listing else readable_achievements(principal)
    if kind:
        stmt = stmt.where(Achievement.kind == kind)
    if field and field.strip():
        stmt = stmt.where(_has_field(field))
    if trl_min is not None:
        stmt = stmt.where(Achievement.trl >= trl_min)
    if params_.q:
        stmt = stmt.where(or_(Achievement.title.contains(params_.q, autoescape=True),
                              Achievement.number.contains(params_.q, autoescape=True)))
    return paginate(session, stmt, params_, ACHIEVEMENT_SORT, Achievement.id)


def open_fields(session: Session, principal: Principal, limit: int = 2000) -> list[str]:
    """Field names used by results in the open listing (choices for the listing's field filter)."""
    seen: set[str] = set()
    stmt = open_achievements(principal).with_only_columns(Achievement.fields).order_by(Achievement.id.desc())
    for fields in session.scalars(stmt.limit(limit)):
        seen.update(f for f in fields or [] if f)
    return sorted(seen)


def access_open_achievement(session: Session, principal: Principal, achievement_id: int) -> Achievement:
    """A result of the open listing with its owners (never classified); the same 404 otherwise. Callers show
    only the listing's fields: no team, contributions, funding, ledger values or income."""
    obj = session.scalar(open_achievements(principal).where(Achievement.id == achievement_id)
                         .options(selectinload(Achievement.owners)))
    if obj is None:
        raise NotFound()
    return obj


# ---------------------------------------------------------------- 单列管理 ledger
def readable_ledger(principal: Principal) -> Select:
    """Ledger entries: own institution's (TTO); all non-classified (commission, auditor)."""
    require(principal, READ)
    stmt = select(LedgerEntry)
    if principal.role is Role.SYSTEM:
        return stmt
    if principal.role in _ALL_DATA:
        return stmt.join(Achievement, Achievement.id == LedgerEntry.achievement_id).where(
            Achievement.is_classified.is_(False))
    if principal.role is Role.TTO:
        return stmt.where(LedgerEntry.organisation_id == _org(principal))
    return stmt.where(false())


def _managed_ledger_entry(session: Session, principal: Principal, achievement_id: int) -> LedgerEntry:
    require(principal, MANAGE)
    stmt = select(LedgerEntry).where(LedgerEntry.achievement_id == achievement_id)
    if not principal.is_system:
        stmt = stmt.where(LedgerEntry.organisation_id == _org(principal))
    entry = session.scalars(stmt.order_by(LedgerEntry.id)).first()
    if entry is None:
        raise NotFound()
    return entry


def set_stage(session: Session, principal: Principal, achievement_id: int, stage: str,
              book_value_fen: int | None = None) -> LedgerEntry:
    """Set the stage tag (and optionally the book value) of the institution's ledger entry."""
    entry = _managed_ledger_entry(session, principal, achievement_id)
    if stage not in LEDGER_STAGES:
        raise _invalid("stage", N_("Unknown stage; allowed: {allowed}."), stage, allowed=", ".join(LEDGER_STAGES))
    before = audit.snapshot(entry, ["stage", "book_value_fen"])
    entry.stage = stage
    if book_value_fen is not None:
        entry.book_value_fen = book_value_fen
    audit.record(session, principal, "transfer.ledger.update", "ledger_entry", entry.id, before=before,
                 after=audit.snapshot(entry, ["stage", "book_value_fen"]))
    return entry


def add_valuation(session: Session, principal: Principal, achievement_id: int, data: ValuationIn) -> ValuationEvent:
    """Record a valuation of the institution's ledger entry (optionally adopting it as the book value)."""
    entry = _managed_ledger_entry(session, principal, achievement_id)
    if data.method not in VALUATION_METHODS:
        raise _invalid("method", N_("Unknown valuation method; allowed: {allowed}."), data.method,
                       allowed=", ".join(VALUATION_METHODS))
    event = ValuationEvent(ledger_entry_id=entry.id, valuation_date=data.valuation_date, method=data.method,
                           value_fen=data.value_fen, note=data.note)
    session.add(event)
    if data.update_book_value:
        entry.book_value_fen = data.value_fen
    session.flush()
    audit.record(session, principal, "transfer.valuation.create", "valuation_event", event.id,
                 after=data.model_dump())
    return event


def ledger_rows(session: Session, principal: Principal, organisation_id: int | None = None) -> list[dict[str, Any]]:
    """The ledger as rows (XLSX export): achievement, stage, book value, latest valuation."""
    stmt = readable_ledger(principal)
    if organisation_id is not None:
        stmt = stmt.where(LedgerEntry.organisation_id == organisation_id)
    entries = list(session.scalars(stmt.order_by(LedgerEntry.organisation_id, LedgerEntry.id)))
    ach = {a.id: a for a in session.scalars(select(Achievement).where(
        Achievement.id.in_({e.achievement_id for e in entries})))} if entries else {}
    latest: dict[int, ValuationEvent] = {}
    if entries:
        for v in session.scalars(select(ValuationEvent).where(ValuationEvent.ledger_entry_id.in_(
                [e.id for e in entries])).order_by(ValuationEvent.valuation_date, ValuationEvent.id)):
            latest[v.ledger_entry_id] = v
    return [{"organisation_id": e.organisation_id, "achievement_id": e.achievement_id,
             "kind": ach[e.achievement_id].kind, "number": ach[e.achievement_id].number,
             "title": ach[e.achievement_id].title, "stage": e.stage, "book_value_fen": e.book_value_fen,
             "registered_date": e.registered_date,
             "valuation_date": latest[e.id].valuation_date if e.id in latest else None,
             "valuation_fen": latest[e.id].value_fen if e.id in latest else None} for e in entries]


def export_ledger_xlsx(session: Session, principal: Principal, organisation_id: int | None = None) -> bytes:
    """The 单列管理 ledger as XLSX (kept apart from the general state-asset value figures)."""
    from kechuang.core.tabular import to_xlsx

    rows = ledger_rows(session, principal, organisation_id)
    headers = list(rows[0]) if rows else ["organisation_id", "achievement_id", "kind", "number", "title", "stage",
                                          "book_value_fen", "registered_date", "valuation_date", "valuation_fen"]
    return to_xlsx(headers, [list(r.values()) for r in rows], title="ledger",
                   note="单列管理 ledger of job-related results (separate asset class)")


# ---------------------------------------------------------------- 赋权 empowerment
def add_pilot(session: Session, principal: Principal, data: PilotIn) -> EmpowermentPilot:
    """Put an institution on the 赋权 pilot list for a period."""
    require(principal, PILOT)
    _raise_if(_check_refs(session, [data.organisation_id], []))
    if data.end_date and data.end_date < data.start_date:
        raise _invalid("end_date", N_("The end is before the start."), data.end_date)
    overlap = session.scalars(select(EmpowermentPilot).where(
        EmpowermentPilot.organisation_id == data.organisation_id,
        or_(EmpowermentPilot.end_date.is_(None), EmpowermentPilot.end_date >= data.start_date),
        *([EmpowermentPilot.start_date <= data.end_date] if data.end_date else []))).first()
    if overlap is not None:
        raise _invalid("start_date", N_("The institution is already on the pilot list from {start} (entry {id}); "
                                        "end that period first."), data.start_date,
                       start=overlap.start_date.isoformat(), id=overlap.id)
    pilot = EmpowermentPilot(**data.model_dump())
    session.add(pilot)
    session.flush()
    audit.record(session, principal, "transfer.pilot.create", "empowerment_pilot", pilot.id, after=data.model_dump())
    return pilot


def end_pilot(session: Session, principal: Principal, pilot_id: int, end_date: date) -> EmpowermentPilot:
    """End an institution's pilot membership on ``end_date`` (inclusive; not before its start)."""
    require(principal, PILOT)
    pilot = session.get(EmpowermentPilot, pilot_id)
    if pilot is None:
        raise NotFound()
    if end_date < pilot.start_date:
        raise _invalid("end_date", N_("The end is before the start."), end_date)
    if pilot.end_date is not None and pilot.end_date <= end_date:
        raise _invalid("end_date", N_("This period already ended on {date}."), end_date,
                       date=pilot.end_date.isoformat())
    before = {"end_date": pilot.end_date}
    pilot.end_date = end_date
    session.flush()
    audit.record(session, principal, "transfer.pilot.end", "empowerment_pilot", pilot.id, before=before,
                 after={"end_date": end_date})
    return pilot


def list_pilots(session: Session, principal: Principal, on: date | None = None,
                organisation_id: int | None = None) -> list[EmpowermentPilot]:
    """The pilot list (every period, current ones first, then by start date); anyone who reads transfer
    records may read it."""
    require(principal, READ)
    on = on or today()
    current = (EmpowermentPilot.start_date <= on) & or_(EmpowermentPilot.end_date.is_(None),
                                                         EmpowermentPilot.end_date >= on)
    stmt = select(EmpowermentPilot)
    if organisation_id is not None:
        stmt = stmt.where(EmpowermentPilot.organisation_id == organisation_id)
    return list(session.scalars(stmt.order_by(
        case((current, 0), else_=1), EmpowermentPilot.start_date.desc(), EmpowermentPilot.id.desc())))


def _on_pilot(session: Session, organisation_id: int, on: date) -> bool:
    return session.scalar(select(EmpowermentPilot.id).where(
        EmpowermentPilot.organisation_id == organisation_id, EmpowermentPilot.start_date <= on,
        or_(EmpowermentPilot.end_date.is_(None), EmpowermentPilot.end_date >= on)).limit(1)) is not None


def application_problems(data: dict[str, Any], on: date) -> list[FieldError]:
    """Rules of an application's kind and terms."""
    errors: list[FieldError] = []
    kind = data.get("kind")
    if kind not in APPLICATION_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."),
                                 {"allowed": ", ".join(APPLICATION_KINDS)}, value=kind))
    share = data.get("ownership_share")
    if kind == "partial_ownership" and (share is None or not 0 < share < 1):
        errors.append(FieldError("ownership_share", N_("Partial ownership needs a share above 0 and below 1."),
                                 value=share))
    if kind != "partial_ownership" and share is not None:
        errors.append(FieldError("ownership_share", N_("A share is only given for partial ownership.")))
    years = data.get("use_right_years")
    min_years = params.value("empowerment.use_right_min_years", on)
    if kind == "use_right" and (years is None or years < min_years):
        errors.append(FieldError("use_right_years", N_("A use right is granted for at least {min} years."),
                                 {"min": min_years}, value=years))
    if kind != "use_right" and years is not None:
        errors.append(FieldError("use_right_years", N_("Years are only given for a use right.")))
    if data.get("agreed_income_share") is not None and kind != "full_ownership":
        errors.append(FieldError("agreed_income_share",
                                 N_("An agreed income share goes with full ownership (全部赋权 + 约定收益).")))
    return errors


def create_application(session: Session, principal: Principal, data: ApplicationCreate,
                       on: date | None = None) -> EmpowermentApplication:
    """A researcher drafts a 赋权 application for a result of their own team."""
    require(principal, APPLY)
    on = on or today()
    _raise_if(application_problems(data.model_dump(), on))
    ach = access_achievement_by_id(session, principal, data.achievement_id)  # 404 unless on the team
    if not any(o.organisation_id == data.organisation_id for o in ach.owners):
        raise _invalid("organisation_id", N_("The result does not belong to this institution."),
                       data.organisation_id)
    app = EmpowermentApplication(**data.model_dump(), applicant_person_id=_person(principal), state="draft")
    session.add(app)
    session.flush()
    audit.record(session, principal, "transfer.application.create", "empowerment_application", app.id,
                 after=data.model_dump())
    return app


APP_FIELDS = ["state", "notice_start_date", "notice_end_date", "decision_date", "decision_reason"]


def eligibility_problems(session: Session, app: EmpowermentApplication, on: date) -> list[str]:
    """Why an application is not eligible (empty: eligible): not classified, pilot list, ownership."""
    ach = session.get(Achievement, app.achievement_id)
    problems: list[str] = []
    if ach is None or ach.is_classified:
        problems.append(N_("the result is classified and cannot be empowered"))
    if not _on_pilot(session, app.organisation_id, on):
        problems.append(N_("the institution is not on the empowerment pilot list"))
    if not session.scalar(select(AchievementOwner.id).where(AchievementOwner.achievement_id == app.achievement_id,
                                                             AchievementOwner.organisation_id == app.organisation_id)):
        problems.append(N_("the result does not belong to the institution"))
    return problems


def _transition(session: Session, principal: Principal, app: EmpowermentApplication, to: str,
                allowed_from: tuple[str, ...], action: str, **changes: Any) -> EmpowermentApplication:
    if app.state not in allowed_from:
        raise _refuse("application", action, app.state, to, N_("allowed only from {allowed}."),
                      allowed=", ".join(allowed_from))
    before = audit.snapshot(app, APP_FIELDS)
    app.state = to
    for k, v in changes.items():
        setattr(app, k, v)
    audit.record(session, principal, f"transfer.application.{action}", "empowerment_application", app.id,
                 before=before, after=audit.snapshot(app, APP_FIELDS))
    return app


def _managed_application(session: Session, principal: Principal, application_id: int) -> EmpowermentApplication:
    require(principal, MANAGE)
    return access_application_by_id(session, principal, application_id)


def submit_application(session: Session, principal: Principal, application_id: int,
                       on: date | None = None) -> EmpowermentApplication:
    """draft → submitted, after the eligibility checks (the applicant only)."""
    require(principal, APPLY)
    app = access_application_by_id(session, principal, application_id)
    on = on or today()
    if app.state == "draft":
        problems = eligibility_problems(session, app, on)
        if problems:
            raise _refuse("application", "submit", app.state, "submitted", N_("not eligible: {items}."),
                          problems)
    return _transition(session, principal, app, "submitted", ("draft",), "submit", submitted_at=utcnow())


def start_review(session: Session, principal: Principal, application_id: int) -> EmpowermentApplication:
    """submitted → tto_review (the institution's TTO)."""
    app = _managed_application(session, principal, application_id)
    return _transition(session, principal, app, "tto_review", ("submitted",), "review")


def start_notice(session: Session, principal: Principal, application_id: int,
                 on: date | None = None) -> EmpowermentApplication:
    """tto_review → notice: publish the 公示 for the configured number of days from ``on``."""
    app = _managed_application(session, principal, application_id)
    start = on or today()
    days = params.value("empowerment.notice_days", start)
    return _transition(session, principal, app, "notice", ("tto_review",), "notice", notice_start_date=start,
                       notice_end_date=start + timedelta(days=days - 1))


def raise_objection(session: Session, principal: Principal, application_id: int,
                    data: ObjectionIn) -> EmpowermentObjection:
    """Record an objection received during the notice; it blocks the decision until resolved."""
    app = _managed_application(session, principal, application_id)
    raised = data.raised_date or today()
    if app.state != "notice":
        raise Conflict(N_("Objections are recorded only while the notice runs (the application is '{state}')."),
                       state=app.state)
    if app.notice_start_date and raised < app.notice_start_date or app.notice_end_date and \
            raised > app.notice_end_date:
        raise _invalid("raised_date", N_("The objection was not raised during the notice ({start} to {end})."),
                       raised, start=app.notice_start_date, end=app.notice_end_date)
    obj = EmpowermentObjection(application_id=app.id, raised_date=raised, objector=data.objector,
                               reason=data.reason)
    session.add(obj)
    session.flush()
    audit.record(session, principal, "transfer.objection.create", "empowerment_objection", obj.id,
                 after=data.model_dump())
    return obj


def resolve_objection(session: Session, principal: Principal, objection_id: int,
                      resolution: str) -> EmpowermentObjection:
    """Record how an objection was resolved."""
    obj = session.get(EmpowermentObjection, objection_id)
    if obj is None:
        raise NotFound()
    _managed_application(session, principal, obj.application_id)  # 404 unless the TTO's institution
    if obj.resolved_at is not None:
        raise Conflict(N_("This objection is already resolved."))
    obj.resolved_at = utcnow()
    obj.resolution = resolution
    audit.record(session, principal, "transfer.objection.resolve", "empowerment_objection", obj.id,
                 after={"resolution": resolution})
    return obj


def list_objections(session: Session, principal: Principal, application_id: int) -> list[EmpowermentObjection]:
    """Objections to an application visible to ``principal``."""
    app = access_application_by_id(session, principal, application_id)
    return list(session.scalars(select(EmpowermentObjection).where(
        EmpowermentObjection.application_id == app.id).order_by(EmpowermentObjection.id)))


def decide(session: Session, principal: Principal, application_id: int, approve: bool, reason: str,
           on: date | None = None) -> EmpowermentApplication:
    """notice → approved/rejected after the notice period with no open objection (reasons required);
    tto_review → rejected (refused before any notice). Approval tags the ledger entry 'empowered'."""
    app = _managed_application(session, principal, application_id)
    on = on or today()
    to = "approved" if approve else "rejected"
    if not reason or not reason.strip():
        raise _invalid("reason", N_("A decision states its reasons."))
    allowed = ("notice",) if approve else ("notice", "tto_review")
    if app.state == "notice":
        if app.notice_end_date and on <= app.notice_end_date:
            raise _refuse("application", "decide", app.state, to,
                          N_("the notice runs until {end}; decide after it ends."), end=app.notice_end_date)
        open_count = session.scalar(select(EmpowermentObjection.id).where(
            EmpowermentObjection.application_id == app.id, EmpowermentObjection.resolved_at.is_(None)).limit(1))
        if open_count is not None:
            raise _refuse("application", "decide", app.state, to,
                          N_("an objection raised during the notice is not resolved."))
        if approve:
            problems = eligibility_problems(session, app, on)
            if problems:
                    raise _refuse("application", "decide", app.state, to, N_("not eligible: {items}."), problems)
    _transition(session, principal, app, to, allowed, "approve" if approve else "reject", decision_date=on,
                decision_reason=reason.strip())
    if approve:
        entry = session.scalar(select(LedgerEntry).where(LedgerEntry.achievement_id == app.achievement_id,
                                                         LedgerEntry.organisation_id == app.organisation_id))
        if entry is not None:
            before = audit.snapshot(entry, ["stage"])
            entry.stage = "empowered"
            audit.record(session, principal, "transfer.ledger.update", "ledger_entry", entry.id, before=before,
                         after={"stage": "empowered"})
    return app


def list_applications(session: Session, principal: Principal, state: str | None = None) -> list[EmpowermentApplication]:
    """Applications visible to ``principal``, newest first."""
    stmt = readable_applications(principal)
    if state:
        stmt = stmt.where(EmpowermentApplication.state == state)
    return list(session.scalars(stmt.order_by(EmpowermentApplication.id.desc()).limit(500)))


# ---------------------------------------------------------------- transfers
TRANSFER_FIELDS = ["state", "signed_date", "completed_date", *TransferEvidence.model_fields]


def transfer_problems(data: dict[str, Any]) -> list[FieldError]:
    """Rules of a transfer's mode, licence terms, equity and pricing route."""
    errors: list[FieldError] = []
    mode = data.get("mode")
    if mode not in TRANSFER_MODES:
        errors.append(FieldError("mode", N_("Unknown mode; allowed: {allowed}."),
                                 {"allowed": ", ".join(TRANSFER_MODES)}, value=mode))
    if mode == "licence":
        if data.get("licence_type") not in LICENCE_TYPES:
            errors.append(FieldError("licence_type", N_("A licence is exclusive, sole or ordinary."),
                                     value=data.get("licence_type")))
        if not data.get("licence_term_years") or data["licence_term_years"] < 1:
            errors.append(FieldError("licence_term_years", N_("A licence states its term in years.")))
        if not data.get("territory"):
            errors.append(FieldError("territory", N_("A licence states its territory.")))
    elif data.get("licence_type"):
        errors.append(FieldError("licence_type", N_("Only a licence has a licence type.")))
    if mode == "equity":
        if not data.get("equity_share"):
            errors.append(FieldError("equity_share", N_("An equity investment states the shares received.")))
        if data.get("company_is_new") is None:
            errors.append(FieldError("company_is_new", N_("Say whether the company is new or existing.")))
    elif data.get("equity_share") or data.get("social_capital_fen"):
        errors.append(FieldError("equity_share", N_("Only an equity investment has shares and attracted capital.")))
    if mode in ("assignment", "licence", "equity") and not data.get("counterparty_organisation_id"):
        errors.append(FieldError("counterparty_organisation_id", N_("Name the buyer, licensee or company.")))
    route = data.get("pricing_route")
    if mode == "self_implementation":
        if route:
            errors.append(FieldError("pricing_route", N_("Self-implementation has no pricing route.")))
    elif mode in TRANSFER_MODES and route not in PRICING_ROUTES:
        errors.append(FieldError("pricing_route", N_("Choose the pricing route: {allowed}."),
                                 {"allowed": ", ".join(PRICING_ROUTES)}, value=route))
    for f in ("price_fen", "social_capital_fen"):
        if (data.get(f) or 0) < 0:
            errors.append(FieldError(f, N_("An amount cannot be negative."), value=data.get(f)))
    return errors


def create_transfer(session: Session, principal: Principal, data: TransferCreate) -> Transfer:
    """Draft a transfer of one of the institution's achievements."""
    ach = _managed_achievement(session, principal, data.achievement_id)
    errors = transfer_problems(data.model_dump())
    if data.counterparty_organisation_id:
        errors += _check_refs(session, [data.counterparty_organisation_id], [])
    _raise_if(errors)
    org = _org(principal) if not principal.is_system else ach.owners[0].organisation_id
    obj = Transfer(**data.model_dump(), organisation_id=org, state="draft")
    session.add(obj)
    session.flush()
    audit.record(session, principal, "transfer.transfer.create", "transfer", obj.id, after=data.model_dump())
    return obj


def _managed_transfer(session: Session, principal: Principal, transfer_id: int) -> Transfer:
    require(principal, MANAGE)
    return access_transfer_by_id(session, principal, transfer_id)


def record_evidence(session: Session, principal: Principal, transfer_id: int, data: TransferEvidence) -> Transfer:
    """Record procedure evidence (notices, listing/auction, valuation, decision, conflicts); audited with time."""
    obj = _managed_transfer(session, principal, transfer_id)
    if obj.state not in ("draft", "signed"):
        raise Conflict(N_("A {state} transfer cannot change."), state=obj.state)
    changes = data.model_dump(exclude_unset=True)
    errors: list[FieldError] = []
    for prefix in ("unit_notice", "market_notice"):
        start = changes.get(f"{prefix}_start_date", getattr(obj, f"{prefix}_start_date"))
        end = changes.get(f"{prefix}_end_date", getattr(obj, f"{prefix}_end_date"))
        if start and end and end < start:
            errors.append(FieldError(f"{prefix}_end_date", N_("The end is before the start."), value=end))
    _raise_if(errors)
    before = {k: getattr(obj, k) for k in changes}
    for k, v in changes.items():
        setattr(obj, k, v)
    audit.record(session, principal, "transfer.transfer.evidence", "transfer", obj.id, before=before, after=changes)
    return obj


def missing_steps(t: Transfer, signing_on: date | None = None) -> list[str]:
    """The mandatory steps a transfer lacks (message ids), in procedure order (尽职免责, 国发〔2016〕16号)."""
    missing: list[str] = []
    if t.mode != "self_implementation" and not t.decision_record:
        missing.append(N_("decision record of the institution's procedure"))
    if t.pricing_route == "negotiated":
        min_days = params.value("transfer.negotiated_notice_min_days", t.unit_notice_start_date or date.today())
        sign = signing_on or t.signed_date
        for start, end, label in ((t.unit_notice_start_date, t.unit_notice_end_date, N_("notice in the unit")),
                                  (t.market_notice_start_date, t.market_notice_end_date,
                                   N_("notice on a technology market"))):
            if not start or not end:
                missing.append(label)
            elif (end - start).days + 1 < min_days:
                missing.append(N_("a notice period of at least the minimum days"))
            elif sign and end >= sign:
                missing.append(N_("notice ended before signing"))
        if not t.market_name:
            missing.append(N_("name of the technology market"))
    elif t.pricing_route == "listing" and not t.listing_record:
        missing.append(N_("listing record"))
    elif t.pricing_route == "auction" and not t.auction_record:
        missing.append(N_("auction record"))
    # Company Law: contributions in kind are valued; otherwise the institution decides (9-dept pilot).
    if (t.valuation_required or t.mode == "equity") and not t.valuation_report:
        missing.append(N_("valuation report"))
    if t.mode != "self_implementation" and not t.conflicts_declared:
        missing.append(N_("declaration of conflicts of interest"))
    if t.mode != "self_implementation" and not t.no_improper_gain_declared:
        missing.append(N_("declaration of no improper gain"))
    return list(dict.fromkeys(missing))


def sign_transfer(session: Session, principal: Principal, transfer_id: int, on: date | None = None) -> Transfer:
    """draft → signed, only when every step due before signing is recorded."""
    obj = _managed_transfer(session, principal, transfer_id)
    on = on or today()
    if obj.state != "draft":
        raise _refuse("transfer", "sign", obj.state, "signed", N_("allowed only from {allowed}."), allowed="draft")
    steps = missing_steps(obj, on)
    if steps:
        raise _refuse("transfer", "sign", obj.state, "signed", N_("mandatory steps are missing: {items}."),
                      steps)
    before = audit.snapshot(obj, ["state", "signed_date"])
    obj.state, obj.signed_date = "signed", on
    audit.record(session, principal, "transfer.transfer.sign", "transfer", obj.id, before=before,
                 after=audit.snapshot(obj, ["state", "signed_date"]))
    return obj


def complete_transfer(session: Session, principal: Principal, transfer_id: int, on: date | None = None) -> Transfer:
    """signed → completed (draft → completed for self-implementation); refused while a step is missing.
    Tags the ledger entry transferred / licensed / invested."""
    obj = _managed_transfer(session, principal, transfer_id)
    on = on or today()
    allowed = ("signed", "draft") if obj.mode == "self_implementation" else ("signed",)
    if obj.state not in allowed:
        raise _refuse("transfer", "complete", obj.state, "completed", N_("allowed only from {allowed}."),
                      allowed=", ".join(allowed))
    steps = missing_steps(obj)
    if steps:
        raise _refuse("transfer", "complete", obj.state, "completed", N_("mandatory steps are missing: {items}."),
                      steps)
    before = audit.snapshot(obj, ["state", "completed_date"])
    obj.state, obj.completed_date = "completed", on
    if obj.signed_date is None:
        obj.signed_date = on
    audit.record(session, principal, "transfer.transfer.complete", "transfer", obj.id, before=before,
                 after=audit.snapshot(obj, ["state", "completed_date"]))
    stage = _LEDGER_STAGE_OF_MODE.get(obj.mode)
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.achievement_id == obj.achievement_id,
                                                     LedgerEntry.organisation_id == obj.organisation_id))
    if stage and entry is not None:
        prev = entry.stage
        entry.stage = stage
        audit.record(session, principal, "transfer.ledger.update", "ledger_entry", entry.id,
                     before={"stage": prev}, after={"stage": stage})
    return obj


def cancel_transfer(session: Session, principal: Principal, transfer_id: int, reason: str) -> Transfer:
    """draft/signed → cancelled, with a reason."""
    obj = _managed_transfer(session, principal, transfer_id)
    if obj.state not in ("draft", "signed"):
        raise _refuse("transfer", "cancel", obj.state, "cancelled", N_("allowed only from {allowed}."),
                      allowed="draft, signed")
    before = audit.snapshot(obj, ["state"])
    obj.state = "cancelled"
    audit.record(session, principal, "transfer.transfer.cancel", "transfer", obj.id, before=before,
                 after={"state": "cancelled", "reason": reason})
    return obj


def equity_awards(session: Session, principal: Principal, transfer_id: int) -> dict[str, Any]:
    """Equity awards of a 作价投资 transfer: the team's part (institution rule's team share, at least the legal
    minimum) of the institution's stake, split by contribution (``sharing.split_equity``)."""
    t = access_transfer_by_id(session, principal, transfer_id)
    if t.mode != "equity" or not t.equity_share:
        raise Conflict(N_("Only an equity investment (作价投资) has equity awards."))
    on = t.completed_date or t.signed_date or today()
    floor = params.value("reward.min_team_share", on)
    rule = _rule(session, t.organisation_id, on)
    team_share = max(rule.team_share, floor) if rule is not None else floor
    members = [(m.person_id, m.contribution) for m in session.scalars(
        select(AchievementMember).where(AchievementMember.achievement_id == t.achievement_id))]
    institution, team = sharing.split_equity(t.equity_share, members, team_share, floor)
    if principal.role is Role.RESEARCHER:
        team = {k: v for k, v in team.items() if k == principal.person_id}
    return {"transfer_id": t.id, "equity_share": t.equity_share, "team_share": team_share,
            "institution": institution, "members": [{"person_id": k, "share": v} for k, v in sorted(team.items())]}


def list_transfers(session: Session, principal: Principal, state: str | None = None) -> list[Transfer]:
    """Transfers visible to ``principal``, newest first."""
    stmt = readable_transfers(principal)
    if state:
        stmt = stmt.where(Transfer.state == state)
    return list(session.scalars(stmt.order_by(Transfer.id.desc()).limit(500)))


# ---------------------------------------------------------------- technology contracts
CONTRACT_FIELDS = ["state", "submitted_date", "registration_deadline_date", "registered_date", "certificate_number",
                   "refusal_reason"]


def contract_problems(data: dict[str, Any]) -> list[FieldError]:
    """Rules of a contract's category, parties and amounts (create and import)."""
    errors: list[FieldError] = []
    cat = data.get("category")
    if cat not in CONTRACT_CATEGORIES:
        errors.append(FieldError("category", N_("Unknown category; allowed: {allowed}."),
                                 {"allowed": ", ".join(CONTRACT_CATEGORIES)}, value=cat))
    total = data.get("total_fen")
    non_tech = data.get("non_technical_fen") or 0
    tech = data.get("technical_fen")
    if total is None or total <= 0:
        errors.append(FieldError("total_fen", N_("The contract amount (成交额) must be above zero."), value=total))
    if non_tech < 0:
        errors.append(FieldError("non_technical_fen", N_("An amount cannot be negative."), value=non_tech))
    if total is not None and total > 0:
        if non_tech > total:
            errors.append(FieldError("non_technical_fen",
                                     N_("Equipment and materials ({value} fen) exceed the contract amount ({total} "
                                        "fen)."), {"value": non_tech, "total": total}, value=non_tech))
        if tech is not None:
            if tech > total:
                errors.append(FieldError("technical_fen",
                                         N_("The technical amount (技术交易额, {value} fen) is above the contract "
                                            "amount (成交额, {total} fen)."), {"value": tech, "total": total},
                                         value=tech))
            elif tech < 0:
                errors.append(FieldError("technical_fen", N_("An amount cannot be negative."), value=tech))
            elif tech != total - non_tech:
                errors.append(FieldError("technical_fen",
                                         N_("The technical amount must equal the contract amount minus equipment and "
                                            "materials: {expected} fen."), {"expected": total - non_tech},
                                         value=tech))
    if not data.get("buyer_organisation_id") and not data.get("buyer_name"):
        errors.append(FieldError("buyer_name", N_("Name the buyer.")))
    if data.get("buyer_organisation_id") and data.get("buyer_organisation_id") == data.get("seller_organisation_id"):
        errors.append(FieldError("buyer_organisation_id", N_("Seller and buyer are the same organisation.")))
    payments = data.get("payments") or []
    if payments and total:
        paid = sum(p["amount_fen"] for p in payments)
        if paid != total:
            errors.append(FieldError("payments", N_("The payment schedule sums to {paid} fen, not the contract "
                                                    "amount of {total} fen."), {"paid": paid, "total": total}))
    return errors


def create_contract(session: Session, principal: Principal, data: ContractCreate) -> TechnologyContract:
    """Record a technology contract; the seller (the caller's organisation) will register it."""
    require(principal, CONTRACT_WRITE)
    values = data.model_dump()
    errors = contract_problems(values)
    if not principal.is_system and data.seller_organisation_id != _org(principal):
        errors.append(FieldError("seller_organisation_id", N_("Only the seller records and registers a contract.")))
    errors += _check_refs(session, [i for i in (data.seller_organisation_id, data.buyer_organisation_id) if i], [])
    if session.scalar(select(TechnologyContract.id).where(TechnologyContract.number == data.number)):
        errors.append(FieldError("number", N_("This number is already recorded."), value=data.number))
    _raise_if(errors)
    fields = {k: v for k, v in values.items() if k != "payments"}
    fields["technical_fen"] = data.total_fen - data.non_technical_fen
    obj = TechnologyContract(**fields, state="draft")
    obj.payments = [ContractPayment(**p.model_dump()) for p in data.payments]
    session.add(obj)
    session.flush()
    audit.record(session, principal, "transfer.contract.create", "technology_contract", obj.id, after=values)
    return obj


def _seller_contract(session: Session, principal: Principal, contract_id: int) -> TechnologyContract:
    require(principal, CONTRACT_WRITE)
    obj = access_contract_by_id(session, principal, contract_id)
    if not principal.is_system and obj.seller_organisation_id != _org(principal):
        raise NotFound()
    return obj


def _contract_transition(session: Session, principal: Principal, obj: TechnologyContract, to: str,
                         allowed: tuple[str, ...], action: str, **changes: Any) -> TechnologyContract:
    if obj.state not in allowed:
        raise _refuse("contract", action, obj.state, to, N_("allowed only from {allowed}."),
                      allowed=", ".join(allowed))
    before = audit.snapshot(obj, CONTRACT_FIELDS)
    obj.state = to
    for k, v in changes.items():
        setattr(obj, k, v)
    audit.record(session, principal, f"transfer.contract.{action}", "technology_contract", obj.id, before=before,
                 after=audit.snapshot(obj, CONTRACT_FIELDS))
    return obj


def submit_contract(session: Session, principal: Principal, contract_id: int,
                    on: date | None = None) -> TechnologyContract:
    """draft/refused → submitted for registration (by the seller); the review deadline is set from the
    dated parameter (legacy 30 days; reform 15 working days, 30 if 技术交易额 ≥ 500万)."""
    obj = _seller_contract(session, principal, contract_id)
    on = on or today()
    return _contract_transition(session, principal, obj, "submitted", ("draft", "refused"), "submit",
                                submitted_date=on, refusal_reason=None,
                                registration_deadline_date=params.registration_deadline(on, obj.technical_fen))


def register_contract(session: Session, principal: Principal, contract_id: int, certificate_number: str,
                      on: date | None = None) -> TechnologyContract:
    """submitted → registered with a certificate number (the registration body)."""
    require(principal, REGISTER)
    obj = access_contract_by_id(session, principal, contract_id)
    if not certificate_number.strip():
        raise _invalid("certificate_number", N_("A registration needs its certificate number."))
    if obj.state == "submitted" and session.scalar(select(TechnologyContract.id).where(
            TechnologyContract.certificate_number == certificate_number.strip())):
        raise _invalid("certificate_number", N_("This certificate number is already used."), certificate_number)
    return _contract_transition(session, principal, obj, "registered", ("submitted",), "register",
                                registered_date=on or today(), certificate_number=certificate_number.strip())


def refuse_contract(session: Session, principal: Principal, contract_id: int, reason: str) -> TechnologyContract:
    """submitted → refused (未予登记) with the reason; the seller may correct and resubmit."""
    require(principal, REGISTER)
    obj = access_contract_by_id(session, principal, contract_id)
    if not reason.strip():
        raise _invalid("reason", N_("A refusal states its reason."))
    return _contract_transition(session, principal, obj, "refused", ("submitted",), "refuse",
                                refusal_reason=reason.strip())


def list_contracts(session: Session, principal: Principal, state: str | None = None) -> list[TechnologyContract]:
    """Contracts visible to ``principal``, newest first (first 500)."""
    stmt = readable_contracts(principal)
    if state:
        stmt = stmt.where(TechnologyContract.state == state)
    return list(session.scalars(stmt.order_by(TechnologyContract.id.desc()).limit(500)))


# ---------------------------------------------------------------- overdue work list
# Only deadlines that the rules set are listed (SPEC section 3): the registration body decides on a submitted
# technology contract within the registration period (国科发政字〔2000〕063号: 30 days from acceptance; MIIT
# reform 2026: 15 working days, 30 if 技术交易额 ≥ 500万 — dated parameter ``contract.registration_period``).
# Not listed, because no rule sets a period: deciding a 赋权 application after its notice (SPEC section 4 and 8:
# the Shanghai application workflow and 公示 period are unconfirmed), paying the team its split (income is split
# when it is recorded; no payment period is given), and instalments of a contract's payment schedule (income is
# recorded per result for its split, not as receivables of every contract).
OVERDUE = permission("transfer.overdue", Role.TTO, Role.COMMISSION)
OVERDUE_KINDS: dict[str, str] = {"contract_registration": N_("Registration decision past its deadline")}
OVERDUE_SORT = SortSpec({"deadline": TechnologyContract.registration_deadline_date,
                         "submitted": TechnologyContract.submitted_date, "number": TechnologyContract.number,
                         "technical": TechnologyContract.technical_fen}, default="deadline")


def overdue_registrations(principal: Principal, on: date | None = None) -> Select:
    """Contracts submitted for registration whose decision deadline passed before ``on`` (SPEC section 3).
    A TTO officer sees the contracts their institution submitted as seller; the commission, as registration
    body, sees all."""
    require(principal, OVERDUE)
    stmt = select(TechnologyContract).where(TechnologyContract.state == "submitted",
                                            TechnologyContract.registration_deadline_date < (on or today()))
    if principal.role is Role.TTO:
        return stmt.where(TechnologyContract.seller_organisation_id == _org(principal))
    if principal.role in (Role.COMMISSION, Role.SYSTEM):
        return stmt
    return stmt.where(false())


def registration_rule(submitted: date, technical_fen: int) -> dict[str, Any]:
    """The registration period that applied to a contract submitted on ``submitted``: days, whether they are
    working days, and the parameter's status and source."""
    e = params.entry("contract.registration_period", submitted)
    large = "large_threshold_fen" in e.value and technical_fen >= e.value["large_threshold_fen"]
    return {"days": e.value["large_days"] if large else e.value["days"], "working_days": e.value["working_days"],
            "status": e.status, "source": e.source}


def overdue_row(c: TechnologyContract, on: date) -> dict[str, Any]:
    """One line of the overdue list: the contract, its deadline, days past it and the rule behind it."""
    rule = registration_rule(c.submitted_date or c.signed_date, c.technical_fen)
    return {"kind": "contract_registration", "contract_id": c.id, "number": c.number, "category": c.category,
            "seller_organisation_id": c.seller_organisation_id, "buyer_organisation_id": c.buyer_organisation_id,
            "buyer_name": c.buyer_name, "technical_fen": c.technical_fen, "submitted_date": c.submitted_date,
            "deadline_date": c.registration_deadline_date,
            "days_overdue": (on - c.registration_deadline_date).days if c.registration_deadline_date else None,
            "rule_days": rule["days"], "rule_working_days": rule["working_days"], "rule_status": rule["status"],
            "rule_source": rule["source"], "is_synthetic": c.is_synthetic}


def _overdue_filtered(principal: Principal, params_: PageParams, on: date) -> Select:
    stmt = overdue_registrations(principal, on)
    if params_.q:
        q = f"%{params_.q.strip()}%"
        stmt = stmt.where(or_(TechnologyContract.number.ilike(q), TechnologyContract.subject.ilike(q)))
    return stmt


def list_overdue(session: Session, principal: Principal, params_: PageParams,
                 on: date | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of the overdue work list (oldest deadline first by default) and the total."""
    on = on or today()
    contracts, total = paginate(session, _overdue_filtered(principal, params_, on), params_, OVERDUE_SORT,
                                TechnologyContract.id)
    return [overdue_row(c, on) for c in contracts], total


def count_overdue(session: Session, principal: Principal, on: date | None = None) -> int:
    """How many items of the overdue list ``principal`` has (0 without the permission)."""
    if not has(principal, OVERDUE):
        return 0
    stmt = overdue_registrations(principal, on).with_only_columns(func.count(TechnologyContract.id))
    return session.scalar(stmt) or 0


OVERDUE_COLUMNS: list[tuple[str, str]] = [
    ("kind", N_("Item")), ("number", N_("Contract number")), ("category", N_("Category")),
    ("seller", N_("Seller")), ("buyer", N_("Buyer")), ("technical_fen", N_("Technical amount (fen)")),
    ("submitted_date", N_("Submitted")), ("deadline_date", N_("Deadline")), ("days_overdue", N_("Days overdue")),
    ("rule", N_("Period")), ("rule_source", N_("Basis")), ("is_synthetic", N_("Synthetic")),
]


def export_overdue(session: Session, principal: Principal, params_: PageParams, fmt: str = "xlsx",
                   on: date | None = None) -> tuple[bytes, str, str]:
    """The whole overdue list (same scope, search and order as the page) as XLSX or CSV, headers in the
    caller's language: (content, media type, file name)."""
    from kechuang.core.tabular import CSV_MEDIA, XLSX_MEDIA, to_csv, to_xlsx

    on = on or today()
    stmt = OVERDUE_SORT.apply(_overdue_filtered(principal, params_, on), params_.sort).order_by(TechnologyContract.id)
    rows = [overdue_row(c, on) for c in session.scalars(stmt)]
    orgs, _p = names(session, [r["seller_organisation_id"] for r in rows] + [r["buyer_organisation_id"] for r in rows])

    def cell(r: dict[str, Any], key: str) -> Any:
        if key == "kind":
            return gettext(OVERDUE_KINDS[r["kind"]])
        if key == "category":
            return gettext(CONTRACT_CATEGORIES.get(r["category"], r["category"]))
        if key in ("seller", "buyer"):
            o = orgs.get(r[f"{key}_organisation_id"])
            if o is None:
                return (r["buyer_name"] or "") if key == "buyer" else ""
            return o.name_en if get_locale() == "en" and o.name_en else o.name_zh
        if key == "rule":
            return gettext(N_("{days} working days") if r["rule_working_days"] else N_("{days} calendar days"),
                           days=r["rule_days"])
        return r[key]

    headers = [gettext(label) for _k, label in OVERDUE_COLUMNS]
    table = [[cell(r, k) for k, _label in OVERDUE_COLUMNS] for r in rows]
    stamp = on.isoformat()
    if fmt == "csv":
        return to_csv(headers, table), CSV_MEDIA, f"transfer-overdue-{stamp}.csv"
    note = gettext(N_("Overdue on {date}: registration decisions past the period of 技术合同认定登记 "
                        "(国科发政字〔2000〕063号; from 2026-01-23 the new 办法, unconfirmed)."), date=stamp)
    return to_xlsx(headers, table, title="overdue", note=note), XLSX_MEDIA, f"transfer-overdue-{stamp}.xlsx"


# ---------------------------------------------------------------- revenue sharing
def set_revenue_rule(session: Session, principal: Principal, data: RuleIn) -> RevenueRule:
    """An institution's revenue-sharing rule from a date (team share at least the legal minimum)."""
    require(principal, MANAGE)
    if not principal.is_system and data.organisation_id != _org(principal):
        raise NotFound()
    rule = sharing.Rule(data.team_share, data.department_share, data.institution_share)
    floor = params.value("reward.min_team_share", data.valid_from_date)
    try:
        rule.check(floor)
    except sharing.SharingError:
        raise _invalid("team_share", N_("Shares must sum to 100% and the team share be at least {min}."),
                       str(data.team_share), min=f"{floor * 100:.0f}%") from None
    if session.scalar(select(RevenueRule.id).where(RevenueRule.organisation_id == data.organisation_id,
                                                   RevenueRule.valid_from_date == data.valid_from_date)):
        raise _invalid("valid_from_date", N_("A rule from this date is already recorded; a new version needs "
                                             "another date."), data.valid_from_date)
    obj = RevenueRule(**data.model_dump())
    session.add(obj)
    session.flush()
    audit.record(session, principal, "transfer.rule.create", "revenue_rule", obj.id, after=data.model_dump())
    return obj


def readable_rules(principal: Principal) -> Select:
    """Revenue-sharing rules: own institution's (TTO), every institution's (commission, auditor)."""
    require(principal, RULES)
    stmt = select(RevenueRule)
    if principal.role is Role.SYSTEM or principal.role in _ALL_DATA:
        return stmt
    return stmt.where(RevenueRule.organisation_id == _org(principal))


def list_rules(session: Session, principal: Principal, organisation_id: int | None = None) -> list[RevenueRule]:
    """Rule versions by institution, newest first; another institution's rules asked for by a TTO answer 404."""
    stmt = readable_rules(principal)
    if organisation_id is not None:
        if not session.scalar(select(Organisation.id).where(Organisation.id == organisation_id)) or (
                principal.role is Role.TTO and organisation_id != _org(principal)):
            raise NotFound()
        stmt = stmt.where(RevenueRule.organisation_id == organisation_id)
    return list(session.scalars(stmt.order_by(RevenueRule.organisation_id, RevenueRule.valid_from_date.desc())))


def rule_in_force(rules: list[RevenueRule], organisation_id: int, on: date) -> RevenueRule | None:
    """Of ``rules`` (newest first), the one the split uses for ``organisation_id`` on ``on``."""
    return next((r for r in rules if r.organisation_id == organisation_id and r.valid_from_date <= on), None)


def _agreement(session: Session, achievement_id: int, organisation_id: int) -> EmpowermentApplication | None:
    return session.scalars(select(EmpowermentApplication).where(
        EmpowermentApplication.achievement_id == achievement_id,
        EmpowermentApplication.organisation_id == organisation_id, EmpowermentApplication.state == "approved",
        EmpowermentApplication.agreed_income_share.is_not(None)).order_by(EmpowermentApplication.id.desc())).first()


def _rule(session: Session, organisation_id: int, on: date) -> RevenueRule | None:
    return session.scalars(select(RevenueRule).where(RevenueRule.organisation_id == organisation_id,
                                                     RevenueRule.valid_from_date <= on)
                           .order_by(RevenueRule.valid_from_date.desc())).first()


def record_income(session: Session, principal: Principal, data: IncomeIn) -> tuple[IncomeEvent, bool]:
    """Record income received and split it exactly (``sharing``); idempotent on ``idempotency_key``:
    posting the same key again returns the existing event (``created`` False), a different payload with
    the same key is a conflict."""
    require(principal, MANAGE)
    existing = session.scalar(select(IncomeEvent).where(IncomeEvent.idempotency_key == data.idempotency_key))
    if existing is not None:
        if not principal.is_system and existing.organisation_id != _org(principal):
            raise Conflict(N_("This idempotency key is already used."))
        same = (existing.amount_fen, existing.costs_fen, existing.received_date) == \
            (data.amount_fen, data.costs_fen, data.received_date)
        if not same:
            raise Conflict(N_("This idempotency key was used for a different income event."))
        return existing, False
    achievement_id = data.achievement_id
    contract = transfer = None
    if data.contract_id:
        contract = access_contract_by_id(session, principal, data.contract_id)
        achievement_id = achievement_id or contract.achievement_id
    if data.transfer_id:
        transfer = access_transfer_by_id(session, principal, data.transfer_id)
        achievement_id = achievement_id or transfer.achievement_id
    # Income is split by the team of one result: a contract or transfer of another result would pay the wrong team.
    if contract is not None and contract.achievement_id and contract.achievement_id != achievement_id:
        raise _invalid("contract_id", N_("This contract is for another result."), data.contract_id)
    if transfer is not None and transfer.achievement_id != achievement_id:
        raise _invalid("transfer_id", N_("This transfer is of another result."), data.transfer_id)
    if not achievement_id:
        raise _invalid("achievement_id", N_("Say which result the income is for (directly, or through a contract "
                                            "or transfer)."))
    ach = _managed_achievement(session, principal, achievement_id)
    org = _org(principal) if not principal.is_system else ach.owners[0].organisation_id
    try:
        net = sharing.net_income(data.amount_fen, data.costs_fen)
    except sharing.SharingError:
        raise _invalid("costs_fen", N_("Documented costs exceed the income."), data.costs_fen) from None
    floor = params.value("reward.min_team_share", data.received_date)
    agreement = _agreement(session, ach.id, org)
    rule = _rule(session, org, data.received_date)
    members = [(m.person_id, m.contribution) for m in ach.members]
    if agreement is not None:
        split = sharing.split_income(net, members, agreed_institution_share=agreement.agreed_income_share,
                                     min_team_share=floor)
        basis = f"agreement: empowerment application {agreement.id} (institution {agreement.agreed_income_share})"
    elif rule is not None:
        split = sharing.split_income(net, members, min_team_share=floor, rule=sharing.Rule(
            rule.team_share, rule.department_share, rule.institution_share))
        basis = f"rule {rule.id} from {rule.valid_from_date}: {rule.basis}"
    else:
        split = sharing.split_income(net, members, min_team_share=floor)
        basis = f"legal default: team {floor} ({params.entry('reward.min_team_share', data.received_date).source})"
    event = IncomeEvent(idempotency_key=data.idempotency_key, achievement_id=ach.id, organisation_id=org,
                        contract_id=data.contract_id, transfer_id=data.transfer_id, received_date=data.received_date,
                        amount_fen=data.amount_fen, costs_fen=data.costs_fen, cost_note=data.cost_note, net_fen=net,
                        rule_basis=basis[:300], is_synthetic=data.is_synthetic)
    try:
        with session.begin_nested():  # a concurrent post of the same key loses the race here
            session.add(event)
            session.flush()
    except IntegrityError:
        winner = session.scalar(select(IncomeEvent).where(IncomeEvent.idempotency_key == data.idempotency_key))
        if winner is None:
            raise
        return winner, False
    shares = [IncomeShare(income_event_id=event.id, party="member", person_id=pid, amount_fen=amount,
                          payout_status="unpaid")
              for pid, amount in sorted(split.members.items())]
    if split.department_fen:
        shares.append(IncomeShare(income_event_id=event.id, party="department", organisation_id=org,
                                  amount_fen=split.department_fen))
    shares.append(IncomeShare(income_event_id=event.id, party="institution", organisation_id=org,
                              amount_fen=split.institution_fen))
    session.add_all(shares)
    session.flush()
    audit.record(session, principal, "transfer.income.create", "income_event", event.id,
                 after={**data.model_dump(), "net_fen": net, "basis": basis,
                        "shares": [{"party": s.party, "person_id": s.person_id, "amount_fen": s.amount_fen}
                                   for s in shares]})
    return event, True


def income_shares(session: Session, principal: Principal, income_event_id: int) -> list[IncomeShare]:
    """The split of one income event (a researcher sees only their own line)."""
    event = session.scalar(readable_income(principal).where(IncomeEvent.id == income_event_id))
    if event is None:
        raise NotFound()
    stmt = select(IncomeShare).where(IncomeShare.income_event_id == event.id)
    if principal.role is Role.RESEARCHER:
        stmt = stmt.where(IncomeShare.person_id == _person(principal))
    return list(session.scalars(stmt.order_by(IncomeShare.id)))


PAYOUT_STATUSES: dict[str, str] = {"unpaid": N_("Unpaid"), "paid": N_("Paid out")}


def record_payout(session: Session, principal: Principal, share_id: int, data: PayoutIn) -> tuple[IncomeShare, bool]:
    """Record that a team member's whole share was paid (date, reference such as a payroll batch number).

    The TTO officer of the institution that received the income only (another institution's share answers
    404). The amount is the share's, unchanged: there are no partial payments. Idempotent: recording the same
    payment again changes nothing (``changed`` False); a different date or reference for a paid share is a
    conflict. The status moves by a conditional UPDATE (``WHERE payout_status = 'unpaid'``), so of two
    concurrent recordings exactly one writes and audits."""
    require(principal, MANAGE)
    row = session.execute(select(IncomeShare, IncomeEvent)
                          .join(IncomeEvent, IncomeEvent.id == IncomeShare.income_event_id)
                          .where(IncomeShare.id == share_id)).first()
    if row is None or (not principal.is_system and row[1].organisation_id != _org(principal)):
        raise NotFound()
    share, event = row
    if share.party != "member":
        raise Conflict(N_("Only a team member's share is paid out; the department's and the institution's parts "
                          "stay with the institution."))
    if data.paid_date < event.received_date:
        raise _invalid("paid_date", N_("The share cannot be paid before the income was received ({date})."),
                       data.paid_date.isoformat(), date=event.received_date.isoformat())
    if data.paid_date > today():
        raise _invalid("paid_date", N_("The payment date cannot be in the future."), data.paid_date.isoformat())
    done = session.execute(
        update(IncomeShare)
        .where(IncomeShare.id == share.id, IncomeShare.payout_status == "unpaid")
        .values(payout_status="paid", paid_date=data.paid_date, payout_reference=data.reference)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(share)
    if not done:
        if (share.paid_date, share.payout_reference) == (data.paid_date, data.reference):
            return share, False
        raise Conflict(N_("This share was already recorded as paid on {date} (reference {reference})."),
                       date=share.paid_date.isoformat() if share.paid_date else "",
                       reference=share.payout_reference or "")
    audit.record(session, principal, "transfer.income.payout", "income_share", share.id,
                 before={"payout_status": "unpaid"},
                 after={"payout_status": "paid", "paid_date": data.paid_date.isoformat(),
                        "reference": data.reference, "amount_fen": share.amount_fen,
                        "person_id": share.person_id, "income_event_id": event.id})
    return share, True


def access_income_by_id(session: Session, principal: Principal, income_event_id: int) -> IncomeEvent:
    """The income event if visible; the same 404 otherwise."""
    event = session.scalar(readable_income(principal).where(IncomeEvent.id == income_event_id))
    if event is None:
        raise NotFound()
    return event


def person_ledger(session: Session, principal: Principal, person_id: int) -> list[dict[str, Any]]:
    """A person's income lines (per-person ledger): their own (researcher), their institution's people (TTO),
    anyone's (commission, auditor)."""
    require(principal, READ)
    if principal.role is Role.RESEARCHER and person_id != principal.person_id:
        raise NotFound()
    if principal.role not in (*_ALL_DATA, Role.RESEARCHER, Role.TTO):
        raise NotFound()
    stmt = (select(IncomeShare, IncomeEvent).join(IncomeEvent, IncomeEvent.id == IncomeShare.income_event_id)
            .where(IncomeShare.person_id == person_id).order_by(IncomeEvent.received_date, IncomeShare.id))
    if principal.role is Role.TTO:
        stmt = stmt.where(IncomeEvent.organisation_id == _org(principal))
    return [{"income_event_id": e.id, "received_date": e.received_date, "achievement_id": e.achievement_id,
             "organisation_id": e.organisation_id, "amount_fen": s.amount_fen, "basis": e.rule_basis,
             "share_id": s.id, "payout_status": s.payout_status, "paid_date": s.paid_date}
            for s, e in session.execute(stmt)]


def list_income(session: Session, principal: Principal) -> list[IncomeEvent]:
    """Income events visible to ``principal``, newest first (first 500)."""
    return list(session.scalars(readable_income(principal).order_by(IncomeEvent.id.desc()).limit(500)))


def can_manage(principal: Principal) -> bool:
    """Whether ``principal`` manages an institution's transfer records."""
    return has(principal, MANAGE)



# ---------------------------------------------------------------- page helpers (read-only)
def achievement_overview(session: Session, principal: Principal, achievement_id: int) -> dict[str, Any]:
    """An achievement with what ``principal`` may see of it: ledger entries and valuations, 赋权 applications,
    transfers, contracts and income events (each list scoped like its own listing)."""
    ach = access_achievement_by_id(session, principal, achievement_id)
    entries = list(session.scalars(readable_ledger(principal).where(LedgerEntry.achievement_id == ach.id)
                                   .order_by(LedgerEntry.id)))
    valuations = list(session.scalars(select(ValuationEvent).where(
        ValuationEvent.ledger_entry_id.in_([e.id for e in entries])).order_by(ValuationEvent.valuation_date))) \
        if entries else []
    return {
        "achievement": ach, "ledger": entries, "valuations": valuations,
        "applications": list(session.scalars(readable_applications(principal).where(
            EmpowermentApplication.achievement_id == ach.id).order_by(EmpowermentApplication.id.desc()))),
        "transfers": list(session.scalars(readable_transfers(principal).where(
            Transfer.achievement_id == ach.id).order_by(Transfer.id.desc()))),
        "contracts": list(session.scalars(readable_contracts(principal).where(
            TechnologyContract.achievement_id == ach.id).order_by(TechnologyContract.id.desc()))),
        "income": list(session.scalars(readable_income(principal).where(
            IncomeEvent.achievement_id == ach.id).order_by(IncomeEvent.id.desc()))),
    }


def names(session: Session, org_ids: Iterable[int | None] = (), person_ids: Iterable[int | None] = ()
          ) -> tuple[dict[int, Organisation], dict[int, Person]]:
    """Organisations and people by id (for labels on pages), in two queries."""
    o = {i for i in org_ids if i}
    p = {i for i in person_ids if i}
    orgs = {x.id: x for x in session.scalars(select(Organisation).where(Organisation.id.in_(o)))} if o else {}
    people = {x.id: x for x in session.scalars(select(Person).where(Person.id.in_(p)))} if p else {}
    return orgs, people


def achievements_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Achievement]:
    """Achievements by id (titles for lists already scoped by their own readable statement)."""
    wanted = {i for i in ids if i}
    return {a.id: a for a in session.scalars(select(Achievement).where(Achievement.id.in_(wanted)))} if wanted else {}


def agreements(session: Session, principal: Principal) -> list[EmpowermentApplication]:
    """Approved 赋权 applications visible to ``principal`` (for a researcher: their own agreements)."""
    return list(session.scalars(readable_applications(principal).where(
        EmpowermentApplication.state == "approved").order_by(EmpowermentApplication.decision_date.desc())))


def can_register(principal: Principal) -> bool:
    """Whether ``principal`` acts as the contract registration body."""
    return has(principal, REGISTER)
