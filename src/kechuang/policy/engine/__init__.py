"""The policy engine (pure, no database): compile every policy for a period into one vectorised pass
over a table of enterprises (one row each, columns = facts), then apply eligibility, ``excludes`` and
budgets. Backends: ``polars`` (default) and ``sql`` (the same expressions rendered by sqlglot, run on
DuckDB; ``sqlite`` runs the SQLite rendering for small data). Per-clause truth values are kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from kechuang.policy.engine import polars_backend, sql_backend
from kechuang.policy.engine.core import Core, Lowerer
from kechuang.policy.engine.post import apply_budgets, apply_excludes
from kechuang.policy.facts import FACTS, split_column
from kechuang.policy.language import Policy

BACKENDS = ("polars", "sql", "sqlite")
# Backends that need an optional extra or a server: Spark (extra ``spark`` and Java), PostgreSQL (a DSN).
OPTIONAL_BACKENDS = ("spark", "postgres")
SEP = "|"


@dataclass
class CompiledPolicy:
    """A policy lowered for one facts year: parameter values in force and one core per clause."""

    policy: Policy
    year: int
    on: date
    params: dict[str, tuple[date, Any]]
    clauses: dict[str, Core]
    amount: Core | None
    rank: Core | None = None
    order: Core | None = None

    @property
    def id(self) -> str:
        return self.policy.id

    def outputs(self) -> dict[str, Core]:
        """Named output columns of this policy in the wide result."""
        out = {f"{self.id}{SEP}{cid}": c for cid, c in self.clauses.items()}
        if self.amount is not None:
            out[f"{self.id}{SEP}__amount"] = self.amount
        if self.rank is not None:
            out[f"{self.id}{SEP}__rank"] = self.rank
        if self.order is not None:
            out[f"{self.id}{SEP}__order"] = self.order
        return out


_CACHE: dict[tuple[int, int, date | None], CompiledPolicy] = {}


def compile_policy(policy: Policy, year: int, on: date | None = None) -> CompiledPolicy:
    """Lower a policy with the parameter values in force for ``year`` (or on ``on``)."""
    key = (id(policy), year, on)
    hit = _CACHE.get(key)
    if hit is not None and hit.policy is policy:
        return hit
    if on is None:
        on = policy.evaluation_date(year)
        params = policy.param_values(year)
    else:
        params = {}
        for name, p in policy.params.items():
            v = p.value_on(on)
            if v is None:
                raise ValueError(f"parameter {name!r} of {policy.id} has no value on {on}")
            params[name] = v
    low = Lowerer({k: v for k, (_, v) in params.items()})
    clauses = {c.id: low.bool(c.when) for c in policy.clauses}
    amount = low.money(policy.amount) if policy.amount is not None else None
    b = policy.budget
    rank = low.number(b.ranked_by) if b is not None and b.ranked_by is not None else None
    order = low.number(b.order_by) if b is not None and b.order_by is not None else None
    cp = CompiledPolicy(policy, year, on, params, clauses, amount, rank, order)
    if len(_CACHE) > 512:  # sandbox runs compile throw-away copies; keep the cache bounded
        _CACHE.clear()
    _CACHE[key] = cp
    return cp


def compile_all(policies: list[Policy], year: int) -> list[CompiledPolicy]:
    """Compile the policies that apply to the facts of ``year``, in id order."""
    return [compile_policy(p, year) for p in sorted(policies, key=lambda p: p.id) if p.applies_to(year)]


def required_columns(policies: list[Policy] | list[CompiledPolicy]) -> dict[str, str]:
    """Facts-table columns (with their declared type) the policies read."""
    cols: set[str] = set()
    for p in policies:
        pol = p.policy if isinstance(p, CompiledPolicy) else p
        cols |= pol.columns()
    return {c: FACTS[split_column(c)[0]].type for c in sorted(cols)}


def run_wide(frame: pl.DataFrame, compiled: list[CompiledPolicy], backend: str = "polars",
             dsn: str | None = None) -> pl.DataFrame:
    """Every clause, amount and rank of every policy over every row: one column each, one pass.
    ``backend="postgres"`` pushes the pass down into the PostgreSQL database at ``dsn``."""
    outputs: dict[str, Core] = {}
    for cp in compiled:
        outputs.update(cp.outputs())
    if not outputs:
        return pl.DataFrame()
    if backend == "polars":
        return polars_backend.run(frame, outputs)
    if backend == "sql":
        return sql_backend.run_duckdb(frame, outputs)
    if backend == "sqlite":
        return sql_backend.run_sqlite(frame, outputs)
    if backend == "postgres" and dsn:
        return sql_backend.run_postgres(frame, outputs, dsn)
    if backend == "spark":
        from kechuang.policy.engine import spark_backend

        return spark_backend.run(frame, outputs)
    raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


@dataclass
class EvalResult:
    """Outcome of one run: the long table (enterprise × policy) and timings."""

    long: pl.DataFrame
    wide: pl.DataFrame
    compiled: list[CompiledPolicy]
    seconds: dict[str, float] = field(default_factory=dict)


def _clause_lists(wide: pl.DataFrame, compiled: list[CompiledPolicy]) -> list[pl.Series]:
    """Per policy, the ids of false and of unknown clauses joined by ';' — built from a bit mask per
    row and a lookup of the few distinct masks (much cheaper than joining strings row by row)."""
    exprs, names = [], {}
    for cp in compiled:
        ids = list(cp.clauses)
        cols = [pl.col(f"{cp.id}{SEP}{cid}") for cid in ids]
        for kind, test in (("__failed", lambda c: c.not_().fill_null(False)), ("__unknown", lambda c: c.is_null())):
            name = f"{cp.id}{SEP}{kind}"
            names[name] = ids
            if len(ids) > 62:
                exprs.append(pl.concat_str([pl.when(test(c)).then(pl.lit(cid)) for cid, c in zip(ids, cols, strict=True)],
                                           separator=";", ignore_nulls=True).fill_null("").alias(name))
                continue
            exprs.append(pl.sum_horizontal([test(c).cast(pl.UInt64) * (1 << i) for i, c in enumerate(cols)])
                         .cast(pl.UInt64).alias(name))
    if not exprs:
        return []
    masks = wide.select(exprs)
    out = []
    for name in masks.columns:
        m = masks[name]
        if m.dtype == pl.String:
            out.append(m)
            continue
        ids = names[name]
        keys = [int(k) for k in m.unique().to_list()]
        text = [";".join(cid for i, cid in enumerate(ids) if k >> i & 1) for k in keys]
        # Few distinct values: categorical keeps the long table small (10 policies × 1M rows).
        out.append(m.replace_strict(keys, text, return_dtype=pl.String).cast(pl.Categorical).alias(name))
    return out


def to_long(ids: pl.Series, wide: pl.DataFrame, compiled: list[CompiledPolicy], explain: bool = False
            ) -> pl.DataFrame:
    """One row per enterprise × policy: eligible (true/false/null), amount_fen, failed and unknown clauses."""
    all_clause_ids = sorted({cid for cp in compiled for cid in cp.clauses})
    parts = []
    wide = wide.with_columns(_clause_lists(wide, compiled))
    src = wide.lazy().with_columns(pl.int_range(0, pl.len(), dtype=pl.Int64).alias("__row"),
                                   pl.lit(ids).alias("credit_code"))
    base = pl.DataFrame({"__row": pl.Series([], dtype=pl.Int64), "credit_code": pl.Series([], dtype=pl.String)})
    for cp in compiled:
        cols = [pl.col(f"{cp.id}{SEP}{cid}") for cid in cp.clauses]
        elig = pl.all_horizontal(cols)
        amount = pl.col(f"{cp.id}{SEP}__amount") if cp.amount is not None else pl.lit(None, dtype=pl.Int64)
        if cp.amount is not None:
            # An amount over missing data leaves the entitlement unknown.
            elig = pl.when(elig & amount.is_null()).then(pl.lit(None, dtype=pl.Boolean)).otherwise(elig)
        failed = pl.col(f"{cp.id}{SEP}__failed")
        unknown = pl.col(f"{cp.id}{SEP}__unknown")
        sel = [
            pl.col("__row"),
            pl.col("credit_code"),
            pl.lit(cp.id, dtype=pl.Categorical).alias("policy_id"),
            elig.alias("eligible"),
            pl.when(elig).then(amount).otherwise(pl.lit(None, dtype=pl.Int64)).cast(pl.Int64).alias("amount_fen"),
            failed.alias("failed_clauses"),
            unknown.alias("unknown_clauses"),
        ]
        if cp.rank is not None:
            sel.append(pl.col(f"{cp.id}{SEP}__rank").cast(pl.Float64).alias("__rank"))
        if cp.order is not None:
            sel.append(pl.col(f"{cp.id}{SEP}__order").cast(pl.Float64).alias("__order"))
        if explain:
            for cid in all_clause_ids:
                name = f"{cp.id}{SEP}{cid}"
                sel.append((pl.col(name) if cid in cp.clauses else pl.lit(None, dtype=pl.Boolean)).alias(f"clause.{cid}"))
        parts.append(src.select(sel))
    if not parts:
        return base.with_columns(pl.lit(None, dtype=pl.Categorical).alias("policy_id"),
                                 pl.lit(None, dtype=pl.Boolean).alias("eligible"),
                                 pl.lit(None, dtype=pl.Int64).alias("amount_fen"),
                                 pl.lit(None, dtype=pl.Categorical).alias("failed_clauses"),
                                 pl.lit(None, dtype=pl.Categorical).alias("unknown_clauses"))
    long = pl.concat(parts, how="diagonal_relaxed").collect()
    return long


def evaluate(frame: pl.DataFrame, policies: list[Policy], year: int, backend: str = "polars",
             explain: bool = False, apply_rules: bool = True, dsn: str | None = None) -> EvalResult:
    """Evaluate all policies applying to ``year`` over ``frame`` (``credit_code`` + fact columns).

    ``apply_rules`` applies ``excludes`` and budgets after eligibility."""
    t0 = time.perf_counter()
    compiled = compile_all(policies, year)
    t1 = time.perf_counter()
    wide = run_wide(frame, compiled, backend, dsn)
    t2 = time.perf_counter()
    ids = frame["credit_code"] if "credit_code" in frame.columns else pl.Series("credit_code", [str(i) for i in
                                                                                                range(frame.height)])
    long = to_long(ids, wide, compiled, explain)
    if apply_rules:
        long = apply_excludes(long, {cp.id: cp.policy.excludes for cp in compiled})
        long = apply_budgets(long, {cp.id: cp.policy.budget for cp in compiled if cp.policy.budget})
    # Rows stay grouped by policy (id order), enterprises in facts order within each policy.
    long = long.drop(["__row", "__rank", "__order"], strict=False)
    t3 = time.perf_counter()
    return EvalResult(long, wide, compiled, {"compile": t1 - t0, "evaluate": t2 - t1, "post": t3 - t2})


def explain(policy: Policy, facts_row: dict[str, Any], year: int | None = None, on: date | None = None,
            how_close: bool = True):
    """Explain one policy for one enterprise (see :mod:`kechuang.policy.engine.explanation`)."""
    from kechuang.policy.engine.explanation import explain as _explain

    return _explain(policy, facts_row, year, on, how_close)
