"""Run Alembic programmatically (CLI ``db`` commands, tests, ``make run``)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from kechuang.all_models import metadata
from kechuang.config import PROJECT_ROOT
from kechuang.registry.search import is_search_object


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at the project's migrations, bound to ``engine`` or ``url``."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url:
        cfg.attributes["url"] = url
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def _with_connection(engine: Engine, fn) -> None:
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        fn(cfg)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the schema to ``revision`` (default: every head)."""
    _with_connection(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``base`` drops everything)."""
    _with_connection(engine, lambda cfg: command.downgrade(cfg, revision))


def current_heads(engine: Engine) -> set[str]:
    """Revisions the database is at."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def script_heads() -> set[str]:
    """Head revisions of the migration scripts."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Leave out of schema comparison what migrations make outside the models (the search index)."""
    return not is_search_object(name)


def schema_diff(engine: Engine) -> list:
    """Differences between the models and the database (empty when migrations match the models)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return compare_metadata(ctx, metadata)
