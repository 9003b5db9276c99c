"""``kechuang commitments import-reply|report|compute``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kechuang.commitments import report as report_render
from kechuang.commitments import service
from kechuang.core.auth import SYSTEM
from kechuang.core.errors import AppError
from kechuang.core.i18n import _
from kechuang.db import session_scope

app = typer.Typer(help="Proposals, replies and their 下一步 commitments.", no_args_is_help=True)
console = Console()


@app.command("import-reply")
def import_reply(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Text of a reply letter (UTF-8)."),
    execute: bool = typer.Option(False, "--execute", help="Save the records (default: dry run)."),
):
    """Recognise a reply letter's metadata, sections, commitments and figures; save with --execute."""
    text = file.read_text(encoding="utf-8")
    try:
        with session_scope() as session:
            result, parsed = service.import_reply(session, SYSTEM, text, execute=execute)
    except AppError as exc:
        console.print(f"[red]{exc.render_message()}[/red]")
        for e in exc.errors:
            console.print(f"  {e.field}: {e.render()['reason']}")
        raise typer.Exit(1) from exc
    table = Table(title=f"{parsed.doc_no} · {parsed.session_name} {parsed.proposal_number}")
    for col in ("#", _("Section"), _("Item"), _("Kind"), _("Co-handling units"), _("Commitment")):
        table.add_column(col)
    for c in parsed.commitments:
        table.add_row(str(c.ordinal), str(c.section), c.item_label or "", c.kind, "、".join(c.co_units), c.phrase)
    console.print(table)
    for f in parsed.figures:
        console.print(f"{f.code}: {'>' if f.qualifier == '>' else ''}{f.value} {f.unit} ({f.period}) — {f.quote}")
    for w in parsed.warnings:
        console.print(f"[yellow]{w}[/yellow]")
    if result.unchanged:
        console.print(_("Already recorded; nothing changed."))
    elif execute:
        console.print(_("Saved reply {doc_no} with {n} commitments.", doc_no=parsed.doc_no, n=result.commitments))
    else:
        console.print(_("Dry run: nothing was saved. Add --execute to save."))


@app.command("report")
def report(
    reply: str = typer.Option(..., "--reply", help="Document number, e.g. 沪科提复〔2025〕56号"),
    format: str = typer.Option("json", "--format", help="json, html or xlsx"),
    out: Path = typer.Option(None, "--out", help="Output file (default: standard output for json/html)."),
):
    """Print or write the progress report of a reply."""
    if format not in ("json", "html", "xlsx"):
        console.print(_("--format must be json, html or xlsx."))
        raise typer.Exit(2)
    try:
        with session_scope() as session:
            data = service.progress_report(session, SYSTEM, reply)
    except AppError as exc:
        console.print(f"[red]{exc.render_message()}[/red]")
        raise typer.Exit(1) from exc
    if format == "xlsx":
        target = out or Path("progress-report.xlsx")
        target.write_bytes(report_render.to_xlsx(data))
        console.print(_("Wrote {path}.", path=str(target)))
        return
    text = report_render.to_json(data) if format == "json" else report_render.to_html(data)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text)


@app.command("compute")
def compute(period: str = typer.Option(..., "--period", help="Year, e.g. 2024")):
    """Compute the indicators kechuang can compute from its records for a year."""
    with session_scope() as session:
        rows = service.compute_indicators(session, SYSTEM, period)
        for r in rows:
            console.print(f"{r.indicator_id}: {r.value} ({'synthetic' if r.from_synthetic_data else 'records'})")
