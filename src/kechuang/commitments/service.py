"""Proposals, replies and commitments: import a reply letter, correct and track its commitments, link them
to deliverables, and report indicators with reported and computed values side by side."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kechuang.commitments import indicators as ind
from kechuang.commitments import units
from kechuang.commitments.models import (
    Commitment,
    CommitmentEvent,
    CommitmentLink,
    Indicator,
    IndicatorComputed,
    IndicatorReported,
    Proposal,
    ProposalReply,
    ReplySection,
)
from kechuang.commitments.parser import ParsedReply, parse_reply
from kechuang.commitments.schemas import CommitmentUpdate, ImportResult, IndicatorRow, LinkIn, StatusChange
from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import N_, get_locale
from kechuang.core.permissions import has, permission, require
from kechuang.registry.models import Organisation, as_dict

# The commission's proposal office edits; auditors and officers read everything; handling units (承办单位)
# read the replies they handle and update the status of their own commitments; the public reads replies
# whose disclosure attribute is 主动公开.
EDIT = permission("commitments.edit", Role.COMMISSION)
TRACK = permission("commitments.track", Role.COMMISSION, Role.HANDLING_UNIT)
READ_ALL = permission("commitments.read", Role.COMMISSION, Role.AUDITOR, Role.DISTRICT)

STATUSES = ("planned", "in_progress", "done", "dropped")
KINDS = ("policy", "programme", "platform", "reform", "statistic")
ALLOWED_MOVES = {
    "planned": {"in_progress", "done", "dropped"},
    "in_progress": {"done", "dropped", "planned"},
    "done": {"in_progress"},
    "dropped": {"planned"},
}
POLICY_LIBRARY = Path(__file__).resolve().parents[1] / "policy" / "library"
# Platform capabilities a commitment can be delivered by (stable keys of kechuang features).
FEATURES = {
    "policy.no_application": "免申即享 policy engine",
    "policy.sandbox": "Policy sandbox",
    "science.datasets": "Scientific dataset registry",
    "science.evaluation": "Scientific model evaluation system",
    "transfer.ledger": "单列管理 asset ledger",
    "transfer.empowerment": "赋权 workflow",
    "transfer.due_diligence": "尽职免责 dossiers",
    "talent.schemes": "Talent evaluation schemes",
    "talent.rule_audit": "唯帽子 rule-text audit",
    "expert.pool": "Expert pool",
    "challenge.open_bid": "揭榜挂帅 / 赛马制 challenges",
    "voucher.innovation": "Innovation vouchers",
    "registry.organisations": "Registry of organisations",
}


def _public_replies() -> Select:
    return select(ProposalReply).where(ProposalReply.is_public.is_(True))


def principal_unit(session: Session, principal: Principal | None) -> str | None:
    """The short name of the handling unit a handling-unit officer is bound to (e.g. 市教委), else ``None``."""
    if principal is None or principal.role is not Role.HANDLING_UNIT or principal.organisation_id is None:
        return None
    return units.short_name(session.scalar(select(Organisation.name_zh)
                                           .where(Organisation.id == principal.organisation_id)))


def _handles(unit: str, lead_unit: str | None, co_units: list[str] | None) -> bool:
    return unit == lead_unit or unit in (co_units or [])


def readable_replies(session: Session, principal: Principal | None) -> Select:
    """Replies visible to ``principal`` (``None`` = the public): all; for a handling unit the public ones and
    those it handles (as lead or co-handling unit of the proposal or of a commitment); else 主动公开 ones."""
    if principal is not None and has(principal, READ_ALL):
        return select(ProposalReply)
    unit = principal_unit(session, principal)
    if unit is None:
        return _public_replies()
    handled = {rid for rid, lead, co in session.execute(
        select(ProposalReply.id, Proposal.lead_unit, Proposal.co_units)
        .join(Proposal, Proposal.id == ProposalReply.proposal_id)) if _handles(unit, lead, co)}
    handled |= {rid for rid, lead, co in session.execute(
        select(Commitment.reply_id, Commitment.lead_unit, Commitment.co_units)) if _handles(unit, lead, co)}
    return select(ProposalReply).where((ProposalReply.is_public.is_(True)) | ProposalReply.id.in_(handled))


def may_track(session: Session, principal: Principal | None, commitment: Commitment) -> bool:
    """Whether ``principal`` may update the status of ``commitment``: the commission, or the officer of a
    unit that leads or co-handles it."""
    if principal is None:
        return False
    if has(principal, EDIT):
        return True
    unit = principal_unit(session, principal)
    return unit is not None and _handles(unit, commitment.lead_unit, commitment.co_units)


def access_reply(session: Session, principal: Principal | None, doc_no: str) -> ProposalReply:
    """A reply by document number, or ``NotFound`` (also when not visible)."""
    reply = session.scalar(readable_replies(session, principal).where(ProposalReply.doc_no == doc_no))
    if reply is None:
        raise NotFound()
    return reply


def access_reply_by_id(session: Session, principal: Principal | None, reply_id: int) -> ProposalReply:
    """A reply by id, or ``NotFound`` (also when not visible)."""
    reply = session.scalar(readable_replies(session, principal).where(ProposalReply.id == reply_id))
    if reply is None:
        raise NotFound()
    return reply


def access_commitment(session: Session, principal: Principal | None, commitment_id: int) -> Commitment:
    """A commitment of a visible reply, or ``NotFound``."""
    stmt = (select(Commitment).join(ProposalReply, ProposalReply.id == Commitment.reply_id)
            .where(Commitment.id == commitment_id, ProposalReply.id.in_(
                readable_replies(session, principal).with_only_columns(ProposalReply.id))))
    c = session.scalar(stmt)
    if c is None:
        raise NotFound()
    return c


def list_replies(session: Session, principal: Principal | None) -> list[ProposalReply]:
    """Replies visible to ``principal``, newest first."""
    return list(session.scalars(readable_replies(session, principal).order_by(ProposalReply.reply_date.desc(),
                                                                     ProposalReply.id.desc())))


def list_commitments(session: Session, principal: Principal | None, doc_no: str,
                     status: str | None = None) -> list[Commitment]:
    """Commitments of one reply in letter order."""
    reply = access_reply(session, principal, doc_no)
    stmt = select(Commitment).where(Commitment.reply_id == reply.id)
    if status:
        stmt = stmt.where(Commitment.status == status)
    return list(session.scalars(stmt.order_by(Commitment.ordinal)))


# ---------------------------------------------------------------- import
def import_reply(session: Session, principal: Principal, text: str, execute: bool = False) -> tuple[ImportResult,
                                                                                                   ParsedReply]:
    """Parse a reply letter; with ``execute`` save proposal, reply, sections, commitments and reported figures.
    Re-importing the same text changes nothing; a different text under an existing number is refused."""
    require(principal, EDIT)
    parsed = parse_reply(text)
    missing = [f for f in ("doc_no", "proposal_number", "session_name", "signed_unit") if not getattr(parsed, f)]
    if missing:
        raise ValidationFailed(N_("The letter could not be recognised as a reply to a proposal."),
                               errors=[FieldError(f, N_("Not found in the text.")) for f in missing])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    result = ImportResult(doc_no=parsed.doc_no, executed=execute, reply_id=None, sections=len(parsed.sections),
                          commitments=len(parsed.commitments), figures=len(parsed.figures),
                          warnings=parsed.warnings)
    existing = session.scalar(select(ProposalReply).where(ProposalReply.doc_no == parsed.doc_no))
    if existing is not None:
        if existing.source_sha256 != digest:
            raise Conflict(N_("Reply {doc_no} is already recorded from a different text; correct it instead."),
                           doc_no=parsed.doc_no)
        result.reply_id, result.unchanged = existing.id, True
        return result, parsed
    if not execute:
        return result, parsed
    proposal = session.scalar(select(Proposal).where(Proposal.session_name == parsed.session_name,
                                                     Proposal.number == parsed.proposal_number))
    if proposal is None:
        proposal = Proposal(session_name=parsed.session_name, number=parsed.proposal_number,
                            proposer=parsed.proposer or "", title=parsed.proposal_title or "",
                            lead_unit=_short_unit(parsed.signed_unit), co_units=parsed.co_units, status="replied")
        session.add(proposal)
        session.flush()
    reply = ProposalReply(
        proposal_id=proposal.id, doc_no=parsed.doc_no, reply_date=parsed.reply_date, signed_unit=parsed.signed_unit,
        handling_result=parsed.handling_result, disclosure=parsed.disclosure,
        is_public=bool(parsed.disclosure and "主动公开" in parsed.disclosure),
        contact_name=parsed.contact_name, contact_phone=parsed.contact_phone,
        contact_address=parsed.contact_address, postcode=parsed.postcode, copy_to=parsed.copy_to,
        printed_by=parsed.printed_by, printed_date=parsed.printed_date, full_text=text, source_sha256=digest)
    session.add(reply)
    session.flush()
    section_ids: dict[int, int] = {}
    for s in parsed.sections:
        row = ReplySection(reply_id=reply.id, ordinal=s.ordinal, title=s.title, text="\n".join(s.paragraphs))
        session.add(row)
        session.flush()
        section_ids[s.ordinal] = row.id
    lead = _short_unit(parsed.signed_unit)
    for c in parsed.commitments:
        session.add(Commitment(reply_id=reply.id, section_id=section_ids.get(c.section), ordinal=c.ordinal,
                               item_label=c.item_label, item_title=c.item_title, phrase=c.phrase, lead_unit=lead,
                               co_units=c.co_units, kind=c.kind, status="planned"))
    for f in parsed.figures:
        indicator = _indicator(session, f.code)
        session.add(IndicatorReported(indicator_id=indicator.id, period=f.period, value=f.value,
                                      qualifier=f.qualifier, source_doc=parsed.doc_no, source_page=1,
                                      source_quote=f.quote))
    session.flush()
    audit.record(session, principal, "commitments.reply.import", "proposal_reply", reply.id,
                 after={"doc_no": reply.doc_no, "sha256": digest, "sections": len(parsed.sections),
                        "commitments": len(parsed.commitments), "figures": len(parsed.figures)})
    result.reply_id = reply.id
    return result, parsed


def _short_unit(name: str | None) -> str:
    return {"上海市科学技术委员会": "市科委"}.get(name or "", name or "")


def _indicator(session: Session, code: str) -> Indicator:
    row = session.scalar(select(Indicator).where(Indicator.code == code))
    if row is None:
        d = ind.DEFINITIONS[code]
        row = Indicator(code=code, name_zh=d.name_zh, name_en=d.name_en, definition=d.definition, unit=d.unit,
                        scope=d.scope)
        session.add(row)
        session.flush()
    return row


# ---------------------------------------------------------------- tracking
def update_commitment(session: Session, principal: Principal, commitment_id: int,
                      data: CommitmentUpdate) -> Commitment:
    """Correct a commitment's phrase, kind, units, or plan its target date and owner."""
    require(principal, EDIT)
    c = access_commitment(session, principal, commitment_id)
    changes = data.model_dump(exclude_unset=True)
    if "kind" in changes and changes["kind"] not in KINDS:
        raise ValidationFailed(errors=[FieldError("kind", N_("Unknown kind; allowed: {allowed}."),
                                                  {"allowed": ", ".join(KINDS)}, value=changes["kind"])])
    before = as_dict(c)
    for k, v in changes.items():
        setattr(c, k, v)
    session.flush()
    audit.record(session, principal, "commitments.commitment.update", "commitment", c.id, before=before,
                 after=as_dict(c))
    return c


def change_status(session: Session, principal: Principal, commitment_id: int, data: StatusChange) -> Commitment:
    """Move a commitment along planned → in_progress → done (evidence required) or dropped. The commission,
    or a handling unit for its own commitments."""
    require(principal, TRACK)
    c = access_commitment(session, principal, commitment_id)
    if not may_track(session, principal, c):
        raise PermissionDenied(N_("Only the commission or a unit handling this commitment may update it."))
    if data.status not in STATUSES:
        raise ValidationFailed(errors=[FieldError("status", N_("Unknown status; allowed: {allowed}."),
                                                  {"allowed": ", ".join(STATUSES)}, value=data.status)])
    if data.status == c.status:
        return c  # idempotent
    if data.status not in ALLOWED_MOVES[c.status]:
        raise Conflict(N_("A commitment cannot move from {src} to {dst}."), src=c.status, dst=data.status)
    if data.status == "done" and not (data.evidence and data.evidence.strip()):
        raise ValidationFailed(errors=[FieldError("evidence", N_("Evidence is required to mark a commitment done."))])
    event = CommitmentEvent(commitment_id=c.id, actor=principal.username, from_status=c.status,
                            to_status=data.status, note=data.note, evidence=data.evidence)
    before = c.status
    c.status = data.status
    session.add(event)
    session.flush()
    audit.record(session, principal, "commitments.commitment.status", "commitment", c.id,
                 before={"status": before}, after={"status": c.status, "evidence": data.evidence, "note": data.note})
    return c


def history(session: Session, principal: Principal | None, commitment_id: int) -> list[CommitmentEvent]:
    """Status history of a commitment, oldest first."""
    c = access_commitment(session, principal, commitment_id)
    return list(session.scalars(select(CommitmentEvent).where(CommitmentEvent.commitment_id == c.id)
                                .order_by(CommitmentEvent.id)))


def deliverable_label(session: Session, deliverable_type: str, key: str) -> str | None:
    """What a deliverable key names, or ``None`` if there is no such deliverable in kechuang."""
    if deliverable_type == "policy":
        for path in sorted(POLICY_LIBRARY.glob("*.yaml")):
            import yaml

            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if doc.get("id") == key:
                title = doc.get("title") or {}
                return title.get("zh") or key
        return None
    if deliverable_type == "indicator":
        d = ind.DEFINITIONS.get(key)
        return d.name_zh if d else None
    if deliverable_type == "feature":
        return FEATURES.get(key)
    if deliverable_type == "transfer_stat":
        from kechuang.transfer import stats as transfer_stats

        return next((d.label for d in transfer_stats.INDICATORS if d.code == key), None)
    return None


DELIVERABLE_TYPES = ("policy", "indicator", "transfer_stat", "feature")


def link(session: Session, principal: Principal, commitment_id: int, data: LinkIn) -> CommitmentLink:
    """Link a commitment to a policy, an indicator or a platform capability that delivers it."""
    require(principal, EDIT)
    c = access_commitment(session, principal, commitment_id)
    if data.deliverable_type not in DELIVERABLE_TYPES:
        raise ValidationFailed(errors=[FieldError("deliverable_type", N_("Unknown deliverable type; allowed: {allowed}."),
                                                  {"allowed": ", ".join(DELIVERABLE_TYPES)},
                                                  value=data.deliverable_type)])
    if deliverable_label(session, data.deliverable_type, data.deliverable_key) is None:
        raise ValidationFailed(errors=[FieldError("deliverable_key", N_("No such deliverable in kechuang."),
                                                  value=data.deliverable_key)])
    existing = session.scalar(select(CommitmentLink).where(
        CommitmentLink.commitment_id == c.id, CommitmentLink.deliverable_type == data.deliverable_type,
        CommitmentLink.deliverable_key == data.deliverable_key))
    if existing is not None:
        return existing
    row = CommitmentLink(commitment_id=c.id, **data.model_dump())
    session.add(row)
    session.flush()
    audit.record(session, principal, "commitments.link.create", "commitment_link", row.id, after=as_dict(row))
    return row


def links(session: Session, principal: Principal | None, commitment_id: int) -> list[CommitmentLink]:
    """Deliverables linked to a commitment."""
    c = access_commitment(session, principal, commitment_id)
    return list(session.scalars(select(CommitmentLink).where(CommitmentLink.commitment_id == c.id)
                                .order_by(CommitmentLink.id)))


# ---------------------------------------------------------------- indicators
def compute_indicators(session: Session, principal: Principal, period: str) -> list[IndicatorComputed]:
    """Compute every indicator kechuang can compute from its records for ``period`` (a year)."""
    require(principal, EDIT)
    if not (period.isdigit() and len(period) == 4):
        raise ValidationFailed(errors=[FieldError("period", N_("A period is a four-digit year."), value=period)])
    out = []
    for code, fn in ind.COMPUTATIONS.items():
        indicator = _indicator(session, code)
        c = fn(session, principal, period)
        if c is None:
            continue
        row = IndicatorComputed(indicator_id=indicator.id, period=period, value=c.value, query=c.query,
                                from_synthetic_data=c.from_synthetic_data)
        session.add(row)
        session.flush()
        audit.record(session, principal, "commitments.indicator.compute", "indicator_computed", row.id,
                     after={"code": code, "period": period, "value": c.value,
                            "from_synthetic_data": c.from_synthetic_data})
        out.append(row)
    return out


def indicator_rows(session: Session) -> list[IndicatorRow]:
    """Every indicator and period with the reported value (and its source) next to the latest computed value."""
    en = get_locale() == "en"
    rows: list[IndicatorRow] = []
    for indicator in session.scalars(select(Indicator).order_by(Indicator.id)):
        reported = {r.period: r for r in session.scalars(select(IndicatorReported)
                                                         .where(IndicatorReported.indicator_id == indicator.id))}
        computed: dict[str, IndicatorComputed] = {}
        for r in session.scalars(select(IndicatorComputed).where(IndicatorComputed.indicator_id == indicator.id)
                                 .order_by(IndicatorComputed.computed_at, IndicatorComputed.id)):
            computed[r.period] = r
        for period in sorted(set(reported) | set(computed)):
            rep, com = reported.get(period), computed.get(period)
            diff = (Decimal(com.value) - Decimal(rep.value)) if rep is not None and com is not None else None
            rows.append(IndicatorRow(
                code=indicator.code, name=indicator.name_en if en else indicator.name_zh, unit=indicator.unit,
                period=period,
                reported_value=rep.value if rep else None, reported_qualifier=rep.qualifier if rep else None,
                reported_source=f"{rep.source_doc}, p. {rep.source_page}" if rep else None,
                computed_value=com.value if com else None, computed_at=com.computed_at if com else None,
                computed_query=com.query if com else None,
                computed_from_synthetic_data=com.from_synthetic_data if com else None, difference=diff))
    return rows


def progress_report(session: Session, principal: Principal | None, doc_no: str,
                    today: date | None = None) -> dict[str, Any]:
    """Everything the printable progress report shows for one reply."""
    reply = access_reply(session, principal, doc_no)
    proposal = session.get(Proposal, reply.proposal_id)
    commitments = list_commitments(session, principal, doc_no)
    today = today or date.today()
    by_status = {s: sum(1 for c in commitments if c.status == s) for s in STATUSES}
    sections = {s.id: s for s in session.scalars(select(ReplySection).where(ReplySection.reply_id == reply.id))}
    items = []
    for c in commitments:
        events = list(session.scalars(select(CommitmentEvent).where(CommitmentEvent.commitment_id == c.id)
                                      .order_by(CommitmentEvent.id)))
        items.append({
            "id": c.id, "ordinal": c.ordinal, "section": sections[c.section_id].ordinal if c.section_id else None,
            "item_label": c.item_label, "phrase": c.phrase, "kind": c.kind, "lead_unit": c.lead_unit,
            "co_units": c.co_units, "status": c.status, "owner": c.owner,
            "target_date": c.target_date.isoformat() if c.target_date else None,
            "overdue": bool(c.target_date and c.target_date < today and c.status not in ("done", "dropped")),
            "evidence": [e.evidence for e in events if e.evidence],
            "links": [{"type": lk.deliverable_type, "key": lk.deliverable_key,
                       "label": deliverable_label(session, lk.deliverable_type, lk.deliverable_key)}
                      for lk in session.scalars(select(CommitmentLink).where(CommitmentLink.commitment_id == c.id))],
        })
    units: dict[str, dict[str, int]] = {}
    for i in items:
        for unit in [i["lead_unit"], *i["co_units"]]:
            row = units.setdefault(unit, {**{s: 0 for s in STATUSES}, "overdue": 0, "total": 0})
            row[i["status"]] += 1
            row["total"] += 1
            row["overdue"] += int(i["overdue"])
    return {
        "by_unit": units,
        "reply": {"doc_no": reply.doc_no, "date": reply.reply_date.isoformat() if reply.reply_date else None,
                  "signed_unit": reply.signed_unit, "handling_result": reply.handling_result,
                  "disclosure": reply.disclosure, "copy_to": reply.copy_to},
        "proposal": {"session": proposal.session_name, "number": proposal.number, "proposer": proposal.proposer,
                     "title": proposal.title, "lead_unit": proposal.lead_unit, "co_units": proposal.co_units},
        "sections": [{"ordinal": s.ordinal, "title": s.title} for s in sorted(sections.values(),
                                                                              key=lambda s: s.ordinal)],
        "by_status": by_status,
        "overdue": sum(1 for i in items if i["overdue"]),
        "commitments": items,
        "indicators": [r.model_dump(mode="json") for r in indicator_rows(session)],
    }
