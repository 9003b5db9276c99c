"""Substring search over organisation names and credit codes, backed by a trigram index on each database.

The registry list answers "which organisations contain this text" (a part of the Chinese or English name,
or of the credit code). A plain ``LIKE '%text%'`` scans every row — about 100 ms per query on the `city`
demo data (100,920 organisations), twice per page (count and rows). With a trigram index a query of three
characters or more reads only the candidate rows:

- **SQLite**: an FTS5 table ``organisation_search`` with the ``trigram`` tokenizer (case-insensitive) over
  ``organisation``'s columns as *external content*, kept in step by three triggers. A phrase query of ≥ 3
  characters matches exactly the rows that contain the text as a substring.
- **PostgreSQL**: the ``pg_trgm`` extension and a GIN index ``ix_organisation_search_trgm``; ``ILIKE``
  uses it. pg_trgm treats CJK characters as word characters in a UTF-8 locale.

Queries shorter than three characters cannot use a trigram index; they scan the table (on PostgreSQL the
columns are wrapped so the planner does not pick the index, which is slower than a scan for them).
``LIKE`` wildcards typed by the user are matched literally.

The index objects are made by migration ``0001rs`` and are not SQLAlchemy models: ``is_search_object``
tells the schema comparison to leave them alone. A later batch migration on SQLite that recreates the
``organisation`` table drops the triggers; ``tests/registry/test_search.py`` would then fail.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, literal_column, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import Boolean

from kechuang.registry.models import Organisation

FTS_TABLE = "organisation_search"
PG_INDEX = "ix_organisation_search_trgm"
MIN_INDEXED_CHARS = 3
_SEARCH_NAMES = (FTS_TABLE, PG_INDEX)


def is_search_object(name: str | None) -> bool:
    """Whether a table, index or trigger belongs to the search index (made by migration, not by models):
    the FTS5 table, its shadow tables (``organisation_search_data`` …) and the PostgreSQL index."""
    return bool(name) and any(name == n or name.startswith(n + "_") for n in _SEARCH_NAMES)


class OrganisationTextMatch(ColumnElement[bool]):
    """``organisation`` contains ``text`` in ``name_zh``, ``name_en`` or ``credit_code``; compiled per
    database (see the module docstring)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, text_: str) -> None:
        self.text = text_.strip()

    def self_group(self, against=None):
        # already a parenthesised predicate: no "= 1" wrapper on databases without a boolean type
        return self


def organisation_text_match(text_: str) -> ColumnElement[bool]:
    """The search predicate for ``text_`` (already stripped of surrounding spaces by the caller or here)."""
    return OrganisationTextMatch(text_)


def _columns():
    return (Organisation.name_zh, Organisation.name_en, Organisation.credit_code)


def _fts_phrase(text_: str) -> str:
    return '"' + text_.replace('"', '""') + '"'


@compiles(OrganisationTextMatch, "sqlite")
def _compile_sqlite(element: OrganisationTextMatch, compiler, **kw) -> str:
    if len(element.text) >= MIN_INDEXED_CHARS:
        matching = select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
            literal_column(FTS_TABLE).op("MATCH")(_fts_phrase(element.text)))
        expr = Organisation.id.in_(matching)
    else:  # SQLite's LIKE is already case-insensitive for ASCII; no lower() per row
        expr = or_(*(c.contains(element.text, autoescape=True) for c in _columns()))
    return f"({compiler.process(expr, **kw)})"  # parenthesised: it is ANDed with other filters


@compiles(OrganisationTextMatch, "postgresql")
def _compile_postgresql(element: OrganisationTextMatch, compiler, **kw) -> str:
    if len(element.text) >= MIN_INDEXED_CHARS:
        expr = or_(*(c.icontains(element.text, autoescape=True) for c in _columns()))
    else:  # `col || ''` is not the indexed expression: a sequential scan, faster than the index here
        expr = or_(*((c.concat("")).icontains(element.text, autoescape=True) for c in _columns()))
    return f"({compiler.process(expr, **kw)})"  # parenthesised: it is ANDed with other filters


@compiles(OrganisationTextMatch)
def _compile_default(element: OrganisationTextMatch, compiler, **kw) -> str:
    expr = or_(*(c.icontains(element.text, autoescape=True) for c in _columns()))
    return f"({compiler.process(expr, **kw)})"


# ------------------------------------------------------------------------------ DDL (used by migration 0001rs)

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(name_zh, name_en, credit_code, "
    f"tokenize = 'trigram case_sensitive 0', content = 'organisation', content_rowid = 'id')",
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON organisation BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, name_zh, name_en, credit_code) "
    f"VALUES (new.id, new.name_zh, new.name_en, new.credit_code); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON organisation BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name_zh, name_en, credit_code) "
    f"VALUES ('delete', old.id, old.name_zh, old.name_en, old.credit_code); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF name_zh, name_en, credit_code ON organisation BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name_zh, name_en, credit_code) "
    f"VALUES ('delete', old.id, old.name_zh, old.name_en, old.credit_code); "
    f"INSERT INTO {FTS_TABLE}(rowid, name_zh, name_en, credit_code) "
    f"VALUES (new.id, new.name_zh, new.name_en, new.credit_code); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",  # index the rows already there
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{t}" for t in ("ai", "ad", "au")] + [
    f"DROP TABLE IF EXISTS {FTS_TABLE}"]

PG_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON organisation USING gin "
    "(name_zh gin_trgm_ops, name_en gin_trgm_ops, credit_code gin_trgm_ops)",
]
PG_DROP = [f"DROP INDEX IF EXISTS {PG_INDEX}"]  # the extension stays: other objects may use it
