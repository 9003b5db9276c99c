"""Test harness: a real database per run (SQLite file, or PostgreSQL when KECHUANG_TEST_DATABASE_URL is a
postgresql URL), schema built by the migrations, each test in a transaction rolled back at the end."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

# Settings are read at import: point them at the test database before kechuang is imported.
_TMP = Path(tempfile.mkdtemp(prefix="kechuang-test-"))
_BASE_URL = os.environ.get("KECHUANG_TEST_DATABASE_URL", "sqlite")
if _BASE_URL.startswith("postgresql"):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    _DB_NAME = f"kechuang_test_{uuid.uuid4().hex[:10]}"
    _admin = create_engine(_BASE_URL, isolation_level="AUTOCOMMIT")
    with _admin.connect() as _c:
        _c.execute(text(f'CREATE DATABASE "{_DB_NAME}"'))
    _admin.dispose()
    TEST_URL = make_url(_BASE_URL).set(database=_DB_NAME).render_as_string(hide_password=False)
else:
    _DB_NAME = None
    TEST_URL = f"sqlite:///{_TMP / 'test.db'}"
os.environ["KECHUANG_DATABASE_URL"] = TEST_URL
os.environ.setdefault("KECHUANG_LANGUAGE", "zh")
os.environ.setdefault("KECHUANG_SECRET_KEY", "test-only-" + uuid.uuid4().hex)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from kechuang import migrate  # noqa: E402
from kechuang.core.auth import SYSTEM, Principal, Role  # noqa: E402
from kechuang.db import get_engine  # noqa: E402


def pytest_report_header(config):
    return f"kechuang test database: {get_engine().dialect.name}"


@pytest.fixture(scope="session")
def engine():
    """The migrated test database (``upgrade heads``), dropped after the run."""
    eng = get_engine()
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
    if _DB_NAME:
        from sqlalchemy import create_engine, text

        admin = create_engine(_BASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{_DB_NAME}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (savepoints for inner commits)."""
    conn = engine.connect()
    trans = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        if trans.is_active:
            trans.rollback()
        conn.close()


@pytest.fixture
def system() -> Principal:
    return SYSTEM


@pytest.fixture
def app(session):
    """The app wired to the test session (no commit: the test's transaction is rolled back)."""
    from kechuang.app import create_app
    from kechuang.core import deps

    application = create_app()

    def _session():
        yield session
        session.flush()

    application.dependency_overrides[deps.get_session] = _session
    return application


@pytest.fixture
def client_as(app) -> Callable[[Principal | None], TestClient]:
    """A test client acting as ``principal`` (``None``: anonymous)."""
    from kechuang.core import deps

    def make(principal: Principal | None) -> TestClient:
        app.dependency_overrides[deps.get_optional_principal] = lambda: principal
        return TestClient(app, headers={"accept": "application/json"})

    return make


def principal(role: Role, **kw) -> Principal:
    """A principal for tests."""
    return Principal(role=role, user_id=kw.pop("user_id", 1), username=kw.pop("username", role.value), **kw)


@pytest.fixture(autouse=True)
def _default_locale():
    """Each test starts in the default locale (CLI commands under test set it for the whole process)."""
    from kechuang.core.i18n import use_locale

    with use_locale(os.environ.get("KECHUANG_LANGUAGE", "zh")):
        yield
