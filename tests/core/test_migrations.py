"""Migrations are the only source of the schema: upgrade, no autogenerate diff, downgrade to base."""

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kechuang import migrate
from kechuang.db import build_engine


@pytest.fixture
def fresh_engine(engine, tmp_path):
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    if url.get_backend_name() == "sqlite":
        eng = build_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield eng
        eng.dispose()
        return
    name = f"kechuang_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng = build_engine(url.set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_matches_models_and_downgrades_to_base(fresh_engine):
    migrate.upgrade(fresh_engine)
    assert migrate.current_heads(fresh_engine) == migrate.script_heads()
    assert migrate.schema_diff(fresh_engine) == []
    assert "organisation" in inspect(fresh_engine).get_table_names()
    migrate.downgrade(fresh_engine, "base")
    tables = set(inspect(fresh_engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
