"""``kechuang db upgrade|downgrade|check``."""

from __future__ import annotations

import typer
from rich.console import Console

from kechuang import migrate
from kechuang.core.i18n import _
from kechuang.db import get_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
console = Console()


@app.command()
def upgrade(revision: str = typer.Argument("heads", help="Target revision (default: all heads).")):
    """Upgrade the database schema."""
    migrate.upgrade(get_engine(), revision)
    console.print(_("Database is at {heads}.", heads=", ".join(sorted(migrate.current_heads(get_engine())))))


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base.")):
    """Downgrade the database schema."""
    migrate.downgrade(get_engine(), revision)
    console.print(_("Database is at {heads}.", heads=", ".join(sorted(migrate.current_heads(get_engine()))) or "base"))


@app.command()
def check():
    """Exit non-zero unless the database is at the latest revision and matches the models."""
    engine = get_engine()
    current, heads = migrate.current_heads(engine), migrate.script_heads()
    if current != heads:
        console.print(_("Database is at {current}; migrations are at {heads}. Run: kechuang db upgrade",
                        current=", ".join(sorted(current)) or "base", heads=", ".join(sorted(heads))))
        raise typer.Exit(1)
    diff = migrate.schema_diff(engine)
    if diff:
        console.print(_("The database differs from the models: {diff}", diff=diff))
        raise typer.Exit(1)
    console.print(_("Database schema is up to date."))
