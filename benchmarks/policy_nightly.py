"""Nightly 免申即享 run from the database: N synthetic enterprises (organisation, three years of
organisation_fact, qualifications, some programme inputs) in a fresh SQLite file and/or a fresh
PostgreSQL database, then

  1. facts load      — ``policy.dbfacts.load_registry_facts`` (the engine's frame + snapshot hash);
  2. evaluation      — every policy in force, one vectorised pass (Polars), excludes and budgets;
  3. run, end to end — ``policy.service.run_period(..., execute=True)``: facts with programme inputs,
                       evaluation, entitlements written, the run recorded, committed;
  4. rerun           — the same period again: nothing changed, nothing written.

Goal (issue 4): the whole nightly run for 1,000,000 enterprises under 2 minutes on SQLite and on
PostgreSQL. Building the database is not timed.

    .venv/bin/python benchmarks/policy_nightly.py --n 1000000 --db sqlite,postgres \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5433/postgres
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

YEAR = 2025
DISTRICTS = ["浦东新区", "徐汇区", "闵行区", "嘉定区", "杨浦区", "松江区", "静安区", "宝山区"]
SECTIONS = ["C", "I", "M", "F", "L", "E"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_tables(n: int, seed: int) -> dict[str, pl.DataFrame]:
    """Clearly synthetic registry rows (is_synthetic = true), vectorised."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = np.arange(1, n + 1, dtype=np.int64)
    org = pl.DataFrame({
        "id": ids, "credit_code": [f"SYN{i:015d}" for i in ids],
        "district": np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), n)],
        "industry_section": np.array(SECTIONS)[rng.integers(0, len(SECTIONS), n)],
        "days": rng.integers(0, 9000, n),
    }).select(
        "id", pl.lit("enterprise").alias("kind"), pl.format("合成企业{}", "id").alias("name_zh"), "credit_code",
        pl.lit("上海").alias("province"), "district", "industry_section",
        (pl.lit(date(2000, 1, 1)) + pl.duration(days=pl.col("days"))).alias("founded_date"),
        pl.lit(True).alias("is_synthetic"), pl.lit(now).alias("created_at"), pl.lit(now).alias("updated_at"))
    facts = []
    revenue = rng.lognormal(17.5, 1.6, n).astype(np.int64)  # fen: median ≈ ¥400,000
    for k, year in enumerate((YEAR - 2, YEAR - 1, YEAR)):
        rev = (revenue * (1 + 0.1 * k) * rng.uniform(0.8, 1.2, n)).astype(np.int64)
        rd = (rev * rng.uniform(0, 0.12, n)).astype(np.int64)
        emp = rng.integers(1, 800, n)
        facts.append(pl.DataFrame({
            "id": ids + k * n, "organisation_id": ids, "year": year, "revenue_fen": rev, "rd_expense_fen": rd,
            "rd_domestic_share": np.round(rng.uniform(0.5, 1.0, n), 4), "employees": emp,
            "st_staff": (emp * rng.uniform(0, 0.4, n)).astype(np.int64),
            "high_tech_income_fen": (rev * rng.uniform(0, 0.9, n)).astype(np.int64),
            "total_assets_fen": (rev * rng.uniform(0.5, 3, n)).astype(np.int64),
            "profit_fen": (rev * rng.uniform(-0.1, 0.2, n)).astype(np.int64),
            "tax_credit_grade": np.array(["A", "B", "M", "C", "D"])[rng.integers(0, 5, n)],
            "serious_dishonesty": rng.random(n) < 0.02, "major_incident": rng.random(n) < 0.01,
            "source_department": "合成数据", "as_of_date": date(year + 1, 3, 31), "is_synthetic": True}))
    fact = pl.concat(facts)
    ht = rng.random(n) < 0.3
    sme = rng.random(n) < 0.25
    q_org = np.concatenate([ids[ht], ids[sme]])
    q_kind = np.array(["high_tech"] * int(ht.sum()) + ["tech_sme"] * int(sme.sum()))
    qual = pl.DataFrame({"id": np.arange(1, len(q_org) + 1), "organisation_id": q_org, "kind": q_kind}).with_columns(
        pl.format("Q{}", "id").alias("number"), pl.lit(date(YEAR - 1, 11, 1)).alias("valid_from_date"),
        pl.lit(date(YEAR + 2, 10, 31)).alias("valid_to_date"), pl.lit(True).alias("is_synthetic"))
    # Programme inputs (policy_input) for 5% of enterprises: a technology service contract (innovation voucher).
    pick = ids[rng.random(n) < 0.05]
    inp = pl.DataFrame({"id": np.arange(1, len(pick) + 1), "organisation_id": pick,
                        "value": rng.integers(10_000_00, 2_000_000_00, len(pick)).astype(str)}).with_columns(
        pl.lit(YEAR).alias("year"), pl.lit("contract_amount_fen").alias("fact"), pl.lit("合成数据").alias("source"),
        pl.lit(True).alias("is_synthetic"), pl.lit("benchmark").alias("submitted_by"),
        pl.lit(now).alias("submitted_at"))
    return {"organisation": org, "organisation_fact": fact, "qualification": qual, "policy_input": inp}


def load_sqlite(engine, tables: dict[str, pl.DataFrame]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, df in tables.items():
            cols = df.columns
            sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            df = df.with_columns([pl.col(c).cast(pl.String) for c, t in df.schema.items() if t in (pl.Date,
                                                                                                  pl.Datetime)])
            for chunk in df.iter_slices(200_000):
                cur.executemany(sql, chunk.rows())
        raw.commit()
    finally:
        raw.close()


def load_postgres(engine, tables: dict[str, pl.DataFrame]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, df in tables.items():
            buf = io.BytesIO()
            df.write_csv(buf, include_header=False, null_value="")
            with cur.copy(f"COPY {name} ({', '.join(df.columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def bench(kind: str, url: str, n: int, seed: int) -> dict:
    """Build the database, then time facts load, evaluation, the end-to-end run and a rerun."""
    from kechuang import migrate
    from kechuang.core.auth import SYSTEM
    from kechuang.db import build_engine
    from kechuang.policy import catalog, dbfacts, versions
    from kechuang.policy.engine import evaluate

    engine = build_engine(url)
    migrate.upgrade(engine)
    t = time.perf_counter()
    tables = synthetic_tables(n, seed)
    (load_sqlite if kind == "sqlite" else load_postgres)(engine, tables)
    with Session(engine) as s:
        versions.sync_library(s, SYSTEM)
        s.commit()
    build = time.perf_counter() - t
    del tables
    out = {"db": kind, "n": n, "build_s": build}
    with Session(engine) as s:
        t, c = time.perf_counter(), _cpu()
        rf = dbfacts.load_registry_facts(s, YEAR)
        out["facts_s"], out["facts_cpu"] = time.perf_counter() - t, _cpu() - c
        pols = [p for p in catalog.active_policies(s, date(YEAR, 12, 31)) if p.applies_to(YEAR)]
        t, c = time.perf_counter(), _cpu()
        res = evaluate(rf.frame, pols, YEAR)
        out["eval_s"], out["eval_cpu"] = time.perf_counter() - t, _cpu() - c
        out["eligible"] = int(res.long["eligible"].fill_null(False).sum())
        out["rows"] = rf.frame.height
        del rf, res
    try:
        from kechuang.policy import service
    except ImportError:
        service = None
    if service is not None and hasattr(service, "run_period"):
        for label in ("run", "rerun"):
            with Session(engine) as s:
                t, c = time.perf_counter(), _cpu()
                r = service.run_period(s, SYSTEM, YEAR, execute=True)
                s.commit()
                out[f"{label}_s"], out[f"{label}_cpu"] = time.perf_counter() - t, _cpu() - c
                out[f"{label}_detail"] = (f"created {r.created}, updated {r.updated}, eligible {r.eligible}, "
                                          f"no_change {r.no_change}")
    out["rss_mib"] = _rss_mib()
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", default="sqlite", help="sqlite, postgres or sqlite,postgres")
    ap.add_argument("--pg-url", default=os.environ.get("KECHUANG_BENCH_PG_URL", ""),
                    help="PostgreSQL server URL (a throw-away database is created on it and dropped after).")
    args = ap.parse_args()
    for kind in args.db.split(","):
        if kind == "sqlite":
            d = Path(tempfile.mkdtemp(prefix="kechuang-nightly-"))
            url, cleanup = f"sqlite:///{d / 'nightly.db'}", lambda d=d: [p.unlink() for p in d.iterdir()]
        else:
            if not args.pg_url:
                print("postgres: --pg-url (or KECHUANG_BENCH_PG_URL) not given; skipped")
                continue
            name = f"kechuang_nightly_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)

            def cleanup(admin=admin, name=name):
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        try:
            r = bench(kind, url, args.n, args.seed)
        finally:
            cleanup()
        print(f"{kind}: {r['n']:,} enterprises (database built in {r['build_s']:.0f} s, not timed)")
        print(f"  facts load (load_registry_facts) {r['facts_s']:7.2f} s wall {r['facts_cpu']:7.2f} s CPU "
              f"({r['rows']:,} rows)")
        print(f"  evaluation (all policies, polars) {r['eval_s']:6.2f} s wall {r['eval_cpu']:7.2f} s CPU "
              f"({r['eligible']:,} eligible enterprise × policy pairs)")
        if "run_s" in r:
            print(f"  run_period end to end           {r['run_s']:7.2f} s wall {r['run_cpu']:7.2f} s CPU "
                  f"({r['run_detail']})")
            print(f"  rerun (nothing changed)         {r['rerun_s']:7.2f} s wall {r['rerun_cpu']:7.2f} s CPU "
                  f"({r['rerun_detail']})")
            verdict = "meets" if r["run_s"] < 120 else "misses"
            print(f"  goal: nightly run < 120 s — {verdict} ({r['run_s']:.1f} s)")
        else:
            total = r["facts_s"] + r["eval_s"]
            print(f"  (no run service: facts load + evaluation = {total:.1f} s)")
        print(f"  peak RSS {r['rss_mib']:.0f} MiB")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
