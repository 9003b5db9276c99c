"""尽职免责 dossier of a transfer: the due-diligence checklist of 国发〔2016〕16号 (十) and the 9-department
赋权 pilot (decision procedure followed, notice published with dates, pricing route, valuation where
required, conflicts of interest declared, no improper gain), each condition met or missing, with the audit
log entries (timestamp, actor, hash) that recorded its evidence.

The checklist reads the same fields as ``service.missing_steps`` (which blocks signing and completion), so
a transfer that could be completed has a complete dossier, and the dossier says what a stopped one lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Principal
from kechuang.core.i18n import N_
from kechuang.registry.models import Organisation
from kechuang.transfer import params, service
from kechuang.transfer.models import Achievement, EmpowermentApplication, Transfer

MET, MISSING, NOT_REQUIRED = "met", "missing", "not_required"
STATUS_LABELS = {MET: N_("Met"), MISSING: N_("Missing"), NOT_REQUIRED: N_("Not required")}


@dataclass
class Evidence:
    """One audit log entry that recorded evidence of a condition."""

    entry_id: int
    at: datetime
    actor: str
    role: str
    action: str
    hash: str
    values: dict[str, Any]


@dataclass
class Condition:
    """One checklist condition: met, missing or not required, why, and its evidence."""

    key: str
    label: str  # message id
    status: str
    details: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (message id, params)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Dossier:
    """The dossier of one transfer."""

    transfer: Transfer
    achievement: Achievement
    institution: Organisation | None
    counterparty: Organisation | None
    conditions: list[Condition]
    empowerment: EmpowermentApplication | None
    timeline: list[Evidence]
    generated_at: datetime

    @property
    def complete(self) -> bool:
        """Whether no condition is missing."""
        return all(c.status != MISSING for c in self.conditions)

    @property
    def missing(self) -> list[Condition]:
        """The conditions that are missing."""
        return [c for c in self.conditions if c.status == MISSING]


def _evidence(entries: list[AuditEntry], fields: tuple[str, ...]) -> list[Evidence]:
    out = []
    for e in entries:
        after = e.after or {}
        values = {k: after[k] for k in fields if k in after and after[k] not in (None, "", False)}
        if values:
            out.append(Evidence(e.id, e.at, e.actor_name, e.actor_role, e.action, e.hash, values))
    return out


def _notice_status(t: Transfer, prefix: str, label: str, min_days: int, sign: date | None,
                   details: list[tuple[str, dict[str, Any]]]) -> bool:
    start, end = getattr(t, f"{prefix}_start_date"), getattr(t, f"{prefix}_end_date")
    if not start or not end:
        details.append((N_("{notice}: no dates recorded."), {"notice": label}))
        return False
    days = (end - start).days + 1
    ok = days >= min_days and not (sign and end >= sign)
    details.append((N_("{notice}: {start} to {end} ({days} days; at least {min} required)."),
                    {"notice": label, "start": start, "end": end, "days": days, "min": min_days}))
    if sign and end >= sign:
        details.append((N_("The notice did not end before signing ({signed})."), {"signed": sign}))
    return ok


def build(session: Session, principal: Principal, transfer_id: int) -> Dossier:
    """The dossier of a transfer visible to ``principal`` (the same 404 otherwise)."""
    t = service.access_transfer_by_id(session, principal, transfer_id)
    entries = list(session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "transfer", AuditEntry.object_id == str(t.id)).order_by(AuditEntry.id)))
    self_impl = t.mode == "self_implementation"
    conditions: list[Condition] = []

    # 1. Decision procedure (集体决策 per the institution's rules).
    if self_impl:
        conditions.append(Condition("decision", N_("Decision procedure followed"), NOT_REQUIRED,
                                    [(N_("Self-implementation: no transfer decision."), {})]))
    else:
        c = Condition("decision", N_("Decision procedure followed"), MET if t.decision_record else MISSING,
                      evidence=_evidence(entries, ("decision_record",)))
        c.details.append((N_("Decision record: {record}"), {"record": t.decision_record}) if t.decision_record
                         else (N_("No decision record."), {}))
        conditions.append(c)

    # 2. Notice published with dates (协议定价: in the unit and on a technology market, before signing).
    notice_fields = ("unit_notice_start_date", "unit_notice_end_date", "market_name", "market_notice_start_date",
                     "market_notice_end_date")
    if t.pricing_route == "negotiated":
        min_days = params.value("transfer.negotiated_notice_min_days", t.unit_notice_start_date or date.today())
        details: list[tuple[str, dict[str, Any]]] = []
        sign = t.signed_date
        ok_unit = _notice_status(t, "unit_notice", N_("Notice in the unit"), min_days, sign, details)
        ok_market = _notice_status(t, "market_notice", N_("Notice on a technology market"), min_days, sign, details)
        if t.market_name:
            details.append((N_("Technology market: {market}"), {"market": t.market_name}))
        else:
            details.append((N_("The technology market is not named."), {}))
        status = MET if ok_unit and ok_market and t.market_name else MISSING
        conditions.append(Condition("notice", N_("Notice published with dates"), status, details,
                                    _evidence(entries, notice_fields)))
    else:
        why = (N_("Self-implementation: no price is published.") if self_impl else
               N_("The price was set in public by listing or auction; no separate notice is required."))
        conditions.append(Condition("notice", N_("Notice published with dates"), NOT_REQUIRED, [(why, {})]))

    # 3. Pricing route with its record.
    if self_impl:
        conditions.append(Condition("pricing", N_("Pricing route"), NOT_REQUIRED,
                                    [(N_("Self-implementation has no pricing route."), {})]))
    else:
        route = t.pricing_route
        details = [(N_("Route: {route}"), {"route": service.PRICING_ROUTES.get(route or "", "—")}),
                   (N_("Price: {price}"), {"price": t.price_fen})]
        ok = bool(route)
        if route == "listing":
            ok = bool(t.listing_record)
            details.append((N_("Listing record: {record}"), {"record": t.listing_record or "—"}))
        elif route == "auction":
            ok = bool(t.auction_record)
            details.append((N_("Auction record: {record}"), {"record": t.auction_record or "—"}))
        elif route == "negotiated":
            ok = conditions[-1].status == MET
            details.append((N_("A negotiated price counts only with its notices."), {}))
        ev = [Evidence(e.id, e.at, e.actor_name, e.actor_role, e.action, e.hash,
                       {"pricing_route": (e.after or {}).get("pricing_route"),
                        "price_fen": (e.after or {}).get("price_fen")})
              for e in entries if e.action == "transfer.transfer.create"]
        ev += _evidence(entries, ("listing_record", "auction_record"))
        conditions.append(Condition("pricing", N_("Pricing route"), MET if ok else MISSING, details, ev))

    # 4. Valuation where required (always for 作价投资: contributions in kind are valued, Company Law).
    required = bool(t.valuation_required or t.mode == "equity")
    if required:
        c = Condition("valuation", N_("Valuation where required"), MET if t.valuation_report else MISSING,
                      evidence=_evidence(entries, ("valuation_required", "valuation_report", "valuation_fen")))
        c.details.append((N_("Valuation report: {report}"), {"report": t.valuation_report}) if t.valuation_report
                         else (N_("A valuation report is required and not recorded."), {}))
        if t.valuation_fen is not None:
            c.details.append((N_("Assessed value: {value}"), {"value": t.valuation_fen}))
        conditions.append(c)
    else:
        conditions.append(Condition("valuation", N_("Valuation where required"), NOT_REQUIRED,
                                    [(N_("The institution did not require a valuation."), {})]))

    # 5. and 6. Declarations.
    for key, label, fld, yes, no in (
            ("conflicts", N_("Conflicts of interest declared"), "conflicts_declared",
             N_("Declared: no undisclosed conflict of interest."), N_("No declaration recorded.")),
            ("no_gain", N_("No improper gain"), "no_improper_gain_declared",
             N_("Declared: no improper gain was sought or received."), N_("No declaration recorded."))):
        if self_impl:
            conditions.append(Condition(key, label, NOT_REQUIRED, [(N_("Not required for self-implementation."),
                                                                    {})]))
        else:
            value = bool(getattr(t, fld))
            conditions.append(Condition(key, label, MET if value else MISSING, [(yes if value else no, {})],
                                        _evidence(entries, (fld,))))

    empowerment = session.scalars(select(EmpowermentApplication).where(
        EmpowermentApplication.achievement_id == t.achievement_id,
        EmpowermentApplication.organisation_id == t.organisation_id,
        EmpowermentApplication.state == "approved").order_by(EmpowermentApplication.id.desc())).first()
    timeline = [Evidence(e.id, e.at, e.actor_name, e.actor_role, e.action, e.hash, e.after or {}) for e in entries]
    return Dossier(t, session.get(Achievement, t.achievement_id), session.get(Organisation, t.organisation_id),
                   session.get(Organisation, t.counterparty_organisation_id) if t.counterparty_organisation_id
                   else None, conditions, empowerment, timeline, datetime.now(service.SHANGHAI))
