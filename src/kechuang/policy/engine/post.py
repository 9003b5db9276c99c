"""After eligibility: ``excludes`` (policies that cannot be combined) and budgets, with exact integer
allocation. Works on the long table (``__row``, credit_code, policy_id, eligible, amount_fen,
failed_clauses, ``__rank``, ``__order``).

Excludes: among an enterprise's eligible policies that exclude one another, the larger amount wins,
ties by policy id (the smaller id); a loser gets eligible=false, no amount, and
``excluded_by:<winner>`` in failed_clauses. Exclusion is symmetric; chains are resolved greedily
(best first), which for groups of mutually exclusive policies picks exactly the best one.

Budgets (when the eligible amounts exceed ``total_fen``):
  pro_rata   — each gets floor(amount × total / requested); the fen left over go one each to the
               largest remainders (ties: credit_code), so the allocations add up to the total exactly;
  first_come — in ``order_by`` order (default: input order), full amounts until the budget runs out;
               the one that crosses the limit gets what is left;
  ranked_by  — like first_come, highest ``ranked_by`` first (ties: credit_code).
A cut entitlement keeps eligible=true and gets ``budget_cut`` in failed_clauses.
"""

from __future__ import annotations

import polars as pl

from kechuang.policy.language import Budget

_LIMIT = 2**126


def apply_excludes(long: pl.DataFrame, excludes: dict[str, list[str]]) -> pl.DataFrame:
    """Resolve non-combinable policies per enterprise."""
    pairs = set()
    for a, xs in excludes.items():
        for b in xs:
            if a in excludes and b in excludes and a != b:
                pairs.add((a, b))
                pairs.add((b, a))
    if not pairs:
        return long
    involved = sorted({a for a, _ in pairs})
    pairs_df = pl.DataFrame({"policy_id": [a for a, _ in sorted(pairs)], "winner": [b for _, b in sorted(pairs)]},
                            schema={"policy_id": pl.Categorical, "winner": pl.Categorical})
    long = long.with_row_index("__i")
    cand = long.filter(pl.col("policy_id").is_in(involved) & pl.col("eligible").fill_null(False)).select(
        "__i", "__row", "policy_id", pl.col("amount_fen").fill_null(0).alias("amt"))
    losers = []
    while cand.height:
        winners = (cand.sort(["__row", "amt", "policy_id"], descending=[False, True, False])
                   .group_by("__row", maintain_order=True).first().select("__row", pl.col("policy_id").alias("winner")))
        joined = cand.join(winners, on="__row")
        losers.append(joined.join(pairs_df, on=["policy_id", "winner"], how="semi").select("__i", "winner"))
        cand = (joined.filter(pl.col("policy_id") != pl.col("winner"))
                .join(pairs_df, on=["policy_id", "winner"], how="anti").drop("winner"))
    lost = pl.concat(losers)
    if not lost.height:
        return long.drop("__i")
    n = lost.height
    return _scatter(long, lost["__i"], {
        "eligible": pl.Series([False] * n, dtype=pl.Boolean),
        "amount_fen": pl.Series([None] * n, dtype=pl.Int64),
        "failed_clauses": "excluded_by:" + lost["winner"].cast(pl.String),
    }).drop("__i")


def allocate(amounts: list[int], total: int, keys: list, method: str) -> list[int]:
    """Exact allocation of ``total`` fen over requested ``amounts`` (already in priority order for
    first_come / ranked_by; ``keys`` break pro-rata remainder ties). Sum ≤ total, = total if short."""
    requested = sum(amounts)
    if requested <= total:
        return list(amounts)
    if method == "pro_rata":
        floors = [a * total // requested for a in amounts]
        rems = [a * total % requested for a in amounts]
        left = total - sum(floors)
        order = sorted(range(len(amounts)), key=lambda i: (-rems[i], keys[i]))
        for i in order[:left]:
            floors[i] += 1
        return floors
    out, left = [], total
    for a in amounts:
        give = min(a, left)
        out.append(give)
        left -= give
    return out


def _scatter(long: pl.DataFrame, idx: pl.Series, columns: dict[str, pl.Series]) -> pl.DataFrame:
    """Overwrite ``columns`` of ``long`` at row positions ``idx`` (O(changes), no join)."""
    out = []
    for name, values in columns.items():
        col = long[name].clone()
        col.scatter(idx, values.cast(col.dtype))
        out.append(col)
    return long.with_columns(out)


def apply_budgets(long: pl.DataFrame, budgets: dict[str, Budget]) -> pl.DataFrame:
    """Cut eligible amounts down to each policy's budget."""
    updates = []
    long = long.with_row_index("__i")
    for pid, b in budgets.items():
        sub = long.filter((pl.col("policy_id") == pid) & pl.col("eligible").fill_null(False)
                          & (pl.col("amount_fen") > 0))
        if not sub.height:
            continue
        requested = int(sub["amount_fen"].sum())
        if requested <= b.total_fen:
            continue
        if b.allocation == "pro_rata":
            if int(sub["amount_fen"].max()) * max(b.total_fen, 1) < _LIMIT:
                # amount × total can exceed 64 bits (1e9 fen × 6e10 fen): exact 128-bit integers.
                a = pl.col("amount_fen").cast(pl.Int128)
                total, req = pl.lit(b.total_fen, dtype=pl.Int128), pl.lit(requested, dtype=pl.Int128)
                sub = sub.with_columns((a * total // req).cast(pl.Int64).alias("__floor"),
                                       (a * total % req).cast(pl.Int64).alias("__rem"))
                left = b.total_fen - int(sub["__floor"].sum())
                # Largest remainders first (ties: credit_code), one more fen each until none is left.
                alloc = sub.sort(["__rem", "credit_code", "__row"], descending=[True, False, False]).with_columns(
                    (pl.col("__floor") + (pl.int_range(0, pl.len()) < left).cast(pl.Int64)).alias("__alloc"))
            else:
                vals = allocate(sub["amount_fen"].to_list(), b.total_fen, sub["credit_code"].to_list(), "pro_rata")
                alloc = sub.with_columns(pl.Series("__alloc", vals, dtype=pl.Int64))
        else:
            if b.allocation == "first_come":
                keys = ["__order", "__row"] if "__order" in sub.columns else ["__row"]
                sub = sub.sort(keys, nulls_last=True)
            else:
                sub = sub.sort(["__rank", "credit_code"], descending=[True, False], nulls_last=True)
            a = pl.col("amount_fen")
            before = a.cum_sum() - a
            alloc = sub.with_columns(pl.min_horizontal(a, pl.max_horizontal(pl.lit(b.total_fen) - before, pl.lit(0)))
                                     .alias("__alloc"))
        updates.append(alloc.filter(pl.col("__alloc") < pl.col("amount_fen")).select(
            "__i", pl.col("__alloc").cast(pl.Int64),
            pl.when(pl.col("failed_clauses") == "").then(pl.lit("budget_cut"))
            .otherwise(pl.col("failed_clauses").cast(pl.String) + ";budget_cut").alias("__tag")))
    if not updates:
        return long.drop("__i")
    upd = pl.concat(updates)
    return _scatter(long, upd["__i"], {"amount_fen": upd["__alloc"], "failed_clauses": upd["__tag"]}).drop("__i")
