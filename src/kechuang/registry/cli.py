"""``kechuang registry import|export``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from kechuang.core.auth import SYSTEM
from kechuang.core.i18n import _
from kechuang.core.pagination import PageParams
from kechuang.db import session_scope
from kechuang.registry import export as registry_export
from kechuang.registry import service

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
