"""Policy sandbox (政策模拟): what the run of a period would produce if a draft policy (or the policy in
force with changed parameters) were published, next to what it produces with the policies in force.

Both sides are computed the way :func:`kechuang.policy.service.run_period` computes a run: the same facts
frame (registry facts with the programme inputs filled in), every payable policy in force for the period
evaluated in one pass with ``excludes`` and budgets applied over the whole city, and an entitlement wherever
a policy is eligible with an amount above zero. The draft takes the place of the version of its id in force
(or joins the run when the id is new); a draft not in force for the period, or whose facts year is another,
is left out, as a run would leave it out. So a draft that excludes another policy in force shows who loses
that policy (``excluded_by``), and a budget shared by fewer or more enterprises shows everyone's new share.
Informational policies never enter a run: an informational draft is evaluated on its own as an estimate.

Read-only: nothing is written. A district officer sees the enterprises of their district only; budgets are
still applied over the whole city, as in the run.
"""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal, Role
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import permission, require
from kechuang.policy import catalog, versions
from kechuang.policy import service as policy_service
from kechuang.policy.engine import evaluate
from kechuang.policy.language import Policy, PolicyError, load_text
from kechuang.policy.version_models import PolicyVersion
from kechuang.registry.models import OrganisationFact

SANDBOX = permission("policy.sandbox", Role.COMMISSION, Role.DISTRICT)
GROUPINGS = ("district", "industry_section", "size_class")
KINDS = ("gain", "loss", "up", "down", "unknown")
TOP_CHANGES = 50


@dataclass
class Group:
    """One bar of a distribution: entitlements under the simulated policy in force and simulated, and the
    change of the whole run's amount in the category (other policies included)."""

    key: str
    base_eligible: int
    base_fen: int
    draft_eligible: int
    draft_fen: int
    run_delta_fen: int = 0


@dataclass
class PolicyEffect:
    """One policy of the run (or the informational draft): entitlements and amounts in force and simulated,
    and how many lose it to another policy (``excludes``) or have it cut by its budget."""

    policy_id: str
    payable: bool
    base_eligible: int
    base_fen: int
    draft_eligible: int
    draft_fen: int
    base_excluded: int
    draft_excluded: int
    base_cut: int
    draft_cut: int


@dataclass
class Change:
    """One enterprise × policy whose outcome differs between the policies in force and the simulation."""

    credit_code: str
    name_zh: str
    district: str | None
    policy_id: str
    base_eligible: bool | None
    base_fen: int
    draft_eligible: bool | None
    draft_fen: int
    delta_fen: int
    kind: str  # gain | loss | up | down | unknown
    base_excluded_by: str | None = None
    draft_excluded_by: str | None = None
    base_budget_cut: bool = False
    draft_budget_cut: bool = False


@dataclass
class SandboxResult:
    """Figures of one simulation. ``eligible``/``total_fen`` (and ``base_*``) are the simulated policy's
    entitlements; ``run_*`` count every payable policy of the run; ``counts``, ``gained_fen``,
    ``lost_fen`` and ``changes`` cover every policy (an exclusion changes the other policy's lines)."""

    policy: Policy
    baseline: Policy | None
    baseline_version: PolicyVersion | None
    year: int
    enterprises: int
    snapshot_hash: str
    eligible: int
    unknown: int
    total_fen: int
    base_eligible: int
    base_unknown: int
    base_total_fen: int
    counts: dict[str, int]  # gain, loss, up, down, unknown
    gained_fen: int
    lost_fen: int
    groups: dict[str, list[Group]]
    changes: list[Change]
    changes_frame: pl.DataFrame
    overrides: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    district: str | None = None
    in_run: bool = True
    informational: bool = False
    base_policies: list[str] = field(default_factory=list)
    run_policies: list[str] = field(default_factory=list)
    run_base_eligible: int = 0
    run_base_fen: int = 0
    run_eligible: int = 0
    run_fen: int = 0
    winners: int = 0
    losers: int = 0
    by_policy: list[PolicyEffect] = field(default_factory=list)
    lines: pl.DataFrame | None = None  # every enterprise × policy in scope, both sides (b_*, d_*)


def latest_facts_year(session: Session) -> int:
    """The latest year with facts in the registry (last year if there are none)."""
    return session.scalar(select(func.max(OrganisationFact.year))) or date.today().year - 1


def parse_overrides(policy: Policy, raw: dict[str, str]) -> dict[str, Any]:
    """Checked parameter values from text (numbers only; whole numbers for counts and money)."""
    out: dict[str, Any] = {}
    errors = []
    for name, text in raw.items():
        text = (text or "").strip().replace(",", "")
        if not text:
            continue
        p = policy.params.get(name)
        if p is None or p.kind != "number":
            errors.append(FieldError(f"param.{name}", N_("Not a numeric parameter of this policy.")))
            continue
        try:
            val = Decimal(text)
        except InvalidOperation:
            errors.append(FieldError(f"param.{name}", N_("Enter a number."), value=text))
            continue
        if p.type in ("int", "int_fen"):
            if val != val.to_integral_value():
                errors.append(FieldError(f"param.{name}", N_("Enter a whole number (money in fen)."), value=text))
                continue
            out[name] = int(val)
        else:
            out[name] = val
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def with_params(policy: Policy, overrides: dict[str, Any]) -> Policy:
    """A copy of ``policy`` whose named parameters hold one value on every date."""
    if not overrides:
        return policy
    params = dict(policy.params)
    for name, val in overrides.items():
        p = params[name]
        params[name] = dataclasses.replace(p, values=[(p.values[0][0], val)])
    return dataclasses.replace(policy, params=params)


_LINE_SCHEMA = {"credit_code": pl.String, "policy_id": pl.String, "eligible": pl.Boolean, "fen": pl.Int64,
                "note": pl.String, "payable": pl.Boolean}


def _lines(frame: pl.DataFrame, payable: list[Policy], estimates: list[Policy], year: int) -> pl.DataFrame:
    """One scenario as lines (credit_code, policy_id, eligible, fen, note, payable): the payable policies in
    one pass with excludes and budgets, as a run evaluates them; informational ones each on their own.
    ``fen`` is the entitlement's amount (0 where a run creates none); ``note`` the engine's failed clauses
    (``excluded_by:<id>``, ``budget_cut``)."""
    parts = []
    groups = [(payable, True)] + [([p], False) for p in estimates]
    for pols, is_payable in groups:
        if not pols or not frame.height:
            continue
        long = evaluate(frame, pols, year).long
        if not long.height:
            continue
        amount = pl.col("amount_fen").fill_null(0)
        parts.append(long.select(
            pl.col("credit_code").cast(pl.String), pl.col("policy_id").cast(pl.String), pl.col("eligible"),
            pl.when(pl.col("eligible").fill_null(False) & (amount > 0)).then(amount).otherwise(0)
            .cast(pl.Int64).alias("fen"),
            pl.col("failed_clauses").cast(pl.String).fill_null("").alias("note"),
            pl.lit(is_payable).alias("payable")))
    if not parts:
        return pl.DataFrame(schema=_LINE_SCHEMA)
    return pl.concat(parts, how="vertical_relaxed")


def _load_draft(session: Session, principal: Principal, yaml_text: str | None, version_id: int | None,
                policy_key: str | None) -> Policy:
    if yaml_text is not None:
        try:
            return load_text(yaml_text.replace("\r\n", "\n"), "draft")
        except PolicyError as exc:
            raise ValidationFailed(errors=[FieldError("yaml_text", N_("{place}: {reason}"),
                                                      {"place": f"{p.file}:{p.line}:{p.col}", "reason": p.reason})
                                           for p in exc.problems]) from None
    if version_id is not None:
        return versions.parse_version(versions.access_version_by_id(session, principal, version_id))
    if policy_key is not None:
        current = versions.published_version_of(session, policy_key)
        if current is None:
            raise ValidationFailed(errors=[FieldError("policy_key", N_("No version of this policy is in force."))])
        return versions.parse_version(current)
    raise ValidationFailed(errors=[FieldError("yaml_text", N_("Give a draft or choose a policy."))])


def _informational(session: Session, policy: Policy | None, period: int) -> list[Policy]:
    """``policy`` as an estimate of its own when it is informational and would apply to the period."""
    if policy is None or not policy.informational or not policy.applies_to(period):
        return []
    return [policy] if catalog.in_force(policy, date(period, 12, 31)) else []


def simulate(session: Session, principal: Principal, *, yaml_text: str | None = None, version_id: int | None = None,
             policy_key: str | None = None, overrides: dict[str, str] | None = None, year: int | None = None
             ) -> SandboxResult:
    """Simulate a draft (``yaml_text``, or a stored ``version_id``) or the published version of ``policy_key``
    with changed ``overrides`` (parameter name → value text): the run of period ``year`` as if it were
    published, against the run with the policies in force."""
    require(principal, SANDBOX)
    t0 = time.perf_counter()
    policy = _load_draft(session, principal, yaml_text, version_id, policy_key)
    parsed = parse_overrides(policy, overrides or {})
    policy = with_params(policy, parsed)
    if year is None:
        year = policy.facts_year if policy.facts_year is not None else latest_facts_year(session)
    period = policy_service._check_period(year)

    base_version = versions.published_version_of(session, policy.id)
    base_set = [rp.policy for rp in policy_service.run_policies(session, period)]
    draft_set = [rp.policy for rp in policy_service.run_policies(session, period, draft=policy)]
    baseline = next((p for p in base_set if p.id == policy.id), None)
    if baseline is None and base_version is not None:
        baseline = versions.parse_version(base_version)
    base_est = _informational(session, baseline, period)
    draft_est = _informational(session, policy, period)
    frame, facts_hash = policy_service.load_facts(
        session, period, lags=policy_service._max_lag([*base_set, *draft_set, *base_est, *draft_est]))

    base = _lines(frame, base_set, base_est, period)
    draft = _lines(frame, draft_set, draft_est, period)
    lines = (base.rename({c: f"b_{c}" for c in ("eligible", "fen", "note", "payable")})
             .join(draft.rename({c: f"d_{c}" for c in ("eligible", "fen", "note", "payable")}),
                   on=["credit_code", "policy_id"], how="full", coalesce=True))
    district = principal.district if principal.role is Role.DISTRICT else None
    people = frame.select("credit_code", "name_zh", *GROUPINGS)
    if district is not None:
        people = people.filter(pl.col("district") == district)
    lines = lines.join(people, on="credit_code", how="inner")

    b_in, d_in = pl.col("b_payable").is_not_null(), pl.col("d_payable").is_not_null()
    bf, df = pl.col("b_fen").fill_null(0), pl.col("d_fen").fill_null(0)
    lines = lines.with_columns(
        bf.alias("b_fen"), df.alias("d_fen"), (df - bf).alias("delta_fen"),
        pl.col("b_payable").fill_null(False), pl.col("d_payable").fill_null(False),
        pl.col("b_note").fill_null(""), pl.col("d_note").fill_null(""),
        (b_in & pl.col("b_eligible").is_null()).alias("b_unknown"),
        (d_in & pl.col("d_eligible").is_null()).alias("d_unknown"))
    b_rec, d_rec = pl.col("b_fen") > 0, pl.col("d_fen") > 0
    kind = (pl.when(d_rec & ~b_rec).then(pl.lit("gain"))
            .when(b_rec & ~d_rec & pl.col("d_unknown")).then(pl.lit("unknown"))
            .when(b_rec & ~d_rec).then(pl.lit("loss"))
            .when(pl.col("delta_fen") > 0).then(pl.lit("up")).when(pl.col("delta_fen") < 0).then(pl.lit("down"))
            .otherwise(pl.lit(None, dtype=pl.String)))
    excluded = r"excluded_by:([^;]+)"
    lines = lines.with_columns(
        kind.alias("kind"),
        pl.col("b_note").str.extract(excluded).alias("b_excluded_by"),
        pl.col("d_note").str.extract(excluded).alias("d_excluded_by"),
        (b_rec & pl.col("b_note").str.contains("budget_cut", literal=True)).alias("b_cut"),
        (d_rec & pl.col("d_note").str.contains("budget_cut", literal=True)).alias("d_cut"))
    # Receiving something, and money, count for the run only when the policy is payable (estimates are not cash).
    lines = lines.with_columns(
        pl.when(pl.col("b_payable")).then(pl.col("b_fen")).otherwise(0).alias("b_cash"),
        pl.when(pl.col("d_payable")).then(pl.col("d_fen")).otherwise(0).alias("d_cash"))
    lines = lines.with_columns((pl.col("d_cash") - pl.col("b_cash")).alias("cash_delta"))

    own = lines.filter(pl.col("policy_id") == policy.id)
    changed = lines.filter(pl.col("kind").is_not_null()).sort(
        [pl.col("delta_fen").abs(), "credit_code", "policy_id"], descending=[True, False, False])

    groups = {}
    for g in GROUPINGS:
        agg = own.group_by(g).agg((pl.col("b_fen") > 0).sum().alias("be"), pl.col("b_fen").sum().alias("bf"),
                                  (pl.col("d_fen") > 0).sum().alias("de"), pl.col("d_fen").sum().alias("df"))
        run = lines.group_by(g).agg(pl.col("cash_delta").sum().alias("rd"))
        agg = (run.join(agg, on=g, how="left", nulls_equal=True).fill_null(0)
               .filter((pl.col("be") > 0) | (pl.col("de") > 0) | (pl.col("rd") != 0)).sort(g, nulls_last=True))
        groups[g] = [Group(k if k is not None else "", int(a), int(b), int(c), int(d), int(r))
                     for k, r, a, b, c, d in agg.select(g, "rd", "be", "bf", "de", "df").iter_rows()]

    by_policy = [PolicyEffect(pid, bool(bp or dp), int(be), int(bfen), int(de), int(dfen), int(bx), int(dx),
                              int(bc), int(dc))
                 for pid, bp, dp, be, bfen, de, dfen, bx, dx, bc, dc in lines.group_by("policy_id").agg(
                     pl.col("b_payable").any(), pl.col("d_payable").any(),
                     (pl.col("b_fen") > 0).sum().alias("be"), pl.col("b_fen").sum(),
                     (pl.col("d_fen") > 0).sum().alias("de"), pl.col("d_fen").sum(),
                     pl.col("b_excluded_by").is_not_null().sum(), pl.col("d_excluded_by").is_not_null().sum(),
                     pl.col("b_cut").sum(), pl.col("d_cut").sum()).sort("policy_id").iter_rows()]
    counts = {k: 0 for k in KINDS}
    for k, n in changed.group_by("kind").len().iter_rows():
        counts[k] = int(n)
    net = lines.group_by("credit_code").agg(pl.col("cash_delta").sum())["cash_delta"]
    top = [_change(r) for r in changed.head(TOP_CHANGES).iter_rows(named=True)]
    deltas = changed["delta_fen"]
    cash = lines.filter(pl.col("b_payable") | pl.col("d_payable"))
    return SandboxResult(
        policy=policy, baseline=baseline, baseline_version=base_version, year=period,
        enterprises=people.height, snapshot_hash=facts_hash,
        eligible=int((own["d_fen"] > 0).sum()), unknown=int(own["d_unknown"].sum()), total_fen=int(own["d_fen"].sum()),
        base_eligible=int((own["b_fen"] > 0).sum()), base_unknown=int(own["b_unknown"].sum()),
        base_total_fen=int(own["b_fen"].sum()),
        counts=counts, gained_fen=int(deltas.filter(deltas > 0).sum()), lost_fen=int(-deltas.filter(deltas < 0).sum()),
        groups=groups, changes=top, changes_frame=changed, overrides=parsed, seconds=time.perf_counter() - t0,
        district=district, in_run=any(p.id == policy.id for p in draft_set), informational=policy.informational,
        base_policies=[p.id for p in base_set], run_policies=[p.id for p in draft_set],
        run_base_eligible=int((cash["b_cash"] > 0).sum()), run_base_fen=int(cash["b_cash"].sum()),
        run_eligible=int((cash["d_cash"] > 0).sum()), run_fen=int(cash["d_cash"].sum()),
        winners=int((net > 0).sum()), losers=int((net < 0).sum()), by_policy=by_policy, lines=lines)


def _tri(receives: bool, unknown: bool) -> bool | None:
    return None if unknown else receives


def _change(r: dict[str, Any]) -> Change:
    return Change(r["credit_code"], r["name_zh"], r["district"], r["policy_id"],
                  _tri(r["b_fen"] > 0, r["b_unknown"]), int(r["b_fen"]), _tri(r["d_fen"] > 0, r["d_unknown"]),
                  int(r["d_fen"]), int(r["delta_fen"]), r["kind"], r["b_excluded_by"], r["d_excluded_by"],
                  bool(r["b_cut"]), bool(r["d_cut"]))


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def to_xlsx(result: SandboxResult) -> bytes:
    """The simulation as a workbook: summary, the run's policies, one sheet per distribution, and every
    changed enterprise × policy. Amounts in yuan with two decimals (exact: computed from integer fen) and,
    on the changes sheet, in fen as well."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("summary")
    ws.append(["kechuang policy sandbox (政策模拟) — simulated run, not an entitlement"])
    ws.append(["policy", result.policy.id, result.policy.title.get("zh", "")])
    ws.append(["version in force", f"v{result.baseline_version.version}" if result.baseline_version else "none"])
    ws.append(["changed parameters", "; ".join(f"{k}={v}" for k, v in result.overrides.items()) or "-"])
    ws.append(["period (facts year)", result.year])
    ws.append(["facts snapshot sha256 (registry facts and programme inputs)", result.snapshot_hash])
    ws.append(["district scope", result.district or "all"])
    ws.append(["enterprises", result.enterprises])
    ws.append(["simulated policy in the run", "informational (estimate)" if result.informational
               else ("yes" if result.in_run else "no: not in force for this period")])
    ws.append(["policies in the run, in force", ", ".join(result.base_policies) or "-"])
    ws.append(["policies in the run, simulated", ", ".join(result.run_policies) or "-"])
    ws.append([])
    ws.append(["", "in force", "simulated", "difference"])
    ws.append(["entitlements under this policy", result.base_eligible, result.eligible,
               result.eligible - result.base_eligible])
    ws.append(["unknown (missing facts)", result.base_unknown, result.unknown, result.unknown - result.base_unknown])
    ws.append(["amount under this policy (yuan)", _yuan(result.base_total_fen), _yuan(result.total_fen),
               _yuan(result.total_fen - result.base_total_fen)])
    ws.append(["entitlements of the whole run", result.run_base_eligible, result.run_eligible,
               result.run_eligible - result.run_base_eligible])
    ws.append(["amount of the whole run (yuan)", _yuan(result.run_base_fen), _yuan(result.run_fen),
               _yuan(result.run_fen - result.run_base_fen)])
    ws.append([])
    for k in KINDS:
        ws.append([f"entitlements: {k}", result.counts[k]])
    ws.append(["enterprises receiving more in total", result.winners])
    ws.append(["enterprises receiving less in total", result.losers])
    s = wb.create_sheet("by policy")
    s.append(["policy_id", "payable", "entitlements in force", "entitlements simulated", "amount in force (yuan)",
              "amount simulated (yuan)", "difference (yuan)", "excluded in force", "excluded simulated",
              "budget-cut in force", "budget-cut simulated"])
    for e in result.by_policy:
        s.append([e.policy_id, "yes" if e.payable else "no (estimate)", e.base_eligible, e.draft_eligible,
                  _yuan(e.base_fen), _yuan(e.draft_fen), _yuan(e.draft_fen - e.base_fen), e.base_excluded,
                  e.draft_excluded, e.base_cut, e.draft_cut])
    for g, rows in result.groups.items():
        s = wb.create_sheet(f"by {g}")
        s.append([g, "eligible in force", "eligible simulated", "amount in force (yuan)", "amount simulated (yuan)",
                  "difference (yuan)", "whole run difference (yuan)"])
        for r in rows:
            s.append([r.key, r.base_eligible, r.draft_eligible, _yuan(r.base_fen), _yuan(r.draft_fen),
                      _yuan(r.draft_fen - r.base_fen), _yuan(r.run_delta_fen)])
    s = wb.create_sheet("changes")
    s.append(["credit_code", "name", "district", "industry", "size", "change", "policy_id", "eligible in force",
              "eligible simulated", "amount in force (yuan)", "amount simulated (yuan)", "difference (yuan)",
              "difference (fen)", "excluded by, in force", "excluded by, simulated", "budget cut, in force",
              "budget cut, simulated"])
    for r in result.changes_frame.iter_rows(named=True):
        c = _change(r)
        tri = {True: "yes", False: "no", None: "unknown"}
        s.append([c.credit_code, c.name_zh, c.district, r["industry_section"], r["size_class"], c.kind, c.policy_id,
                  tri[c.base_eligible], tri[c.draft_eligible], _yuan(c.base_fen), _yuan(c.draft_fen),
                  _yuan(c.delta_fen), c.delta_fen, c.base_excluded_by or "", c.draft_excluded_by or "",
                  "yes" if c.base_budget_cut else "", "yes" if c.draft_budget_cut else ""])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
