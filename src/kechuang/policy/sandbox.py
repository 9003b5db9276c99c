"""Policy sandbox (政策模拟): run a draft policy, or the policy in force with changed parameters, on the
registry's current facts before publishing — number eligible, total cost, distribution by district,
industry and size — and the difference against the version in force (who gains, who loses, by how much).

Read-only: nothing is written. The policy is evaluated on its own (its budget applies as declared;
``excludes`` against other policies are not applied). A district officer's sandbox covers the
enterprises of their district only.
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
from kechuang.policy import versions
from kechuang.policy.dbfacts import load_registry_facts
from kechuang.policy.engine import evaluate
from kechuang.policy.language import Policy, PolicyError, load_text
from kechuang.policy.version_models import PolicyVersion
from kechuang.registry.models import OrganisationFact

SANDBOX = permission("policy.sandbox", Role.COMMISSION, Role.DISTRICT)
GROUPINGS = ("district", "industry_section", "size_class")
TOP_CHANGES = 50


@dataclass
class Group:
    """One bar of a distribution: enterprises eligible and their amounts, in force and simulated."""

    key: str
    base_eligible: int
    base_fen: int
    draft_eligible: int
    draft_fen: int


@dataclass
class Change:
    """One enterprise whose outcome differs between the version in force and the simulation."""

    credit_code: str
    name_zh: str
    district: str | None
    base_eligible: bool | None
    base_fen: int
    draft_eligible: bool | None
    draft_fen: int
    delta_fen: int
    kind: str  # gain | loss | up | down | unknown


@dataclass
class SandboxResult:
    """Figures of one simulation."""

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


def _outcome(frame: pl.DataFrame, policy: Policy | None, year: int, prefix: str) -> pl.DataFrame:
    if policy is None:
        return frame.select("credit_code").with_columns(pl.lit(None, dtype=pl.Boolean).alias(f"{prefix}_eligible"),
                                                        pl.lit(0, dtype=pl.Int64).alias(f"{prefix}_fen"),
                                                        pl.lit(False).alias(f"{prefix}_applies"))
    res = evaluate(frame, [policy], year)
    long = res.long
    if not long.height:
        return _outcome(frame, None, year, prefix)
    return long.select(pl.col("credit_code"), pl.col("eligible").alias(f"{prefix}_eligible"),
                       pl.col("amount_fen").fill_null(0).alias(f"{prefix}_fen"), pl.lit(True).alias(f"{prefix}_applies"))


def simulate(session: Session, principal: Principal, *, yaml_text: str | None = None, version_id: int | None = None,
             policy_key: str | None = None, overrides: dict[str, str] | None = None, year: int | None = None
             ) -> SandboxResult:
    """Simulate a draft (``yaml_text``, or a stored ``version_id``) or the published version of ``policy_key``
    with changed ``overrides`` (parameter name → value text), against the version in force."""
    require(principal, SANDBOX)
    t0 = time.perf_counter()
    if yaml_text is not None:
        try:
            policy = load_text(yaml_text.replace("\r\n", "\n"), "draft")
        except PolicyError as exc:
            raise ValidationFailed(errors=[FieldError("yaml_text", N_("{place}: {reason}"),
                                                      {"place": f"{p.file}:{p.line}:{p.col}", "reason": p.reason})
                                           for p in exc.problems]) from None
    elif version_id is not None:
        policy = versions.parse_version(versions.access_version_by_id(session, principal, version_id))
    elif policy_key is not None:
        current = versions.published_version_of(session, policy_key)
        if current is None:
            raise ValidationFailed(errors=[FieldError("policy_key", N_("No version of this policy is in force."))])
        policy = versions.parse_version(current)
    else:
        raise ValidationFailed(errors=[FieldError("yaml_text", N_("Give a draft or choose a policy."))])
    parsed = parse_overrides(policy, overrides or {})
    policy = with_params(policy, parsed)
    base_version = versions.published_version_of(session, policy.id)
    baseline = versions.parse_version(base_version) if base_version is not None else None
    if year is None:
        year = policy.facts_year if policy.facts_year is not None else latest_facts_year(session)
    district = principal.district if principal.role is Role.DISTRICT else None
    facts = load_registry_facts(session, year, district=district)
    frame = facts.frame
    base = _outcome(frame, baseline, year, "base")
    draft = _outcome(frame, policy, year, "draft")
    joined = (frame.select("credit_code", "name_zh", *GROUPINGS)
              .join(base, on="credit_code", how="left").join(draft, on="credit_code", how="left"))
    be, de = pl.col("base_eligible").fill_null(False), pl.col("draft_eligible").fill_null(False)
    bf = pl.when(be).then(pl.col("base_fen")).otherwise(0)
    df = pl.when(de).then(pl.col("draft_fen")).otherwise(0)
    joined = joined.with_columns(bf.alias("base_fen"), df.alias("draft_fen")).with_columns(
        (pl.col("draft_fen") - pl.col("base_fen")).alias("delta_fen"))
    kind = (pl.when(de & ~be).then(pl.lit("gain")).when(be & ~de & pl.col("draft_eligible").is_null())
            .then(pl.lit("unknown")).when(be & ~de).then(pl.lit("loss"))
            .when(pl.col("delta_fen") > 0).then(pl.lit("up")).when(pl.col("delta_fen") < 0).then(pl.lit("down"))
            .otherwise(pl.lit(None, dtype=pl.String)))
    joined = joined.with_columns(kind.alias("kind"))
    changed = joined.filter(pl.col("kind").is_not_null()).sort(
        [pl.col("delta_fen").abs(), "credit_code"], descending=[True, False])

    groups = {}
    for g in GROUPINGS:
        agg = (joined.group_by(g).agg(be.sum().alias("be"), pl.col("base_fen").sum().alias("bf"),
                                      de.sum().alias("de"), pl.col("draft_fen").sum().alias("df"))
               .filter((pl.col("be") > 0) | (pl.col("de") > 0)).sort(g, nulls_last=True))
        groups[g] = [Group(k if k is not None else "", int(a), int(b), int(c), int(d))
                     for k, a, b, c, d in agg.iter_rows()]
    counts = {k: 0 for k in ("gain", "loss", "up", "down", "unknown")}
    for k, n in changed.group_by("kind").len().iter_rows():
        counts[k] = int(n)
    top = [Change(r["credit_code"], r["name_zh"], r["district"], r["base_eligible"], int(r["base_fen"]),
                  r["draft_eligible"], int(r["draft_fen"]), int(r["delta_fen"]), r["kind"])
           for r in changed.head(TOP_CHANGES).iter_rows(named=True)]
    deltas = changed["delta_fen"]
    return SandboxResult(
        policy=policy, baseline=baseline, baseline_version=base_version, year=year, enterprises=frame.height,
        snapshot_hash=facts.snapshot_hash,
        eligible=int(joined["draft_eligible"].fill_null(False).sum()),
        unknown=int(joined["draft_eligible"].is_null().sum()) if draft["draft_applies"].any() else 0,
        total_fen=int(joined["draft_fen"].sum()),
        base_eligible=int(joined["base_eligible"].fill_null(False).sum()),
        base_unknown=int(joined["base_eligible"].is_null().sum()) if baseline is not None else 0,
        base_total_fen=int(joined["base_fen"].sum()),
        counts=counts, gained_fen=int(deltas.filter(deltas > 0).sum()), lost_fen=int(-deltas.filter(deltas < 0).sum()),
        groups=groups, changes=top, changes_frame=changed, overrides=parsed, seconds=time.perf_counter() - t0,
        district=district)


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def to_xlsx(result: SandboxResult) -> bytes:
    """The simulation as a workbook: summary, one sheet per distribution, and every changed enterprise.
    Amounts in yuan with two decimals (exact: computed from integer fen)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("summary")
    ws.append(["kechuang policy sandbox (政策模拟) — simulated, not an entitlement"])
    ws.append(["policy", result.policy.id, result.policy.title.get("zh", "")])
    ws.append(["version in force", f"v{result.baseline_version.version}" if result.baseline_version else "none"])
    ws.append(["changed parameters", "; ".join(f"{k}={v}" for k, v in result.overrides.items()) or "-"])
    ws.append(["facts year", result.year])
    ws.append(["facts snapshot sha256", result.snapshot_hash])
    ws.append(["district scope", result.district or "all"])
    ws.append(["enterprises", result.enterprises])
    ws.append([])
    ws.append(["", "in force", "simulated", "difference"])
    ws.append(["eligible", result.base_eligible, result.eligible, result.eligible - result.base_eligible])
    ws.append(["unknown (missing facts)", result.base_unknown, result.unknown, result.unknown - result.base_unknown])
    ws.append(["total (yuan)", _yuan(result.base_total_fen), _yuan(result.total_fen),
               _yuan(result.total_fen - result.base_total_fen)])
    ws.append([])
    for k in ("gain", "loss", "up", "down", "unknown"):
        ws.append([f"enterprises: {k}", result.counts[k]])
    for g, rows in result.groups.items():
        s = wb.create_sheet(f"by {g}")
        s.append([g, "eligible in force", "eligible simulated", "amount in force (yuan)", "amount simulated (yuan)",
                  "difference (yuan)"])
        for r in rows:
            s.append([r.key, r.base_eligible, r.draft_eligible, _yuan(r.base_fen), _yuan(r.draft_fen),
                      _yuan(r.draft_fen - r.base_fen)])
    s = wb.create_sheet("changes")
    s.append(["credit_code", "name", "district", "industry", "size", "change", "eligible in force",
              "eligible simulated", "amount in force (yuan)", "amount simulated (yuan)", "difference (yuan)"])
    tri = {True: "yes", False: "no", None: "unknown"}
    for r in result.changes_frame.iter_rows(named=True):
        s.append([r["credit_code"], r["name_zh"], r["district"], r["industry_section"], r["size_class"], r["kind"],
                  tri[r["base_eligible"]], tri[r["draft_eligible"]], _yuan(r["base_fen"]), _yuan(r["draft_fen"]),
                  _yuan(r["delta_fen"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
