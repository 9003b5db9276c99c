"""The ``kechuang`` command: Typer root; each domain contributes a sub-command group."""

from __future__ import annotations

import importlib

import typer
from rich.console import Console

from kechuang.config import settings
from kechuang.core.i18n import _, set_locale

app = typer.Typer(help="kechuang (科创): science-and-technology innovation platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)

# (module, command name) of every domain's Typer group. Add new domains here.
GROUPS: list[tuple[str, str]] = [
    ("kechuang.dbcli", "db"),
    ("kechuang.registry.cli", "registry"),
    ("kechuang.demo.cli", "demo"),
    ("kechuang.commitments.cli", "commitments"),
    ("kechuang.accounts.cli", "user"),
    ("kechuang.accounts.audit_cli", "audit"),
    ("kechuang.policy.cli", "policy"),
    ("kechuang.transfer.cli", "transfer"),
    ("kechuang.talent.cli", "talent"),
    ("kechuang.science.cli", "science"),
]


@app.callback()
def _root(lang: str = typer.Option(None, "--lang", help="Message language: zh or en (default: configured).")):
    """kechuang command line."""
    set_locale(lang or settings.language)


@app.command()
def serve(
    host: str = typer.Option(settings.host, help="Address to bind."),
    port: int = typer.Option(settings.port, help="Port."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
    workers: int = typer.Option(1, help="Worker processes."),
):
    """Serve the web app and API."""
    import uvicorn

    console.print(_("Serving on http://{host}:{port}", host=host, port=port))
    uvicorn.run("kechuang.app:create_app", factory=True, host=host, port=port, reload=reload, workers=workers,
                log_level=settings.log_level.lower())


for _module, _name in GROUPS:
    try:
        app.add_typer(importlib.import_module(_module).app, name=_name)
    except ModuleNotFoundError as _exc:  # a domain that is not there yet
        if _exc.name != _module:
            raise


def main() -> None:
    """Entry point of the ``kechuang`` script."""
    app()
