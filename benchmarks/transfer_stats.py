"""Headline figure: the yearly results-transfer statistics (``kechuang transfer stats``) over 1,000,000
technology contracts and 100,000 achievements, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/transfer_stats.py [--contracts 1000000] [--achievements 100000] [--skip-postgres]

Synthetic rows (``is_synthetic``) are bulk-inserted into a scratch database built by the migrations (SQLite:
a temporary file; PostgreSQL: ``KECHUANG_BENCH_POSTGRES_URL``, default
postgresql+psycopg://postgres@127.0.0.1:5433/postgres, a scratch database created and dropped). Then
``stats.compute`` runs for one year over all institutions and for one institution, then for a quarter and for
a date range across a year boundary (each compared with the same days one year earlier, so the query reads
two disjoint date ranges); each is timed cold (first run) and warm (best of three). The figures are checked
against totals computed while generating the rows.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from kechuang import migrate
from kechuang.core.auth import SYSTEM
from kechuang.core.identifiers import make_credit_code
from kechuang.db import build_engine, session_scope
from kechuang.registry.models import Organisation, Person
from kechuang.transfer import stats
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    AchievementOwner,
    EmpowermentApplication,
    TechnologyContract,
    Transfer,
)

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5433/postgres"
YEAR = 2024
# Other periods timed and checked: a quarter and a range across a year boundary (tags as in ``stats``).
PERIODS = {"quarter": stats.Period.quarter(YEAR, 3),
           "range": stats.from_params(from_=f"{YEAR - 1}-11-15", to=f"{YEAR}-05-31")}
INSTITUTION_KINDS = ("university", "research_institute", "new_rd_institution", "hospital")
CATEGORIES = ("development_commissioned", "development_cooperative", "transfer", "licence", "consulting", "service")


def generate(n_contracts: int, n_achievements: int, seed: int = 11) -> dict[str, list[dict]]:
    """Deterministic synthetic rows for every table, plus the expected 2024 turnover (fen)."""
    rng = random.Random(seed)
    n_inst, n_ent = 400, 5000
    orgs = []
    for i in range(n_inst + n_ent):
        kind = INSTITUTION_KINDS[i % 4] if i < n_inst else "enterprise"
        orgs.append({"id": i + 1, "kind": kind, "name_zh": f"基准{'机构' if i < n_inst else '企业'}{i}",
                     "credit_code": make_credit_code("12" if i < n_inst else "91", "310115", f"B{i:07d}"),
                     "province": "上海", "is_synthetic": True})
    people = [{"id": i + 1, "name_zh": f"基准人员{i}", "roles": ["researcher"], "discipline_codes": [],
               "is_synthetic": True} for i in range(20000)]
    achievements, owners, members = [], [], []
    for i in range(n_achievements):
        aid = i + 1
        achievements.append({"id": aid, "kind": "invention_patent", "title": f"基准成果{i}", "number": f"ZLB{i:09d}",
                             "trl": 1 + i % 9, "fields": [], "keywords": [], "government_funding_fen": 0,
                             "is_classified": i % 97 == 0, "is_synthetic": True})
        owners.append({"achievement_id": aid, "organisation_id": 1 + i % n_inst, "share": 1})
        members.append({"achievement_id": aid, "person_id": 1 + i % 20000, "contribution": 1})
    start = date(YEAR - 2, 1, 1)
    contracts = []
    expected = {"turnover": 0, "technical": 0, "previous": 0}
    for key in PERIODS:
        expected[f"{key}_turnover"] = expected[f"{key}_previous"] = 0
    for i in range(n_contracts):
        seller = 1 + rng.randrange(n_inst) if i % 3 else n_inst + 1 + rng.randrange(n_ent)
        total = rng.randint(10_000_00, 50_000_000_00)
        non_tech = total // 10 if i % 5 == 0 else 0
        signed = start + timedelta(days=rng.randrange(4 * 365))
        registered = signed + timedelta(days=rng.randint(1, 40)) if i % 10 else None
        contracts.append({"number": f"HTB{i:09d}", "category": CATEGORIES[i % 6], "seller_organisation_id": seller,
                          "buyer_organisation_id": n_inst + 1 + rng.randrange(n_ent), "subject": "基准合同",
                          "signed_date": signed, "total_fen": total, "non_technical_fen": non_tech,
                          "technical_fen": total - non_tech, "state": "registered" if registered else "submitted",
                          "registered_date": registered, "is_synthetic": True})
        if registered and registered.year == YEAR:
            expected["turnover"] += total
            expected["technical"] += total - non_tech
        elif registered and registered.year == YEAR - 1:
            expected["previous"] += total
        for key, p in PERIODS.items():
            if registered and p.start <= registered <= p.end:
                expected[f"{key}_turnover"] += total
            if registered and p.previous.start <= registered <= p.previous.end:
                expected[f"{key}_previous"] += total
    transfers, applications = [], []
    modes = ("assignment", "licence", "equity", "self_implementation")
    for i in range(n_achievements // 5):
        mode = modes[i % 4]
        completed = start + timedelta(days=rng.randrange(4 * 365))
        transfers.append({"achievement_id": 1 + i, "organisation_id": 1 + i % n_inst, "mode": mode,
                          "counterparty_organisation_id": n_inst + 1 + rng.randrange(n_ent),
                          "company_is_new": (i % 8 == 2) if mode == "equity" else None,
                          "social_capital_fen": rng.randint(0, 10**10) if mode == "equity" else 0,
                          "price_fen": rng.randint(0, 10**9), "state": "completed", "completed_date": completed,
                          "valuation_required": False, "conflicts_declared": True,
                          "no_improper_gain_declared": True, "is_synthetic": True})
    for i in range(n_achievements // 20):
        applications.append({"achievement_id": 1 + i, "organisation_id": 1 + i % n_inst,
                             "applicant_person_id": 1 + i % 20000, "kind": "full_ownership",
                             "state": "approved" if i % 4 else "rejected",
                             "decision_date": start + timedelta(days=rng.randrange(4 * 365)), "is_synthetic": True})
    now = datetime.now(UTC)
    for rows in (orgs, people, achievements, contracts, transfers, applications):
        for r in rows:
            r["created_at"] = now
            r["updated_at"] = now
    return {"organisation": orgs, "person": people, "achievement": achievements, "achievement_owner": owners,
            "achievement_member": members, "technology_contract": contracts, "transfer": transfers,
            "empowerment_application": applications, "_expected": [expected]}


MODELS = [("organisation", Organisation), ("person", Person), ("achievement", Achievement),
          ("achievement_owner", AchievementOwner), ("achievement_member", AchievementMember),
          ("technology_contract", TechnologyContract), ("transfer", Transfer),
          ("empowerment_application", EmpowermentApplication)]


def _copy_pg(engine: Engine, table: str, rows: list[dict]) -> None:
    """PostgreSQL bulk load with COPY (text format)."""
    cols = list(rows[0])
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row([_pg_value(r[c]) for c in cols])
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine: Engine, table: str, rows: list[dict]) -> None:
    """SQLite bulk load: one prepared INSERT, executemany over plain tuples (values in SQLite's storage form)."""
    import json

    cols = list(rows[0])

    def plain(v):
        if isinstance(v, datetime):
            return v.replace(tzinfo=None).isoformat(sep=" ")
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, list):
            return json.dumps(v, ensure_ascii=False)
        return v

    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    with engine.begin() as conn:
        conn.exec_driver_sql(sql, [tuple(plain(r[c]) for c in cols) for r in rows])


def _pg_value(v):
    if isinstance(v, list):
        import json

        return json.dumps(v, ensure_ascii=False)
    return v


def load(engine: Engine, data: dict[str, list[dict]]) -> float:
    """Bulk-insert every table; returns seconds."""
    t0 = time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    for table, model in MODELS:
        rows = data[table]
        if not rows:
            continue
        # Bulk-load practice: drop the secondary indexes, load, build them once (timed as part of the load).
        with engine.begin() as conn:
            for ix in model.__table__.indexes:
                conn.execute(text(f"DROP INDEX IF EXISTS {ix.name}"))
        if pg:
            _copy_pg(engine, table, rows)
        else:
            _insert_sqlite(engine, table, rows)
        with engine.begin() as conn:
            for ix in model.__table__.indexes:
                ix.create(conn)
    with engine.begin() as conn:
        if pg:
            for table, _m in MODELS:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
        else:
            conn.execute(text("ANALYZE"))
    if pg:  # what autovacuum does after a bulk load: statistics and the visibility map (index-only scans)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


def timed(engine: Engine, institution: str | None, period: int | stats.Period = YEAR) -> tuple[float, float, list[dict]]:
    """Cold time, best warm time of three, and the result."""
    times = []
    rows: list[dict] = []
    for _ in range(4):
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            rows = stats.compute(s, SYSTEM, period, institution)
        times.append(time.perf_counter() - t0)
    return times[0], min(times[1:]), rows


def run(url: str, label: str, data: dict[str, list[dict]]) -> None:
    """Load the rows into ``url`` and time the statistics."""
    engine = build_engine(url)
    migrate.upgrade(engine)
    secs = load(engine, data)
    n = len(data["technology_contract"])
    print(f"{label}: loaded {n:,} contracts, {len(data['achievement']):,} achievements, "
          f"{len(data['transfer']):,} transfers in {secs:.1f} s")
    cold, warm, rows = timed(engine, None)
    by = {r["indicator"]: r for r in rows}
    exp = data["_expected"][0]
    assert by["contract_turnover"]["value"] == exp["turnover"], (by["contract_turnover"], exp)
    assert by["contract_technical"]["value"] == exp["technical"]
    assert by["contract_turnover"]["previous"] == exp["previous"]
    print(f"{label}: stats {YEAR}, all institutions: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms "
          f"(turnover {by['contract_turnover']['value'] / 1e10:.2f} 亿元, yoy {by['contract_turnover']['yoy']}, "
          f"{by['contracts_registered']['value']:,} contracts; checked against the generator's totals)")
    code = data["organisation"][0]["credit_code"]
    cold, warm, rows = timed(engine, code)
    print(f"{label}: stats {YEAR}, one institution: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms")
    for key, period in PERIODS.items():
        cold, warm, rows = timed(engine, None, period)
        t = next(r for r in rows if r["indicator"] == "contract_turnover")
        assert (t["value"], t["previous"]) == (exp[f"{key}_turnover"], exp[f"{key}_previous"]), (t, exp)
        n_in = next(r for r in rows if r["indicator"] == "contracts_registered")["value"]
        print(f"{label}: stats {period.label} (vs {t['previous_period']}), all institutions: cold {cold * 1000:.0f} ms, "
              f"warm {warm * 1000:.0f} ms ({n_in:,} contracts, turnover {t['value'] / 1e10:.2f} 亿元, yoy {t['yoy']}; "
              f"checked)")
        cold, warm, rows = timed(engine, code, period)
        print(f"{label}: stats {period.label}, one institution: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contracts", type=int, default=1_000_000)
    ap.add_argument("--achievements", type=int, default=100_000)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = generate(args.contracts, args.achievements)
    print(f"generated rows in {time.perf_counter() - t0:.1f} s")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite", data)
    if not args.skip_postgres:
        base = os.environ.get("KECHUANG_BENCH_POSTGRES_URL", PG_DEFAULT)
        name = f"kechuang_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(base).set(database=name).render_as_string(hide_password=False), "PostgreSQL", data)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
