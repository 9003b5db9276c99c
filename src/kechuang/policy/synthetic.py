"""Deterministic synthetic facts tables for tests and benchmarks (clearly synthetic; not real firms).

Vectorised with Polars' seeded hashing, so a million rows take well under a second. Values mix
ordinary ranges, boundary values of the shipped policies (thresholds, half-fen cases) and NULLs.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from kechuang.policy.facts import FACTS, split_column

_FEN_RANGES = {
    "revenue_fen": 50_000_000_000, "total_assets_fen": 40_000_000_000, "rd_expense_fen": 3_000_000_000,
    "high_tech_income_fen": 40_000_000_000, "profit_fen": 2_000_000_000, "premium_paid_fen": 2_000_000,
    "compute_rent_fen": 500_000_000, "model_contract_fen": 2_000_000_000, "corpus_contract_fen": 500_000_000,
    "contract_amount_fen": 200_000_000, "voucher_used_fen": 60_000_000, "tech_transfer_income_fen": 2_000_000_000,
    "compute_build_cost_fen": 5_000_000_000,
}
_INT_RANGES = {"employees": 800, "st_staff": 120, "rd_staff": 120, "age_years": 20, "high_tech_score": 100,
               "tech_sme_score": 100, "st_staff_score": 20, "invention_patents": 50}
_BOUNDARY_FEN = [0, 1, 4, 5, 15, 500_000_000, 500_000_003, 500_000_004, 1_000_000_000, 5_000_000_000,
                 5_000_000_001, 20_000_000_000, 20_000_000_001, 50_000_000]
_STRINGS = {
    "province": ["上海"] * 8 + ["江苏", "浙江"],
    "loan_product": ["科技履约贷", "科技微贷通", "其他贷款"],
    "district": ["浦东新区", "徐汇区", "闵行区", "嘉定区"],
    "industry_section": ["C", "I", "M", "F"],
    "tax_credit_grade": ["A", "B", "M", "C", "D"],
    "ownership": ["private", "state_owned", "foreign_invested", "mixed"],
}


def _h(n: int, seed: int) -> pl.Expr:
    return pl.int_range(0, n, dtype=pl.Int64).hash(seed)


def generate_facts(columns: dict[str, str], n: int, seed: int = 0, null_pct: int = 5,
                   boundary_pct: int = 5) -> pl.DataFrame:
    """``n`` synthetic enterprises with the given columns (name → declared type)."""
    exprs = [pl.format("SYN{}", pl.int_range(0, n, dtype=pl.Int64)).alias("credit_code")]
    for i, (col, typ) in enumerate(sorted(columns.items())):
        base, lag = split_column(col)
        s = seed * 1000 + i * 7 + 1
        h = _h(n, s)
        if typ == "int_fen":
            top = _FEN_RANGES.get(base, 1_000_000_000)
            v = (h % top).cast(pl.Int64)
            pick = (_h(n, s + 1) % 100) < boundary_pct
            b = pl.lit(pl.Series(_BOUNDARY_FEN, dtype=pl.Int64)).gather(_h(n, s + 2) % len(_BOUNDARY_FEN))
            if base == "profit_fen":
                v = v - top // 4
            v = pl.when(pick).then(b).otherwise(v)
        elif typ == "int":
            v = (h % (_INT_RANGES.get(base, 100) + 1)).cast(pl.Int64)
        elif typ == "decimal":
            v = (h % 10001).cast(pl.Float64) / 10000.0
        elif typ == "bool":
            v = (h % 4) != 0 if base.startswith("has_") or base in ("ip_in_listed_field", "tech_transfer_registered") \
                else (h % 5) == 0
        elif typ == "str":
            choices = _STRINGS.get(base, ["a", "b", "c"])
            v = pl.lit(pl.Series(choices, dtype=pl.String)).gather(h % len(choices))
        elif typ == "date":
            v = pl.lit(date(2023, 6, 1)) + pl.duration(days=(h % 900).cast(pl.Int64))
        else:
            raise ValueError(typ)
        nul = (_h(n, s + 3) % 100) < null_pct
        dtype = FACTS[base].type
        del dtype
        exprs.append(pl.when(nul).then(None).otherwise(v).alias(col))
    return pl.select(exprs)
