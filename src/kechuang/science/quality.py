"""Dataset quality checks (no database): each check is named, has a result (pass | warn | fail | n/a) and
evidence. Tabular files (CSV) are read with Polars; other files get checksum checks only."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl

CHECKS = ("schema_types", "missing_values", "duplicates", "ranges", "outliers", "licence_present",
          "provenance_present", "checksums", "class_balance", "split_leakage")
_TYPES = {"number": pl.Float64, "integer": pl.Int64, "string": pl.Utf8, "boolean": pl.Boolean}


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


TABULAR_SUFFIXES = (".csv", ".tsv")


def read_table(path: Path) -> pl.DataFrame:
    """A CSV (or TSV) file as a Polars frame, the way the checks read it."""
    path = Path(path)
    return pl.read_csv(path, separator="\t" if path.suffix.lower() == ".tsv" else ",", infer_schema_length=10000)


def table_problem(path: Path) -> tuple[str, str] | None:
    """Why a tabular file cannot be read by the checks — ``(kind, detail)`` with kind ``empty``, ``encoding``,
    ``ragged`` or ``parse`` — or None when it reads (or is not tabular)."""
    path = Path(path)
    if path.suffix.lower() not in TABULAR_SUFFIXES:
        return None
    try:
        read_table(path)
    except pl.exceptions.NoDataError as exc:
        return "empty", str(exc).splitlines()[0]
    except pl.exceptions.PolarsError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "utf-8" in detail.lower() or "utf8" in detail.lower():
            return "encoding", detail
        if "more fields" in detail.lower():
            return "ragged", detail
        return "parse", detail[:300]
    return None


def table_columns(path: Path) -> list[str]:
    """The header of a CSV (or TSV) file."""
    path = Path(path)
    return pl.read_csv(path, separator="\t" if path.suffix.lower() == ".tsv" else ",", n_rows=0).columns


def _check(name: str, result: str, **evidence: Any) -> dict[str, Any]:
    return {"name": name, "result": result, "evidence": evidence}


def run_checks(meta: dict[str, Any], files: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """All checks for a dataset version. ``files``: {name, path, split, sha256 (expected)}; ``meta["schema"]``:
    {fields: [{name, type, minimum?, maximum?, unit?}], label?}. Returns (score, checks)."""
    schema = meta.get("schema") or {}
    fields = {f["name"]: f for f in schema.get("fields", [])}
    frames: dict[str, pl.DataFrame] = {}
    checks: list[dict[str, Any]] = []
    bad_sums = []
    for f in files:
        p = Path(f["path"])
        actual = sha256_file(p) if p.exists() else None
        if actual is None or (f.get("sha256") and f["sha256"] != actual):
            bad_sums.append({"file": f["name"], "expected": f.get("sha256"), "actual": actual})
        if p.exists() and p.suffix.lower() in TABULAR_SUFFIXES:
            frames[f["name"]] = read_table(p)
    checks.append(_check("checksums", "fail" if bad_sums else "pass", files=len(files), mismatches=bad_sums))
    checks.append(_check("licence_present", "pass" if meta.get("licence") else "fail", licence=meta.get("licence")))
    prov = (meta.get("provenance") or "").strip()
    checks.append(_check("provenance_present", "pass" if prov else "fail", characters=len(prov)))
    if not frames:
        for name in ("schema_types", "missing_values", "duplicates", "ranges", "outliers", "class_balance",
                     "split_leakage"):
            checks.append(_check(name, "n/a", reason="no tabular file"))
        return _score(checks), checks
    df = pl.concat(list(frames.values()), how="diagonal_relaxed")
    # schema and types
    missing_cols = [c for c in fields if c not in df.columns]
    bad_types: dict[str, int] = {}
    for c, spec in fields.items():
        if c in df.columns and spec.get("type") in _TYPES:
            col = df[c]
            cast = col.cast(_TYPES[spec["type"]], strict=False)
            bad_types[c] = int(cast.is_null().sum() - col.is_null().sum())
    bad_types = {c: n for c, n in bad_types.items() if n}
    checks.append(_check("schema_types", "n/a" if not fields else ("fail" if missing_cols or bad_types else "pass"),
                         declared=len(fields), n_columns=len(df.columns), columns=df.columns[:25],  # wide: first 25
                         missing_columns=missing_cols, bad_values=bad_types))
    nulls = {c: int(n) for c, n in zip(df.columns, df.null_count().row(0), strict=True) if n}
    share = sum(nulls.values()) / max(1, df.height * df.width)
    checks.append(_check("missing_values", "pass" if not nulls else ("warn" if share < 0.05 else "fail"),
                         by_column=nulls, share=round(share, 6)))
    dups = df.height - df.unique().height
    checks.append(_check("duplicates", "pass" if dups == 0 else "warn", rows=df.height, duplicate_rows=dups))
    out_of_range: dict[str, int] = {}
    ranged = 0
    for c, spec in fields.items():
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if c not in df.columns or (lo is None and hi is None):
            continue
        ranged += 1
        col = df[c].cast(pl.Float64, strict=False)
        n = int(((col < lo).sum() if lo is not None else 0) + ((col > hi).sum() if hi is not None else 0))
        if n:
            out_of_range[c] = n
    checks.append(_check("ranges", "n/a" if not ranged else ("fail" if out_of_range else "pass"),
                         columns_with_range=ranged, violations=out_of_range,
                         units={c: s["unit"] for c, s in fields.items() if s.get("unit")}))
    outliers: dict[str, int] = {}
    label = schema.get("label")
    for c in df.columns:
        if c == label or not df[c].dtype.is_numeric():
            continue
        x = df[c].cast(pl.Float64).drop_nulls()
        if len(x) < 10:
            continue
        med = x.median()
        mad = (x - med).abs().median() * 1.4826
        if mad and mad > 0:
            n = int(((x - med).abs() / mad > 6).sum())
            if n:
                outliers[c] = n
    checks.append(_check("outliers", "warn" if outliers else "pass", rule="|x - median| above 6 scaled MADs (1.4826 MAD)",
                         by_column=outliers))
    if label and label in df.columns:
        counts = {str(k): int(v) for k, v in df[label].value_counts().iter_rows()}
        ratio = max(counts.values()) / max(1, min(counts.values()))
        checks.append(_check("class_balance", "pass" if ratio <= 10 else "warn", counts=counts,
                             max_min_ratio=round(ratio, 3)))
    else:
        checks.append(_check("class_balance", "n/a", reason="no label column declared"))
    by_split: dict[str, list[pl.DataFrame]] = {}
    for f in files:
        if f.get("split") and f["name"] in frames:
            by_split.setdefault(f["split"], []).append(frames[f["name"]])
    if len(by_split) < 2:
        checks.append(_check("split_leakage", "n/a", reason="fewer than two declared splits"))
    else:
        split_frames = {s: pl.concat(v, how="diagonal_relaxed").unique() for s, v in by_split.items()}
        names = sorted(split_frames)
        leaks = {}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                common = [c for c in split_frames[a].columns if c in split_frames[b].columns]
                if not common:  # no column in common: no row can be in both (and polars refuses a keyless join)
                    continue
                as_text = [pl.col(c).cast(pl.Utf8) for c in common]  # compare values, not inferred types
                n = split_frames[a].select(as_text).join(split_frames[b].select(as_text), on=common,
                                                         how="inner", nulls_equal=True).height
                if n:
                    leaks[f"{a}/{b}"] = n
        checks.append(_check("split_leakage", "fail" if leaks else "pass", splits=names, shared_rows=leaks))
    return _score(checks), checks


def _score(checks: list[dict[str, Any]]) -> float:
    points = {"pass": 1.0, "warn": 0.5, "fail": 0.0}
    applicable = [points[c["result"]] for c in checks if c["result"] in points]
    return round(sum(applicable) / len(applicable), 4) if applicable else 0.0
