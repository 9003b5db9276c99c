"""Polars backend: core expressions → ``pl.Expr``; all policies run in one lazy ``select``.

Polars' Boolean ``&``, ``|`` and ``~`` follow Kleene logic, the same three-valued logic as SQL.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from kechuang.policy.engine.core import Core

DTYPES: dict[str, Any] = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "str": pl.String,
                          "date": pl.Date, "null": pl.Null}

_CMP = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def to_polars(c: Core) -> pl.Expr:
    """Translate one core expression."""
    op = c.op
    if op == "col":
        return pl.col(c.value)
    if op == "const":
        return pl.lit(c.value, dtype=DTYPES[c.dtype])
    a = [to_polars(x) for x in c.args]
    if op == "add":
        return a[0] + a[1]
    if op == "sub":
        return a[0] - a[1]
    if op == "mul":
        return a[0] * a[1]
    if op == "fdiv":
        den = a[1].cast(pl.Float64)
        return pl.when(den != 0).then(a[0].cast(pl.Float64) / den).otherwise(pl.lit(None, dtype=pl.Float64))
    if op == "hdiv":
        d = c.value
        return pl.when(a[0] >= 0).then((a[0] * 2 + d) // (2 * d)).otherwise(-((d - a[0] * 2) // (2 * d)))
    if op == "neg":
        return -a[0]
    if op == "abs":
        return a[0].abs()
    if op == "tofloat":
        return a[0].cast(pl.Float64)
    if op == "cmp":
        return getattr(a[0], _CMP[c.value])(a[1])
    if op == "and":
        out = a[0]
        for x in a[1:]:
            out = out & x
        return out
    if op == "or":
        out = a[0]
        for x in a[1:]:
            out = out | x
        return out
    if op == "not":
        return ~a[0]
    if op == "isnull":
        return a[0].is_null()
    if op == "in":
        # is_in propagates NULL like SQL's IN over a list without NULLs.
        return a[0].is_in(pl.Series(list(c.value), dtype=DTYPES[c.args[0].dtype]).implode())
    if op == "case":
        chain = pl.when(a[0]).then(a[1])
        for i in range(2, len(a) - 1, 2):
            chain = chain.when(a[i]).then(a[i + 1])
        return chain.otherwise(a[-1])
    if op == "coalesce":
        return pl.coalesce(a)
    if op in ("least", "greatest"):
        any_null = pl.any_horizontal([x.is_null() for x in a])
        f = pl.min_horizontal if op == "least" else pl.max_horizontal
        return pl.when(any_null).then(pl.lit(None, dtype=DTYPES[c.dtype])).otherwise(f(a))
    raise AssertionError(f"no Polars translation for {op}")


def run(frame: pl.DataFrame | pl.LazyFrame, outputs: dict[str, Core]) -> pl.DataFrame:
    """Evaluate every named output over the frame in one pass; one column per output."""
    lf = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    exprs = [to_polars(c).alias(name) for name, c in outputs.items()]
    return lf.select(exprs).collect()
