"""Talent-evaluation business rules and permission checks. Callers: api (later: pages, CLI, jobs).

Roles: an institution's TTO officer (``principal.organisation_id``) manages its own schemes and rule audits
and confirms or dismisses their findings; commission officers and auditors read everything (the commission
view), and commission officers may also decide findings. Same 404 for missing and forbidden ids. Every
write is audited in the same transaction; services only flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, selectinload

from kechuang.core import audit as audit_log
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, use_locale
from kechuang.core.pagination import PageParams, SortSpec, paginate
from kechuang.core.permissions import permission, require
from kechuang.db import utcnow
from kechuang.registry.models import Organisation
from kechuang.talent import audit as rule_audit
from kechuang.talent import scheme as sch
from kechuang.talent.models import EvaluationScheme, RuleAudit, RuleFinding
from kechuang.talent.textio import UnreadableDocument, document_text

READ = permission("talent.read", Role.COMMISSION, Role.AUDITOR, Role.TTO)
MANAGE = permission("talent.manage", Role.TTO)  # own institution's schemes and audits
DECIDE = permission("talent.decide", Role.TTO, Role.COMMISSION)  # confirm / dismiss findings
CHECK = permission("talent.check", Role.COMMISSION, Role.AUDITOR, Role.TTO, Role.RESEARCHER)  # no writes

_ALL = (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM, Role.ADMIN)
DECISIONS = ("confirmed", "dismissed", "revised")
MAX_TEXT_CHARS = 2_000_000


def _sees_all(principal: Principal) -> bool:
    return principal.role in _ALL


def _own_org(principal: Principal) -> int:
    return principal.organisation_id or -1


# ---------------------------------------------------------------- scopes
def readable_schemes(principal: Principal) -> Select:
    """Schemes ``principal`` may read: all (commission, auditors) or their institution's."""
    require(principal, READ)
    stmt = select(EvaluationScheme)
    return stmt if _sees_all(principal) else stmt.where(EvaluationScheme.organisation_id == _own_org(principal))


def access_scheme_by_id(session: Session, principal: Principal, scheme_id: int) -> EvaluationScheme:
    """The scheme if visible; the same ``NotFound`` for missing and forbidden."""
    obj = session.scalar(readable_schemes(principal).where(EvaluationScheme.id == scheme_id))
    if obj is None:
        raise NotFound()
    return obj


def readable_audits(principal: Principal) -> Select:
    """Rule audits ``principal`` may read."""
    require(principal, READ)
    stmt = select(RuleAudit)
    return stmt if _sees_all(principal) else stmt.where(RuleAudit.organisation_id == _own_org(principal))


def access_audit_by_id(session: Session, principal: Principal, audit_id: int) -> RuleAudit:
    """The audit with its findings if visible; ``NotFound`` otherwise."""
    obj = session.scalar(readable_audits(principal).where(RuleAudit.id == audit_id)
                         .options(selectinload(RuleAudit.findings)))
    if obj is None:
        raise NotFound()
    return obj


def _managed_org(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    require(principal, MANAGE)
    if principal.role is not Role.SYSTEM and organisation_id != principal.organisation_id:
        raise NotFound()
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound()
    return org


SCHEME_SORT = SortSpec({"id": EvaluationScheme.id, "created_at": EvaluationScheme.created_at}, default="-id")
AUDIT_SORT = SortSpec({"id": RuleAudit.id, "created_at": RuleAudit.created_at}, default="-id")


def list_schemes(session: Session, principal: Principal, params: PageParams,
                 category: str | None = None, *, organisation_id: int | None = None, status: str | None = None,
                 compliant: bool | None = None, is_pilot: bool | None = None,
                 scheme_key: str | None = None) -> tuple[list[EvaluationScheme], int]:
    """A page of visible schemes, optionally of one category, unit, status, compliance, pilot flag or key."""
    stmt = readable_schemes(principal)
    if category:
        stmt = stmt.where(EvaluationScheme.category == category)
    if organisation_id is not None:
        stmt = stmt.where(EvaluationScheme.organisation_id == organisation_id)
    if status:
        stmt = stmt.where(EvaluationScheme.status == status)
    if compliant is not None:
        stmt = stmt.where(EvaluationScheme.compliant.is_(compliant))
    if is_pilot is not None:
        stmt = stmt.where(EvaluationScheme.is_pilot.is_(is_pilot))
    if scheme_key:
        stmt = stmt.where(EvaluationScheme.scheme_key == scheme_key)
    if params.q:
        stmt = stmt.where(EvaluationScheme.title.contains(params.q))
    return paginate(session, stmt, params, SCHEME_SORT, EvaluationScheme.id)


def list_audits(session: Session, principal: Principal, params: PageParams,
                organisation_id: int | None = None) -> tuple[list[RuleAudit], int]:
    """A page of visible rule-text audits (optionally of one institution)."""
    stmt = readable_audits(principal)
    if organisation_id is not None:
        stmt = stmt.where(RuleAudit.organisation_id == organisation_id)
    return paginate(session, stmt, params, AUDIT_SORT, RuleAudit.id)


FINDING_FILTERS = ("open", "confirmed", "dismissed", "revised", "remaining")


def list_findings(session: Session, principal: Principal, params: PageParams, *, organisation_id: int | None = None,
                  status: str | None = None) -> tuple[list[tuple[RuleFinding, RuleAudit]], int]:
    """A page of visible findings with their audit; ``status`` one of ``FINDING_FILTERS`` (``remaining`` is
    open + confirmed: the clauses still to revise)."""
    require(principal, READ)
    stmt = select(RuleFinding, RuleAudit).join(RuleAudit, RuleAudit.id == RuleFinding.audit_id)
    if not _sees_all(principal):
        stmt = stmt.where(RuleAudit.organisation_id == _own_org(principal))
    if organisation_id is not None:
        stmt = stmt.where(RuleAudit.organisation_id == organisation_id)
    if status == "remaining":
        stmt = stmt.where(RuleFinding.status.in_(("open", "confirmed")))
    elif status:
        stmt = stmt.where(RuleFinding.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(RuleFinding.id).offset((params.page - 1) * params.per_page)
                           .limit(params.per_page)).all()
    return [(f, a) for f, a in rows], int(total)


def scheme_versions(session: Session, principal: Principal, scheme_id: int) -> list[EvaluationScheme]:
    """Every version of the scheme ``scheme_id`` belongs to (same unit and key), newest first."""
    obj = access_scheme_by_id(session, principal, scheme_id)
    return list(session.scalars(select(EvaluationScheme).where(
        EvaluationScheme.organisation_id == obj.organisation_id, EvaluationScheme.scheme_key == obj.scheme_key)
        .order_by(EvaluationScheme.version.desc())))


def scheme_overview(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Per unit and category: scheme versions stored, compliant and non-compliant versions, schemes in force
    (all compliant: a non-compliant version cannot be put in force), their cycle lengths, pilot (立新标) flag."""
    require(principal, READ)
    stmt = select(EvaluationScheme.organisation_id, Organisation.name_zh, EvaluationScheme.category,
                  EvaluationScheme.status, EvaluationScheme.compliant, EvaluationScheme.cycle_years,
                  EvaluationScheme.is_pilot).join(Organisation, Organisation.id == EvaluationScheme.organisation_id)
    if not _sees_all(principal):
        stmt = stmt.where(EvaluationScheme.organisation_id == _own_org(principal))
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for org_id, name, category, status, compliant, cycle, pilot in session.execute(
            stmt.order_by(EvaluationScheme.organisation_id, EvaluationScheme.category)):
        g = groups.setdefault((org_id, category), {
            "organisation_id": org_id, "organisation_name": name, "category": category, "versions": 0,
            "compliant": 0, "non_compliant": 0, "in_force": 0, "cycle_years": set(), "pilot": False})
        g["versions"] += 1
        g["compliant" if compliant else "non_compliant"] += 1
        g["pilot"] = g["pilot"] or bool(pilot)
        if status == "in_force":
            g["in_force"] += 1
            g["cycle_years"].add(cycle)
    out = []
    for g in groups.values():
        g["cycle_years"] = sorted(g["cycle_years"])
        g["compliance"] = round(g["compliant"] / g["versions"], 4) if g["versions"] else None
        out.append(g)
    return out


# ---------------------------------------------------------------- schemes
def check_content(principal: Principal, content: str) -> dict[str, Any]:
    """Live compliance feedback for a scheme draft (no write): ``{compliant, violations}``."""
    require(principal, CHECK)
    try:
        violations = sch.check_scheme(sch.parse_scheme_text(content))
    except sch.SchemeError as exc:
        violations = exc.problems
    return {"compliant": not violations, "violations": [v.to_dict() for v in violations]}


def create_scheme(session: Session, principal: Principal, organisation_id: int, content: str,
                  *, is_pilot: bool = False, refuse_violations: bool = False) -> EvaluationScheme:
    """Store a new version of a scheme with the result of its framework check. Non-compliant drafts are kept,
    unless ``refuse_violations`` (the scheme designer): then nothing is stored and every broken rule is named."""
    _managed_org(session, principal, organisation_id)
    try:
        parsed = sch.parse_scheme_text(content)
    except sch.SchemeError as exc:
        raise ValidationFailed(errors=[
            FieldError("content", N_("{rule}: {reason}"), {"rule": p.rule, "reason": p.reason}, value=p.path or None)
            for p in exc.problems]) from exc
    if refuse_violations:
        broken = sch.check_scheme(parsed)
        if broken:
            raise ValidationFailed(errors=[
                FieldError("content", N_("{rule}: {reason}"), {"rule": v.rule, "reason": v.reason},
                           value=v.path or None) for v in broken])
    with use_locale("en"):
        violations = sch.check_scheme(parsed)
    latest = session.scalar(select(func.max(EvaluationScheme.version)).where(
        EvaluationScheme.organisation_id == organisation_id, EvaluationScheme.scheme_key == parsed.id))
    obj = EvaluationScheme(
        organisation_id=organisation_id, scheme_key=parsed.id, version=(latest or 0) + 1, category=parsed.category,
        title=parsed.title.get("zh") or parsed.title.get("en") or parsed.id, cycle_years=parsed.cycle_years,
        content=content, compliant=not violations, violations=[v.to_dict() for v in violations],
        framework_version=sch.load_framework().version, status="draft", is_pilot=is_pilot,
        created_by=principal.user_id)
    session.add(obj)
    session.flush()
    audit_log.record(session, principal, "talent.scheme.create", "evaluation_scheme", obj.id,
                     after={"key": obj.scheme_key, "version": obj.version, "compliant": obj.compliant})
    return obj


def put_in_force(session: Session, principal: Principal, scheme_id: int) -> EvaluationScheme:
    """Put a compliant scheme version in force; the version in force before it is retired."""
    obj = access_scheme_by_id(session, principal, scheme_id)
    _managed_org(session, principal, obj.organisation_id)
    if not obj.compliant:
        raise Conflict(N_("A scheme that breaks the framework cannot be put in force: {rules}."),
                       rules=", ".join(sorted({v["rule"] for v in obj.violations})))
    if obj.status != "draft":
        raise Conflict(N_("Only a draft can be put in force (this version is {status})."), status=obj.status)
    for old in session.scalars(select(EvaluationScheme).where(
            EvaluationScheme.organisation_id == obj.organisation_id, EvaluationScheme.scheme_key == obj.scheme_key,
            EvaluationScheme.status == "in_force")):
        old.status = "retired"
        audit_log.record(session, principal, "talent.scheme.retire", "evaluation_scheme", old.id)
    obj.status, obj.in_force_at = "in_force", utcnow()
    audit_log.record(session, principal, "talent.scheme.in_force", "evaluation_scheme", obj.id,
                     before={"status": "draft"}, after={"status": "in_force"})
    return obj


# ---------------------------------------------------------------- rule-text audits
def run_audit(session: Session, principal: Principal, organisation_id: int, filename: str, data: bytes,
              title: str | None = None) -> RuleAudit:
    """Audit an uploaded rule document (.txt, .docx, .pdf with a text layer) and store its findings."""
    _managed_org(session, principal, organisation_id)
    try:
        text = document_text(data, filename)
    except UnreadableDocument as exc:
        raise ValidationFailed(errors=[FieldError("file", N_("The document cannot be read: {why}"),
                                                  {"why": str(exc)}, value=filename)]) from exc
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationFailed(errors=[FieldError("file", N_("The document is longer than {n} characters."),
                                                  {"n": MAX_TEXT_CHARS}, value=filename)])
    run = RuleAudit(organisation_id=organisation_id, title=title or filename, filename=filename, text=text,
                    created_by=principal.user_id)
    run.findings = [RuleFinding(clause=f.clause, start_offset=f.start, end_offset=f.end, link=f.link,
                                basis=f.basis, reason=f.reason, status="open")
                    for f in rule_audit.audit_text(text)]
    session.add(run)
    session.flush()
    audit_log.record(session, principal, "talent.audit.run", "rule_audit", run.id,
                     after={"findings": len(run.findings), "filename": filename})
    return run


def decide_finding(session: Session, principal: Principal, finding_id: int, decision: str,
                   note: str | None = None) -> RuleFinding:
    """An officer confirms, dismisses (false alarm) or marks a finding revised (the clause was changed)."""
    require(principal, DECIDE)
    if decision not in DECISIONS:
        raise ValidationFailed(errors=[FieldError("decision", N_("Unknown decision; allowed: {allowed}."),
                                                  {"allowed": ", ".join(DECISIONS)}, value=decision)])
    stmt = select(RuleFinding).join(RuleAudit).where(RuleFinding.id == finding_id)
    if not _sees_all(principal):
        stmt = stmt.where(RuleAudit.organisation_id == _own_org(principal))
    finding = session.scalar(stmt)
    if finding is None:
        raise NotFound()
    before = {"status": finding.status}
    finding.status, finding.note = decision, note
    finding.decided_by, finding.decided_at = principal.user_id, utcnow()
    audit_log.record(session, principal, "talent.finding.decide", "rule_finding", finding.id,
                     before=before, after={"status": decision, "note": note})
    return finding


def audit_progress(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Per institution: clauses found, confirmed, dismissed, revised, and remaining (open + confirmed)."""
    require(principal, READ)

    def n(status: str):
        return func.coalesce(func.sum(case((RuleFinding.status == status, 1), else_=0)), 0)

    stmt = (select(RuleAudit.organisation_id, Organisation.name_zh, func.count(RuleFinding.id), n("open"),
                   n("confirmed"), n("dismissed"), n("revised"))
            .join(RuleFinding, RuleFinding.audit_id == RuleAudit.id)
            .join(Organisation, Organisation.id == RuleAudit.organisation_id)
            .group_by(RuleAudit.organisation_id, Organisation.name_zh).order_by(RuleAudit.organisation_id))
    if not _sees_all(principal):
        stmt = stmt.where(RuleAudit.organisation_id == _own_org(principal))
    out = []
    for org_id, name, found, open_, confirmed, dismissed, revised in session.execute(stmt):
        out.append({"organisation_id": org_id, "organisation_name": name, "found": int(found), "open": int(open_),
                    "confirmed": int(confirmed), "dismissed": int(dismissed), "revised": int(revised),
                    "remaining": int(open_) + int(confirmed)})
    return out


# ---------------------------------------------------------------- pages: record search, drill-downs
LINKABLE_LIMIT = 20


def linkable_records(session: Session, principal: Principal, ref_type: str, q: str | None = None) -> list[dict[str, Any]]:
    """Records a candidate can link as representative works (the dossier form's search): achievements, signed
    or completed transfers and registered contracts of achievements that name the caller, and datasets by
    name (the link is verified when the work is added). Only the caller's own records."""
    from kechuang.science.models import Dataset
    from kechuang.talent import dossier_service as dsvc
    from kechuang.transfer.models import Achievement, AchievementMember, TechnologyContract, Transfer

    require(principal, dsvc.DOSSIER_WRITE)
    person = principal.person_id or -1
    mine = select(AchievementMember.achievement_id).where(AchievementMember.person_id == person)
    term = (q or "").strip()
    out: list[dict[str, Any]] = []
    if ref_type == "achievement":
        stmt = select(Achievement).where(Achievement.id.in_(mine), Achievement.is_classified.is_(False))
        if term:
            stmt = stmt.where(Achievement.title.contains(term))
        for a in session.scalars(stmt.order_by(Achievement.id.desc()).limit(LINKABLE_LIMIT)):
            out.append({"ref_type": "achievement", "ref_id": a.id, "title": a.title, "identifier": a.number,
                        "kind": "patent" if "patent" in (a.kind or "") else "technical_solution", "detail": None})
    elif ref_type == "transfer":
        stmt = (select(Transfer, Achievement).join(Achievement, Achievement.id == Transfer.achievement_id)
                .where(Transfer.achievement_id.in_(mine), Transfer.state.in_(("signed", "completed")),
                       Achievement.is_classified.is_(False)))
        if term:
            stmt = stmt.where(Achievement.title.contains(term))
        for t, a in session.execute(stmt.order_by(Transfer.id.desc()).limit(LINKABLE_LIMIT)):
            out.append({"ref_type": "transfer", "ref_id": t.id, "title": a.title, "identifier": a.number,
                        "kind": "transferred_result", "detail": None, "mode": t.mode, "price_fen": t.price_fen})
    elif ref_type == "contract":
        via_transfer = select(Transfer.id).where(Transfer.achievement_id.in_(mine))
        stmt = select(TechnologyContract).where(
            TechnologyContract.state == "registered",
            (TechnologyContract.achievement_id.in_(mine)) | (TechnologyContract.transfer_id.in_(via_transfer)))
        if term:
            stmt = stmt.where(TechnologyContract.subject.contains(term))
        for c in session.scalars(stmt.order_by(TechnologyContract.id.desc()).limit(LINKABLE_LIMIT)):
            out.append({"ref_type": "contract", "ref_id": c.id, "title": c.subject, "identifier": c.number,
                        "kind": "transferred_result", "detail": None, "price_fen": c.technical_fen})
    elif ref_type == "dataset":
        stmt = select(Dataset)
        if term:
            stmt = stmt.where(Dataset.name.contains(term))
        for d in session.scalars(stmt.order_by(Dataset.id.desc()).limit(LINKABLE_LIMIT)):
            out.append({"ref_type": "dataset", "ref_id": d.id, "title": d.name, "identifier": d.identifier,
                        "kind": "dataset", "detail": str(d.publication_year)})
    else:
        raise ValidationFailed(errors=[FieldError("type", N_("Unknown record type; allowed: {allowed}."),
                                                  {"allowed": "achievement, transfer, contract, dataset"},
                                                  value=ref_type)])
    return out


def list_works(session: Session, principal: Principal, params: PageParams, *, organisation_id: int | None = None,
               category: str | None = None, verified: bool | None = None) -> tuple[list[tuple[Any, Any, Any]], int]:
    """A page of the representative works of submitted dossiers in visible evaluations: (work, dossier,
    evaluation) rows and their total (the dashboard's drill-down behind the share verified from records).
    Not for candidates or reviewers."""
    from kechuang.talent import dossier_service as dsvc
    from kechuang.talent.models import Dossier, RepresentativeWork, TalentEvaluation

    if principal.role not in (Role.COMMISSION, Role.AUDITOR, Role.TTO, Role.ADMIN, Role.SYSTEM):
        raise NotFound()
    evs = dsvc.readable_evaluations(session, principal).with_only_columns(TalentEvaluation.id)
    stmt = (select(RepresentativeWork, Dossier, TalentEvaluation)
            .join(Dossier, Dossier.id == RepresentativeWork.dossier_id)
            .join(TalentEvaluation, TalentEvaluation.id == Dossier.evaluation_id)
            .where(TalentEvaluation.id.in_(evs), Dossier.status == "submitted"))
    if organisation_id is not None:
        stmt = stmt.where(TalentEvaluation.organisation_id == organisation_id)
    if category:
        stmt = stmt.where(TalentEvaluation.category == category)
    if verified is not None:
        stmt = stmt.where(RepresentativeWork.verified.is_(verified))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(RepresentativeWork.id).offset((params.page - 1) * params.per_page)
                           .limit(params.per_page))
    return [tuple(r) for r in rows], int(total)
