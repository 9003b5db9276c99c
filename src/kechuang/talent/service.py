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
                 category: str | None = None) -> tuple[list[EvaluationScheme], int]:
    """A page of visible schemes, optionally of one category."""
    stmt = readable_schemes(principal)
    if category:
        stmt = stmt.where(EvaluationScheme.category == category)
    if params.q:
        stmt = stmt.where(EvaluationScheme.title.contains(params.q))
    return paginate(session, stmt, params, SCHEME_SORT, EvaluationScheme.id)


def list_audits(session: Session, principal: Principal, params: PageParams) -> tuple[list[RuleAudit], int]:
    """A page of visible rule-text audits."""
    return paginate(session, readable_audits(principal), params, AUDIT_SORT, RuleAudit.id)


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
                  *, is_pilot: bool = False) -> EvaluationScheme:
    """Store a new version of a scheme with the result of its framework check (non-compliant drafts are kept)."""
    _managed_org(session, principal, organisation_id)
    try:
        parsed = sch.parse_scheme_text(content)
    except sch.SchemeError as exc:
        raise ValidationFailed(errors=[
            FieldError("content", N_("{rule}: {reason}"), {"rule": p.rule, "reason": p.reason}, value=p.path or None)
            for p in exc.problems]) from exc
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
