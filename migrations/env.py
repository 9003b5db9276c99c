"""Alembic environment: the schema's only source. The URL comes from kechuang settings or from
``config.attributes["connection"]`` / ``config.attributes["url"]`` (tests, CLI)."""

from __future__ import annotations

from alembic import context

from kechuang.all_models import metadata
from kechuang.config import settings
from kechuang.db import build_engine
from kechuang.migrate import include_name

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.attributes.get("url") or settings.database_url, target_metadata=metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = build_engine(config.attributes.get("url") or settings.database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
