"""``kechuang registry import|export``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kechuang.core.auth import SYSTEM
from kechuang.core.errors import ValidationFailed
from kechuang.core.i18n import _
from kechuang.core.pagination import PageParams
from kechuang.db import session_scope
from kechuang.registry import export as registry_export
from kechuang.registry import importer, service

app = typer.Typer(help="Registry of organisations, people and yearly facts.", no_args_is_help=True)
console = Console()


@app.command("export")
def export_cmd(
    format: str = typer.Option("xlsx", "--format", help="xlsx or csv"),
    kind: str = typer.Option("organisations", "--kind", help="organisations or people"),
    out: Path = typer.Option(None, "--out", help="Output file (default: <kind>-<date>.<format>)."),
    district: str = typer.Option(None, help="Only this district."),
    org_kind: str = typer.Option(None, "--org-kind", help="Only organisations of this kind."),
):
    """Export a registry list as XLSX or CSV (UTF-8 with BOM)."""
    if format not in ("xlsx", "csv") or kind not in ("organisations", "people"):
        console.print(_("--format must be xlsx or csv; --kind organisations or people."))
        raise typer.Exit(2)
    fmt: Literal["xlsx", "csv"] = format  # type: ignore[assignment]
    params = PageParams(page=1, per_page=200)
    with session_scope() as session:
        if kind == "organisations":
            filters = service.OrganisationFilters(kind=org_kind, district=district)
            data, _media, name = registry_export.export_organisations(session, SYSTEM, params, filters, fmt)
        else:
            data, _media, name = registry_export.export_people(session, SYSTEM, params, fmt)
    target = out or Path(name)
    target.write_bytes(data)
    console.print(_("Wrote {path} ({size} bytes).", path=str(target), size=len(data)))


def print_import_result(result: importer.ImportResult, show_changes: int = 20) -> None:
    """A table of what an import did (or would do) per kind."""
    title = _("Dry run: nothing was written") if result.dry_run else _("Imported {name}", name=result.filename)
    table = Table(title=title)
    for label in (_("Kind"), _("Rows"), _("Created"), _("Updated"), _("Unchanged")):
        table.add_column(label, justify="left" if label == _("Kind") else "right")
    for kind, c in result.kinds.items():
        table.add_row(kind, str(c.rows), str(c.created), str(c.updated), str(c.unchanged))
    table.add_row(_("Total"), str(result.rows), str(result.created), str(result.updated), str(result.unchanged),
                  style="bold")
    console.print(table)
    if result.dry_run and result.changes and show_changes:
        shown = result.changes[:show_changes]
        changes = Table(title=_("Changes (first {n})", n=len(shown)))
        for label in (_("Kind"), _("Key"), _("Action"), _("Changed fields")):
            changes.add_column(label)
        for ch in shown:
            create = ch.action == "create"
            changes.add_row(ch.kind, ch.key, _("create") if create else _("update"), "" if create else
                            ", ".join(ch.fields))
        console.print(changes)
    if result.ignored_columns:
        console.print(_("Ignored columns: {columns}", columns=", ".join(result.ignored_columns)))


def print_import_errors(exc: ValidationFailed) -> None:
    """Every bad row: row, column, value, reason."""
    table = Table(title=exc.render_message())
    for label in (_("Row"), _("Column"), _("Value"), _("Reason")):
        table.add_column(label)
    for e in exc.errors:
        r = e.render()
        table.add_row(str(r.get("row", "")), r["field"], str(r.get("value", "")), r["reason"])
    console.print(table)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX file."),
    kind: str = typer.Option(None, "--kind", help="organisations, facts, qualifications or people "
                                                  "(default: guessed from the headers)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show what would change; write nothing."),
):
    """Import organisations, facts, qualifications or people from CSV/XLSX (all rows or none)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(_("Reading"), total=None)

        def progress(stage: str, done: int, total: int) -> None:
            label = _("Validating") if stage == "validate" else _("Writing")
            bar.update(task, description=label, completed=done, total=total)

        try:
            with session_scope() as session:
                result = importer.import_file(session, SYSTEM, file, kind=kind, dry_run=dry_run, progress=progress)
        except ValidationFailed as exc:
            bar.stop()
            print_import_errors(exc)
            raise typer.Exit(1) from None
    print_import_result(result)
