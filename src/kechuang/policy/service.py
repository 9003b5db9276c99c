"""Entitlements (免申即享): a run per period turns the engine's results into entitlements; the flow
computed → 公示 notice (objections) → enterprise notified → confirms its bank account within N working days
or declines (lapses after the deadline) → officer approval (a second, different officer above a threshold)
→ payment batch file → bank return file (paid / failed).

Rules (issue 4 §3): reruns are idempotent (same policies and facts: nothing is written); a pending
entitlement whose basis changed is updated with the reason; a confirmed, approved or paid one is never
altered — a difference becomes an adjustment entry. Budgets are applied by the engine as declared.

Status changes are guarded ``UPDATE ... WHERE status = ...`` statements, so two officers (or an enterprise
and the lapse sweep) racing on one entitlement cannot both win; repeating a finished action is a no-op.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Select, and_, false, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kechuang.config import settings
from kechuang.core import audit, workdays
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import permission, require
from kechuang.db import utcnow
from kechuang.policy import catalog, dbfacts
from kechuang.policy.engine import evaluate
from kechuang.policy.facts import FACTS, split_column
from kechuang.policy.language import Policy
from kechuang.policy.models import (
    PENDING_STATUSES,
    SETTLED_STATUSES,
    Entitlement,
    EntitlementAdjustment,
    EntitlementApproval,
    EntitlementEvent,
    PaymentBatch,
    PolicyFactCorrection,
    PolicyInput,
    PolicyNotice,
    PolicyObjection,
    PolicyRun,
)
from kechuang.registry import service as registry_service
from kechuang.registry.models import Organisation

# Who may do what. Enterprise users read and act on their own organisation's entitlements; district
# officers decide, approve and pay within their district; only the commission runs (budgets are city-wide).
READ = permission("policy.entitlements", Role.COMMISSION, Role.DISTRICT, Role.ENTERPRISE, Role.AUDITOR)
QUEUES = permission("policy.queues", Role.COMMISSION, Role.DISTRICT, Role.AUDITOR)
RUN = permission("policy.run", Role.COMMISSION)
DECIDE = permission("policy.decide", Role.COMMISSION, Role.DISTRICT)
PAY = permission("policy.pay", Role.COMMISSION, Role.DISTRICT)
CONFIRM = permission("policy.confirm", Role.ENTERPRISE)
INPUTS = permission("policy.inputs", Role.COMMISSION)

TEXT_MAX = 2000
BATCH_HEADERS = ["line_ref", "credit_code", "payee", "bank_name", "account_no", "amount_fen", "amount_yuan",
                 "policy_id", "period", "memo"]
RETURN_RESULTS = {"paid": "paid", "success": "paid", "成功": "paid", "已支付": "paid",
                  "failed": "failed", "failure": "failed", "失败": "failed", "退回": "failed"}


# ---------------------------------------------------------------- helpers
def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start``: weekends and official holidays skipped, swapped
    weekend working days (调休) counted, per the State Council notices in :mod:`kechuang.core.workdays`."""
    return workdays.add_working_days(start, days)


def _today(today: date | None) -> date:
    return today or date.today()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def policy_hash(policy: Policy) -> str:
    """SHA-256 of a policy version's text (the published version's hash)."""
    return _sha(policy.source_text or json.dumps({"id": policy.id, "file": policy.file}))


def basis_hash(p_hash: str, amount_fen: int, clauses: dict[str, Any]) -> str:
    """What an entitlement rests on: policy version, amount and every clause's result."""
    return _sha(f"{p_hash}|{amount_fen}|{json.dumps(clauses, sort_keys=True)}")


def _event(session: Session, principal: Principal, ent_id: int, action: str, from_status: str | None,
           to_status: str, reason: str | None = None, data: dict | None = None) -> None:
    session.add(EntitlementEvent(entitlement_id=ent_id, actor_user_id=principal.user_id,
                                 actor_name=principal.username, action=action, from_status=from_status,
                                 to_status=to_status, reason=reason, data=data))


def _clean_text(field_name: str, value: str | None, required: bool = True, max_len: int = TEXT_MAX) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(errors=[FieldError(field_name, N_("Required."))])
    if len(text) > max_len:
        raise ValidationFailed(errors=[FieldError(field_name, N_("At most {max} characters."), {"max": max_len})])
    return text


def _check_period(period: int) -> int:
    if not isinstance(period, int) or not 2000 <= period <= 2100:
        raise ValidationFailed(errors=[FieldError("period", N_("A year between 2000 and 2100."), value=period)])
    return period


# ---------------------------------------------------------------- scoping
def readable_entitlements(principal: Principal) -> Select:
    """Entitlements ``principal`` may read: all (commission, auditor, system), own district, own organisation."""
    require(principal, READ)
    stmt = select(Entitlement)
    if principal.role in (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM):
        return stmt
    if principal.role is Role.DISTRICT and principal.district:
        return stmt.join(Organisation, Organisation.id == Entitlement.organisation_id).where(
            Organisation.district == principal.district)
    if principal.role is Role.ENTERPRISE and principal.organisation_id:
        return stmt.where(Entitlement.organisation_id == principal.organisation_id)
    return stmt.where(false())


def _scope_ids(principal: Principal) -> Select:
    return readable_entitlements(principal).with_only_columns(Entitlement.id)


def access_entitlement(session: Session, principal: Principal, ent_id: int) -> Entitlement:
    """One readable entitlement, or ``NotFound`` (also when it is another's)."""
    ent = session.scalar(readable_entitlements(principal).where(Entitlement.id == ent_id))
    if ent is None:
        raise NotFound()
    return ent


@dataclass
class EntitlementFilter:
    """Filters of entitlement lists."""

    period: int | None = None
    status: str | None = None
    policy_id: str | None = None
    organisation_id: int | None = None
    run_id: int | None = None  # last set by this run
    district: str | None = None  # the enterprise's district


def _filtered(session: Session, principal: Principal, flt: EntitlementFilter) -> Select:
    stmt = readable_entitlements(principal)
    if flt.district:
        if principal.role is Role.DISTRICT and flt.district != principal.district:
            raise PermissionDenied(N_("District officers see their own district only."))
        if principal.role is not Role.DISTRICT:  # a district officer's statement is their district's already
            stmt = stmt.where(Entitlement.organisation_id.in_(
                select(Organisation.id).where(Organisation.district == flt.district)))
    if flt.period is not None:
        stmt = stmt.where(Entitlement.period == flt.period)
    if flt.status:
        stmt = stmt.where(Entitlement.status == flt.status)
    if flt.policy_id:
        stmt = stmt.where(Entitlement.policy_id == flt.policy_id)
    if flt.organisation_id:
        stmt = stmt.where(Entitlement.organisation_id == flt.organisation_id)
    if flt.run_id is not None:
        stmt = stmt.where(Entitlement.run_id == flt.run_id)
    return stmt


def list_entitlements(session: Session, principal: Principal, flt: EntitlementFilter | None = None,
                      limit: int = 200, offset: int = 0) -> tuple[int, list[tuple[Entitlement, Organisation]]]:
    """Readable entitlements (with their organisation), newest period first; (total, page). A district
    officer filtering on another district is refused."""
    stmt = _filtered(session, principal, flt or EntitlementFilter())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = stmt.with_only_columns(Entitlement.id).order_by(
        Entitlement.period.desc(), Entitlement.amount_fen.desc(), Entitlement.id).limit(limit).offset(offset)
    rows = session.execute(select(Entitlement, Organisation).join(Organisation, Organisation.id ==
                                                                   Entitlement.organisation_id)
                           .where(Entitlement.id.in_(ids))
                           .order_by(Entitlement.period.desc(), Entitlement.amount_fen.desc(), Entitlement.id)).all()
    return total, [(e, o) for e, o in rows]


def events_of(session: Session, principal: Principal, ent_id: int) -> list[EntitlementEvent]:
    """The status history of a readable entitlement, oldest first."""
    access_entitlement(session, principal, ent_id)
    return list(session.scalars(select(EntitlementEvent).where(EntitlementEvent.entitlement_id == ent_id)
                                .order_by(EntitlementEvent.id)))


def approvals_of(session: Session, ent_id: int) -> list[EntitlementApproval]:
    """Approvals recorded for an entitlement (call after ``access_entitlement``)."""
    return list(session.scalars(select(EntitlementApproval).where(EntitlementApproval.entitlement_id == ent_id)
                                .order_by(EntitlementApproval.level)))


def adjustments_of(session: Session, principal: Principal, ent_id: int | None = None) -> list[EntitlementAdjustment]:
    """Adjustment entries of readable entitlements (of one, if given), newest first."""
    stmt = select(EntitlementAdjustment).where(EntitlementAdjustment.entitlement_id.in_(_scope_ids(principal)))
    if ent_id is not None:
        stmt = stmt.where(EntitlementAdjustment.entitlement_id == ent_id)
    return list(session.scalars(stmt.order_by(EntitlementAdjustment.id.desc())))


def required_approvals(amount_fen: int) -> int:
    """One approval, or two by different officers above ``policy_second_approval_fen``."""
    return 2 if amount_fen > settings.policy_second_approval_fen else 1


# ---------------------------------------------------------------- policies and facts
@dataclass
class RunPolicy:
    """A policy in a run with the hash (and version number, if from the database) it was run at."""

    policy: Policy
    hash: str
    version: int | None = None


def run_policies(session: Session, period: int, draft: Policy | None = None) -> list[RunPolicy]:
    """The payable (non-informational) policies in force in ``period`` that apply to its facts (with
    ``draft``: those a run would take if ``draft`` were published; the policy sandbox simulates that run)."""
    out = []
    for pol, ver in catalog.active_versions(session, date(period, 12, 31), draft=draft):
        if pol.informational or not pol.applies_to(period):
            continue
        out.append(RunPolicy(pol, ver.sha256 if ver is not None else policy_hash(pol),
                             ver.version if ver is not None else None))
    return out


def _typed(fact: str, text: str | None) -> Any:
    if text is None or text == "":
        return None
    typ = FACTS[fact].type
    if typ in ("int", "int_fen"):
        return int(text)
    if typ == "decimal":
        return float(text)
    if typ == "bool":
        if text.lower() in ("true", "1", "yes", "是"):
            return True
        if text.lower() in ("false", "0", "no", "否"):
            return False
        raise ValueError(text)
    if typ == "date":
        return date.fromisoformat(text)
    return text


def load_facts(session: Session, period: int, scope: list[int] | None = None, lags: int = 2) -> tuple[pl.DataFrame,
                                                                                                      str]:
    """The facts frame of ``period`` from the registry with programme inputs filled in, and its hash."""
    rf = dbfacts.load_registry_facts(session, period, scope=scope, lags=lags)
    frame = rf.frame
    stmt = select(PolicyInput.organisation_id, PolicyInput.fact, PolicyInput.value).where(PolicyInput.year == period)
    if scope is not None:
        stmt = stmt.where(PolicyInput.organisation_id.in_(scope))
    by_fact: dict[str, dict[int, Any]] = {}
    for org_id, fact, value in session.execute(stmt):
        if fact in frame.columns:
            by_fact.setdefault(fact, {})[org_id] = _typed(fact, value)
    for fact, values in by_fact.items():  # a join per fact: cost follows the inputs, not the enterprises
        given = pl.DataFrame({"organisation_id": list(values), "__v": list(values.values())},
                             schema={"organisation_id": pl.Int64, "__v": frame.schema[fact]}, strict=False)
        frame = (frame.join(given, on="organisation_id", how="left", maintain_order="left")
                 .with_columns(pl.coalesce(pl.col("__v"), pl.col(fact)).alias(fact)).drop("__v"))
    return frame, dbfacts.snapshot_hash(frame)


def _max_lag(policies: list[Policy]) -> int:
    lag = 0
    for p in policies:
        for c in p.columns():
            lag = max(lag, split_column(c)[1])
    return max(lag, 2)


# ---------------------------------------------------------------- runs
@dataclass
class RunOutcome:
    """What a run did (or, dry, would do)."""

    period: int
    executed: bool
    no_change: bool
    run_id: int | None
    enterprises: int = 0
    eligible: int = 0
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    reopened: int = 0
    adjusted: int = 0
    unchanged: int = 0
    total_fen: int = 0
    seconds: float = 0.0
    policies: list[dict[str, Any]] = field(default_factory=list)
    facts_hash: str = ""
    districts: dict[str, dict[str, int]] = field(default_factory=dict)


def _describe_change(old: Entitlement | Any, p_hash: str, amount: int, clauses: dict[str, Any]) -> str:
    parts = []
    if old.policy_hash != p_hash:
        parts.append("policy version changed")
    if old.amount_fen != amount:
        parts.append(f"amount {old.amount_fen} → {amount} fen")
    changed = sorted(k for k in set(old.clauses or {}) | set(clauses) if (old.clauses or {}).get(k) != clauses.get(k))
    if changed:
        parts.append("clause results changed: " + ", ".join(changed))
    return "; ".join(parts) or "facts changed"


def run_period(session: Session, principal: Principal, period: int, execute: bool = False,
               policies: list[RunPolicy] | None = None, backend: str = "polars") -> RunOutcome:
    """Evaluate the period's policies over every enterprise and bring entitlements up to date (dry run
    unless ``execute``). Same policies and facts as the period's last run: nothing is written."""
    require(principal, RUN)
    _check_period(period)
    t0 = time.perf_counter()
    if execute and session.get_bind().dialect.name == "postgresql":
        # One run per period at a time: a second one waits, then finds nothing to do (same inputs hash).
        session.execute(text("SELECT pg_advisory_xact_lock(724412, :p)"), {"p": period})
    pols = run_policies(session, period) if policies is None else [p for p in policies
                                                                   if not p.policy.informational]
    frame, facts_hash = load_facts(session, period, lags=_max_lag([p.policy for p in pols]))
    described = [{"id": p.policy.id, "hash": p.hash, "version": p.version} for p in sorted(pols, key=lambda p:
                                                                                             p.policy.id)]
    inputs_hash = _sha(json.dumps({"policies": described, "facts": facts_hash}, sort_keys=True))
    last = session.scalar(select(PolicyRun).where(PolicyRun.period == period, PolicyRun.objection_id.is_(None))
                          .order_by(PolicyRun.id.desc()).limit(1))
    out = RunOutcome(period, execute, False, None, enterprises=frame.height, policies=described,
                     facts_hash=facts_hash)
    if last is not None and last.inputs_hash == inputs_hash:
        out.no_change, out.run_id = True, last.id
        out.eligible, out.total_fen, out.unchanged = last.eligible, last.total_fen, last.eligible
        out.seconds = time.perf_counter() - t0
        return out

    by_id = {p.policy.id: p for p in pols}
    results: dict[tuple[int, str], tuple[int, dict[str, Any], bool]] = {}
    failed_of: dict[tuple[int, str], str] = {}
    if pols and frame.height:
        res = evaluate(frame, [p.policy for p in pols], period, backend=backend, explain=True)
        long = res.long.with_columns(pl.col("policy_id").cast(pl.String),
                                     pl.col("failed_clauses").cast(pl.String),
                                     pl.col("unknown_clauses").cast(pl.String))
        org_of = dict(zip(frame["credit_code"].to_list(), frame["organisation_id"].to_list(), strict=True))
        clause_ids = {cp.id: list(cp.clauses) for cp in res.compiled}
        ok = long.filter(pl.col("eligible").fill_null(False) & (pl.col("amount_fen").fill_null(0) > 0))
        for row in ok.iter_rows(named=True):
            pid = row["policy_id"]
            clauses = {cid: row[f"clause.{cid}"] for cid in clause_ids[pid]}
            cut = "budget_cut" in (row["failed_clauses"] or "")
            results[(org_of[row["credit_code"]], pid)] = (int(row["amount_fen"]), clauses, cut)
        not_ok = long.filter(~(pl.col("eligible").fill_null(False) & (pl.col("amount_fen").fill_null(0) > 0)))
        for code, pid, failed, unknown in not_ok.select("credit_code", "policy_id", "failed_clauses",
                                                         "unknown_clauses").iter_rows():
            why = "; ".join(x for x in (f"not met: {failed}" if failed else "",
                                        f"unknown: {unknown}" if unknown else "") if x)
            failed_of[(org_of[code], pid)] = why or "amount is zero"
    out.eligible = len(results)
    out.total_fen = sum(a for a, _, _ in results.values())

    existing = {(e.organisation_id, e.policy_id): e for e in session.scalars(
        select(Entitlement).where(Entitlement.period == period))}
    tally = _DistrictTally(session, frame, {org for org, _ in existing})
    for (org_id, _), (amount, _, _) in results.items():
        tally.add(org_id, "eligible")
        tally.add(org_id, "total_fen", amount)
    run = None
    if execute:
        run = PolicyRun(period=period, policies=described, inputs_hash=inputs_hash, facts_hash=facts_hash,
                        enterprises=frame.height, eligible=out.eligible, total_fen=out.total_fen,
                        started_by=principal.username)
        session.add(run)
        session.flush()
        out.run_id = run.id
    now = utcnow()
    new_rows = []
    for key, (amount, clauses, cut) in results.items():
        org_id, pid = key
        rp = by_id[pid]
        bh = basis_hash(rp.hash, amount, clauses)
        old = existing.get(key)
        if old is None:
            out.created += 1
            tally.add(org_id, "created")
            if execute:
                new_rows.append(dict(
                    organisation_id=org_id, policy_id=pid, policy_title_zh=rp.policy.title.get("zh", pid),
                    policy_title_en=rp.policy.title.get("en", pid), policy_hash=rp.hash, period=period,
                    amount_fen=amount, budget_cut=cut, clauses=clauses, basis_hash=bh, run_id=run.id,
                    status="computed", created_at=now, updated_at=now))
            continue
        if old.basis_hash == bh:
            out.unchanged += 1
            tally.add(org_id, "unchanged")
            continue
        reason = _describe_change(old, rp.hash, amount, clauses)
        if old.status in PENDING_STATUSES or old.status == "withdrawn":
            if old.status == "withdrawn":
                out.reopened += 1
            else:
                out.updated += 1
            tally.add(org_id, "updated")
            if execute:
                before = audit.snapshot(old, ["amount_fen", "basis_hash", "status"])
                new_status = "computed" if old.status == "withdrawn" else old.status
                old.amount_fen, old.clauses, old.basis_hash, old.policy_hash = amount, clauses, bh, rp.hash
                old.budget_cut, old.run_id, old.updated_at = cut, run.id, now
                old.status, old.status_reason = new_status, reason
                _event(session, principal, old.id, "reopened" if before["status"] == "withdrawn" else "rebased",
                       before["status"], new_status, reason, {"before": before, "amount_fen": amount,
                                                              "run_id": run.id})
        elif old.status in SETTLED_STATUSES:
            if old.amount_fen == amount or _has_adjustment(session, old.id, bh):
                out.unchanged += 1
                tally.add(org_id, "unchanged")
                continue
            out.adjusted += 1
            tally.add(org_id, "adjusted")
            if execute:
                _adjust(session, old, run.id, amount, bh, reason)
        else:  # declined, lapsed, rejected: closed, a rerun leaves them alone
            out.unchanged += 1
            tally.add(org_id, "unchanged")
    for key, old in existing.items():
        if key in results:
            continue
        org_id, pid = key
        reason = failed_of.get(key) or "policy not in force for this period"
        if old.status in PENDING_STATUSES:
            out.withdrawn += 1
            tally.add(org_id, "withdrawn")
            if execute:
                before_status = old.status
                old.status, old.status_reason, old.run_id, old.updated_at = "withdrawn", reason, run.id, now
                _event(session, principal, old.id, "withdrawn", before_status, "withdrawn", reason, {"run_id": run.id})
        elif old.status in SETTLED_STATUSES and old.amount_fen != 0:
            bh = basis_hash(by_id[pid].hash if pid in by_id else "", 0, {})
            if not _has_adjustment(session, old.id, bh):
                out.adjusted += 1
                tally.add(org_id, "adjusted")
                if execute:
                    _adjust(session, old, run.id, 0, bh, "no longer eligible: " + reason)
    if execute:
        session.flush()
        # New entitlements and their first event as bulk inserts (a city-wide run creates many).
        try:
            for i in range(0, len(new_rows), 5000):
                session.execute(insert(Entitlement), new_rows[i:i + 5000])
        except IntegrityError:  # SQLite has no run lock: a concurrent run of the period committed first
            raise Conflict(N_("Another run of period {period} finished first; run again."), period=period) from None
        if new_rows:
            created = session.execute(select(Entitlement.id, Entitlement.amount_fen).where(
                Entitlement.run_id == run.id, Entitlement.status == "computed",
                Entitlement.created_at == now)).all()
            events = [dict(entitlement_id=i, at=now, actor_user_id=principal.user_id, actor_name=principal.username,
                           action="computed", from_status=None, to_status="computed", reason=None,
                           data={"run_id": run.id, "amount_fen": a}) for i, a in created]
            for i in range(0, len(events), 5000):
                session.execute(insert(EntitlementEvent), events[i:i + 5000])
        out.seconds = time.perf_counter() - t0
        run.created, run.updated, run.withdrawn = out.created, out.updated + out.reopened, out.withdrawn
        run.adjusted, run.unchanged, run.duration_ms = out.adjusted, out.unchanged, int(out.seconds * 1000)
        run.districts = tally.figures
        audit.record(session, principal, "policy.run", "policy_run", run.id, after=audit.snapshot(run, [
            "period", "policies", "facts_hash", "enterprises", "eligible", "created", "updated", "withdrawn",
            "adjusted", "unchanged", "total_fen"]))
    out.districts = tally.figures
    out.seconds = time.perf_counter() - t0
    return out


RUN_FIGURES = ("enterprises", "eligible", "total_fen", "created", "updated", "withdrawn", "adjusted", "unchanged")


class _DistrictTally:
    """A run's figures per district of the enterprises ("" = none), so district officers read their own."""

    def __init__(self, session: Session, frame: pl.DataFrame, org_ids: set[int]) -> None:
        self.of: dict[int, str] = {}
        self.figures: dict[str, dict[str, int]] = {}
        if frame.height:
            self.of = dict(zip(frame["organisation_id"].to_list(), frame["district"].fill_null("").to_list(),
                               strict=True))
            for d, n in frame.group_by(pl.col("district").fill_null("")).len().iter_rows():
                self._row(d)["enterprises"] = int(n)
        missing = [i for i in org_ids if i not in self.of]  # entitlements of organisations out of the frame
        for i in range(0, len(missing), 5000):
            self.of.update({org: d or "" for org, d in session.execute(
                select(Organisation.id, Organisation.district).where(Organisation.id.in_(missing[i:i + 5000])))})

    def _row(self, district: str) -> dict[str, int]:
        return self.figures.setdefault(district, dict.fromkeys(RUN_FIGURES, 0))

    def add(self, org_id: int, name: str, n: int = 1) -> None:
        """Count ``n`` more of ``name`` in the organisation's district."""
        self._row(self.of.get(org_id, ""))[name] += n


def _has_adjustment(session: Session, ent_id: int, bh: str) -> bool:
    return session.scalar(select(EntitlementAdjustment.id).where(EntitlementAdjustment.entitlement_id == ent_id,
                                                                 EntitlementAdjustment.basis_hash == bh)) is not None


def _adjust(session: Session, ent: Entitlement, run_id: int, amount: int, bh: str, reason: str) -> None:
    session.add(EntitlementAdjustment(entitlement_id=ent.id, run_id=run_id, old_amount_fen=ent.amount_fen,
                                      new_amount_fen=amount, delta_fen=amount - ent.amount_fen, basis_hash=bh,
                                      reason=reason))


@dataclass
class RunSummary:
    """A recorded run as one principal may read it: who ran what, and the figures of the principal's scope
    (``scope`` None: the whole city; a district name: that district's enterprises only)."""

    id: int
    period: int
    policies: list[dict[str, Any]]
    facts_hash: str
    started_by: str
    started_at: Any
    duration_ms: int
    scope: str | None
    recorded: bool  # False: a run before per-district figures were kept (district scope only)
    enterprises: int = 0
    eligible: int = 0
    total_fen: int = 0
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    adjusted: int = 0
    unchanged: int = 0


def _run_scope(principal: Principal) -> str | None:
    """The district whose figures ``principal`` reads (None: the city); refuses a district officer
    without a district."""
    if principal.role is Role.DISTRICT:
        if not principal.district:
            raise PermissionDenied(N_("Your account has no district."))
        return principal.district
    return None


def _summary(run: PolicyRun, scope: str | None) -> RunSummary:
    head = dict(id=run.id, period=run.period, policies=run.policies, facts_hash=run.facts_hash,
                started_by=run.started_by, started_at=run.started_at, duration_ms=run.duration_ms, scope=scope)
    if scope is None:
        return RunSummary(**head, recorded=True, **{k: getattr(run, k) for k in RUN_FIGURES})
    if run.districts is None:
        return RunSummary(**head, recorded=False)
    return RunSummary(**head, recorded=True, **run.districts.get(scope, {}))


def list_runs(session: Session, principal: Principal, period: int | None = None, limit: int = 100
              ) -> list[RunSummary]:
    """Executed runs, newest first, with the figures of the caller's scope: the city for the commission and
    auditors, their own district for district officers (runs themselves are commission-only)."""
    require(principal, QUEUES)
    scope = _run_scope(principal)
    stmt = select(PolicyRun).where(PolicyRun.objection_id.is_(None))  # not one enterprise's re-evaluations
    if period is not None:
        stmt = stmt.where(PolicyRun.period == period)
    return [_summary(r, scope) for r in session.scalars(stmt.order_by(PolicyRun.id.desc()).limit(limit))]


def access_run(session: Session, principal: Principal, run_id: int) -> RunSummary:
    """One run with the figures of the caller's scope, or ``NotFound``."""
    require(principal, QUEUES)
    scope = _run_scope(principal)
    run = session.get(PolicyRun, run_id)
    if run is None:
        raise NotFound()
    return _summary(run, scope)


EXPORT_HEADERS = ["entitlement_id", "credit_code", "enterprise", "district", "policy_id", "policy_title", "period",
                  "amount_fen", "amount_yuan", "budget_cut", "status", "status_reason", "run_id", "notice_id",
                  "deadline_date", "updated_at"]
EXPORT_MAX = 500_000


def export_entitlements(session: Session, principal: Principal, flt: EntitlementFilter | None = None
                        ) -> tuple[list[str], list[list[Any]]]:
    """Every readable entitlement matching ``flt`` as export rows (no bank account details), in the order
    of :func:`list_entitlements`; refused above ``EXPORT_MAX`` rows (narrow the filter)."""
    stmt = _filtered(session, principal, flt or EntitlementFilter())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if total > EXPORT_MAX:
        raise ValidationFailed(N_("More than {max} entitlements: choose a period, policy or status."), max=EXPORT_MAX)
    ids = stmt.with_only_columns(Entitlement.id)
    rows = session.execute(
        select(Entitlement.id, Organisation.credit_code, Organisation.name_zh, Organisation.district,
               Entitlement.policy_id, Entitlement.policy_title_zh, Entitlement.period, Entitlement.amount_fen,
               Entitlement.budget_cut, Entitlement.status, Entitlement.status_reason, Entitlement.run_id,
               Entitlement.notice_id, Entitlement.deadline_date, Entitlement.updated_at)
        .join(Organisation, Organisation.id == Entitlement.organisation_id).where(Entitlement.id.in_(ids))
        .order_by(Entitlement.period.desc(), Entitlement.amount_fen.desc(), Entitlement.id))
    out = []
    for (i, code, name, district, pid, title, period, fen, cut, status, reason, run_id, notice_id, deadline,
         updated) in rows:
        out.append([i, code, name, district, pid, title, period, fen, _yuan_text(fen), "yes" if cut else "", status,
                    reason, run_id, notice_id, deadline, updated])
    return EXPORT_HEADERS, out


def policy_stats(session: Session, principal: Principal, period: int | None = None) -> dict[str, dict[str, int]]:
    """Per policy: readable entitlements (excluding withdrawn, rejected) and their total amount."""
    stmt = (select(Entitlement.policy_id, func.count(), func.coalesce(func.sum(Entitlement.amount_fen), 0))
            .where(Entitlement.id.in_(_scope_ids(principal)),
                   Entitlement.status.not_in(("withdrawn", "rejected")))
            .group_by(Entitlement.policy_id))
    if period is not None:
        stmt = stmt.where(Entitlement.period == period)
    return {pid: {"count": int(n), "total_fen": int(t)} for pid, n, t in session.execute(stmt)}


def status_counts(session: Session, principal: Principal, period: int | None = None) -> dict[str, int]:
    """Readable entitlements per status."""
    stmt = (select(Entitlement.status, func.count()).where(Entitlement.id.in_(_scope_ids(principal)))
            .group_by(Entitlement.status))
    if period is not None:
        stmt = stmt.where(Entitlement.period == period)
    return {s: int(n) for s, n in session.execute(stmt)}


# ---------------------------------------------------------------- 公示 notice
def _scoped_update(principal: Principal, *where) -> Any:
    """``UPDATE entitlement`` limited to what ``principal`` may act on."""
    stmt = update(Entitlement).where(*where)
    if principal.role is Role.DISTRICT:
        stmt = stmt.where(Entitlement.id.in_(_scope_ids(principal)))
    return stmt


def publish_notice(session: Session, principal: Principal, period: int, today: date | None = None,
                   working_days: int | None = None) -> PolicyNotice:
    """Put every computed entitlement of ``period`` (in the officer's scope) under a 公示 notice."""
    require(principal, DECIDE)
    _check_period(period)
    today = _today(today)
    ids = list(session.scalars(_scope_ids(principal).where(Entitlement.period == period,
                                                           Entitlement.status == "computed")))
    if not ids:
        raise Conflict(N_("No computed entitlements to publish for {period}."), period=period)
    days = settings.policy_notice_working_days if working_days is None else working_days
    notice = PolicyNotice(period=period, starts_date=today, ends_date=add_working_days(today, days),
                          published_by=principal.username)
    session.add(notice)
    session.flush()
    moved = session.execute(update(Entitlement).where(Entitlement.id.in_(ids), Entitlement.status == "computed")
                            .values(status="notice", notice_id=notice.id, updated_at=utcnow())
                            .execution_options(synchronize_session=False)).rowcount
    moved_ids = list(session.scalars(select(Entitlement.id).where(Entitlement.notice_id == notice.id)))
    notice.entitlements = moved
    notice.total_fen = int(session.scalar(select(func.coalesce(func.sum(Entitlement.amount_fen), 0))
                                          .where(Entitlement.notice_id == notice.id)) or 0)
    for i in moved_ids:
        _event(session, principal, i, "notice", "computed", "notice", None, {"notice_id": notice.id})
    audit.record(session, principal, "policy.notice.publish", "policy_notice", notice.id,
                 after=audit.snapshot(notice, ["period", "starts_date", "ends_date", "entitlements", "total_fen"]))
    session.expire_all()
    return notice


def readable_notices(session: Session) -> Select:
    """Notices (公示 is public by nature: names, policies and amounts)."""
    return select(PolicyNotice)


def access_notice(session: Session, notice_id: int) -> PolicyNotice:
    """A notice by id, or ``NotFound``."""
    notice = session.get(PolicyNotice, notice_id)
    if notice is None:
        raise NotFound()
    return notice


def list_notices(session: Session, limit: int = 50) -> list[PolicyNotice]:
    """Notices, newest first."""
    return list(session.scalars(readable_notices(session).order_by(PolicyNotice.id.desc()).limit(limit)))


def notice_lines(session: Session, notice_id: int) -> list[tuple[Entitlement, Organisation]]:
    """The entitlements published by a notice with their enterprise (the public content of a 公示)."""
    access_notice(session, notice_id)
    rows = session.execute(select(Entitlement, Organisation).join(Organisation, Organisation.id ==
                                                                  Entitlement.organisation_id)
                           .where(Entitlement.notice_id == notice_id)
                           .order_by(Entitlement.policy_id, Organisation.name_zh)).all()
    return [(e, o) for e, o in rows]


def _open_objection_ids(session: Session) -> Select:
    return select(PolicyObjection.entitlement_id).where(PolicyObjection.status == "open",
                                                        PolicyObjection.entitlement_id.is_not(None))


def _notify(session: Session, principal: Principal, ids: list[int], today: date) -> int:
    deadline = add_working_days(today, settings.policy_confirm_working_days)
    now = utcnow()
    done = 0
    for i in ids:
        n = session.execute(update(Entitlement).where(Entitlement.id == i, Entitlement.status == "notice")
                            .values(status="notified", notified_at=now, deadline_date=deadline, updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount
        if n:
            done += 1
            _event(session, principal, i, "notified", "notice", "notified", None,
                   {"deadline_date": deadline.isoformat()})
    return done


def close_notice(session: Session, principal: Principal, notice_id: int, today: date | None = None) -> int:
    """After the notice period: notify every entitlement of the notice without an open objection (those
    with one wait for the decision). Returns how many were notified; repeating it notifies nobody twice."""
    require(principal, DECIDE)
    notice = access_notice(session, notice_id)
    today = _today(today)
    if today <= notice.ends_date:
        raise Conflict(N_("The notice runs until {date}; objections are open until then."),
                       date=notice.ends_date.isoformat())
    ids = list(session.scalars(_scope_ids(principal).where(
        Entitlement.notice_id == notice_id, Entitlement.status == "notice",
        Entitlement.id.not_in(_open_objection_ids(session)))))
    done = _notify(session, principal, ids, today)
    if notice.closed_at is None and principal.role is not Role.DISTRICT:
        notice.closed_at = utcnow()
    audit.record(session, principal, "policy.notice.close", "policy_notice", notice.id,
                 after={"notified": done, "closed_at": notice.closed_at})
    session.expire_all()
    return done


# ---------------------------------------------------------------- objections
def object_during_notice(session: Session, principal: Principal, ent_id: int, text: str,
                         today: date | None = None) -> PolicyObjection:
    """Object to an entitlement listed in a running 公示 (any enterprise user)."""
    require(principal, CONFIRM)
    text = _clean_text("text", text)
    ent = session.get(Entitlement, ent_id)
    notice = session.get(PolicyNotice, ent.notice_id) if ent is not None and ent.notice_id else None
    if ent is None or notice is None:
        raise NotFound()
    if ent.status != "notice" or _today(today) > notice.ends_date:
        raise Conflict(N_("Objections are accepted only while the notice runs."))
    obj = PolicyObjection(kind="notice", organisation_id=ent.organisation_id, policy_id=ent.policy_id,
                          period=ent.period, entitlement_id=ent.id, objector_org_id=principal.organisation_id,
                          text=text, submitted_by=principal.username)
    session.add(obj)
    session.flush()
    audit.record(session, principal, "policy.objection.create", "policy_objection", obj.id,
                 after=audit.snapshot(obj, ["kind", "entitlement_id", "policy_id", "period", "text"]))
    return obj


def object_ineligible(session: Session, principal: Principal, policy_id: str, period: int,
                      text: str) -> PolicyObjection:
    """An enterprise judged ineligible objects (its own organisation only)."""
    require(principal, CONFIRM)
    _check_period(period)
    text = _clean_text("text", text)
    if principal.organisation_id is None:
        raise PermissionDenied()
    known = {p.id for p, _ in catalog.active_versions(session, date(period, 12, 31))}
    if policy_id not in known:
        raise ValidationFailed(errors=[FieldError("policy_id", N_("Unknown policy."), value=policy_id)])
    ent = session.scalar(select(Entitlement).where(Entitlement.organisation_id == principal.organisation_id,
                                                   Entitlement.policy_id == policy_id, Entitlement.period == period))
    if ent is not None and ent.status not in ("withdrawn", "rejected"):
        raise Conflict(N_("You already have an entitlement under this policy for {period}."), period=period)
    if session.scalar(select(PolicyObjection.id).where(
            PolicyObjection.organisation_id == principal.organisation_id, PolicyObjection.policy_id == policy_id,
            PolicyObjection.period == period, PolicyObjection.kind == "ineligible",
            PolicyObjection.status == "open")) is not None:
        raise Conflict(N_("An objection of yours on this policy is already open."))
    obj = PolicyObjection(kind="ineligible", organisation_id=principal.organisation_id, policy_id=policy_id,
                          period=period, entitlement_id=ent.id if ent else None,
                          objector_org_id=principal.organisation_id, text=text, submitted_by=principal.username)
    session.add(obj)
    session.flush()
    audit.record(session, principal, "policy.objection.create", "policy_objection", obj.id,
                 after=audit.snapshot(obj, ["kind", "organisation_id", "policy_id", "period", "text"]))
    return obj


def readable_objections(principal: Principal) -> Select:
    """Objections: officers in scope; an enterprise its own (about it or submitted by it)."""
    require(principal, READ)
    stmt = select(PolicyObjection)
    if principal.role in (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM):
        return stmt
    if principal.role is Role.DISTRICT and principal.district:
        return stmt.join(Organisation, Organisation.id == PolicyObjection.organisation_id).where(
            Organisation.district == principal.district)
    if principal.role is Role.ENTERPRISE and principal.organisation_id:
        return stmt.where((PolicyObjection.objector_org_id == principal.organisation_id)
                          | and_(PolicyObjection.organisation_id == principal.organisation_id,
                                 PolicyObjection.kind == "ineligible"))
    return stmt.where(false())


def list_objections(session: Session, principal: Principal, status: str | None = None
                    ) -> list[tuple[PolicyObjection, Organisation]]:
    """Readable objections with the enterprise they concern, newest first."""
    stmt = readable_objections(principal)
    if status:
        stmt = stmt.where(PolicyObjection.status == status)
    ids = stmt.with_only_columns(PolicyObjection.id)
    rows = session.execute(select(PolicyObjection, Organisation).join(
        Organisation, Organisation.id == PolicyObjection.organisation_id).where(PolicyObjection.id.in_(ids))
        .order_by(PolicyObjection.id.desc()).limit(500)).all()
    return [(o, org) for o, org in rows]


@dataclass
class FactCorrection:
    """A corrected value of one registry fact (a column of ``organisation_fact``) for one year, with the
    department the value comes from and the date it is valid at."""

    year: int
    field: str
    value: Any
    source_department: str
    as_of_date: date | None


def _fact_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _check_corrections(session: Session, principal: Principal, obj: PolicyObjection,
                       corrections: list[FactCorrection]) -> dict[int, list[FactCorrection]]:
    """Every correction validated by the registry's rules before anything is written, grouped by year."""
    by_year: dict[int, list[FactCorrection]] = {}
    errors: list[FieldError] = []
    for c in corrections:
        if not isinstance(c.year, int) or not 2000 <= c.year <= obj.period:
            errors.append(FieldError("year", N_("A year between 2000 and {max}."), {"max": obj.period},
                                     value=c.year))
            continue
        by_year.setdefault(c.year, []).append(c)
    if errors:
        raise ValidationFailed(errors=errors)
    for year, items in by_year.items():
        if len({c.field for c in items}) != len(items):
            errors.append(FieldError("field", N_("Each fact once per year."), value=year))
            continue
        if len({(c.source_department, c.as_of_date) for c in items}) != 1:
            errors.append(FieldError("source_department", N_("One source and as-of date per year."), value=year))
            continue
        try:
            registry_service.check_fact_correction(session, principal, obj.organisation_id, year,
                                                   {c.field: c.value for c in items}, items[0].source_department,
                                                   items[0].as_of_date)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return by_year


def _apply_corrections(session: Session, principal: Principal, obj: PolicyObjection,
                       by_year: dict[int, list[FactCorrection]], note: str) -> list[dict[str, Any]]:
    """Write the corrections through the registry service and link each to the objection."""
    from kechuang.registry.models import OrganisationFact

    out = []
    for year, items in sorted(by_year.items()):
        fact = session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == obj.organisation_id,
                                                             OrganisationFact.year == year))
        before = {c.field: _fact_text(getattr(fact, c.field)) if fact else None for c in items}
        fact = registry_service.correct_facts(session, principal, obj.organisation_id, year,
                                              {c.field: c.value for c in items}, items[0].source_department,
                                              items[0].as_of_date, f"objection {obj.id}: {note}")
        for c in items:
            row = PolicyFactCorrection(objection_id=obj.id, organisation_id=obj.organisation_id, year=year,
                                       field=c.field, before_value=before[c.field],
                                       after_value=_fact_text(getattr(fact, c.field)),
                                       source_department=fact.source_department, as_of_date=fact.as_of_date,
                                       corrected_by=principal.username)
            session.add(row)
            out.append({"year": year, "field": c.field, "before": row.before_value, "after": row.after_value})
    session.flush()
    return out


def corrections_of(session: Session, principal: Principal, objection_id: int) -> list[PolicyFactCorrection]:
    """The facts corrected when a readable objection was upheld, in the order entered."""
    access_objection(session, principal, objection_id)
    return list(session.scalars(select(PolicyFactCorrection).where(PolicyFactCorrection.objection_id ==
                                                                   objection_id).order_by(PolicyFactCorrection.id)))


def access_objection(session: Session, principal: Principal, objection_id: int) -> PolicyObjection:
    """One readable objection, or ``NotFound`` (also when it is another enterprise's or another district's)."""
    obj = session.scalar(readable_objections(principal).where(PolicyObjection.id == objection_id))
    if obj is None:
        raise NotFound()
    return obj


def reevaluate_enterprise(session: Session, principal: Principal, organisation_id: int, period: int,
                          objection_id: int) -> dict[str, Any]:
    """Evaluate the period's payable policies for one enterprise from its current facts (the facts frame of
    :func:`enterprise_view`, the engine of :func:`run_period`) and bring its entitlements up to date by the
    run's rules. Policies with a budget are left to the next city-wide run: a budget is shared by every
    enterprise, so one enterprise alone cannot be given its share. A second call with the same facts changes
    nothing (no run row either). Returns the outcome per policy."""
    require(principal, DECIDE)
    pols = run_policies(session, period)
    frame, facts_hash = load_facts(session, period, scope=[organisation_id], lags=_max_lag([p.policy for p in pols]))
    described = [{"id": p.policy.id, "hash": p.hash, "version": p.version} for p in sorted(pols, key=lambda p:
                                                                                             p.policy.id)]
    recorded: list[PolicyRun] = []

    def run_id() -> int:  # the run row is written only when an entitlement changes (a rerun writes nothing)
        if not recorded:
            recorded.append(PolicyRun(period=period, policies=described, facts_hash=facts_hash,
                                      objection_id=objection_id, enterprises=frame.height,
                                      inputs_hash=_sha(json.dumps({"policies": described, "facts": facts_hash,
                                                                   "objection_id": objection_id}, sort_keys=True)),
                                      started_by=principal.username))
            session.add(recorded[0])
            session.flush()
        return recorded[0].id

    results: dict[str, tuple[int, dict[str, Any], bool]] = {}
    why: dict[str, str] = {}
    if pols and frame.height:
        res = evaluate(frame, [p.policy for p in pols], period, explain=True)
        clause_ids = {cp.id: list(cp.clauses) for cp in res.compiled}
        for row in res.long.with_columns(pl.col("policy_id").cast(pl.String), pl.col("failed_clauses").cast(
                pl.String), pl.col("unknown_clauses").cast(pl.String)).iter_rows(named=True):
            pid = row["policy_id"]
            if row["eligible"] and (row["amount_fen"] or 0) > 0:
                results[pid] = (int(row["amount_fen"]), {c: row[f"clause.{c}"] for c in clause_ids[pid]},
                                "budget_cut" in (row["failed_clauses"] or ""))
            else:
                failed, unknown = row["failed_clauses"], row["unknown_clauses"]
                why[pid] = "; ".join(x for x in (f"not met: {failed}" if failed else "",
                                                 f"unknown: {unknown}" if unknown else "") if x) or "amount is zero"
    existing = {e.policy_id: e for e in session.scalars(select(Entitlement).where(
        Entitlement.organisation_id == organisation_id, Entitlement.period == period))}
    now = utcnow()
    outcome = []
    counts = dict.fromkeys(("created", "updated", "withdrawn", "adjusted", "unchanged"), 0)
    for rp in sorted(pols, key=lambda p: p.policy.id):
        pid = rp.policy.id
        old = existing.get(pid)
        amount, clauses, cut = results.get(pid, (0, {}, False))
        line: dict[str, Any] = {"policy_id": pid, "eligible": pid in results, "amount_fen": amount,
                                "reason": why.get(pid), "entitlement_id": old.id if old else None}
        if rp.policy.budget is not None:
            line["action"] = "next_run"
            outcome.append(line)
            continue
        action = "none"
        if pid in results:
            bh = basis_hash(rp.hash, amount, clauses)
            if old is None:
                old = Entitlement(organisation_id=organisation_id, policy_id=pid,
                                  policy_title_zh=rp.policy.title.get("zh", pid),
                                  policy_title_en=rp.policy.title.get("en", pid), policy_hash=rp.hash,
                                  period=period, amount_fen=amount, budget_cut=cut, clauses=clauses, basis_hash=bh,
                                  run_id=run_id(), status="computed", status_reason=f"objection {objection_id}",
                                  created_at=now, updated_at=now)
                session.add(old)
                session.flush()
                _event(session, principal, old.id, "computed", None, "computed", f"objection {objection_id}",
                       {"run_id": run_id(), "amount_fen": amount, "objection_id": objection_id})
                action = "created"
            elif old.basis_hash == bh:
                action = "unchanged"
            elif old.status in PENDING_STATUSES or old.status == "withdrawn":
                reason = _describe_change(old, rp.hash, amount, clauses)
                before = audit.snapshot(old, ["amount_fen", "basis_hash", "status"])
                new_status = "computed" if old.status == "withdrawn" else old.status
                old.amount_fen, old.clauses, old.basis_hash, old.policy_hash = amount, clauses, bh, rp.hash
                old.budget_cut, old.run_id, old.updated_at = cut, run_id(), now
                old.status, old.status_reason = new_status, reason
                _event(session, principal, old.id, "reopened" if before["status"] == "withdrawn" else "rebased",
                       before["status"], new_status, reason, {"before": before, "amount_fen": amount,
                                                              "run_id": run_id(), "objection_id": objection_id})
                action = "updated"
            elif old.status in SETTLED_STATUSES and old.amount_fen != amount and not _has_adjustment(
                    session, old.id, bh):
                _adjust(session, old, run_id(), amount, bh, _describe_change(old, rp.hash, amount, clauses))
                action = "adjusted"
            else:
                action = "unchanged"
        elif old is not None:
            if old.status in PENDING_STATUSES:
                before_status = old.status
                old.status, old.status_reason, old.run_id, old.updated_at = "withdrawn", why.get(pid), run_id(), now
                _event(session, principal, old.id, "withdrawn", before_status, "withdrawn",
                       why.get(pid), {"run_id": run_id(), "objection_id": objection_id})
                action = "withdrawn"
            elif old.status in SETTLED_STATUSES and old.amount_fen != 0:
                bh = basis_hash(rp.hash, 0, {})
                if not _has_adjustment(session, old.id, bh):
                    _adjust(session, old, run_id(), 0, bh, "no longer eligible: " + (why.get(pid) or ""))
                    action = "adjusted"
        if action in counts:
            counts[action] += 1
        line["action"], line["entitlement_id"] = action, old.id if old is not None else None
        outcome.append(line)
    if not recorded:
        return {"run_id": None, "period": period, "policies": outcome}
    run = recorded[0]
    run.eligible = sum(1 for x in outcome if x["eligible"] and x["action"] != "next_run")
    run.total_fen = sum(x["amount_fen"] for x in outcome if x["eligible"] and x["action"] != "next_run")
    run.created, run.updated, run.withdrawn = counts["created"], counts["updated"], counts["withdrawn"]
    run.adjusted, run.unchanged = counts["adjusted"], counts["unchanged"]
    session.flush()
    audit.record(session, principal, "policy.reevaluate", "policy_run", run.id,
                 after={"organisation_id": organisation_id, "period": period, "objection_id": objection_id,
                        **counts, "total_fen": run.total_fen})
    return {"run_id": run.id, "period": period, "policies": outcome}


def _checked_decision(session: Session, principal: Principal, objection_id: int, decision: str, note: str,
                      corrections: list[FactCorrection]) -> tuple[PolicyObjection, str, dict[int, list[FactCorrection]]]:
    require(principal, DECIDE)
    errors = []
    if decision not in ("upheld", "dismissed"):
        errors.append(FieldError("decision", N_("Choose upheld or dismissed."), value=decision))
    try:
        note = _clean_text("note", note)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    obj = session.scalar(readable_objections(principal).where(PolicyObjection.id == objection_id))
    if obj is None:
        raise NotFound()
    if obj.status == decision and not errors:
        return obj, note, {}
    if corrections and decision == "dismissed":
        errors.append(FieldError("decision", N_("Facts are corrected only when upholding."), value=decision))
    if corrections and obj.status != "open":
        raise Conflict(N_("This objection has already been decided."))
    by_year = {}
    if corrections:
        try:
            by_year = _check_corrections(session, principal, obj, corrections)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return obj, note, by_year


def check_decision(session: Session, principal: Principal, objection_id: int, decision: str, note: str,
                   corrections: list[FactCorrection] | None = None) -> None:
    """Every problem :func:`decide_objection` would refuse with, found without writing anything."""
    _checked_decision(session, principal, objection_id, decision, note, corrections or [])


def decide_objection(session: Session, principal: Principal, objection_id: int, decision: str, note: str,
                     today: date | None = None, corrections: list[FactCorrection] | None = None
                     ) -> PolicyObjection:
    """An officer upholds or dismisses an objection, with the reason. Upholding a 公示 objection rejects the
    entitlement; dismissing it after the notice ended notifies the enterprise. Upholding with
    ``corrections`` corrects the named registry facts of the objection's enterprise (registry rules and
    audit), links them to the objection and re-evaluates that enterprise's period (``outcome``); an invalid
    value refuses the whole decision. Deciding again the same way changes nothing."""
    obj, note, by_year = _checked_decision(session, principal, objection_id, decision, note, corrections or [])
    if obj.status == decision:
        return obj
    n = session.execute(update(PolicyObjection).where(PolicyObjection.id == obj.id, PolicyObjection.status == "open")
                        .values(status=decision, decided_by=principal.username, decided_at=utcnow(),
                                decision_note=note).execution_options(synchronize_session=False)).rowcount
    if not n:
        raise Conflict(N_("This objection has already been decided."))
    session.refresh(obj)
    if obj.kind == "notice" and obj.entitlement_id is not None:
        ent = session.get(Entitlement, obj.entitlement_id)
        if decision == "upheld":
            moved = session.execute(update(Entitlement).where(Entitlement.id == ent.id, Entitlement.status.in_(
                ("notice", "notified"))).values(status="rejected", status_reason=note, updated_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount
            if moved:
                _event(session, principal, ent.id, "rejected", ent.status, "rejected", note,
                       {"objection_id": obj.id})
        else:
            notice = session.get(PolicyNotice, ent.notice_id) if ent.notice_id else None
            others_open = session.scalar(select(func.count()).where(
                PolicyObjection.entitlement_id == ent.id, PolicyObjection.status == "open"))
            if notice is not None and notice.closed_at is not None and not others_open:
                _notify(session, principal, [ent.id], _today(today))
    corrected = []
    if by_year:
        corrected = _apply_corrections(session, principal, obj, by_year, note)
        obj.outcome = {**reevaluate_enterprise(session, principal, obj.organisation_id, obj.period, obj.id),
                       "corrections": corrected}
        session.flush()
    audit.record(session, principal, "policy.objection.decide", "policy_objection", obj.id,
                 before={"status": "open"}, after={**audit.snapshot(obj, ["status", "decision_note", "decided_by"]),
                                                   "corrections": corrected})
    session.expire_all()
    return session.get(PolicyObjection, objection_id)


# ---------------------------------------------------------------- enterprise: confirm / decline
_ACCOUNT_RE = re.compile(r"^[0-9]{8,32}$")


def confirm(session: Session, principal: Principal, ent_id: int, bank_name: str, account_name: str,
            account_no: str, today: date | None = None) -> Entitlement:
    """The enterprise confirms its bank account before the deadline (or again after a failed payment).
    Repeating a confirmation with the same account changes nothing."""
    require(principal, CONFIRM)
    ent = access_entitlement(session, principal, ent_id)
    account_no = re.sub(r"[\s-]", "", account_no or "")
    errors = []
    bank_name = (bank_name or "").strip()
    account_name = (account_name or "").strip()
    if not bank_name:
        errors.append(FieldError("bank_name", N_("Required.")))
    elif len(bank_name) > 100:
        errors.append(FieldError("bank_name", N_("At most {max} characters."), {"max": 100}))
    if not account_name:
        errors.append(FieldError("account_name", N_("Required.")))
    elif len(account_name) > 200:
        errors.append(FieldError("account_name", N_("At most {max} characters."), {"max": 200}))
    if not _ACCOUNT_RE.match(account_no):
        errors.append(FieldError("account_no", N_("8 to 32 digits."), value=account_no or None))
    if errors:
        raise ValidationFailed(errors=errors)
    today = _today(today)
    if ent.status == "confirmed" and (ent.bank_name, ent.account_name, ent.account_no) == (bank_name, account_name,
                                                                                          account_no):
        return ent
    before = ent.status
    if ent.status == "notified" and ent.deadline_date is not None and today > ent.deadline_date:
        raise Conflict(N_("The deadline for confirming was {date}."), date=ent.deadline_date.isoformat())
    now = utcnow()
    n = session.execute(update(Entitlement).where(
        Entitlement.id == ent.id, Entitlement.status.in_(("notified", "failed")),
        (Entitlement.status == "failed") | (Entitlement.deadline_date >= today))
        .values(status="confirmed", bank_name=bank_name, account_name=account_name, account_no=account_no,
                confirmed_at=now, confirmed_by=principal.username, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not n:
        raise Conflict(N_("This entitlement cannot be confirmed in its current state."))
    if before == "failed":  # a new account needs new approvals
        session.query(EntitlementApproval).filter(EntitlementApproval.entitlement_id == ent.id).delete()
    _event(session, principal, ent.id, "confirmed", before, "confirmed", None,
           {"bank_name": bank_name, "account_no": "****" + account_no[-4:]})
    audit.record(session, principal, "policy.entitlement.confirm", "entitlement", ent.id, before={"status": before},
                 after={"status": "confirmed", "bank_name": bank_name, "account_no": "****" + account_no[-4:]})
    session.refresh(ent)
    return ent


def decline(session: Session, principal: Principal, ent_id: int, reason: str = "") -> Entitlement:
    """The enterprise declines the entitlement (while notified)."""
    require(principal, CONFIRM)
    ent = access_entitlement(session, principal, ent_id)
    reason = _clean_text("reason", reason, required=False)
    if ent.status == "declined":
        return ent
    n = session.execute(update(Entitlement).where(Entitlement.id == ent.id, Entitlement.status == "notified")
                        .values(status="declined", status_reason=reason or None, updated_at=utcnow())
                        .execution_options(synchronize_session=False)).rowcount
    if not n:
        raise Conflict(N_("This entitlement cannot be declined in its current state."))
    _event(session, principal, ent.id, "declined", "notified", "declined", reason or None)
    audit.record(session, principal, "policy.entitlement.decline", "entitlement", ent.id,
                 before={"status": "notified"}, after={"status": "declined", "reason": reason})
    session.refresh(ent)
    return ent


def lapse(session: Session, principal: Principal, today: date | None = None, execute: bool = True) -> list[int]:
    """Lapse every notified entitlement whose confirmation deadline has passed (the sweep). Returns the ids."""
    require(principal, RUN)
    today = _today(today)
    ids = list(session.scalars(select(Entitlement.id).where(Entitlement.status == "notified",
                                                            Entitlement.deadline_date < today)
                               .order_by(Entitlement.id)))
    if not execute or not ids:
        return ids
    done = []
    for i in ids:
        n = session.execute(update(Entitlement).where(Entitlement.id == i, Entitlement.status == "notified",
                                                      Entitlement.deadline_date < today)
                            .values(status="lapsed", status_reason="not confirmed by the deadline",
                                    updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        if n:
            done.append(i)
            _event(session, principal, i, "lapsed", "notified", "lapsed", "not confirmed by the deadline")
    audit.record(session, principal, "policy.entitlement.lapse", "entitlement", None,
                 after={"ids": done[:1000], "count": len(done), "today": today})
    session.expire_all()
    return done


# ---------------------------------------------------------------- approval
def approve(session: Session, principal: Principal, ent_id: int) -> Entitlement:
    """An officer approves a confirmed entitlement. Above the threshold a second, different officer must
    approve too. Approving again what one already approved changes nothing."""
    require(principal, DECIDE)
    ent = access_entitlement(session, principal, ent_id)
    if principal.user_id is None:
        raise PermissionDenied()
    approvals = approvals_of(session, ent.id)
    needed = required_approvals(ent.amount_fen)
    if any(a.officer_user_id == principal.user_id for a in approvals):
        if ent.status == "approved" or len(approvals) >= needed:
            return ent
        raise Conflict(N_("A second, different officer must approve amounts above {threshold} fen."),
                       threshold=settings.policy_second_approval_fen)
    if ent.status != "confirmed":
        if ent.status == "approved":
            return ent
        raise Conflict(N_("Only confirmed entitlements can be approved."))
    level = len(approvals) + 1
    try:
        with session.begin_nested():
            session.add(EntitlementApproval(entitlement_id=ent.id, level=level, officer_user_id=principal.user_id,
                                            officer_name=principal.username))
    except IntegrityError:
        raise Conflict(N_("Another officer approved this entitlement at the same moment; reload.")) from None
    if level >= needed:
        now = utcnow()
        n = session.execute(update(Entitlement).where(Entitlement.id == ent.id, Entitlement.status == "confirmed")
                            .values(status="approved", approved_at=now, updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount
        if not n:
            raise Conflict(N_("Only confirmed entitlements can be approved."))
        _event(session, principal, ent.id, "approved", "confirmed", "approved", None, {"level": level})
    else:
        _event(session, principal, ent.id, "approval", "confirmed", "confirmed", None,
               {"level": level, "needed": needed})
    audit.record(session, principal, "policy.entitlement.approve", "entitlement", ent.id,
                 after={"level": level, "needed": needed, "amount_fen": ent.amount_fen})
    session.refresh(ent)
    return ent


# ---------------------------------------------------------------- payment
def _batch_scope(principal: Principal) -> Select:
    return _scope_ids(principal)


def create_batch(session: Session, principal: Principal, ids: list[int] | None = None) -> PaymentBatch:
    """Put approved entitlements (all in scope, or ``ids``) into a new payment batch and write its file."""
    require(principal, PAY)
    stmt = _batch_scope(principal).where(Entitlement.status == "approved")
    if ids:
        stmt = stmt.where(Entitlement.id.in_(ids))
    candidates = list(session.scalars(stmt.order_by(Entitlement.id)))
    if not candidates:
        raise Conflict(N_("There are no approved entitlements to pay."))
    seq = (session.scalar(select(func.count()).select_from(PaymentBatch)) or 0) + 1
    reference = f"PB-{date.today():%Y%m%d}-{seq:04d}"
    while session.scalar(select(PaymentBatch.id).where(PaymentBatch.reference == reference)) is not None:
        seq += 1
        reference = f"PB-{date.today():%Y%m%d}-{seq:04d}"
    batch = PaymentBatch(reference=reference, district=principal.district if principal.role is Role.DISTRICT else None,
                         file_csv="", file_sha256="", created_by=principal.username)
    session.add(batch)
    session.flush()
    session.execute(update(Entitlement).where(Entitlement.id.in_(candidates), Entitlement.status == "approved")
                    .values(status="in_batch", batch_id=batch.id, updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    rows = session.execute(select(Entitlement, Organisation).join(Organisation, Organisation.id ==
                                                                  Entitlement.organisation_id)
                           .where(Entitlement.batch_id == batch.id, Entitlement.status == "in_batch")
                           .order_by(Entitlement.id)).all()
    lines = []
    for e, o in rows:
        lines.append([str(e.id), o.credit_code, e.account_name, e.bank_name, e.account_no, str(e.amount_fen),
                      _yuan_text(e.amount_fen), e.policy_id, str(e.period), f"{batch.reference}/{e.id}"])
        _event(session, principal, e.id, "in_batch", "approved", "in_batch", None, {"batch": batch.reference})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(BATCH_HEADERS)
    w.writerows(lines)
    batch.file_csv = buf.getvalue()
    batch.file_sha256 = _sha(batch.file_csv)
    batch.lines = len(lines)
    batch.total_fen = sum(e.amount_fen for e, _ in rows)
    audit.record(session, principal, "policy.payment.batch", "payment_batch", batch.id,
                 after=audit.snapshot(batch, ["reference", "lines", "total_fen", "file_sha256"]))
    session.expire_all()
    return session.get(PaymentBatch, batch.id)


def _yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def readable_batches(principal: Principal) -> Select:
    """Payment batches: all for the commission and auditors; a district officer's own district's."""
    require(principal, QUEUES)
    stmt = select(PaymentBatch)
    if principal.role is Role.DISTRICT:
        return stmt.where(PaymentBatch.district == principal.district)
    return stmt


def access_batch(session: Session, principal: Principal, batch_id: int) -> PaymentBatch:
    """A readable batch, or ``NotFound``."""
    b = session.scalar(readable_batches(principal).where(PaymentBatch.id == batch_id))
    if b is None:
        raise NotFound()
    return b


def list_batches(session: Session, principal: Principal) -> list[PaymentBatch]:
    """Payment batches, newest first."""
    return list(session.scalars(readable_batches(principal).order_by(PaymentBatch.id.desc()).limit(200)))


def batch_rows(batch: PaymentBatch) -> list[list[str]]:
    """The exported file's rows (without the header)."""
    return list(csv.reader(io.StringIO(batch.file_csv)))[1:]


@dataclass
class ReturnOutcome:
    """What a bank return file did."""

    paid: int = 0
    failed: int = 0
    unchanged: int = 0


def _parse_return(content: bytes) -> list[dict[str, str]]:
    if content[:2] == b"PK":
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(content), read_only=True).active
        values = [[("" if c is None else str(c)).strip() for c in row] for row in ws.iter_rows(values_only=True)]
        header, body = (values[0], values[1:]) if values else ([], [])
    else:
        text = content.decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(io.StringIO(text)))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
    header = [h.strip().lower() for h in header]
    missing = [c for c in ("line_ref", "result") if c not in header]
    if missing:
        raise ValidationFailed(N_("The return file lacks required columns."),
                               errors=[FieldError(c, N_("Missing column.")) for c in missing])
    return [dict(zip(header, [v.strip() for v in r], strict=False)) for r in body if any(v.strip() for v in r)]


def import_return(session: Session, principal: Principal, batch_id: int, content: bytes) -> ReturnOutcome:
    """Apply the bank's return file (CSV or XLSX: ``line_ref``, ``result`` paid/failed, optional ``bank_ref``,
    ``reason``) to a batch. Any bad line refuses the whole file; importing it again changes nothing."""
    require(principal, PAY)
    batch = access_batch(session, principal, batch_id)
    rows = _parse_return(content)
    lines = {int(r[0]): r for r in batch_rows(batch)}
    errors = []
    parsed = []
    for n, r in enumerate(rows, start=2):
        ref, result = r.get("line_ref", ""), RETURN_RESULTS.get(r.get("result", "").lower())
        if not ref.isdigit() or int(ref) not in lines:
            errors.append(FieldError("line_ref", N_("Not a line of this batch."), row=n, value=ref or None))
            continue
        if result is None:
            errors.append(FieldError("result", N_("Use paid or failed."), row=n, value=r.get("result") or None))
            continue
        parsed.append((int(ref), result, r.get("bank_ref") or None, r.get("reason") or None))
    if errors:
        raise ValidationFailed(N_("The return file was refused; nothing was changed."), errors=errors)
    out = ReturnOutcome()
    now = utcnow()
    for ent_id, result, bank_ref, reason in parsed:
        values: dict[str, Any] = {"status": result, "bank_ref": bank_ref, "updated_at": now}
        if result == "paid":
            values["paid_at"] = now
        else:
            values["status_reason"] = reason or "returned by the bank"
        n = session.execute(update(Entitlement).where(Entitlement.id == ent_id, Entitlement.batch_id == batch.id,
                                                      Entitlement.status == "in_batch")
                            .values(**values).execution_options(synchronize_session=False)).rowcount
        if not n:
            out.unchanged += 1
            continue
        setattr(out, result, getattr(out, result) + 1)
        _event(session, principal, ent_id, result, "in_batch", result, reason if result == "failed" else None,
               {"batch": batch.reference, "bank_ref": bank_ref})
    left = session.scalar(select(func.count()).where(Entitlement.batch_id == batch.id,
                                                     Entitlement.status == "in_batch")) or 0
    batch.paid = session.scalar(select(func.count()).where(Entitlement.batch_id == batch.id,
                                                           Entitlement.status == "paid")) or 0
    batch.failed = session.scalar(select(func.count()).where(Entitlement.batch_id == batch.id,
                                                             Entitlement.status == "failed")) or 0
    if not left and batch.status != "returned":
        batch.status, batch.returned_at = "returned", now
    batch.return_sha256 = hashlib.sha256(content).hexdigest()
    audit.record(session, principal, "policy.payment.return", "payment_batch", batch.id,
                 after={"paid": out.paid, "failed": out.failed, "unchanged": out.unchanged,
                        "return_sha256": batch.return_sha256})
    session.expire_all()
    return out


# ---------------------------------------------------------------- programme inputs
def submit_inputs(session: Session, principal: Principal, year: int, rows: list[dict[str, Any]], source: str,
                  synthetic: bool = False) -> int:
    """Record programme facts (``credit_code``, ``fact``, ``value``) for ``year``; a later value replaces an
    earlier one. Any bad row refuses all. Returns the number of rows written or changed."""
    require(principal, INPUTS)
    _check_period(year)
    source = _clean_text("source", source, max_len=100)
    codes = {str(r.get("credit_code", "")).strip() for r in rows}
    orgs = dict(session.execute(select(Organisation.credit_code, Organisation.id)
                                .where(Organisation.credit_code.in_(codes))).all()) if codes else {}
    errors, clean = [], []
    for n, r in enumerate(rows, start=1):
        code, fact = str(r.get("credit_code", "")).strip(), str(r.get("fact", "")).strip()
        value = r.get("value")
        value = None if value is None else str(value).strip()
        if code not in orgs:
            errors.append(FieldError("credit_code", N_("Unknown organisation."), row=n, value=code or None))
            continue
        if fact not in FACTS or FACTS[fact].derived or FACTS[fact].source in ("organisation", "organisation_fact",
                                                                              "qualification"):
            errors.append(FieldError("fact", N_("Not a programme fact."), row=n, value=fact or None))
            continue
        try:
            _typed(fact, value)
        except ValueError:
            errors.append(FieldError("value", N_("Not a valid {type} value."), {"type": FACTS[fact].type}, row=n,
                                     value=value))
            continue
        clean.append((orgs[code], fact, value))
    if errors:
        raise ValidationFailed(errors=errors)
    changed = 0
    for org_id, fact, value in clean:
        row = session.scalar(select(PolicyInput).where(PolicyInput.organisation_id == org_id,
                                                       PolicyInput.year == year, PolicyInput.fact == fact))
        if row is None:
            session.add(PolicyInput(organisation_id=org_id, year=year, fact=fact, value=value, source=source,
                                    is_synthetic=synthetic, submitted_by=principal.username))
            changed += 1
        elif row.value != value:
            row.value, row.source, row.submitted_by, row.submitted_at = value, source, principal.username, utcnow()
            changed += 1
    if changed:
        audit.record(session, principal, "policy.inputs.submit", "policy_input", None,
                     after={"year": year, "source": source, "rows": len(clean), "changed": changed})
    return changed


# ---------------------------------------------------------------- explanations for one enterprise
def enterprise_view(session: Session, principal: Principal, organisation_id: int, period: int,
                    how_close: bool = True) -> dict[str, Any]:
    """For one enterprise and period: every policy that applies (payable and informational) explained
    clause by clause from the current facts, with how-close for unmet clauses."""
    from kechuang.policy.engine.explanation import explain

    require(principal, READ)
    if principal.role is Role.ENTERPRISE and principal.organisation_id != organisation_id:
        raise NotFound()
    if principal.role is Role.DISTRICT:
        org = session.get(Organisation, organisation_id)
        if org is None or org.district != principal.district:
            raise NotFound()
    pols = [p for p, _ in catalog.active_versions(session, date(period, 12, 31)) if p.applies_to(period)]
    frame, _ = load_facts(session, period, scope=[organisation_id], lags=_max_lag(pols))
    if frame.height == 0:
        raise NotFound()
    row = frame.row(0, named=True)
    out = []
    for p in pols:
        try:
            out.append(explain(p, row, period, how_close=how_close))
        except (ValueError, KeyError):
            continue
    return {"row": row, "explanations": out}


# ---------------------------------------------------------------- catalogue
@dataclass
class CatalogueEntry:
    """A policy in the catalogue with its version hash, whether it is in force, and its own figures."""

    policy: Policy
    hash: str
    version: int | None
    in_force: bool
    unconfirmed_params: list[str]
    count: int = 0
    total_fen: int = 0


def catalogue(session: Session, principal: Principal, today: date | None = None) -> list[CatalogueEntry]:
    """Every published policy (the shipped library before any is published), in id order, with the number
    and total of readable entitlements under it (withdrawn and rejected left out)."""
    from kechuang.policy import versions

    require(principal, READ)
    today = _today(today)
    published = versions.published_versions(session)
    pairs = ([(versions.parse_version(v), v) for v in published] if published
             else [(p, None) for p in catalog.library_policies()])
    stats = policy_stats(session, principal)
    out = []
    for pol, ver in sorted(pairs, key=lambda pv: pv[0].id):
        st = stats.get(pol.id, {"count": 0, "total_fen": 0})
        out.append(CatalogueEntry(pol, ver.sha256 if ver is not None else policy_hash(pol),
                                  ver.version if ver is not None else None, catalog.in_force(pol, today),
                                  sorted(n for n, p in pol.params.items() if p.status != "confirmed"),
                                  st["count"], st["total_fen"]))
    return out


def catalogue_entry(session: Session, principal: Principal, policy_id: str) -> CatalogueEntry:
    """One policy of the catalogue, or ``NotFound``."""
    for e in catalogue(session, principal):
        if e.policy.id == policy_id:
            return e
    raise NotFound()


def policy_periods(session: Session, principal: Principal, policy_id: str) -> list[dict[str, int]]:
    """Per period: readable entitlements of a policy by status group, and totals."""
    stmt = (select(Entitlement.period, Entitlement.status, func.count(),
                   func.coalesce(func.sum(Entitlement.amount_fen), 0))
            .where(Entitlement.id.in_(_scope_ids(principal)), Entitlement.policy_id == policy_id)
            .group_by(Entitlement.period, Entitlement.status))
    by: dict[int, dict[str, int]] = {}
    for period, status, n, total in session.execute(stmt):
        row = by.setdefault(period, {"period": period, "eligible": 0, "total_fen": 0, "paid": 0, "paid_fen": 0,
                                     "pending": 0, "closed": 0})
        if status in ("withdrawn", "rejected"):
            row["closed"] += int(n)
            continue
        row["eligible"] += int(n)
        row["total_fen"] += int(total)
        if status == "paid":
            row["paid"] += int(n)
            row["paid_fen"] += int(total)
        elif status in PENDING_STATUSES:
            row["pending"] += int(n)
        elif status in ("declined", "lapsed"):
            row["closed"] += int(n)
    return [by[p] for p in sorted(by, reverse=True)]
