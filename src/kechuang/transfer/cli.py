"""``kechuang transfer stats|import|params`` (the stats and import contracts are kept stable: outside
checks use them)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from kechuang.core.auth import SYSTEM
from kechuang.core.errors import AppError, ValidationFailed
from kechuang.core.i18n import _, gettext
from kechuang.db import session_scope
from kechuang.transfer import importer, params, stats

app = typer.Typer(help="Results transfer (成果转化): statistics, imports, parameters.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _fail(exc: AppError) -> None:
    err.print(f"[red]{exc.render_message()}[/red]")
    for e in exc.errors:
        r = e.render()
        where = f"row {r['row']} " if "row" in r else ""
        value = f" ({r['value']})" if "value" in r else ""
        err.print(f"  {where}{r['field']}{value}: {r['reason']}")
    raise typer.Exit(1)


@app.command("stats")
def stats_cmd(
    year: int = typer.Option(None, "--year", help="Calendar year, e.g. 2024."),
    institution: str = typer.Option(None, "--institution", help="Only this institution (credit code)."),
    format: str = typer.Option("json", "--format", help="json or xlsx"),
    out: Path = typer.Option(None, "--out", help="Output file (json default: standard output)."),
    quarter: str = typer.Option(None, "--quarter", help="Instead of --year: a quarter, YYYYQn (e.g. 2024Q3)."),
    from_: str = typer.Option(None, "--from", help="Instead of --year: first day, YYYY-MM-DD (with --to)."),
    to: str = typer.Option(None, "--to", help="Last day, YYYY-MM-DD, inclusive (with --from)."),
):
    """The indicators of a year, a quarter or a date range, each compared with the same days one year earlier
    (one JSON object per indicator: indicator, value, unit, previous, yoy, period, scope, source)."""
    if format not in ("json", "xlsx"):
        err.print(_("--format must be json or xlsx."))
        raise typer.Exit(2)
    given = [name for name, v in (("--year", year), ("--quarter", quarter)) if v is not None]
    if from_ is not None or to is not None:
        given.append("--from/--to")
    if len(given) != 1:
        err.print(_("Give exactly one period: --year YYYY, --quarter YYYYQn or --from YYYY-MM-DD --to YYYY-MM-DD "
                    "(given: {given}).", given=", ".join(given) or "-"))
        raise typer.Exit(2)
    if (from_ is None) != (to is None):
        err.print(_("--from and --to go together: give both dates."))
        raise typer.Exit(2)
    try:
        period = stats.from_params(year=year, quarter=quarter, from_=from_, to=to)
        with session_scope() as session:
            rows = stats.compute(session, SYSTEM, period, institution)
    except AppError as exc:
        _fail(exc)
        return
    if format == "xlsx":
        target = out or Path(f"transfer-stats-{period.slug}.xlsx")
        target.write_bytes(stats.to_xlsx(rows))
        err.print(_("Wrote {path}.", path=str(target)))
        return
    text = json.dumps([dict(r, label=gettext(r["label"])) for r in rows], ensure_ascii=False, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


@app.command("import")
def import_cmd(
    kind: str = typer.Argument(..., help="contracts or achievements"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
):
    """Import technology contracts or achievements (every row valid or nothing written; re-import is a no-op)."""
    if kind not in importer.KINDS:
        err.print(_("The kind is contracts or achievements."))
        raise typer.Exit(2)
    try:
        with session_scope() as session:
            result = importer.import_file(session, SYSTEM, file, kind, dry_run=dry_run)
    except ValidationFailed as exc:
        _fail(exc)
        return
    c = result.kinds[kind]
    prefix = _("Dry run: nothing was written.") + " " if result.dry_run else ""
    console.print(prefix + _("{kind}: {rows} rows, {created} created, {updated} updated, {unchanged} unchanged.",
                             kind=kind, rows=c.rows, created=c.created, updated=c.updated, unchanged=c.unchanged))


@app.command("params")
def params_cmd():
    """The dated parameters with their status (confirmed / unconfirmed) and source."""
    typer.echo(json.dumps(params.as_table(), ensure_ascii=False, indent=2, default=str))
