"""CLI and real request-session tests: these write COMMITTED data (the CLI and the app's own sessions cannot
see the rolled-back test transaction) and clean up after themselves."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from kechuang.accounts import service
from kechuang.accounts.models import ApiToken, LoginAttempt, LoginSession, UserAccount
from kechuang.cli import app as cli_app
from kechuang.core import audit
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.db import session_scope
from tests.accounts.conftest import PASSWORD, make_user

runner = CliRunner()


def _kc(*args: str, input: str | None = None):
    result = runner.invoke(cli_app, ["--lang", "en", *args], input=input)
    return result, result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.fixture
def committed(engine):
    """Remembers the audit tail and removes committed accounts and audit entries made during the test."""
    with session_scope() as s:
        last = s.scalar(select(func.max(AuditEntry.id))) or 0
        users_before = set(s.scalars(select(UserAccount.id)))
    yield
    with session_scope() as s:
        new_users = [u for u in s.scalars(select(UserAccount.id)) if u not in users_before]
        names = list(s.scalars(select(UserAccount.username).where(UserAccount.id.in_(new_users))))
        s.execute(delete(LoginSession).where(LoginSession.user_id.in_(new_users)))
        s.execute(delete(ApiToken).where(ApiToken.user_id.in_(new_users)))
        s.execute(delete(LoginAttempt).where(LoginAttempt.username.in_([*names, "nobody.at.all"])))
        s.execute(delete(UserAccount).where(UserAccount.id.in_(new_users)))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last))  # the tail only: the chain stays valid


def test_audit_verify_names_an_entry_edited_in_the_table(committed):
    with session_scope() as s:
        ids = [audit.record(s, SYSTEM, "test.cli", "thing", i, after={"i": i}).id for i in range(3)]
    result, out = _kc("audit", "verify")
    assert result.exit_code == 0, out
    assert "OK," in out and "entries" in out
    with session_scope() as s:  # tamper directly in the table, as a DBA could
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(after={"i": 999}))
    result, out = _kc("audit", "verify")
    assert result.exit_code == 1
    assert f"entry {ids[1]}" in out and "edited" in out
    with session_scope() as s:  # delete instead: named at the entry that follows
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(after={"i": 1}))
    assert _kc("audit", "verify")[0].exit_code == 0
    with session_scope() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    result, out = _kc("audit", "verify")
    assert result.exit_code == 1 and f"{ids[2]}" in out and "deleted" in out


def test_audit_seal_and_prove(committed):
    with session_scope() as s:
        entry_id = audit.record(s, SYSTEM, "test.cli", "thing", 1).id
    result, out = _kc("audit", "seal")  # every finished day without a root: today's entries wait
    assert result.exit_code == 0, out
    result, out = _kc("audit", "seal", "--day", "2999-01-01")
    assert result.exit_code == 1 and "not over" in out
    result, out = _kc("audit", "prove", str(entry_id))
    assert result.exit_code == 0, out
    assert '"verified": true' in out
    with session_scope() as s:
        from kechuang.accounts.models import AuditDayRoot

        s.execute(delete(AuditDayRoot))


def test_user_add_list_disable_set_role(committed):
    result, out = _kc("user", "add", "cli.auditor", "--role", "auditor", "--password-stdin", input="weak\n")
    assert result.exit_code == 1 and "password" in out
    result, out = _kc("user", "add", "cli.auditor", "--role", "auditor", "--display-name", "命令行审计",
                      "--password-stdin", input="Cli-tested-2026\n")
    assert result.exit_code == 0, out
    result, out = _kc("user", "add", "cli.typed", "--role", "admin", input="Typed-in-2026\nTyped-in-2026\n")
    assert result.exit_code == 0, out
    result, out = _kc("user", "list", "--q", "cli.")
    assert "cli.auditor" in out and "cli.typed" in out
    result, out = _kc("user", "set-role", "cli.auditor", "district_officer")
    assert result.exit_code == 1 and "district" in out
    result, out = _kc("user", "set-role", "cli.auditor", "district_officer", "--district", "静安区")
    assert result.exit_code == 0, out
    result, out = _kc("user", "set-password", "cli.auditor", "--password-stdin", input="short\n")
    assert result.exit_code == 1
    result, out = _kc("user", "set-password", "cli.auditor", "--password-stdin", input="Cli-changed-2027\n")
    assert result.exit_code == 0, out
    assert _kc("user", "disable", "cli.auditor")[0].exit_code == 0
    with session_scope() as s:
        u = s.scalar(select(UserAccount).where(UserAccount.username == "cli.auditor"))
        assert (u.role, u.district, u.is_active) == ("district_officer", "静安区", False)
        assert service.verify_password(u.password_hash, "Cli-changed-2027")
    assert _kc("user", "disable", "no.such.user")[0].exit_code == 1
    result, out = _kc("user", "add", "x.y", "--role", "wizard", "--password-stdin", input="Cli-tested-2026\n")
    assert result.exit_code == 2


def test_failed_login_is_counted_by_the_real_request_session(committed):
    """Without test overrides, a failed log-in still commits its attempt (``keep_writes``)."""
    from kechuang.app import create_app

    with session_scope() as s:
        user = make_user(s, role=Role.AUDITOR, username="real.session")
    client = TestClient(create_app(), headers={"accept": "application/json"})
    assert client.post("/api/v1/auth/login", json={"username": "real.session", "password": "Wrong-pass-1"}
                       ).status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "nobody.at.all", "password": "Wrong-pass-1"}
                       ).status_code == 401
    with session_scope() as s:
        attempts = s.scalars(select(LoginAttempt.username).where(LoginAttempt.success.is_(False))).all()
        assert "real.session" in attempts and "nobody.at.all" in attempts
    r = client.post("/api/v1/auth/login", json={"username": "real.session", "password": PASSWORD})
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me").json()["user"]["id"] == user.id
