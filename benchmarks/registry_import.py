"""Headline figure: rows per second importing 100,000 organisations with one year of facts each
(two CSV files, Chinese headers) into SQLite and PostgreSQL, then re-importing them (nothing changes).

    .venv/bin/python benchmarks/registry_import.py [--rows 100000] [--skip-postgres]

PostgreSQL: ``KECHUANG_BENCH_POSTGRES_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5433/postgres);
a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kechuang import migrate
from kechuang.core.auth import SYSTEM
from kechuang.core.identifiers import make_credit_code
from kechuang.db import build_engine, session_scope
from kechuang.registry import importer
from kechuang.registry.reference import DISTRICTS

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5433/postgres"


def make_files(n: int, seed: int = 7) -> tuple[bytes, bytes]:
    """Organisation and fact CSVs (UTF-8 with BOM, Chinese headers) for ``n`` enterprises."""
    rng = random.Random(seed)
    districts = list(DISTRICTS.items())
    orgs, facts = io.StringIO(), io.StringIO()
    ow, fw = csv.writer(orgs), csv.writer(facts)
    ow.writerow(["统一社会信用代码", "名称", "机构类型", "所在区", "行业门类", "行业大类", "所有制", "成立日期", "合成数据"])
    fw.writerow(["统一社会信用代码", "年度", "来源部门", "截至日期", "营业收入（分）", "研发费用（分）", "从业人员",
                 "科技人员", "纳税信用等级", "严重失信", "重大安全环保事故"])
    for i in range(n):
        name, division = districts[i % 16]
        code = make_credit_code("91", division, f"{i:08d}")
        ow.writerow([code, f"上海基准测试{i}科技有限公司", "企业", name, "I", "65", "民营",
                     f"{2000 + i % 24}-{1 + i % 12:02d}-01", "是"])
        emp = rng.randint(5, 2000)
        rev = rng.randint(10**6, 10**11)
        fw.writerow([code, 2024, "市统计局", "2025-03-31", rev, rev // 20, emp, emp // 3, "A", "否", "否"])
    return ("\ufeff" + orgs.getvalue()).encode(), ("\ufeff" + facts.getvalue()).encode()


def run(url: str, label: str, files: tuple[bytes, bytes], n: int) -> None:
    """Import both files twice into the database at ``url`` and print the rates."""
    engine = build_engine(url)
    migrate.upgrade(engine)
    times, cpu = [], []
    for attempt in ("first", "again"):
        t0, c0 = time.perf_counter(), time.process_time()
        for data, name in zip(files, ("organisations.csv", "facts.csv"), strict=True):
            with session_scope(engine) as session:
                result = importer.import_file(session, SYSTEM, data, filename=name)
                assert result.rows == n, result
                assert (result.created if attempt == "first" else result.unchanged) == n, result
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    engine.dispose()
    rows = 2 * n
    print(f"{label:<11} import {n:,} organisations + {n:,} facts: {times[0]:6.1f} s  "
          f"{rows / times[0]:9,.0f} rows/s (client CPU {cpu[0]:.1f} s) | re-import (all unchanged): "
          f"{times[1]:6.1f} s  {rows / times[1]:9,.0f} rows/s (client CPU {cpu[1]:.1f} s)")


def main() -> None:
    """Parse arguments, build the files, run on SQLite and PostgreSQL."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    files = make_files(args.rows)
    print(f"generated 2 CSV files ({sum(map(len, files)) / 2**20:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite", files, args.rows)
    if args.skip_postgres:
        return
    base = os.environ.get("KECHUANG_BENCH_POSTGRES_URL", PG_DEFAULT)
    name = f"kechuang_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run(make_url(base).set(database=name).render_as_string(hide_password=False), "PostgreSQL", files, args.rows)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
