"""registry: trigram search index over organisation names and credit codes

SQLite: an FTS5 table (trigram tokenizer, external content) kept in step by triggers; PostgreSQL: pg_trgm
and a GIN index. Not SQLAlchemy models: see kechuang.registry.search.

Revision ID: 0001rs
Revises: 0001
Create Date: 2026-12-05 03:40:00
"""
from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

from kechuang.registry import search

revision = '0001rs'
down_revision = '0001'
branch_labels = None
depends_on = None
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in search.SQLITE_CREATE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        if bind.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")):
            for statement in search.PG_CREATE:
                op.execute(statement)
        else:  # search still works, by sequential scan
            log.warning("pg_trgm is not available: organisation search runs without its index")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in search.SQLITE_DROP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        for statement in search.PG_DROP:
            op.execute(statement)
