"""Facts tables for the engine: read a CSV or Parquet file (one row per enterprise, ``credit_code``
plus fact columns, money in integer fen) and check every needed column's presence and type before
anything runs. Pure module (no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from kechuang.policy.facts import FACTS, split_column

POLARS_TYPES: dict[str, Any] = {"int_fen": pl.Int64, "int": pl.Int64, "decimal": pl.Float64, "bool": pl.Boolean,
                                "str": pl.String, "date": pl.Date}
_TRUE = ("true", "t", "1", "yes", "y", "是")
_FALSE = ("false", "f", "0", "no", "n", "否")


class FactsFileError(Exception):
    """A facts file is refused; ``problems`` lists every missing or mistyped column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def column_type(column: str) -> str:
    """Declared type of a facts-table column (lags included)."""
    return FACTS[split_column(column)[0]].type


def _parse_str(col: str, typ: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    s = pl.when(s == "").then(pl.lit(None, dtype=pl.String)).otherwise(s)
    if typ in ("int", "int_fen"):
        return s.cast(pl.Int64, strict=False)
    if typ == "decimal":
        return s.cast(pl.Float64, strict=False)
    if typ == "bool":
        low = s.str.to_lowercase()
        return (pl.when(low.is_in(list(_TRUE))).then(pl.lit(True))
                .when(low.is_in(list(_FALSE))).then(pl.lit(False)).otherwise(pl.lit(None, dtype=pl.Boolean)))
    if typ == "date":
        return s.str.to_date("%Y-%m-%d", strict=False)
    return s


def conform(raw: pl.DataFrame, required: dict[str, str], source: str = "facts") -> pl.DataFrame:
    """Check and cast ``raw`` to the declared types of ``required`` columns (plus credit_code);
    raise :class:`FactsFileError` listing every problem."""
    problems: list[str] = []
    need = {"credit_code": "str", **required}
    missing = [c for c in need if c not in raw.columns]
    if missing:
        problems.append(f"{source}: missing columns: {', '.join(missing)}")
    exprs = []
    for col, typ in need.items():
        if col not in raw.columns:
            continue
        dt = raw.schema[col]
        want = POLARS_TYPES[typ]
        if dt == pl.String and want != pl.String:
            parsed = _parse_str(col, typ)
            bad = raw.select(pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() != "")
                             & parsed.is_null()).to_series()
            if bad.any():
                i = int(bad.arg_max())
                problems.append(f"{source}: column {col} must be {typ}; row {i + 1} has {raw[col][i]!r}"
                                f" ({int(bad.sum())} bad values)")
                continue
            exprs.append(parsed.alias(col))
        elif dt == want or (dt == pl.Null):
            exprs.append(pl.col(col).cast(want))
        elif typ in ("int", "int_fen") and dt.is_integer():
            exprs.append(pl.col(col).cast(pl.Int64))
        elif typ == "decimal" and dt.is_numeric():
            exprs.append(pl.col(col).cast(pl.Float64))
        elif typ == "str" and dt.is_integer() and col == "credit_code":
            exprs.append(pl.col(col).cast(pl.String))
        else:
            extra = " (money is whole fen, never a float)" if typ == "int_fen" and dt.is_float() else ""
            problems.append(f"{source}: column {col} must be {typ}, the file has {dt}{extra}")
    if problems:
        raise FactsFileError(problems)
    return raw.select(exprs)


def read_facts(path: str | Path, required: dict[str, str]) -> pl.DataFrame:
    """Read a facts CSV (UTF-8, BOM allowed) or Parquet file and conform it."""
    p = Path(path)
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            raw = pl.read_parquet(p)
        else:
            raw = pl.read_csv(p, infer_schema=False, encoding="utf8-lossy")
            raw = raw.rename({c: c.lstrip("\ufeff").strip() for c in raw.columns})
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise FactsFileError([f"{p}: cannot read: {exc}"]) from None
    return conform(raw, required, str(p))


def frame_from_records(records: list[dict[str, Any]], columns: dict[str, str]) -> pl.DataFrame:
    """A typed facts frame from Python dicts (policy tests, explanations); absent facts are NULL."""
    data: dict[str, list] = {"credit_code": [str(r.get("credit_code", i)) for i, r in enumerate(records)]}
    for col, typ in columns.items():
        vals = []
        for r in records:
            v = r.get(col)
            if isinstance(v, Decimal):
                v = float(v) if typ == "decimal" else int(v)
            elif typ == "decimal" and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            elif typ == "date" and isinstance(v, str):
                v = date.fromisoformat(v)
            vals.append(v)
        data[col] = vals
    schema = {"credit_code": pl.String, **{c: POLARS_TYPES[t] for c, t in columns.items()}}
    return pl.DataFrame(data, schema=schema, strict=False)


def row_values(record: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """One record normalised to engine values (Decimal → float for decimals, ISO text → date)."""
    out = {}
    for col, typ in columns.items():
        v = record.get(col)
        if isinstance(v, Decimal):
            v = float(v) if typ == "decimal" else int(v)
        elif typ == "decimal" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif typ == "date" and isinstance(v, str):
            v = date.fromisoformat(v)
        out[col] = v
    return out
