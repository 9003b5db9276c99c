"""``kechuang audit verify|seal|prove``: the hash chain, daily Merkle roots and inclusion proofs."""

from __future__ import annotations

import json
from datetime import date

import typer
from rich.console import Console

from kechuang.accounts import audit_service
from kechuang.core.auth import SYSTEM
from kechuang.core.errors import AppError
from kechuang.core.i18n import _
from kechuang.db import session_scope

app = typer.Typer(help="Audit log: verify the chain, seal a day's Merkle root, prove an entry.",
                  no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command("verify")
def verify():
    """Recompute the hash chain and the sealed daily roots; exit 1 naming the first broken entry."""
    with session_scope() as session:
        report = audit_service.check_chain(session)
    if report.ok:
        console.print(report.message())
        return
    err_console.print(report.message())
    raise typer.Exit(1)


@app.command("seal")
def seal(
    day: str = typer.Option(None, "--day", help="One UTC day YYYY-MM-DD (default: every finished day not sealed)."),
    allow_open_day: bool = typer.Option(False, "--allow-open-day", help="Also seal a day that is not over."),
):
    """Store the Merkle root of finished UTC days' audit entries (run daily; it catches up)."""
    try:
        the_day = date.fromisoformat(day) if day else None
    except ValueError:
        err_console.print(_("--day must be YYYY-MM-DD."))
        raise typer.Exit(2) from None
    try:
        with session_scope() as session:
            if the_day is None:
                rows = audit_service.seal_missing_days(session, SYSTEM)
            else:
                rows = [audit_service.seal_day(session, SYSTEM, the_day, allow_open_day=allow_open_day)]
            for row in rows:
                console.print(_("Sealed {day}: {count} entries, root {root}.", day=row.day_date.isoformat(),
                                count=row.entry_count, root=row.root_hash))
            if not rows:
                console.print(_("Nothing to seal."))
    except AppError as exc:
        err_console.print(exc.render_message())
        for e in exc.errors:
            err_console.print(f"  {e.render()['reason']}")
        raise typer.Exit(1) from None


@app.command("prove")
def prove(entry_id: int = typer.Argument(..., help="Audit entry id.")):
    """Print the RFC 6962 inclusion proof of an entry (JSON) and whether it verifies."""
    try:
        with session_scope() as session:
            p = audit_service.inclusion_proof(session, SYSTEM, entry_id)
    except AppError as exc:
        err_console.print(exc.render_message())
        raise typer.Exit(1) from None
    console.print_json(json.dumps({
        "entry_id": p.entry_id, "entry_hash": p.entry_hash, "day_date": p.day_date.isoformat(),
        "leaf_index": p.leaf_index, "tree_size": p.tree_size, "path": p.path, "root_hash": p.root_hash,
        "sealed": p.sealed, "verified": p.verified,
    }))
    if not p.verified:
        raise typer.Exit(1)
