"""``kechuang demo load|logins``: synthetic demo data and the demo log-ins."""

from __future__ import annotations

import importlib
import time
from types import ModuleType

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import exists, select

from kechuang.core.auth import ROLE_LABELS, SYSTEM, Role
from kechuang.core.errors import ValidationFailed
from kechuang.core.i18n import _
from kechuang.db import session_scope
from kechuang.demo import generator
from kechuang.registry.cli import print_import_errors, print_import_result
from kechuang.registry.models import Organisation

app = typer.Typer(help="Synthetic demo data (every record marked synthetic) and demo log-ins.",
                  no_args_is_help=True)
console = Console()


def _accounts_demo() -> ModuleType | None:
    """``kechuang.accounts.demo`` if the accounts domain is installed."""
    try:
        return importlib.import_module("kechuang.accounts.demo")
    except ModuleNotFoundError as exc:
        if exc.name not in ("kechuang.accounts.demo", "kechuang.accounts"):
            raise
        return None


@app.command("load")
def load_cmd(
    size: str = typer.Option("small", "--size", help="small (a few hundred organisations) or city (100,000+)."),
    seed: int = typer.Option(2025, "--seed", help="Random seed: the same seed gives the same data."),
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when organisations already exist."),
    execute: bool = typer.Option(False, "--execute", help="Write; without it, show what would be written."),
):
    """Generate the synthetic data set and load it (dry run unless --execute)."""
    if size not in generator.SIZES:
        console.print(_("--size must be one of: {sizes}", sizes=", ".join(generator.SIZES)))
        raise typer.Exit(2)
    with session_scope() as session:
        if if_empty and session.scalar(select(exists().where(Organisation.id.is_not(None)))):
            console.print(_("Organisations already exist: demo data not loaded (--if-empty)."))
            return
    t0 = time.perf_counter()
    data = generator.generate(size, seed)
    console.print(_("Generated {counts} in {seconds:.1f} s (seed {seed}).",
                    counts=", ".join(f"{k} {v:,}" for k, v in data.counts().items()),
                    seconds=time.perf_counter() - t0, seed=seed))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar, session_scope() as session:
            task = bar.add_task(_("Validating"), total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=_("Validating") if stage == "validate" else _("Writing"),
                           completed=done, total=total)

            loaded = generator.load(session, SYSTEM, data, source=f"demo:{size}:seed={seed}", dry_run=not execute,
                                    progress=progress)
            if execute:  # before the demo log-ins and the commitments' indicators, which read these records
                from kechuang.transfer import demo as transfer_demo

                transfer_demo.load(session, size=size, seed=seed)
            accounts = _accounts_demo() if execute else None
            if accounts is not None:
                accounts.ensure_demo_users(session)
            if execute:
                from kechuang.commitments import demo as commitments_demo

                commitments_demo.compute_latest(session)
                from kechuang.science import demo as science_demo

                science_demo.load(session)
                from kechuang.policy import versions as policy_versions

                policy_versions.sync_library(session)
                from kechuang.policy import demo as policy_demo

                policy_demo.load(session, seed=seed)
                from kechuang.talent import demo as talent_demo  # after transfer: dossiers link its records

                talent_demo.load(session, seed=seed)
                from kechuang.talent import pilot_demo  # 立新标 standards, a rule-text audit, journey log-ins

                pilot_demo.load(session)
    except ValidationFailed as exc:  # a generator bug: show it like an import report
        print_import_errors(exc)
        raise typer.Exit(1) from None
    print_import_result(loaded.result, show_changes=0)
    console.print(_("Relations: {created} new, {unchanged} already there.", created=loaded.relations_created,
                    unchanged=loaded.relations_unchanged))
    if not execute:
        console.print(_("Dry run: nothing was written. Add --execute to load."))
    else:
        console.print(_("Loaded in {seconds:.1f} s.", seconds=time.perf_counter() - t0))
        if accounts is None:
            console.print(_("Accounts are not installed: no demo log-ins were created."))


@app.command("logins")
def logins_cmd():
    """Print one demo log-in per role (usable only when KECHUANG_DEMO_MODE=true)."""
    accounts = _accounts_demo()
    if accounts is None:
        console.print(_("Accounts are not installed yet: there are no demo log-ins."))
        return
    with session_scope() as session:
        logins = accounts.demo_logins(session)
    if not logins:
        console.print(_("No demo log-ins yet: run `kechuang demo load --execute` first."))
        return
    table = Table(title=_("Demo log-ins (synthetic data; demo mode only)"))
    for label in (_("Role"), _("Username"), _("Password"), _("Bound to")):
        table.add_column(label, no_wrap=label != _("Bound to"))
    for login in logins:
        table.add_row(_(ROLE_LABELS[Role(login.role)]), login.username, login.password, login.bound_to or "")
    Console(width=max(console.width, 110)).print(table)  # full usernames and passwords even when piped
