"""Evaluation rounds, dossiers, blind review, calibration, panel decisions, appeals and industry practice
(issue 7 §4–6): business rules and permission checks. Callers: ``dossier_api`` (and pages, CLI, demo).

Who does what:
* the employing unit's officer (TTO role bound to the unit, 谁使用谁评价) opens an evaluation under a scheme
  in force, draws reviewers, computes calibrated results, records panel decisions, publishes, decides
  appeals, and records its teachers' industry practice;
* a candidate (researcher bound to a registry person) files a dossier to an evaluation of a unit they work
  at, links representative works to kechuang records, submits, reads the published result and appeals;
* a reviewer (expert bound to a registry person with role expert) sees only their assignments, through
  reviewer-facing views that carry no name and no unit on blind schemes;
* the commission and auditors read everything read-only (aggregates for the commission view);
* the host enterprise's user evaluates a placement it hosts.
Same 404 for missing and forbidden ids; every write is audited in the same transaction; services flush.
No function here reads or stores a talent title (人才称号): there is no such field.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, cast, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kechuang.core import audit as audit_log
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import PageParams, SortSpec, paginate
from kechuang.core.permissions import permission, require
from kechuang.db import utcnow
from kechuang.registry.models import Affiliation, Organisation, OrganisationRelation, Person
from kechuang.science.models import Dataset
from kechuang.talent import assignment as draw_mod
from kechuang.talent import calibration as calib
from kechuang.talent import scheme as sch
from kechuang.talent.models import (
    Appeal,
    Dossier,
    DossierMember,
    EvaluationScheme,
    PanelDecision,
    PracticeRecord,
    RepresentativeWork,
    ReviewAssignment,
    ReviewScore,
    TalentEvaluation,
)
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    IncomeEvent,
    TechnologyContract,
    Transfer,
)

# ---------------------------------------------------------------- permissions (GUIDE habit 5)
EVAL_READ = permission("talent.evaluation.read", Role.COMMISSION, Role.AUDITOR, Role.TTO, Role.RESEARCHER)
EVAL_MANAGE = permission("talent.evaluation.manage", Role.TTO)  # the employing unit's evaluation officer
DOSSIER_WRITE = permission("talent.dossier.write", Role.RESEARCHER)  # candidates (and appeals)
REVIEW = permission("talent.review", Role.EXPERT)
PRACTICE_READ = permission("talent.practice.read", Role.COMMISSION, Role.AUDITOR, Role.TTO, Role.RESEARCHER,
                           Role.ENTERPRISE)
PRACTICE_MANAGE = permission("talent.practice.manage", Role.TTO)  # the home university records placements
PRACTICE_REPORT = permission("talent.practice.report", Role.RESEARCHER)  # the teacher's outcome report
PRACTICE_HOST = permission("talent.practice.host", Role.ENTERPRISE)  # the host's evaluation

_ALL = (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM, Role.ADMIN)
SHANGHAI = ZoneInfo("Asia/Shanghai")

# ---------------------------------------------------------------- vocabularies
WORK_KINDS: dict[str, str] = {
    "paper": N_("Paper"), "patent": N_("Patent"), "standard": N_("Standard"),
    "technical_solution": N_("Technical solution"), "transferred_result": N_("Transferred result"),
    "service_record": N_("Service record"), "software": N_("Software"), "dataset": N_("Dataset"),
}
REF_TYPES: dict[str, str] = {
    "achievement": N_("Achievement record"), "transfer": N_("Transfer record"),
    "contract": N_("Technology contract"), "dataset": N_("Platform dataset"),
}
# Which kinds of work each kind of record can stand for.
REF_KINDS: dict[str, tuple[str, ...]] = {
    "achievement": ("patent", "software", "technical_solution", "standard"),
    "transfer": ("transferred_result",),
    "contract": ("transferred_result", "service_record", "technical_solution"),
    "dataset": ("dataset",),
}
MEMBER_ROLES: dict[str, str] = {"lead": N_("Lead"), "core": N_("Core member"), "member": N_("Member")}
DOSSIER_KINDS: dict[str, str] = {"individual": N_("Individual"), "team": N_("Team")}
OUTCOMES: dict[str, str] = {"excellent": N_("Excellent"), "pass": N_("Pass"), "fail": N_("Fail")}
APPEAL_DECISIONS: dict[str, str] = {"upheld": N_("Upheld"), "rejected": N_("Rejected")}
PRACTICE_KINDS: dict[str, str] = {
    "placement": N_("Industry-practice placement"),  # 产学研践习
    "secondment": N_("Secondment to an enterprise"),  # 挂职
    "entrepreneurship": N_("Leave for entrepreneurship"),  # 离岗创业
}
HOST_RATINGS: dict[str, str] = {"excellent": N_("Excellent"), "good": N_("Good"), "pass": N_("Pass"),
                                "fail": N_("Fail")}
# Placement rounds of the 产学研践习计划: the period each round must cover. The 2024 round is one full academic
# year (September 2024 to the end of the spring term, June 2025).
PLACEMENT_ROUNDS: dict[str, tuple[date, date]] = {"2024": (date(2024, 9, 1), date(2025, 6, 30))}
RELATION_CONFLICTS = ("shareholder", "legal_representative")
MIN_REASON_CHARS = 10
PICK_LIMIT = 10  # matches a search-as-you-type picker lists
MAX_SCORE = Decimal(100)


def today() -> date:
    """Today's date in Shanghai."""
    return datetime.now(SHANGHAI).date()


def _sees_all(principal: Principal) -> bool:
    return principal.role in _ALL


def _org(principal: Principal) -> int:
    return principal.organisation_id or -1


def _person(principal: Principal) -> int:
    return principal.person_id or -1


def _invalid(field_name: str, message: str, value: Any = None, **params: Any) -> ValidationFailed:
    return ValidationFailed(errors=[FieldError(field_name, message, params, value=value)])


def _current_orgs(session: Session, person_ids: list[int], on: date | None = None) -> dict[int, set[int]]:
    """Per person: organisations they are affiliated with on ``on`` (default today)."""
    on = on or today()
    out: dict[int, set[int]] = defaultdict(set)
    if not person_ids:
        return out
    for pid, oid in session.execute(select(Affiliation.person_id, Affiliation.organisation_id).where(
            Affiliation.person_id.in_(person_ids),
            or_(Affiliation.start_date.is_(None), Affiliation.start_date <= on),
            or_(Affiliation.end_date.is_(None), Affiliation.end_date >= on))):
        out[pid].add(oid)
    return out


# ---------------------------------------------------------------- scopes
def readable_evaluations(session: Session, principal: Principal) -> Select:
    """Evaluations ``principal`` may read: all (commission, auditors), own unit's (officer), or those of the
    units a researcher works at or has a dossier in."""
    require(principal, EVAL_READ)
    stmt = select(TalentEvaluation)
    if _sees_all(principal):
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(TalentEvaluation.organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        orgs = _current_orgs(session, [_person(principal)]).get(_person(principal), set())
        mine = select(Dossier.evaluation_id).join(DossierMember).where(DossierMember.person_id == _person(principal))
        return stmt.where(or_(TalentEvaluation.organisation_id.in_(orgs or {-1}), TalentEvaluation.id.in_(mine)))
    return stmt.where(false())


def access_evaluation_by_id(session: Session, principal: Principal, evaluation_id: int) -> TalentEvaluation:
    """The evaluation if visible; the same ``NotFound`` for missing and forbidden."""
    obj = session.scalar(readable_evaluations(session, principal).where(TalentEvaluation.id == evaluation_id))
    if obj is None:
        raise NotFound()
    return obj


def _managed_evaluation(session: Session, principal: Principal, evaluation_id: int,
                        *, lock: bool = False) -> TalentEvaluation:
    require(principal, EVAL_MANAGE)
    stmt = select(TalentEvaluation).where(TalentEvaluation.id == evaluation_id)
    if not principal.is_system:
        stmt = stmt.where(TalentEvaluation.organisation_id == _org(principal))
    if lock:
        stmt = stmt.with_for_update()
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


def readable_dossiers(principal: Principal) -> Select:
    """Dossiers ``principal`` may read: own (a member), own unit's (officer), all (commission, auditors).
    Reviewers read dossiers only through their assignments (``reviewer_view``)."""
    require(principal, EVAL_READ)
    stmt = select(Dossier)
    if _sees_all(principal):
        return stmt
    if principal.role is Role.TTO:
        return stmt.join(TalentEvaluation).where(TalentEvaluation.organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        return stmt.where(Dossier.id.in_(select(DossierMember.dossier_id).where(
            DossierMember.person_id == _person(principal))))
    return stmt.where(false())


def _load_dossier(session: Session, stmt: Select, lock: bool = False) -> Dossier:
    stmt = stmt.options(selectinload(Dossier.members), selectinload(Dossier.works))
    if lock:
        stmt = stmt.with_for_update()
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


def access_dossier_by_id(session: Session, principal: Principal, dossier_id: int) -> Dossier:
    """The dossier with members and works if visible; ``NotFound`` otherwise."""
    return _load_dossier(session, readable_dossiers(principal).where(Dossier.id == dossier_id))


def _own_dossier(session: Session, principal: Principal, dossier_id: int, lock: bool = False) -> Dossier:
    """A dossier the candidate leads (only the lead edits and submits; team members read)."""
    require(principal, DOSSIER_WRITE)
    stmt = select(Dossier).where(Dossier.id == dossier_id)
    if not principal.is_system:
        stmt = stmt.where(Dossier.lead_person_id == _person(principal))
    return _load_dossier(session, stmt, lock)


EVAL_STATUSES = ("open", "reviewing", "published")
EVALUATION_SORT = SortSpec({"id": TalentEvaluation.id, "created_at": TalentEvaluation.created_at,
                             "round": TalentEvaluation.round_label}, default="-id")
DOSSIER_SORT = SortSpec({"id": Dossier.id, "rank": Dossier.rank, "submitted_at": Dossier.submitted_at,
                         "calibrated_score": Dossier.calibrated_score}, default="id")


def list_evaluations(session: Session, principal: Principal, params: PageParams, *,
                     organisation_id: int | None = None, category: str | None = None,
                     status: str | None = None) -> tuple[list[TalentEvaluation], int]:
    """A page of visible evaluation rounds (of one unit, category or status; ``params.q`` searches the
    title), newest first by default."""
    stmt = readable_evaluations(session, principal)
    if organisation_id is not None:
        stmt = stmt.where(TalentEvaluation.organisation_id == organisation_id)
    if category:
        stmt = stmt.where(TalentEvaluation.category == category)
    if status:
        stmt = stmt.where(TalentEvaluation.status == status)
    if params.q and params.q.strip():
        stmt = stmt.where(TalentEvaluation.title.ilike(f"%{params.q.strip()}%"))
    return paginate(session, stmt, params, EVALUATION_SORT, TalentEvaluation.id)


def _filtered_dossiers(principal: Principal, evaluation_id: int | None, status: str | None = None) -> Select:
    stmt = readable_dossiers(principal)
    if evaluation_id is not None:
        stmt = stmt.where(Dossier.evaluation_id == evaluation_id)
    if status:
        stmt = stmt.where(Dossier.status == status)
    return stmt.options(selectinload(Dossier.members), selectinload(Dossier.works))


def list_dossiers(session: Session, principal: Principal, evaluation_id: int | None = None) -> list[Dossier]:
    """Every visible dossier (of one evaluation), with members and works — for a round's page, where the
    panel decides across the whole ranking; lists use ``page_dossiers``."""
    return list(session.scalars(_filtered_dossiers(principal, evaluation_id).order_by(Dossier.id)))


def page_dossiers(session: Session, principal: Principal, params: PageParams, *, evaluation_id: int | None = None,
                  status: str | None = None) -> tuple[list[Dossier], int]:
    """A page of visible dossiers (of one evaluation or status), with members and works."""
    return paginate(session, _filtered_dossiers(principal, evaluation_id, status), params, DOSSIER_SORT, Dossier.id)


def scheme_of(session: Session, evaluation: TalentEvaluation) -> sch.Scheme:
    """The parsed scheme version the evaluation applies."""
    row = session.get(EvaluationScheme, evaluation.scheme_id)
    return sch.parse_scheme_text(row.content)


def scored_indicators(scheme: sch.Scheme) -> list[sch.Indicator]:
    """Indicators reviewers score (weight > 0); conditions are not scored."""
    return [i for i in scheme.indicators if i.weight > 0 and i.role != "condition"]


# ---------------------------------------------------------------- evaluations
@dataclass
class EvaluationIn:
    """What an officer fills in to open an evaluation round."""

    scheme_id: int
    round_label: str
    title: str | None = None
    reviewers_per_dossier: int = 3
    load_cap: int = 6
    calibration: str = "bias"
    seed: int = 0
    submission_deadline_date: date | None = None
    appeal_days: int = 15
    is_synthetic: bool = False


def create_evaluation(session: Session, principal: Principal, data: EvaluationIn) -> TalentEvaluation:
    """Open an evaluation round of the officer's unit under one of its schemes in force."""
    require(principal, EVAL_MANAGE)
    stmt = select(EvaluationScheme).where(EvaluationScheme.id == data.scheme_id)
    if not principal.is_system:
        stmt = stmt.where(EvaluationScheme.organisation_id == _org(principal))
    scheme_row = session.scalar(stmt)
    if scheme_row is None:
        raise NotFound()
    errors = []
    if scheme_row.status != "in_force" or not scheme_row.compliant:
        errors.append(FieldError("scheme_id", N_("Only a compliant scheme in force can be applied (this one is {status})."),
                                 {"status": scheme_row.status}, value=data.scheme_id))
    if data.calibration not in calib.METHODS:
        errors.append(FieldError("calibration", N_("Unknown calibration; allowed: {allowed}."),
                                 {"allowed": ", ".join(calib.METHODS)}, value=data.calibration))
    if not 1 <= data.reviewers_per_dossier <= 15:
        errors.append(FieldError("reviewers_per_dossier", N_("Between 1 and 15 reviewers per dossier."),
                                 value=data.reviewers_per_dossier))
    if data.load_cap < 1:
        errors.append(FieldError("load_cap", N_("The load cap must be at least 1."), value=data.load_cap))
    if not data.round_label.strip():
        errors.append(FieldError("round_label", N_("The round needs a label (e.g. the year)."), value=data.round_label))
    if errors:
        raise ValidationFailed(errors=errors)
    exists = session.scalar(select(TalentEvaluation.id).where(
        TalentEvaluation.organisation_id == scheme_row.organisation_id, TalentEvaluation.scheme_id == scheme_row.id,
        TalentEvaluation.round_label == data.round_label.strip()))
    if exists:
        raise Conflict(N_("This scheme already has an evaluation for round {round}."), round=data.round_label)
    parsed = sch.parse_scheme_text(scheme_row.content)
    obj = TalentEvaluation(
        organisation_id=scheme_row.organisation_id, scheme_id=scheme_row.id, round_label=data.round_label.strip(),
        title=data.title or f"{scheme_row.title} · {data.round_label.strip()}", category=scheme_row.category,
        blind=parsed.blind, reviewers_per_dossier=data.reviewers_per_dossier, load_cap=data.load_cap,
        calibration=data.calibration, seed=data.seed, submission_deadline_date=data.submission_deadline_date,
        appeal_days=data.appeal_days, status="open", is_synthetic=data.is_synthetic, created_by=principal.user_id)
    session.add(obj)
    session.flush()
    audit_log.record(session, principal, "talent.evaluation.create", "talent_evaluation", obj.id,
                     after={"scheme_id": obj.scheme_id, "round": obj.round_label, "blind": obj.blind})
    return obj


# ---------------------------------------------------------------- dossiers
@dataclass
class MemberIn:
    person_id: int
    role: str = "member"
    contribution: str | None = None


@dataclass
class DossierIn:
    """A new dossier: individual (the candidate alone) or team (the candidate leads, members with roles)."""

    evaluation_id: int
    kind: str = "individual"
    team_name: str | None = None
    field: str | None = None
    plan: str | None = None
    members: list[MemberIn] = _field(default_factory=list)
    is_synthetic: bool = False


def create_dossier(session: Session, principal: Principal, data: DossierIn,
                   *, lead_person_id: int | None = None) -> Dossier:
    """Start a dossier for an open evaluation of a unit the candidate works at (the caller leads it)."""
    require(principal, DOSSIER_WRITE)
    lead = lead_person_id if principal.is_system and lead_person_id else _person(principal)
    ev = session.get(TalentEvaluation, data.evaluation_id)
    orgs = _current_orgs(session, [lead]).get(lead, set())
    if ev is None or (ev.organisation_id not in orgs and not principal.is_system):
        raise NotFound()
    if ev.status != "open":
        raise Conflict(N_("The evaluation no longer accepts dossiers (it is {status})."), status=ev.status)
    errors = []
    if data.kind not in DOSSIER_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."), {"allowed": ", ".join(DOSSIER_KINDS)},
                                 value=data.kind))
    others = [m for m in data.members if m.person_id != lead]
    if data.kind == "individual" and others:
        errors.append(FieldError("members", N_("An individual dossier has no other members; file a team dossier.")))
    if data.kind == "team":
        if not others:
            errors.append(FieldError("members", N_("A team dossier needs at least one member besides the lead.")))
        if not (data.team_name or "").strip():
            errors.append(FieldError("team_name", N_("A team dossier needs the team's name.")))
    ids = [m.person_id for m in others]
    if len(set(ids)) != len(ids):
        errors.append(FieldError("members", N_("A person is listed twice.")))
    known = set(session.scalars(select(Person.id).where(Person.id.in_(ids)))) if ids else set()
    for i, m in enumerate(others):
        if m.person_id not in known:
            errors.append(FieldError(f"members[{i}].person_id", N_("No such person in the registry."), value=m.person_id))
        if m.role not in ("core", "member"):
            errors.append(FieldError(f"members[{i}].role", N_("Unknown role; allowed: {allowed}."),
                                     {"allowed": "core, member"}, value=m.role))
    if errors:
        raise ValidationFailed(errors=errors)
    if session.scalar(select(Dossier.id).where(Dossier.evaluation_id == ev.id, Dossier.lead_person_id == lead)):
        raise Conflict(N_("You already have a dossier in this evaluation."))
    _check_cycle(session, ev, lead, ids)
    lead_contrib = next((m.contribution for m in data.members if m.person_id == lead), None)
    obj = Dossier(evaluation_id=ev.id, kind=data.kind, lead_person_id=lead, code=_new_code(session, ev.id),
                  team_name=(data.team_name or None) if data.kind == "team" else None, field=data.field,
                  plan=data.plan, status="draft", evidence={}, is_synthetic=data.is_synthetic,
                  created_by=principal.user_id)
    obj.members = [DossierMember(person_id=lead, role="lead", contribution=lead_contrib, position=0)] + [
        DossierMember(person_id=m.person_id, role=m.role, contribution=m.contribution, position=i + 1)
        for i, m in enumerate(others)]
    obj.works = []
    # Two submissions of the same dossier at once both pass the check above; the unique constraint on
    # (evaluation, lead) lets one insert win and the other is answered like the check (409), not a 500.
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        if not session.scalar(select(Dossier.id).where(Dossier.evaluation_id == ev.id, Dossier.lead_person_id == lead)):
            raise
        raise Conflict(N_("You already have a dossier in this evaluation.")) from None
    audit_log.record(session, principal, "talent.dossier.create", "talent_dossier", obj.id,
                     after={"evaluation_id": ev.id, "kind": obj.kind, "members": [lead, *ids]})
    return obj


# ---------------------------------------------------------------- evaluation cycle (SPEC §6, 255号)
class CycleNotElapsed(Conflict):
    """A person of the dossier had a published result in an evaluation of the same unit and category less
    than the scheme's cycle before this round (合理设置评价周期, 国科发才〔2022〕255号)."""

    code = "cycle_not_elapsed"
    default_message = N_("The evaluation cycle has not elapsed since an earlier published result.")


def _local_date(value: datetime) -> date:
    """A stored ``*_at`` (UTC; naive on SQLite) as the date in Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(SHANGHAI).date()


def add_years(d: date, years: int) -> date:
    """``d`` plus whole years; 29 February goes to 1 March when the target year has none."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return date(d.year + years, 3, 1)


def round_date(ev: TalentEvaluation) -> date:
    """The date a round counts from for the cycle rule: the day it was opened (Shanghai)."""
    return _local_date(ev.created_at) if ev.created_at else today()


@dataclass
class EarlierResult:
    """A person's published result that the cycle rule compares a new round against."""

    person_id: int
    evaluation_id: int
    evaluation_title: str
    published_on: date
    next_possible: date
    cycle_years: int


def cycle_conflicts(session: Session, ev: TalentEvaluation, person_ids: list[int]) -> dict[int, EarlierResult]:
    """Per person of ``person_ids``: their latest published result in another evaluation of the same unit and
    category that lies less than the round's scheme ``cycle_years`` before the round's date. The date of a
    result is the evaluation's publication date; an appeal decided later does not move it."""
    if not person_ids:
        return {}
    years = session.scalar(select(EvaluationScheme.cycle_years).where(EvaluationScheme.id == ev.scheme_id)) or 0
    on = round_date(ev)
    rows = session.execute(
        select(DossierMember.person_id, TalentEvaluation.id, TalentEvaluation.title, TalentEvaluation.published_at)
        .join(Dossier, Dossier.id == DossierMember.dossier_id)
        .join(TalentEvaluation, TalentEvaluation.id == Dossier.evaluation_id)
        .join(PanelDecision, PanelDecision.dossier_id == Dossier.id)
        .where(DossierMember.person_id.in_(person_ids), Dossier.status == "submitted",
               TalentEvaluation.status == "published", TalentEvaluation.published_at.is_not(None),
               TalentEvaluation.organisation_id == ev.organisation_id, TalentEvaluation.category == ev.category,
               TalentEvaluation.id != ev.id)).all()
    out: dict[int, EarlierResult] = {}
    for pid, eid, title, published_at in rows:
        published_on = _local_date(published_at)
        nxt = add_years(published_on, years)
        if on < nxt and (pid not in out or published_on > out[pid].published_on):
            out[pid] = EarlierResult(pid, eid, title, published_on, nxt, years)
    return out


def _check_cycle(session: Session, ev: TalentEvaluation, lead: int, members: list[int]) -> None:
    """Refuse the dossier (``CycleNotElapsed``, naming each person's earlier evaluation) inside the cycle."""
    found = cycle_conflicts(session, ev, [lead, *members])
    if not found:
        return
    names = dict(session.execute(select(Person.id, Person.name_zh).where(Person.id.in_(found))).all())
    errors = []
    for pid, r in found.items():
        name = "lead_person_id" if pid == lead else f"members[{members.index(pid)}].person_id"
        errors.append(FieldError(
            name, N_("{person} has a published result in \u201c{evaluation}\u201d (published {date}); the scheme's evaluation cycle is {years} years, so a new evaluation of this unit and category is possible from {next_date}."),
            {"person": names.get(pid, str(pid)), "evaluation": r.evaluation_title, "date": r.published_on.isoformat(),
             "years": r.cycle_years, "next_date": r.next_possible.isoformat()},
            value=pid))
    raise CycleNotElapsed(errors=errors)


@dataclass
class MemberChoice:
    """A person the candidate may put on a team dossier, with their units today (for the picker)."""

    person: Person
    units: list[Organisation]
    colleague: bool


def team_member_choices(session: Session, principal: Principal, evaluation_id: int, q: str | None = None, *,
                        keep: dict[int, str | None] | None = None) -> list[MemberChoice]:
    """The dossier form's team-member search: colleagues — people affiliated today with the evaluation's unit —
    whose name or ORCID contains ``q`` (the first ``PICK_LIMIT`` by name), and anyone in the registry whose
    ORCID iD equals ``q`` (a collaborator elsewhere: finding them needs their public identifier). ``keep``
    (person id → the ORCID shown for them) re-lists the members already chosen, first: colleagues by id,
    others only with their matching ORCID, so ids cannot be probed for names. Not the registry's people
    search: that lets a researcher see only themselves."""
    require(principal, DOSSIER_WRITE)
    ev = access_evaluation_by_id(session, principal, evaluation_id)
    me, on = _person(principal), today()
    colleagues = select(Affiliation.person_id).where(
        Affiliation.organisation_id == ev.organisation_id,
        or_(Affiliation.start_date.is_(None), Affiliation.start_date <= on),
        or_(Affiliation.end_date.is_(None), Affiliation.end_date >= on))
    term = (q or "").strip()
    found: dict[int, Person] = {}
    kept = keep or {}
    if kept:
        rows = session.scalars(select(Person).where(Person.id.in_(kept), Person.id != me))
        colleague_ids = set(session.scalars(colleagues.where(Affiliation.person_id.in_(kept))))
        for p in sorted(rows, key=lambda p: list(kept).index(p.id)):
            if p.id in colleague_ids or (p.orcid and kept.get(p.id) == p.orcid):
                found[p.id] = p
    stmt = select(Person).where(Person.id.in_(colleagues), Person.id != me)
    if term:
        like = f"%{term}%"
        stmt = stmt.where(or_(Person.name_zh.ilike(like), Person.name_en.ilike(like), Person.orcid.ilike(like)))
    for p in session.scalars(stmt.order_by(Person.name_zh, Person.id).limit(PICK_LIMIT)):
        found.setdefault(p.id, p)
    if term:
        from kechuang.core.identifiers import normalize_orcid

        other = session.scalar(select(Person).where(Person.orcid == normalize_orcid(term), Person.id != me))
        if other is not None:
            found.setdefault(other.id, other)
    ids = list(found)
    units = _current_orgs(session, ids, on)
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_(set().union(*units.values()) or {-1})))}
    return [MemberChoice(p, [orgs[o] for o in sorted(units.get(p.id, set())) if o in orgs],
                         ev.organisation_id in units.get(p.id, set())) for p in found.values()]


def _new_code(session: Session, evaluation_id: int) -> str:
    while True:
        code = "D-" + secrets.token_hex(3).upper()
        if not session.scalar(select(Dossier.id).where(Dossier.evaluation_id == evaluation_id, Dossier.code == code)):
            return code


@dataclass
class WorkIn:
    """A representative work: linked to a record (``ref_type``/``ref_id``, verified) or typed in."""

    kind: str
    contribution_statement: str
    title: str | None = None
    year: int | None = None
    venue: str | None = None
    identifier: str | None = None
    domestic_journal: bool | None = None
    coauthor_person_ids: list[int] = _field(default_factory=list)
    ref_type: str | None = None
    ref_id: int | None = None


@dataclass
class Verification:
    """What a linked record says: the title, year, identifier and the co-authors it names."""

    title: str
    year: int | None
    identifier: str | None
    note: str
    coauthors: set[int]
    counterparties: set[int] = _field(default_factory=set)


def _member_ids(dossier: Dossier) -> set[int]:
    return {m.person_id for m in dossier.members}


def _achievement_members(session: Session, achievement_ids: set[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    if achievement_ids:
        for aid, pid in session.execute(select(AchievementMember.achievement_id, AchievementMember.person_id)
                                        .where(AchievementMember.achievement_id.in_(achievement_ids))):
            out[aid].add(pid)
    return out


def _dataset_people(session: Session, ds: Dataset) -> set[int]:
    """Registry people named among the dataset's creators (by ORCID, else by exact name)."""
    orcids = {c.get("orcid") for c in ds.creators or [] if c.get("orcid")}
    names = {c.get("name") for c in ds.creators or [] if c.get("name")}
    conds = []
    if orcids:
        conds.append(Person.orcid.in_(orcids))
    if names:
        conds += [Person.name_zh.in_(names), Person.name_en.in_(names)]
    return set(session.scalars(select(Person.id).where(or_(*conds)))) if conds else set()


def verify_link(session: Session, dossier: Dossier, ref_type: str, ref_id: int) -> Verification:
    """Check that the record exists and names a member of the dossier; raise ``ValidationFailed`` otherwise."""
    members = _member_ids(dossier)

    def refuse(message: str, **params: Any) -> ValidationFailed:
        return _invalid("ref_id", message, ref_id, **params)

    if ref_type == "achievement":
        a = session.get(Achievement, ref_id)
        if a is None or a.is_classified:
            raise refuse(N_("No such achievement record."))
        people = _achievement_members(session, {a.id})[a.id]
        if not people & members:
            raise refuse(N_("The achievement record does not name you or a team member among its members."))
        return Verification(a.title, a.created_at.year if a.created_at else None, a.number,
                            "achievement members include the candidate", people - members)
    if ref_type == "transfer":
        t = session.get(Transfer, ref_id)
        if t is None:
            raise refuse(N_("No such transfer record."))
        if t.state not in ("signed", "completed"):
            raise refuse(N_("The transfer is not signed yet (it is {state})."), state=t.state)
        a = session.get(Achievement, t.achievement_id)
        people = _achievement_members(session, {t.achievement_id})[t.achievement_id]
        if a is None or a.is_classified or not people & members:
            raise refuse(N_("The transferred achievement does not name you or a team member among its members."))
        on = t.completed_date or t.signed_date
        return Verification(a.title, on.year if on else None, a.number, f"transfer {t.mode}, {t.state}",
                            people - members, {t.counterparty_organisation_id} - {None})
    if ref_type == "contract":
        c = session.get(TechnologyContract, ref_id)
        if c is None:
            raise refuse(N_("No such technology contract."))
        if c.state != "registered":
            raise refuse(N_("The contract is not registered (认定登记) yet (it is {state})."), state=c.state)
        aid = c.achievement_id
        if aid is None and c.transfer_id is not None:
            aid = session.scalar(select(Transfer.achievement_id).where(Transfer.id == c.transfer_id))
        if aid is not None:
            people = _achievement_members(session, {aid})[aid]
            if not people & members:
                raise refuse(N_("The contract's achievement does not name you or a team member among its members."))
            note = "contract registered; achievement members include the candidate"
        else:
            units = set().union(*_current_orgs(session, list(members)).values()) if members else set()
            if c.seller_organisation_id not in units:
                raise refuse(N_("The contract's seller is not the unit of you or a team member."))
            people, note = set(), "contract registered; seller is the candidate's unit (contribution as stated)"
        return Verification(c.subject, c.signed_date.year, c.certificate_number or c.number, note, people - members,
                            {c.buyer_organisation_id} - {None})
    if ref_type == "dataset":
        ds = session.get(Dataset, ref_id)
        if ds is None:
            raise refuse(N_("No such dataset."))
        people = _dataset_people(session, ds)
        if not people & members:
            raise refuse(N_("The dataset's creators do not include you or a team member."))
        return Verification(ds.name, ds.publication_year, ds.identifier, "dataset creators include the candidate",
                            people - members)
    raise _invalid("ref_type", N_("Unknown record type; allowed: {allowed}."), ref_type, allowed=", ".join(REF_TYPES))


def add_work(session: Session, principal: Principal, dossier_id: int, data: WorkIn) -> RepresentativeWork:
    """Add a representative work to a draft dossier; a linked record is verified now or the work is refused."""
    d = _own_dossier(session, principal, dossier_id, lock=True)
    if d.status != "draft":
        raise Conflict(N_("A submitted dossier cannot be changed."))
    errors = []
    if data.kind not in WORK_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."), {"allowed": ", ".join(WORK_KINDS)},
                                 value=data.kind))
    if len((data.contribution_statement or "").strip()) < MIN_REASON_CHARS:
        errors.append(FieldError("contribution_statement",
                                 N_("Each work needs a contribution statement of at least {n} characters."),
                                 {"n": MIN_REASON_CHARS}))
    if (data.ref_type is None) != (data.ref_id is None):
        errors.append(FieldError("ref_id", N_("A link needs both the record type and its id.")))
    elif data.ref_type is not None and data.ref_type in REF_KINDS and data.kind not in REF_KINDS[data.ref_type]:
        errors.append(FieldError("ref_type", N_("A {ref} record cannot stand for a work of kind {kind}."),
                                 {"ref": data.ref_type, "kind": data.kind}, value=data.ref_type))
    if data.ref_type is None and not (data.title or "").strip():
        errors.append(FieldError("title", N_("A work typed in needs its title.")))
    if data.kind == "paper" and data.domestic_journal is None:
        errors.append(FieldError("domestic_journal", N_("State whether the paper appeared in a domestic journal.")))
    if errors:
        raise ValidationFailed(errors=errors)
    work = RepresentativeWork(
        dossier_id=d.id, position=len(d.works), kind=data.kind, title=(data.title or "").strip(), year=data.year,
        venue=data.venue, identifier=data.identifier, domestic_journal=data.domestic_journal,
        contribution_statement=data.contribution_statement.strip(),
        coauthor_person_ids=sorted(set(data.coauthor_person_ids)), ref_type=data.ref_type, ref_id=data.ref_id)
    if data.ref_type is not None:
        v = verify_link(session, d, data.ref_type, data.ref_id)
        work.title = work.title or v.title
        work.year = work.year or v.year
        work.identifier = work.identifier or v.identifier
        work.coauthor_person_ids = sorted(set(work.coauthor_person_ids) | v.coauthors)
        work.verified, work.verification_note, work.verified_at = True, v.note, utcnow()
    d.works.append(work)
    session.flush()
    audit_log.record(session, principal, "talent.work.add", "talent_work", work.id,
                     after={"dossier_id": d.id, "kind": work.kind, "ref_type": work.ref_type, "ref_id": work.ref_id,
                            "verified": work.verified})
    return work


def remove_work(session: Session, principal: Principal, dossier_id: int, work_id: int) -> None:
    """Remove a work from a draft dossier."""
    d = _own_dossier(session, principal, dossier_id, lock=True)
    work = next((w for w in d.works if w.id == work_id), None)
    if work is None:
        raise NotFound()
    if d.status != "draft":
        raise Conflict(N_("A submitted dossier cannot be changed."))
    d.works.remove(work)
    session.delete(work)
    session.flush()
    audit_log.record(session, principal, "talent.work.remove", "talent_work", work_id,
                     before={"dossier_id": d.id, "kind": work.kind, "title": work.title})


def check_works(scheme: sch.Scheme, works: list[RepresentativeWork]) -> list[FieldError]:
    """The scheme's representative-work rules (count, types, domestic-journal share of papers)."""
    rules = scheme.representative_works
    if rules is None:
        return []
    errors = []
    n = len(works)
    if n < rules.min_count or n > rules.max_count:
        errors.append(FieldError("works", N_("The scheme asks for {min} to {max} representative works; the dossier has {n}."),
                                 {"min": rules.min_count, "max": rules.max_count, "n": n}))
    for i, w in enumerate(works):
        if rules.types and w.kind not in rules.types:
            errors.append(FieldError(f"works[{i}].kind", N_("The scheme does not accept works of kind {kind} (allowed: {allowed})."),
                                     {"kind": w.kind, "allowed": ", ".join(rules.types)}, value=w.kind))
    if rules.domestic_journal_share_min:
        papers = [w for w in works if w.kind == "paper"]
        domestic = sum(1 for w in papers if w.domestic_journal)
        if papers and Fraction(domestic, len(papers)) < rules.domestic_journal_share_min:
            errors.append(FieldError("works", N_("At least {share} of the papers must be in domestic journals; {domestic} of {n} are."),
                                     {"share": str(rules.domestic_journal_share_min), "domestic": domestic,
                                      "n": len(papers)}))
    return errors


def market_evidence(session: Session, works: list[RepresentativeWork]) -> dict[str, Any]:
    """Market and user evidence from the transfer records behind the verified works: registered contracts
    (technical income), licences and other transfers, income received — each with its record ids."""
    achievement_ids: set[int] = set()
    transfer_ids: set[int] = set()
    contract_ids: set[int] = set()
    for w in works:
        if not w.verified:
            continue
        if w.ref_type == "achievement":
            achievement_ids.add(w.ref_id)
        elif w.ref_type == "transfer":
            transfer_ids.add(w.ref_id)
        elif w.ref_type == "contract":
            contract_ids.add(w.ref_id)
    if transfer_ids:
        achievement_ids |= set(session.scalars(select(Transfer.achievement_id).where(Transfer.id.in_(transfer_ids))))
    if contract_ids:
        achievement_ids |= set(session.scalars(select(TechnologyContract.achievement_id).where(
            TechnologyContract.id.in_(contract_ids), TechnologyContract.achievement_id.is_not(None))))
    transfers = list(session.scalars(select(Transfer).where(
        or_(Transfer.id.in_(transfer_ids or {-1}), Transfer.achievement_id.in_(achievement_ids or {-1})),
        Transfer.state.in_(("signed", "completed"))).order_by(Transfer.id)))
    contracts = list(session.scalars(select(TechnologyContract).where(
        or_(TechnologyContract.id.in_(contract_ids or {-1}),
            TechnologyContract.achievement_id.in_(achievement_ids or {-1}),
            TechnologyContract.transfer_id.in_([t.id for t in transfers] or [-1])),
        TechnologyContract.state == "registered").order_by(TechnologyContract.id)))
    income = session.execute(select(IncomeEvent.id, IncomeEvent.amount_fen).where(
        IncomeEvent.achievement_id.in_(achievement_ids or {-1})).order_by(IncomeEvent.id)).all()
    return {
        "contracts": len(contracts), "contract_ids": [c.id for c in contracts],
        "contract_technical_fen": sum(c.technical_fen for c in contracts),
        "licences": sum(1 for t in transfers if t.mode == "licence"),
        "transfers": len(transfers), "transfer_ids": [t.id for t in transfers],
        "transfer_price_fen": sum(t.price_fen for t in transfers),
        "income_events": len(income), "income_event_ids": [i for i, _ in income],
        "income_fen": sum(a for _, a in income),
    }


def practice_evidence(session: Session, person_ids: list[int], before: date) -> list[dict[str, Any]]:
    """Completed industry-practice records of these people that ended before ``before`` (evidence)."""
    rows = session.execute(select(PracticeRecord, Organisation.name_zh).join(
        Organisation, Organisation.id == PracticeRecord.host_organisation_id).where(
        PracticeRecord.person_id.in_(person_ids or [-1]), PracticeRecord.status == "completed",
        PracticeRecord.end_date <= before).order_by(PracticeRecord.start_date)).all()
    return [{"practice_id": p.id, "person_id": p.person_id, "kind": p.kind, "host": host,
             "start_date": p.start_date.isoformat(), "end_date": (p.return_date or p.end_date).isoformat(),
             "tasks": p.tasks, "outcome_report": p.outcome_report, "host_rating": p.host_rating}
            for p, host in rows]


def submit_dossier(session: Session, principal: Principal, dossier_id: int) -> Dossier:
    """Submit a draft dossier: the scheme's representative-work rules are enforced, the market and practice
    evidence is snapshotted. Submitting again answers the submitted dossier unchanged."""
    d = _own_dossier(session, principal, dossier_id, lock=True)
    if d.status == "submitted":
        return d
    ev = session.get(TalentEvaluation, d.evaluation_id)
    if ev.status != "open":
        raise Conflict(N_("The evaluation no longer accepts dossiers (it is {status})."), status=ev.status)
    if ev.submission_deadline_date and today() > ev.submission_deadline_date:
        raise Conflict(N_("The submission deadline ({date}) has passed."), date=ev.submission_deadline_date.isoformat())
    errors = check_works(scheme_of(session, ev), list(d.works))
    if errors:
        raise ValidationFailed(errors=errors)
    _check_cycle(session, ev, d.lead_person_id, [m.person_id for m in d.members if m.person_id != d.lead_person_id])
    d.evidence = {"market": market_evidence(session, list(d.works)),
                  "practice": practice_evidence(session, sorted(_member_ids(d)), today())}
    d.status, d.submitted_at = "submitted", utcnow()
    session.flush()
    audit_log.record(session, principal, "talent.dossier.submit", "talent_dossier", d.id,
                     before={"status": "draft"}, after={"status": "submitted", "works": len(d.works),
                                                        "verified": sum(w.verified for w in d.works)})
    return d


# ---------------------------------------------------------------- reviewers
def expert_pool(session: Session) -> list[Person]:
    """Registry people with the role expert."""
    rows = session.scalars(select(Person).where(cast(Person.roles, String).contains('"expert"')).order_by(Person.id))
    return [p for p in rows if "expert" in (p.roles or [])]


def dossier_conflicts(session: Session, ev: TalentEvaluation, d: Dossier,
                      reviewers: list[int]) -> dict[int, list[str]]:
    """Per reviewer: the reasons they may not review ``d`` (self, same unit, co-author, shareholder or
    legal-representative relation with an organisation of the candidate or a counterparty)."""
    members = _member_ids(d)
    on = today()
    member_orgs = set().union(*_current_orgs(session, list(members), on).values()) if members else set()
    units = member_orgs | {ev.organisation_id}
    coauthors: set[int] = set()
    counterparties: set[int] = set()
    for w in d.works:
        coauthors |= set(w.coauthor_person_ids or [])
        if w.verified and w.ref_type and w.ref_id:
            try:
                v = verify_link(session, d, w.ref_type, w.ref_id)
            except ValidationFailed:
                continue
            coauthors |= v.coauthors
            counterparties |= v.counterparties
    # Organisations where a member is a shareholder or the legal representative.
    member_related = set(session.scalars(select(OrganisationRelation.organisation_id).where(
        OrganisationRelation.related_person_id.in_(members or {-1}),
        OrganisationRelation.kind.in_(RELATION_CONFLICTS))))
    interested = units | counterparties | member_related
    reviewer_orgs = _current_orgs(session, reviewers, on)
    relations: dict[int, set[str]] = defaultdict(set)
    for pid, kind in session.execute(select(OrganisationRelation.related_person_id, OrganisationRelation.kind).where(
            OrganisationRelation.related_person_id.in_(reviewers or [-1]),
            OrganisationRelation.kind.in_(RELATION_CONFLICTS),
            OrganisationRelation.organisation_id.in_(interested or {-1}))):
        relations[pid].add(kind)
    out: dict[int, list[str]] = {}
    for r in reviewers:
        reasons = []
        if r in members:
            reasons.append("self")
        if reviewer_orgs.get(r, set()) & units:
            reasons.append("same_unit")
        if r in coauthors:
            reasons.append("coauthor")
        reasons += sorted(relations.get(r, ()))
        if reasons:
            out[r] = reasons
    return out


def draw_reviewers(session: Session, principal: Principal, evaluation_id: int) -> dict[str, Any]:
    """Close submissions (open → reviewing) and draw reviewers for every submitted dossier, conflicts excluded
    and load caps respected, deterministic for the evaluation's seed. Calling it again fills places left by
    declined reviewers; existing assignments are kept."""
    ev = _managed_evaluation(session, principal, evaluation_id, lock=True)
    if ev.status == "published":
        raise Conflict(N_("The evaluation is published; reviewers can no longer be drawn."))
    dossiers = list(session.scalars(select(Dossier).where(Dossier.evaluation_id == ev.id,
                                                          Dossier.status == "submitted")
                                    .options(selectinload(Dossier.members), selectinload(Dossier.works))
                                    .order_by(Dossier.id)))
    pool = expert_pool(session)
    pool_ids = [p.id for p in pool]
    disciplines = {p.id: set(p.discipline_codes or []) for p in pool}
    existing = list(session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev.id)))
    active_load: dict[int, int] = defaultdict(int)
    already: dict[int, set[int]] = defaultdict(set)  # active assignments count towards the dossier's need
    excluded_before: dict[int, set[int]] = defaultdict(set)  # declined reviewers are not drawn again
    for a in existing:
        if a.status == "declined":
            excluded_before[a.dossier_id].add(a.reviewer_person_id)
        else:
            already[a.dossier_id].add(a.reviewer_person_id)
            active_load[a.reviewer_person_id] += 1
    conflicts: dict[int, set[int]] = {}
    reasons: dict[int, dict[int, list[str]]] = {}
    match: dict[int, set[int]] = {}
    for d in dossiers:
        reasons[d.id] = dossier_conflicts(session, ev, d, pool_ids)
        conflicts[d.id] = set(reasons[d.id]) | excluded_before[d.id]
        match[d.id] = {r for r in pool_ids if d.field and d.field in disciplines[r]}
    result = draw_mod.draw_reviewers([d.id for d in dossiers], pool_ids, conflicts,
                                     per_dossier=ev.reviewers_per_dossier, load_cap=ev.load_cap, seed=ev.seed,
                                     existing_load=active_load, already=already, match=match)
    created = 0
    for did, reviewers in result.assigned.items():
        for r in reviewers:
            session.add(ReviewAssignment(evaluation_id=ev.id, dossier_id=did, reviewer_person_id=r))
            created += 1
    before = ev.status
    ev.status = "reviewing"
    session.flush()
    summary = {"assigned": created, "short": {str(k): v for k, v in result.short.items()},
               "excluded": {str(d): {str(r): why for r, why in rs.items()} for d, rs in reasons.items() if rs}}
    audit_log.record(session, principal, "talent.evaluation.draw", "talent_evaluation", ev.id,
                     before={"status": before}, after={"status": ev.status, **summary, "seed": ev.seed})
    return summary


def assign_reviewer(session: Session, principal: Principal, evaluation_id: int, dossier_id: int,
                    reviewer_person_id: int) -> ReviewAssignment:
    """The officer adds a named expert (e.g. an international peer) to a submitted dossier; conflicts and the
    load cap are checked as in the draw. Assigning the same reviewer again answers the existing assignment."""
    ev = _managed_evaluation(session, principal, evaluation_id, lock=True)
    if ev.status != "reviewing":
        raise Conflict(N_("Reviewers are added while the evaluation is in review (it is {status})."), status=ev.status)
    d = _load_dossier(session, select(Dossier).where(Dossier.id == dossier_id, Dossier.evaluation_id == ev.id,
                                                     Dossier.status == "submitted"))
    existing = session.scalar(select(ReviewAssignment).where(ReviewAssignment.dossier_id == d.id,
                                                             ReviewAssignment.reviewer_person_id == reviewer_person_id))
    if existing is not None and existing.status != "declined":
        return existing
    if reviewer_person_id not in {p.id for p in expert_pool(session)}:
        raise _invalid("reviewer_person_id", N_("Not a person with the expert role in the registry."),
                       reviewer_person_id)
    if existing is not None:
        raise Conflict(N_("This reviewer declined the dossier."))
    reasons = dossier_conflicts(session, ev, d, [reviewer_person_id]).get(reviewer_person_id)
    if reasons:
        raise Conflict(N_("Conflict of interest: {reasons}."), reasons=", ".join(reasons))
    load = session.scalar(select(func.count(ReviewAssignment.id)).where(
        ReviewAssignment.evaluation_id == ev.id, ReviewAssignment.reviewer_person_id == reviewer_person_id,
        ReviewAssignment.status != "declined"))
    if load >= ev.load_cap:
        raise Conflict(N_("The reviewer has reached the load cap of {cap} dossiers."), cap=ev.load_cap)
    obj = ReviewAssignment(evaluation_id=ev.id, dossier_id=d.id, reviewer_person_id=reviewer_person_id)
    session.add(obj)
    session.flush()
    audit_log.record(session, principal, "talent.review.assign", "talent_review_assignment", obj.id,
                     after={"dossier_id": d.id, "reviewer_person_id": reviewer_person_id})
    return obj


def readable_assignments(principal: Principal) -> Select:
    """A reviewer's own assignments."""
    require(principal, REVIEW)
    stmt = select(ReviewAssignment)
    if principal.is_system:
        return stmt
    return stmt.where(ReviewAssignment.reviewer_person_id == _person(principal))


def _own_assignment(session: Session, principal: Principal, assignment_id: int, lock: bool = False) -> ReviewAssignment:
    stmt = readable_assignments(principal).where(ReviewAssignment.id == assignment_id).options(
        selectinload(ReviewAssignment.scores))
    if lock:
        stmt = stmt.with_for_update()
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound()
    return obj


_REDACTED = "■■"
CATEGORY_LABELS: dict[str, str] = {
    "basic_research": N_("Basic research"), "applied_rd": N_("Applied R&D"),
    "tech_service": N_("Technology services"), "public_welfare": N_("Public-welfare research"),
}
CONFLICT_REASONS: dict[str, str] = {
    "self": N_("Member of the dossier"), "same_unit": N_("Same unit"), "coauthor": N_("Co-author"),
    "shareholder": N_("Shareholder relation"), "legal_representative": N_("Legal-representative relation"),
}


def _blind_title(ev: Any) -> str:
    """A round's title on blind schemes: category and round only (a unit's own title may name the unit)."""
    return f"{gettext(CATEGORY_LABELS.get(ev.category, ev.category))} · {ev.round_label}"


def _redactor(session: Session, ev: TalentEvaluation, d: Dossier):
    """A function that blanks the names of the dossier's people and their units out of free text."""
    members = sorted(_member_ids(d))
    names: set[str] = set()
    for p in session.scalars(select(Person).where(Person.id.in_(members or [-1]))):
        names |= {p.name_zh, p.name_en or ""}
    orgs = set().union(*_current_orgs(session, members).values()) if members else set()
    orgs.add(ev.organisation_id)
    for o in session.scalars(select(Organisation).where(Organisation.id.in_(orgs))):
        names |= {o.name_zh, o.name_en or ""}
    names = {n.strip() for n in names if n and len(n.strip()) >= 2}
    if not names:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)), re.IGNORECASE)
    return lambda text: pattern.sub(_REDACTED, text) if text else text


def reviewer_view(session: Session, principal: Principal, assignment_id: int) -> dict[str, Any]:
    """What a reviewer sees of an assigned dossier. On blind schemes: no name, no unit, no record ids or
    identifiers, names and units blanked out of free text; the dossier is known by its code."""
    a = _own_assignment(session, principal, assignment_id)
    ev = session.get(TalentEvaluation, a.evaluation_id)
    d = _load_dossier(session, select(Dossier).where(Dossier.id == a.dossier_id))
    scheme = scheme_of(session, ev)
    blind = ev.blind
    clean = _redactor(session, ev, d) if blind else (lambda text: text)
    works = [{"position": i + 1, "kind": w.kind, "title": clean(w.title), "year": w.year, "venue": clean(w.venue),
              "identifier": None if blind else w.identifier, "domestic_journal": w.domestic_journal,
              "contribution_statement": clean(w.contribution_statement), "verified": w.verified,
              "verified_from": w.ref_type if w.verified else None} for i, w in enumerate(d.works)]
    evidence = d.evidence or {}
    market = evidence.get("market") or {}
    practice = [{"kind": p["kind"], "host": None if blind else p["host"], "start_date": p["start_date"],
                 "end_date": p["end_date"], "tasks": clean(p["tasks"]), "outcome_report": clean(p["outcome_report"]),
                 "host_rating": p["host_rating"]} for p in evidence.get("practice", [])]
    out: dict[str, Any] = {
        "assignment_id": a.id, "code": d.code, "status": a.status, "blind": blind,
        "evaluation": {"title": _blind_title(ev) if blind else ev.title, "category": ev.category,
                       "round_label": ev.round_label, "status": ev.status},
        "kind": d.kind, "field": d.field, "plan": clean(d.plan),
        "team_roles": [{"role": m.role, "contribution": clean(m.contribution)} for m in d.members],
        "indicators": [{"id": i.id, "label": i.label, "weight": float(i.weight), "basis": i.basis,
                        "evidence": list(i.evidence)} for i in scored_indicators(scheme)],
        "works": works,
        "market": {k: market.get(k, 0) for k in ("contracts", "contract_technical_fen", "licences", "transfers",
                                                 "transfer_price_fen", "income_events", "income_fen")},
        "practice": practice,
        "scores": {s.indicator_id: float(s.score) for s in a.scores}, "comment": a.comment,
        "identity": None,
    }
    if not blind:
        people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(_member_ids(d))))}
        unit = session.get(Organisation, ev.organisation_id)
        out["identity"] = {"unit": unit.name_zh if unit else None, "team_name": d.team_name,
                           "members": [{"name": people[m.person_id].name_zh, "role": m.role} for m in d.members]}
    return out


ASSIGNMENT_SORT = SortSpec({"id": ReviewAssignment.id, "status": ReviewAssignment.status,
                            "submitted_at": ReviewAssignment.submitted_at}, default="id")


def my_assignments(session: Session, principal: Principal,
                   params: PageParams | None = None) -> list[dict[str, Any]]:
    """The reviewer's assignments (code, evaluation, status; never the candidate's name): all, or one page
    (``page_assignments`` gives the total too)."""
    return page_assignments(session, principal, params)[0] if params else _assignment_rows(
        session, session.execute(_assignment_columns(readable_assignments(principal)).order_by(ReviewAssignment.id)).all())


def page_assignments(session: Session, principal: Principal, params: PageParams) -> tuple[list[dict[str, Any]], int]:
    """A page of the reviewer's assignments and their total."""
    stmt = readable_assignments(principal)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = ASSIGNMENT_SORT.apply(_assignment_columns(stmt), params.sort).order_by(ReviewAssignment.id)
    rows = session.execute(ordered.limit(params.per_page).offset((params.page - 1) * params.per_page)).all()
    return _assignment_rows(session, rows), int(total)


def _assignment_columns(stmt: Select) -> Select:
    return stmt.with_only_columns(
        ReviewAssignment.id, ReviewAssignment.status, ReviewAssignment.submitted_at, Dossier.code, Dossier.kind,
        TalentEvaluation.category, TalentEvaluation.round_label, TalentEvaluation.status, TalentEvaluation.blind,
        ReviewAssignment.evaluation_id).join(Dossier, Dossier.id == ReviewAssignment.dossier_id).join(
        TalentEvaluation, TalentEvaluation.id == ReviewAssignment.evaluation_id)


def _assignment_rows(session: Session, rows: list) -> list[dict[str, Any]]:
    titles = dict(session.execute(select(TalentEvaluation.id, TalentEvaluation.title).where(
        TalentEvaluation.id.in_({r.evaluation_id for r in rows} or {-1}))).all())
    return [{"assignment_id": r.id, "status": r[1], "submitted_at": r.submitted_at, "code": r.code, "kind": r.kind,
             "category": r.category, "round_label": r.round_label, "evaluation_status": r[7], "blind": r.blind,
             "scheme_title": _blind_title(r) if r.blind else titles[r.evaluation_id]} for r in rows]


def submit_review(session: Session, principal: Principal, assignment_id: int, scores: dict[str, Decimal],
                  comment: str | None = None) -> ReviewAssignment:
    """Score an assigned dossier on every scored indicator of the scheme (0–100); may be revised until the
    results are published."""
    a = _own_assignment(session, principal, assignment_id, lock=True)
    ev = session.get(TalentEvaluation, a.evaluation_id)
    if ev.status != "reviewing":
        raise Conflict(N_("Reviews are accepted only while the evaluation is in review (it is {status})."),
                       status=ev.status)
    if a.status == "declined":
        raise Conflict(N_("You declined this assignment."))
    wanted = [i.id for i in scored_indicators(scheme_of(session, ev))]
    errors = []
    for k in sorted(set(scores) - set(wanted)):
        errors.append(FieldError(f"scores.{k}", N_("Not a scored indicator of the scheme."), value=k))
    for k in wanted:
        if k not in scores:
            errors.append(FieldError(f"scores.{k}", N_("A score is required for every indicator.")))
        elif not Decimal(0) <= Decimal(scores[k]) <= MAX_SCORE:
            errors.append(FieldError(f"scores.{k}", N_("Scores are between 0 and 100."), value=str(scores[k])))
    if errors:
        raise ValidationFailed(errors=errors)
    before = {s.indicator_id: str(s.score) for s in a.scores}
    current = {s.indicator_id: s for s in a.scores}
    for k in wanted:
        value = Decimal(scores[k]).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if k in current:
            current[k].score = value
        else:
            a.scores.append(ReviewScore(indicator_id=k, score=value))
    a.status, a.comment, a.submitted_at = "submitted", comment, utcnow()
    session.flush()
    audit_log.record(session, principal, "talent.review.submit", "talent_review_assignment", a.id,
                     before=before or None, after={k: str(Decimal(scores[k])) for k in wanted})
    return a


def decline_assignment(session: Session, principal: Principal, assignment_id: int, reason: str) -> ReviewAssignment:
    """A reviewer declines (e.g. declares a conflict of interest); the officer draws a replacement."""
    a = _own_assignment(session, principal, assignment_id, lock=True)
    if a.status == "declined":
        return a
    if a.status == "submitted":
        raise Conflict(N_("A submitted review cannot be declined."))
    if not (reason or "").strip():
        raise _invalid("reason", N_("Give the reason (for example the conflict of interest)."))
    a.status, a.decline_reason = "declined", reason.strip()
    session.flush()
    audit_log.record(session, principal, "talent.review.decline", "talent_review_assignment", a.id,
                     before={"status": "assigned"}, after={"status": "declined", "reason": a.decline_reason})
    return a


# ---------------------------------------------------------------- results, decisions, appeals
def reviewer_totals(session: Session, ev: TalentEvaluation) -> list[tuple[int, int, float]]:
    """(reviewer, dossier, weighted total 0–100) for every submitted review of the evaluation."""
    indicators = scored_indicators(scheme_of(session, ev))
    weights = {i.id: i.weight for i in indicators}
    total_w = sum(weights.values()) or Fraction(1)
    out = []
    for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev.id,
                                                            ReviewAssignment.status == "submitted")
                             .options(selectinload(ReviewAssignment.scores)).order_by(ReviewAssignment.id)):
        s = {x.indicator_id: Fraction(x.score) for x in a.scores}
        total = sum(weights[k] * s.get(k, 0) for k in weights) / total_w
        out.append((a.reviewer_person_id, a.dossier_id, float(total)))
    return out


def compute_results(session: Session, principal: Principal, evaluation_id: int) -> dict[str, Any]:
    """Calibrate the reviewers' totals (the evaluation's method) and rank the dossiers."""
    ev = _managed_evaluation(session, principal, evaluation_id, lock=True)
    if ev.status != "reviewing":
        raise Conflict(N_("Results are computed while the evaluation is in review (it is {status})."), status=ev.status)
    triples = reviewer_totals(session, ev)
    if not triples:
        raise Conflict(N_("No review has been submitted yet."))
    result = calib.calibrate(triples, ev.calibration)
    q = Decimal("0.0001")
    for d in session.scalars(select(Dossier).where(Dossier.evaluation_id == ev.id, Dossier.status == "submitted")):
        if d.id in result.score:
            d.raw_score = Decimal(str(result.raw[d.id])).quantize(q, ROUND_HALF_UP)
            d.calibrated_score = Decimal(str(result.score[d.id])).quantize(q, ROUND_HALF_UP)
            d.rank = result.rank[d.id]
        else:
            d.raw_score = d.calibrated_score = d.rank = None
    session.flush()
    out = {"method": ev.calibration, "reviews": len(triples),
           "dossiers": {str(k): {"raw": round(result.raw[k], 4), "calibrated": round(v, 4), "rank": result.rank[k]}
                        for k, v in result.score.items()},
           "reviewer_bias": {str(k): round(v, 4) for k, v in result.reviewer_bias.items()}}
    audit_log.record(session, principal, "talent.evaluation.results", "talent_evaluation", ev.id, after=out)
    return out


def decide(session: Session, principal: Principal, dossier_id: int, outcome: str, reasons: str) -> PanelDecision:
    """Record (or revise, before publication) the panel's decision on a ranked dossier, with written reasons."""
    require(principal, EVAL_MANAGE)
    d = session.scalar(readable_dossiers(principal).where(Dossier.id == dossier_id)) if not principal.is_system \
        else session.get(Dossier, dossier_id)
    if d is None:
        raise NotFound()
    ev = _managed_evaluation(session, principal, d.evaluation_id)
    errors = []
    if outcome not in OUTCOMES:
        errors.append(FieldError("outcome", N_("Unknown outcome; allowed: {allowed}."), {"allowed": ", ".join(OUTCOMES)},
                                 value=outcome))
    if len((reasons or "").strip()) < MIN_REASON_CHARS:
        errors.append(FieldError("reasons", N_("The panel's written reasons are required (at least {n} characters)."),
                                 {"n": MIN_REASON_CHARS}))
    if errors:
        raise ValidationFailed(errors=errors)
    if ev.status != "reviewing":
        raise Conflict(N_("Decisions are recorded while the evaluation is in review (it is {status})."), status=ev.status)
    if d.rank is None:
        raise Conflict(N_("Compute the calibrated results before deciding."))
    dec = session.scalar(select(PanelDecision).where(PanelDecision.dossier_id == d.id).with_for_update())
    before = {"outcome": dec.outcome, "reasons": dec.reasons} if dec else None
    if dec is None:
        dec = PanelDecision(dossier_id=d.id, outcome=outcome, reasons=reasons.strip(), decided_by=principal.user_id)
        session.add(dec)
    else:
        dec.outcome, dec.reasons, dec.decided_by, dec.decided_at = outcome, reasons.strip(), principal.user_id, utcnow()
    session.flush()
    audit_log.record(session, principal, "talent.decision.record", "talent_panel_decision", dec.id,
                     before=before, after={"dossier_id": d.id, "outcome": outcome, "reasons": dec.reasons})
    return dec


def publish(session: Session, principal: Principal, evaluation_id: int) -> TalentEvaluation:
    """Publish the results once every submitted dossier has a decision (idempotent)."""
    ev = _managed_evaluation(session, principal, evaluation_id, lock=True)
    if ev.status == "published":
        return ev
    if ev.status != "reviewing":
        raise Conflict(N_("Only an evaluation in review can be published (it is {status})."), status=ev.status)
    undecided = session.scalar(select(func.count(Dossier.id)).where(
        Dossier.evaluation_id == ev.id, Dossier.status == "submitted",
        ~Dossier.id.in_(select(PanelDecision.dossier_id))))
    if undecided:
        raise Conflict(N_("{n} dossiers have no panel decision yet."), n=undecided)
    ev.status, ev.published_at = "published", utcnow()
    session.flush()
    audit_log.record(session, principal, "talent.evaluation.publish", "talent_evaluation", ev.id,
                     before={"status": "reviewing"}, after={"status": "published"})
    return ev


def decision_of(session: Session, principal: Principal, dossier_id: int) -> PanelDecision | None:
    """The panel decision on a visible dossier; candidates see it only once published."""
    d = access_dossier_by_id(session, principal, dossier_id)
    ev = session.get(TalentEvaluation, d.evaluation_id)
    if principal.role is Role.RESEARCHER and ev.status != "published":
        return None
    return session.scalar(select(PanelDecision).where(PanelDecision.dossier_id == d.id))


def appeal_of(session: Session, principal: Principal, dossier_id: int) -> Appeal | None:
    """The appeal on a visible dossier, if any."""
    d = access_dossier_by_id(session, principal, dossier_id)
    return session.scalar(select(Appeal).where(Appeal.dossier_id == d.id))


def file_appeal(session: Session, principal: Principal, dossier_id: int, grounds: str) -> Appeal:
    """The candidate (the dossier's lead) appeals a published decision within the appeal period; one appeal
    per dossier."""
    d = _own_dossier(session, principal, dossier_id, lock=True)
    ev = session.get(TalentEvaluation, d.evaluation_id)
    if ev.status != "published":
        raise Conflict(N_("An appeal can be filed only against a published result."))
    dec = session.scalar(select(PanelDecision).where(PanelDecision.dossier_id == d.id))
    if dec is None:
        raise Conflict(N_("There is no decision to appeal."))
    published = ev.published_at.date() if ev.published_at else today()
    if today() > published + timedelta(days=ev.appeal_days):
        raise Conflict(N_("The appeal period of {days} days has ended."), days=ev.appeal_days)
    if len((grounds or "").strip()) < MIN_REASON_CHARS:
        raise _invalid("grounds", N_("State the grounds of the appeal (at least {n} characters)."), n=MIN_REASON_CHARS)
    if session.scalar(select(Appeal.id).where(Appeal.dossier_id == d.id)):
        raise Conflict(N_("This dossier has already been appealed."))
    obj = Appeal(dossier_id=d.id, filed_by_person_id=d.lead_person_id, grounds=grounds.strip(),
                 previous_outcome=dec.outcome, status="filed")
    session.add(obj)
    session.flush()
    audit_log.record(session, principal, "talent.appeal.file", "talent_appeal", obj.id,
                     after={"dossier_id": d.id, "grounds": obj.grounds, "previous_outcome": dec.outcome})
    return obj


def decide_appeal(session: Session, principal: Principal, appeal_id: int, status: str, reason: str,
                  new_outcome: str | None = None) -> Appeal:
    """The unit records the appeal's outcome with reasons; an upheld appeal may change the decision."""
    require(principal, EVAL_MANAGE)
    stmt = select(Appeal).join(Dossier, Dossier.id == Appeal.dossier_id).join(
        TalentEvaluation, TalentEvaluation.id == Dossier.evaluation_id).where(Appeal.id == appeal_id)
    if not principal.is_system:
        stmt = stmt.where(TalentEvaluation.organisation_id == _org(principal))
    obj = session.scalar(stmt.with_for_update())
    if obj is None:
        raise NotFound()
    errors = []
    if status not in APPEAL_DECISIONS:
        errors.append(FieldError("status", N_("Unknown decision; allowed: {allowed}."),
                                 {"allowed": ", ".join(APPEAL_DECISIONS)}, value=status))
    if len((reason or "").strip()) < MIN_REASON_CHARS:
        errors.append(FieldError("outcome_reason", N_("The outcome needs written reasons (at least {n} characters)."),
                                 {"n": MIN_REASON_CHARS}))
    if new_outcome is not None and new_outcome not in OUTCOMES:
        errors.append(FieldError("new_outcome", N_("Unknown outcome; allowed: {allowed}."),
                                 {"allowed": ", ".join(OUTCOMES)}, value=new_outcome))
    if status == "rejected" and new_outcome not in (None, obj.previous_outcome):
        errors.append(FieldError("new_outcome", N_("A rejected appeal keeps the decision.")))
    if errors:
        raise ValidationFailed(errors=errors)
    if obj.status != "filed":
        if obj.status == status and obj.outcome_reason == reason.strip():
            return obj
        raise Conflict(N_("The appeal has already been decided ({status})."), status=obj.status)
    obj.status, obj.outcome_reason = status, reason.strip()
    obj.new_outcome = new_outcome if status == "upheld" and new_outcome else obj.previous_outcome
    obj.decided_by, obj.decided_at = principal.user_id, utcnow()
    dec = session.scalar(select(PanelDecision).where(PanelDecision.dossier_id == obj.dossier_id).with_for_update())
    if dec is not None and obj.new_outcome != dec.outcome:
        dec.outcome = obj.new_outcome
        dec.reasons = f"{dec.reasons}\n\n[appeal #{obj.id} upheld] {obj.outcome_reason}"
    session.flush()
    audit_log.record(session, principal, "talent.appeal.decide", "talent_appeal", obj.id,
                     before={"status": "filed", "outcome": obj.previous_outcome},
                     after={"status": status, "outcome": obj.new_outcome, "reason": obj.outcome_reason})
    return obj


APPEAL_SORT = SortSpec({"id": Appeal.id, "filed_at": Appeal.filed_at, "status": Appeal.status}, default="id")


def _appeals_of(session: Session, principal: Principal, evaluation_id: int, status: str | None = None) -> Select:
    ev = access_evaluation_by_id(session, principal, evaluation_id)
    if principal.role is Role.RESEARCHER:
        raise NotFound()
    stmt = select(Appeal).join(Dossier, Dossier.id == Appeal.dossier_id).where(Dossier.evaluation_id == ev.id)
    return stmt.where(Appeal.status == status) if status else stmt


def list_appeals(session: Session, principal: Principal, evaluation_id: int) -> list[Appeal]:
    """Every appeal of an evaluation (the unit's officer; commission and auditors read)."""
    return list(session.scalars(_appeals_of(session, principal, evaluation_id).order_by(Appeal.id)))


def page_appeals(session: Session, principal: Principal, evaluation_id: int, params: PageParams, *,
                 status: str | None = None) -> tuple[list[Appeal], int]:
    """A page of an evaluation's appeals (of one status: filed, upheld, rejected)."""
    return paginate(session, _appeals_of(session, principal, evaluation_id, status), params, APPEAL_SORT, Appeal.id)


def _review_assignments(session: Session, principal: Principal, evaluation_id: int) -> Select:
    ev = access_evaluation_by_id(session, principal, evaluation_id)
    if principal.role not in (Role.TTO, Role.SYSTEM, Role.AUDITOR):
        raise NotFound()
    return select(ReviewAssignment).where(ReviewAssignment.evaluation_id == ev.id).options(
        selectinload(ReviewAssignment.scores))


def _review_rows(session: Session, assignments: list[ReviewAssignment]) -> list[dict[str, Any]]:
    names = dict(session.execute(select(Person.id, Person.name_zh).where(
        Person.id.in_({a.reviewer_person_id for a in assignments} or {-1}))).all())
    return [{"assignment_id": a.id, "dossier_id": a.dossier_id, "reviewer_person_id": a.reviewer_person_id,
             "reviewer_name": names.get(a.reviewer_person_id), "status": a.status, "decline_reason": a.decline_reason,
             "scores": {s.indicator_id: float(s.score) for s in a.scores}, "submitted_at": a.submitted_at}
            for a in assignments]


def review_table(session: Session, principal: Principal, evaluation_id: int) -> list[dict[str, Any]]:
    """The officer's view: per assignment, reviewer, dossier, status and scores (never shown to candidates)."""
    stmt = _review_assignments(session, principal, evaluation_id).order_by(ReviewAssignment.id)
    return _review_rows(session, list(session.scalars(stmt)))


def page_review_table(session: Session, principal: Principal, evaluation_id: int,
                      params: PageParams) -> tuple[list[dict[str, Any]], int]:
    """One page of ``review_table`` and its total."""
    items, total = paginate(session, _review_assignments(session, principal, evaluation_id), params,
                            ASSIGNMENT_SORT, ReviewAssignment.id)
    return _review_rows(session, items), total


# ---------------------------------------------------------------- industry practice (产学研践习)
@dataclass
class PracticeIn:
    """A placement, secondment or leave for entrepreneurship of a teacher of the officer's university."""

    person_id: int
    host_organisation_id: int
    kind: str
    start_date: date
    end_date: date
    tasks: str
    round_label: str | None = None
    mentor_name: str | None = None
    mentor_person_id: int | None = None
    is_synthetic: bool = False


def readable_practice(principal: Principal) -> Select:
    """Practice records: own university's (officer), own (teacher), hosted (enterprise), all (commission)."""
    require(principal, PRACTICE_READ)
    stmt = select(PracticeRecord)
    if _sees_all(principal):
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(PracticeRecord.organisation_id == _org(principal))
    if principal.role is Role.RESEARCHER:
        return stmt.where(PracticeRecord.person_id == _person(principal))
    if principal.role is Role.ENTERPRISE:
        return stmt.where(PracticeRecord.host_organisation_id == _org(principal))
    return stmt.where(false())


def access_practice_by_id(session: Session, principal: Principal, practice_id: int) -> PracticeRecord:
    """A visible practice record; ``NotFound`` otherwise."""
    obj = session.scalar(readable_practice(principal).where(PracticeRecord.id == practice_id))
    if obj is None:
        raise NotFound()
    return obj


PRACTICE_SORT = SortSpec({"start_date": PracticeRecord.start_date, "end_date": PracticeRecord.end_date,
                          "id": PracticeRecord.id}, default="-start_date")
PRACTICE_STATUS = ("active", "completed")


def list_practice(session: Session, principal: Principal, params: PageParams, *, person_id: int | None = None,
                  kind: str | None = None, status: str | None = None) -> tuple[list[PracticeRecord], int]:
    """A page of visible practice records (of one person, kind or status; ``params.q`` searches the teacher's
    name), newest start first by default."""
    stmt = readable_practice(principal)
    if person_id is not None:
        stmt = stmt.where(PracticeRecord.person_id == person_id)
    if kind:
        stmt = stmt.where(PracticeRecord.kind == kind)
    if status:
        stmt = stmt.where(PracticeRecord.status == status)
    if params.q and params.q.strip():
        like = f"%{params.q.strip()}%"
        stmt = stmt.where(PracticeRecord.person_id.in_(select(Person.id).where(
            or_(Person.name_zh.ilike(like), Person.name_en.ilike(like)))))
    return paginate(session, stmt, params, PRACTICE_SORT, PracticeRecord.id)


def _practice_problems(kind: str, start: date, end: date, round_label: str | None, tasks: str | None) -> list[FieldError]:
    """The rules every practice record keeps (at creation and after an edit)."""
    errors = []
    if kind not in PRACTICE_KINDS:
        errors.append(FieldError("kind", N_("Unknown kind; allowed: {allowed}."),
                                 {"allowed": ", ".join(PRACTICE_KINDS)}, value=kind))
    if end <= start:
        errors.append(FieldError("end_date", N_("The end date must be after the start date."), value=end.isoformat()))
    if kind == "placement" and round_label is not None:
        window = PLACEMENT_ROUNDS.get(round_label)
        if window is None:
            errors.append(FieldError("round_label", N_("Unknown placement round; known: {known}."),
                                     {"known": ", ".join(PLACEMENT_ROUNDS)}, value=round_label))
        elif start > window[0] or end < window[1]:
            errors.append(FieldError("end_date", N_("The {round} round is one full academic year: the placement must run from {start} to {end} at least."),
                                     {"round": round_label, "start": window[0].isoformat(),
                                      "end": window[1].isoformat()}))
    if len((tasks or "").strip()) < MIN_REASON_CHARS:
        errors.append(FieldError("tasks", N_("Describe the tasks (at least {n} characters)."), {"n": MIN_REASON_CHARS}))
    return errors


def create_practice(session: Session, principal: Principal, data: PracticeIn,
                    organisation_id: int | None = None) -> PracticeRecord:
    """Record a teacher's placement, secondment or leave for entrepreneurship (the home university's officer)."""
    require(principal, PRACTICE_MANAGE)
    home = organisation_id if principal.is_system and organisation_id else _org(principal)
    errors = _practice_problems(data.kind, data.start_date, data.end_date, data.round_label, data.tasks)
    if data.host_organisation_id == home:
        errors.append(FieldError("host_organisation_id", N_("The host must be another organisation."),
                                 value=data.host_organisation_id))
    elif session.get(Organisation, data.host_organisation_id) is None:
        errors.append(FieldError("host_organisation_id", N_("No such organisation in the registry."),
                                 value=data.host_organisation_id))
    if data.mentor_person_id is not None and session.get(Person, data.mentor_person_id) is None:
        errors.append(FieldError("mentor_person_id", N_("No such person in the registry."), value=data.mentor_person_id))
    if errors:
        raise ValidationFailed(errors=errors)
    if home not in _current_orgs(session, [data.person_id], data.start_date).get(data.person_id, set()):
        raise _invalid("person_id", N_("The person is not a member of your university on the start date."),
                       data.person_id)
    obj = PracticeRecord(organisation_id=home, person_id=data.person_id, host_organisation_id=data.host_organisation_id,
                         kind=data.kind, round_label=data.round_label, start_date=data.start_date,
                         end_date=data.end_date, tasks=data.tasks.strip(), mentor_name=data.mentor_name,
                         mentor_person_id=data.mentor_person_id, status="active", is_synthetic=data.is_synthetic,
                         created_by=principal.user_id)
    session.add(obj)
    session.flush()
    audit_log.record(session, principal, "talent.practice.create", "talent_practice", obj.id,
                     after={"person_id": obj.person_id, "host": obj.host_organisation_id, "kind": obj.kind,
                            "start": obj.start_date, "end": obj.end_date})
    return obj


@dataclass
class PracticeEdit:
    """What the home university's officer may correct on an active record (the teacher, the host and the
    start stay: a different placement is a new record)."""

    end_date: date
    tasks: str
    round_label: str | None = None
    mentor_name: str | None = None


def update_practice(session: Session, principal: Principal, practice_id: int, data: PracticeEdit) -> PracticeRecord:
    """Correct an active record (planned end, tasks, round, mentor): the home university's officer; the same
    rules as at creation."""
    require(principal, PRACTICE_MANAGE)
    obj = access_practice_by_id(session, principal, practice_id)
    if not principal.is_system and obj.organisation_id != _org(principal):
        raise NotFound()
    if obj.status != "active":
        raise Conflict(N_("A completed record cannot be changed."))
    round_label = (data.round_label or "").strip() or None
    errors = _practice_problems(obj.kind, obj.start_date, data.end_date, round_label, data.tasks)
    if errors:
        raise ValidationFailed(errors=errors)
    fields = ("end_date", "tasks", "round_label", "mentor_name")
    before = {f: getattr(obj, f) for f in fields}
    obj.end_date, obj.tasks, obj.round_label = data.end_date, data.tasks.strip(), round_label
    obj.mentor_name = (data.mentor_name or "").strip() or None
    after = {f: getattr(obj, f) for f in fields}
    if after == before:
        return obj
    session.flush()
    audit_log.record(session, principal, "talent.practice.update", "talent_practice", obj.id,
                     before={k: v for k, v in before.items() if after[k] != v},
                     after={k: v for k, v in after.items() if before[k] != v})
    return obj


def practice_hosts(session: Session, principal: Principal, q: str | None) -> list[Organisation]:
    """Organisations that may host a placement (the officer's search: name, or an exact credit code; at least
    two characters; never the officer's own university). Reads names and credit codes only — public business
    registration data — not the registry's facts."""
    require(principal, PRACTICE_MANAGE)
    term = (q or "").strip()
    if len(term) < 2:
        return []
    like = f"%{term}%"
    stmt = select(Organisation).where(or_(Organisation.name_zh.ilike(like), Organisation.name_en.ilike(like),
                                          Organisation.credit_code == term.upper()))
    if not principal.is_system:
        stmt = stmt.where(Organisation.id != _org(principal))
    return list(session.scalars(stmt.order_by(Organisation.name_zh, Organisation.id).limit(PICK_LIMIT)))


def _maybe_complete(obj: PracticeRecord) -> None:
    if obj.kind == "entrepreneurship":
        done = obj.return_date is not None
    else:
        done = bool(obj.outcome_report) and obj.host_rating is not None
    if done:
        obj.status = "completed"


def report_practice_outcome(session: Session, principal: Principal, practice_id: int, report: str) -> PracticeRecord:
    """The teacher files the outcome report (the record completes once the host has evaluated it)."""
    require(principal, PRACTICE_REPORT)
    obj = access_practice_by_id(session, principal, practice_id)
    if not principal.is_system and obj.person_id != _person(principal):
        raise NotFound()
    if len((report or "").strip()) < MIN_REASON_CHARS:
        raise _invalid("outcome_report", N_("The outcome report needs at least {n} characters."), n=MIN_REASON_CHARS)
    before = {"outcome_report": obj.outcome_report, "status": obj.status}
    obj.outcome_report = report.strip()
    _maybe_complete(obj)
    session.flush()
    audit_log.record(session, principal, "talent.practice.report", "talent_practice", obj.id, before=before,
                     after={"outcome_report": obj.outcome_report, "status": obj.status})
    return obj


def host_evaluate_practice(session: Session, principal: Principal, practice_id: int, rating: str,
                           text: str | None = None) -> PracticeRecord:
    """The host enterprise evaluates the teacher's placement or secondment."""
    require(principal, PRACTICE_HOST)
    obj = access_practice_by_id(session, principal, practice_id)
    if not principal.is_system and obj.host_organisation_id != _org(principal):
        raise NotFound()
    if rating not in HOST_RATINGS:
        raise _invalid("host_rating", N_("Unknown rating; allowed: {allowed}."), rating, allowed=", ".join(HOST_RATINGS))
    if obj.kind == "entrepreneurship":
        raise Conflict(N_("Leave for entrepreneurship is closed by the return date, not by a host evaluation."))
    before = {"host_rating": obj.host_rating, "status": obj.status}
    obj.host_rating, obj.host_evaluation = rating, (text or "").strip() or None
    _maybe_complete(obj)
    session.flush()
    audit_log.record(session, principal, "talent.practice.host_evaluate", "talent_practice", obj.id, before=before,
                     after={"host_rating": rating, "status": obj.status})
    return obj


def record_return(session: Session, principal: Principal, practice_id: int, return_date: date,
                  report: str | None = None) -> PracticeRecord:
    """The university records the teacher's return from leave for entrepreneurship (离岗创业)."""
    require(principal, PRACTICE_MANAGE)
    obj = access_practice_by_id(session, principal, practice_id)
    if obj.kind != "entrepreneurship":
        raise Conflict(N_("Only leave for entrepreneurship has a return date."))
    if return_date < obj.start_date:
        raise _invalid("return_date", N_("The return date is before the start date."), return_date.isoformat())
    before = {"return_date": obj.return_date, "status": obj.status}
    obj.return_date = return_date
    if report:
        obj.outcome_report = report.strip()
    _maybe_complete(obj)
    session.flush()
    audit_log.record(session, principal, "talent.practice.return", "talent_practice", obj.id, before=before,
                     after={"return_date": return_date, "status": obj.status})
    return obj


# ---------------------------------------------------------------- commission view
def evaluation_overview(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Per unit and category: evaluations run, cycle length, dossiers submitted, works and the share verified
    from records, decisions and appeals — with the evaluation ids to drill into."""
    require(principal, EVAL_READ)
    if principal.role is Role.RESEARCHER:
        raise NotFound()
    evs = list(session.scalars(readable_evaluations(session, principal).order_by(TalentEvaluation.id)))
    if not evs:
        return []
    ids = [e.id for e in evs]
    cycles = dict(session.execute(select(EvaluationScheme.id, EvaluationScheme.cycle_years).where(
        EvaluationScheme.id.in_({e.scheme_id for e in evs}))).all())
    names = dict(session.execute(select(Organisation.id, Organisation.name_zh).where(
        Organisation.id.in_({e.organisation_id for e in evs}))).all())
    dossiers = dict(session.execute(select(Dossier.evaluation_id, func.count(Dossier.id)).where(
        Dossier.evaluation_id.in_(ids), Dossier.status == "submitted").group_by(Dossier.evaluation_id)).all())
    works = _works_counts(session, ids)
    appeals = dict(session.execute(select(Dossier.evaluation_id, func.count(Appeal.id)).join(
        Appeal, Appeal.dossier_id == Dossier.id).where(Dossier.evaluation_id.in_(ids))
        .group_by(Dossier.evaluation_id)).all())
    reevaluated = _reevaluated_in_cycle(session, [e for e in evs if e.status == "published"], cycles)
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for e in evs:
        g = groups.setdefault((e.organisation_id, e.category), {
            "organisation_id": e.organisation_id, "organisation_name": names.get(e.organisation_id, ""),
            "category": e.category, "evaluations": 0, "published": 0, "cycle_years": set(), "dossiers": 0,
            "works": 0, "verified_works": 0, "appeals": 0, "evaluation_ids": [],
            "reevaluated_in_cycle": len(reevaluated.get((e.organisation_id, e.category), ()))})
        g["evaluations"] += 1
        g["published"] += e.status == "published"
        g["cycle_years"].add(cycles.get(e.scheme_id))
        g["dossiers"] += dossiers.get(e.id, 0)
        n, v = works.get(e.id, (0, 0))
        g["works"] += n
        g["verified_works"] += v
        g["appeals"] += appeals.get(e.id, 0)
        g["evaluation_ids"].append(e.id)
    out = []
    for g in groups.values():
        g["cycle_years"] = sorted(c for c in g["cycle_years"] if c is not None)
        g["verified_share"] = round(g["verified_works"] / g["works"], 4) if g["works"] else None
        out.append(g)
    return out


def _reevaluated_in_cycle(session: Session, published: list[TalentEvaluation],
                          cycles: dict[int, int]) -> dict[tuple[int, str], set[int]]:
    """Per unit and category: people with two published results where the later round was opened less than
    its scheme's cycle after the earlier result was published (what ``cycle_conflicts`` now refuses; older
    data may hold some)."""
    by_id = {e.id: e for e in published}
    results: dict[tuple[int, str, int], list[TalentEvaluation]] = defaultdict(list)
    for pid, eid in session.execute(select(DossierMember.person_id, Dossier.evaluation_id).join(
            Dossier, Dossier.id == DossierMember.dossier_id).join(PanelDecision, PanelDecision.dossier_id == Dossier.id)
            .where(Dossier.evaluation_id.in_(by_id or {-1}), Dossier.status == "submitted")):
        e = by_id[eid]
        results[(e.organisation_id, e.category, pid)].append(e)
    out: dict[tuple[int, str], set[int]] = defaultdict(set)
    for (org, category, pid), evs in results.items():
        evs.sort(key=lambda e: (_local_date(e.published_at), e.id))
        for earlier, later in zip(evs, evs[1:], strict=False):
            if round_date(later) < add_years(_local_date(earlier.published_at), cycles.get(later.scheme_id) or 0):
                out[(org, category)].add(pid)
                break
    return out


def _works_counts(session: Session, evaluation_ids: list[int]) -> dict[int, tuple[int, int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for eid, verified in session.execute(select(Dossier.evaluation_id, RepresentativeWork.verified).join(
            RepresentativeWork, RepresentativeWork.dossier_id == Dossier.id).where(
            Dossier.evaluation_id.in_(evaluation_ids), Dossier.status == "submitted")):
        out[eid][0] += 1
        out[eid][1] += bool(verified)
    return {k: (v[0], v[1]) for k, v in out.items()}


def scores_visible(session: Session, principal: Principal, dossier: Dossier) -> bool:
    """Candidates see scores and rank only once the results are published; officers and the commission always."""
    if principal.role is not Role.RESEARCHER:
        return True
    ev = session.get(TalentEvaluation, dossier.evaluation_id)
    return ev.status == "published"
