"""``kechuang user add|list|disable|enable|set-role|set-password|purge`` (operator commands, as ``SYSTEM``)."""

from __future__ import annotations

import sys
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

from kechuang.accounts import service
from kechuang.accounts.schemas import RoleUpdate, UserCreate
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import AppError
from kechuang.core.i18n import _
from kechuang.core.pagination import PageParams
from kechuang.db import session_scope

app = typer.Typer(help="User accounts: add, list, disable, enable, set-role, set-password.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(exc: AppError) -> None:
    err_console.print(exc.render_message())
    for e in exc.errors:
        r = e.render()
        err_console.print(f"  {r['field']}: {r['reason']}")
    raise typer.Exit(1)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        err_console.print(_("Unknown role '{role}'; allowed: {allowed}.", role=value,
                            allowed=", ".join(r.value for r in Role if r is not Role.SYSTEM)))
        raise typer.Exit(2) from None


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (lower-case letters, digits, . _ -)."),
    role: str = typer.Option(..., "--role", help="Role, e.g. enterprise_user, auditor, admin."),
    display_name: str = typer.Option(None, "--display-name", help="Name shown in the UI (default: username)."),
    organisation_id: int = typer.Option(None, "--organisation-id", help="Bound organisation (enterprise, TTO)."),
    person_id: int = typer.Option(None, "--person-id", help="Bound person (researcher, expert)."),
    district: str = typer.Option(None, "--district", help="Bound district (district officer), e.g. 浦东新区."),
    language: str = typer.Option("zh", "--language", help="zh or en."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
):
    """Create an account; asks for the password (or reads it with --password-stdin) and checks the policy."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    data = UserCreate(username=username, display_name=display_name or username, password=password,
                      role=_role(role), organisation_id=organisation_id, person_id=person_id, district=district,
                      language="en" if language == "en" else "zh")
    try:
        with session_scope() as session:
            user = service.create_user(session, SYSTEM, data)
            console.print(_("Created user {username} (id {id}, role {role}).", username=user.username, id=user.id,
                            role=user.role))
    except AppError as exc:
        _fail(exc)


@app.command("set-password")
def set_password(
    username: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
):
    """Set an account's password (the policy applies; its browser sessions end)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            user = service.get_user_by_username(session, SYSTEM, username)
            service.set_password(session, SYSTEM, user.id, password)
        console.print(_("Password of {username} changed.", username=username))
    except AppError as exc:
        _fail(exc)


@app.command("list")
def list_cmd(
    role: str = typer.Option(None, "--role", help="Only this role."),
    include_disabled: bool = typer.Option(False, "--all", help="Include disabled accounts."),
    q: str = typer.Option(None, "--q", help="Search username and display name."),
):
    """List accounts."""
    with session_scope() as session:
        page = service.list_users(session, SYSTEM, PageParams(page=1, per_page=200, q=q), role,
                                  None if include_disabled else True)
    table = Table("id", _("username"), _("role"), _("bound to"), _("active"), _("last log-in"))
    for u in page.items:
        bound = (f"org {u.organisation_id}" if u.organisation_id else f"person {u.person_id}" if u.person_id
                 else u.district or "")
        table.add_row(str(u.id), u.username, u.role, bound, "yes" if u.is_active else "no",
                      u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "")
    console.print(table)
    console.print(_("{count} accounts", count=page.total))


@app.command("disable")
def disable(username: str = typer.Argument(..., help="Login name.")):
    """Disable an account and revoke its sessions and API tokens."""
    try:
        with session_scope() as session:
            user = service.get_user_by_username(session, SYSTEM, username)
            service.disable_user(session, SYSTEM, user.id)
        console.print(_("Disabled {username}.", username=username))
    except AppError as exc:
        _fail(exc)


@app.command("enable")
def enable(username: str = typer.Argument(..., help="Login name.")):
    """Re-enable a disabled account."""
    try:
        with session_scope() as session:
            user = service.get_user_by_username(session, SYSTEM, username)
            service.enable_user(session, SYSTEM, user.id)
        console.print(_("Enabled {username}.", username=username))
    except AppError as exc:
        _fail(exc)


@app.command("set-role")
def set_role(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Argument(..., help="New role."),
    organisation_id: int = typer.Option(None, "--organisation-id"),
    person_id: int = typer.Option(None, "--person-id"),
    district: str = typer.Option(None, "--district"),
):
    """Change an account's role and binding."""
    try:
        with session_scope() as session:
            user = service.get_user_by_username(session, SYSTEM, username)
            service.set_role(session, SYSTEM, user.id, RoleUpdate(role=_role(role), organisation_id=organisation_id,
                                                                  person_id=person_id, district=district))
        console.print(_("{username} is now {role}.", username=username, role=role))
    except AppError as exc:
        _fail(exc)


@app.command("purge")
def purge(
    days: int = typer.Option(30, "--days", min=1, help="Keep the last N days."),
    execute: bool = typer.Option(False, "--execute", help="Delete (default: dry run, counts only)."),
):
    """Remove old log-in attempts and ended browser sessions (dry run unless --execute)."""
    with session_scope() as session:
        counts = service.purge_stale(session, SYSTEM, timedelta(days=days), execute=execute)
    verb = _("Deleted") if execute else _("Would delete (dry run)")
    console.print(f"{verb}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
