"""``kechuang policy check DIR`` and ``kechuang policy eval ...`` — the stable CLI contract of the
policy engine. Neither needs a database."""

from __future__ import annotations

import os
import time
from pathlib import Path

import polars as pl
import typer
from rich.console import Console

from kechuang.policy.engine import BACKENDS, compile_all, evaluate, required_columns
from kechuang.policy.facts_io import FactsFileError, read_facts
from kechuang.policy.language import PolicyError, load_directory
from kechuang.policy.testing import check_directory

app = typer.Typer(help="Policies as code: check policy files, evaluate them over a facts file.",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

OUTPUT_COLUMNS = ["credit_code", "policy_id", "eligible", "amount_fen", "failed_clauses"]


@app.command("check")
def check_cmd(
    directory: Path = typer.Argument(..., help="Directory of policy files (*.yaml)."),
    backend: str = typer.Option("polars", "--backend", help="Backend that runs the tests: polars, sql or sqlite."),
):
    """Validate every policy file and run its own tests; non-zero exit on any failure."""
    if backend not in BACKENDS:
        console.print(f"--backend must be one of: {', '.join(BACKENDS)}")
        raise typer.Exit(2)
    report = check_directory(directory, backend)
    for p in report.problems:
        console.print(str(p), markup=False)
    by_policy: dict[str, list] = {}
    for o in report.outcomes:
        by_policy.setdefault(o.policy_id, []).append(o)
    for pol in sorted(report.policies, key=lambda p: p.id):
        outs = by_policy.get(pol.id, [])
        bad = [o for o in outs if not o.ok]
        status = "ok  " if not bad else "FAIL"
        console.print(f"{status} {pol.id}: {len(outs) - len(bad)}/{len(outs)} tests passed ({pol.file})", markup=False)
        for o in bad:
            console.print(f"  {o.file}:{o.line}: {o.name}: {o.message}", markup=False)
    failed_files = {p.file for p in report.problems}
    for f in sorted(failed_files):
        console.print(f"FAIL {f}: not loaded", markup=False)
    total = len(report.outcomes)
    passed = sum(o.ok for o in report.outcomes)
    console.print(f"{len(report.policies)} policies, {passed}/{total} tests passed, "
                  f"{len(report.problems)} load problems", markup=False)
    if not report.ok:
        raise typer.Exit(1)


def _tri(col: str) -> pl.Expr:
    c = pl.col(col)
    return pl.when(c).then(pl.lit("true")).when(c.not_()).then(pl.lit("false")).otherwise(pl.lit(None, pl.String))


@app.command("eval")
def eval_cmd(
    policies: Path = typer.Option(..., "--policies", help="Directory of policy files."),
    facts: Path = typer.Option(..., "--facts", help="Facts file (.csv or .parquet): credit_code + fact columns."),
    year: int = typer.Option(..., "--year", help="Facts year."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv, or .parquet by extension)."),
    backend: str = typer.Option("polars", "--backend",
                                help="polars (default), sql (DuckDB), sqlite, or spark (extra 'spark', local mode)."),
    explain: bool = typer.Option(False, "--explain", help="Add one column per clause (clause.<id>)."),
):
    """Evaluate every policy applying to YEAR over every enterprise of the facts file."""
    if backend not in (*BACKENDS, "spark"):
        console.print(f"--backend must be one of: {', '.join((*BACKENDS, 'spark'))}")
        raise typer.Exit(2)
    try:
        pols = load_directory(policies)
    except PolicyError as exc:
        for p in exc.problems:
            console.print(str(p), markup=False)
        raise typer.Exit(1) from None
    compiled = compile_all(pols, year)
    try:
        frame = read_facts(facts, required_columns(compiled))
    except FactsFileError as exc:
        console.print(f"Facts file refused ({len(exc.problems)} problems); nothing was written:", markup=False)
        for p in exc.problems:
            console.print(f"  {p}", markup=False)
        raise typer.Exit(2) from None
    t0 = time.perf_counter()
    result = evaluate(frame, pols, year, backend=backend, explain=explain)
    long = result.long
    cols = list(OUTPUT_COLUMNS)
    if explain:
        cols += ["unknown_clauses"] + sorted(c for c in long.columns if c.startswith("clause."))
    long = long.select(cols)
    parquet = out.suffix.lower() in (".parquet", ".pq")
    if not parquet:
        long = long.with_columns([_tri(c).alias(c) for c in cols if c == "eligible" or c.startswith("clause.")])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if parquet:
            long.write_parquet(tmp)
        else:
            long.write_csv(tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    elig = result.long["eligible"]
    console.print(
        f"{frame.height} enterprises × {len(compiled)} policies ({backend}): "
        f"{int(elig.fill_null(False).sum())} eligible, {int(elig.null_count())} unknown; "
        f"total {int(result.long['amount_fen'].fill_null(0).sum())} fen; "
        f"{time.perf_counter() - t0:.2f} s → {out}", markup=False)


@app.command("sync-library")
def sync_library_cmd(
    directory: Path = typer.Option(None, "--dir", help="Policy directory (default: the shipped library)."),
    execute: bool = typer.Option(False, "--execute", help="Write; without it, show what would change."),
):
    """Bring the shipped policy library into the database as versions (idempotent)."""
    from kechuang.core.auth import SYSTEM
    from kechuang.db import session_scope
    from kechuang.policy import versions
    from kechuang.policy.language import LIBRARY_DIR

    with session_scope() as session:
        result = versions.sync_library(session, SYSTEM, directory or LIBRARY_DIR)
        console.print(f"published {len(result.published)}: {', '.join(result.published) or '-'}", markup=False)
        console.print(f"drafted {len(result.drafted)} (an officer's edit is in force): "
                      f"{', '.join(result.drafted) or '-'}", markup=False)
        console.print(f"unchanged {len(result.unchanged)}", markup=False)
        if not execute:
            session.rollback()
            console.print("Dry run: nothing was written. Add --execute to write.", markup=False)


@app.command("run")
def run_cmd(
    period: int = typer.Option(..., "--period", help="Facts year (YYYY) whose entitlements to compute."),
    execute: bool = typer.Option(False, "--execute", help="Write; without it, show what would change."),
    backend: str = typer.Option("polars", "--backend", help="Engine backend: polars, sql or sqlite."),
):
    """Compute the period's entitlements from the registry and programme inputs (idempotent)."""
    from kechuang.core.auth import SYSTEM
    from kechuang.core.errors import AppError
    from kechuang.db import session_scope
    from kechuang.policy import service

    try:
        with session_scope() as session:
            out = service.run_period(session, SYSTEM, period, execute=execute, backend=backend)
    except AppError as exc:
        console.print(exc.render_message(), markup=False)
        for e in exc.errors:
            console.print(f"  {e.field}: {e.render()['reason']}", markup=False)
        raise typer.Exit(1) from exc
    console.print(f"period {period}: {len(out.policies)} policies × {out.enterprises} enterprises, facts "
                  f"{out.facts_hash[:12]}, {out.seconds:.2f} s", markup=False)
    if out.no_change:
        console.print(f"no change since run #{out.run_id} (same policies and facts): nothing written", markup=False)
        return
    console.print(f"eligible {out.eligible} (total {out.total_fen} fen): created {out.created}, updated "
                  f"{out.updated}, reopened {out.reopened}, withdrawn {out.withdrawn}, adjustments {out.adjusted}, "
                  f"unchanged {out.unchanged}", markup=False)
    if execute:
        console.print(f"recorded as run #{out.run_id}", markup=False)
    else:
        console.print("Dry run: nothing was written. Add --execute to write.", markup=False)


@app.command("lapse")
def lapse_cmd(
    execute: bool = typer.Option(False, "--execute", help="Write; without it, list what would lapse."),
):
    """Lapse notified entitlements whose confirmation deadline has passed (run daily)."""
    from kechuang.core.auth import SYSTEM
    from kechuang.db import session_scope
    from kechuang.policy import service

    with session_scope() as session:
        ids = service.lapse(session, SYSTEM, execute=execute)
    verb = "lapsed" if execute else "would lapse"
    console.print(f"{verb}: {len(ids)}" + (f" ({', '.join(map(str, ids[:20]))}{'…' if len(ids) > 20 else ''})"
                                           if ids else ""), markup=False)
    if not execute and ids:
        console.print("Dry run: nothing was written. Add --execute to write.", markup=False)
