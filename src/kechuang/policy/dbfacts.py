"""The engine's facts frame built from the registry: one row per enterprise with its yearly facts,
qualifications valid on the evaluation date, organisation attributes, earlier years (``fact__mN`` for
``fact@-N``), derived columns for display, an enterprise-size class, and a snapshot hash.

Facts the registry does not hold (bank, voucher, evaluation and transfer inputs) are NULL columns, so
a clause over them is *unknown* and its explanation names the missing fact. Money stays integer fen.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from kechuang.policy.facts import FACTS, lag_column
from kechuang.policy.facts_io import POLARS_TYPES
from kechuang.registry.models import Organisation, OrganisationFact, Qualification

# Yearly facts of organisation_fact (engine name == column name).
YEARLY = [f.name for f in FACTS.values() if f.source == "organisation_fact" and f.name in
          OrganisationFact.__table__.columns]
# Organisation attributes read directly.
ORG_ATTRS = ["province", "district", "industry_section", "ownership", "founded_date"]
# Qualification kind (registry.reference.QUALIFICATION_KINDS) → boolean fact.
QUALIFICATION_FACTS = {
    "high_tech": "has_high_tech",
    "tech_sme": "has_tech_sme",
    "specialised": "has_specialised",
    "foreign_rd_centre": "has_foreign_rd_centre",
    "new_rd_institution": "has_new_rd_institution",
}
# Derived facts computed as columns for display (the engine expands their definitions itself).
DERIVED_COLUMNS = {
    "rd_intensity": ("rd_expense_fen", "revenue_fen"),
    "st_staff_share": ("st_staff", "employees"),
    "high_tech_income_share": ("high_tech_income_fen", "revenue_fen"),
}
# Enterprise size (统计上大中小微型企业划分办法(2017), 国统字〔2017〕213号): per industry group, the
# lower bounds (employees, revenue in fen) of large, medium and small; a firm must meet both bounds of a
# class, otherwise it falls one class lower; below small it is micro. Sections not listed use the
# standard's "other industries" row (employees only).
_WAN = 10_000 * 100  # 1 万元 in fen
SIZE_RULES: dict[str, list[tuple[str, int, int]]] = {
    "industrial": [("large", 1000, 40000 * _WAN), ("medium", 300, 2000 * _WAN), ("small", 20, 300 * _WAN)],
    "software": [("large", 300, 10000 * _WAN), ("medium", 100, 1000 * _WAN), ("small", 10, 50 * _WAN)],
    "wholesale": [("large", 200, 40000 * _WAN), ("medium", 20, 5000 * _WAN), ("small", 5, 1000 * _WAN)],
    "construction": [("large", 0, 80000 * _WAN), ("medium", 0, 6000 * _WAN), ("small", 0, 300 * _WAN)],
    "other": [("large", 300, 0), ("medium", 100, 0), ("small", 10, 0)],
}
SIZE_GROUP = {"B": "industrial", "C": "industrial", "D": "industrial", "I": "software", "F": "wholesale",
              "E": "construction"}
SIZE_CLASSES = ("large", "medium", "small", "micro")


@dataclass
class RegistryFacts:
    """A facts frame for one year with the hash that identifies its content."""

    frame: pl.DataFrame
    year: int
    on: date
    snapshot_hash: str
    lags: int
    columns: dict[str, str] = field(default_factory=dict)  # engine fact columns → declared type

    @property
    def height(self) -> int:
        """Number of enterprises."""
        return self.frame.height


def fact_columns(lags: int = 2) -> dict[str, str]:
    """Engine fact columns (with declared types) that :func:`load_registry_facts` fills or leaves NULL:
    every non-derived fact, plus ``lags`` earlier years of the yearly facts."""
    cols = {f.name: f.type for f in FACTS.values() if f.derived is None}
    for lag in range(1, lags + 1):
        for name in YEARLY:
            cols[lag_column(name, lag)] = FACTS[name].type
    return cols


def _scoped(stmt: Select, scope: Collection[int | str] | None, district: str | None = None) -> Select:
    if district is not None:
        stmt = stmt.where(Organisation.district == district)
    if scope is None:
        return stmt
    ids = [s for s in scope if isinstance(s, int)]
    codes = [s for s in scope if isinstance(s, str)]
    return stmt.where(or_(Organisation.id.in_(ids), Organisation.credit_code.in_(codes)))


def _batches(session: Session, stmt: Select, names: list[str], schema: dict, size: int = 200_000) -> pl.DataFrame:
    """Run ``stmt`` and build a typed frame. PostgreSQL: ``COPY (query) TO STDOUT`` read as CSV by Polars;
    SQLite: the driver's rows in batches, typed by Polars — both bypass per-value conversion in Python,
    which dominates for millions of rows. In the session's own transaction (uncommitted rows included)."""
    conn = session.connection()
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        dbapi = conn.connection.dbapi_connection
        if name == "postgresql" and conn.dialect.driver == "psycopg":
            return _copy_postgres(dbapi, str(compiled), compiled.params, names, schema)
        if name == "sqlite":
            params = [compiled.params[k] for k in compiled.positiontup]
            return _fetch_sqlite(dbapi, str(compiled), params, names, schema, size)
    return _batches_orm(session, stmt, names, schema, size)


def _typed(raw: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Cast driver values (text, 0/1, ISO dates) to ``schema``."""
    exprs = []
    for n, t in schema.items():
        src = raw.schema[n]
        c = pl.col(n)
        if t == pl.Boolean and src == pl.String:
            exprs.append(pl.when(c.is_null()).then(None).otherwise(c.is_in(["t", "true", "1"])).alias(n))
        elif t == pl.Date and src == pl.String:
            exprs.append(c.str.slice(0, 10).str.to_date("%Y-%m-%d").alias(n))
        else:
            exprs.append(c.cast(t).alias(n))
    return raw.select(exprs)


def _copy_postgres(dbapi, sql: str, params: dict, names: list[str], schema: dict) -> pl.DataFrame:
    buf = io.BytesIO()
    with dbapi.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for chunk in copy:
            buf.write(chunk)
    if not buf.tell():
        return pl.DataFrame(schema=schema)
    raw = pl.read_csv(buf.getvalue(), has_header=False, new_columns=names, infer_schema=False)
    return _typed(raw, schema)


def _fetch_sqlite(dbapi, sql: str, params: list, names: list[str], schema: dict, size: int) -> pl.DataFrame:
    driver = {n: (pl.String if t in (pl.Date, pl.String) else pl.Int64 if t in (pl.Boolean, pl.Int64) else t)
              for n, t in schema.items()}
    cur = dbapi.cursor()
    try:
        cur.execute(sql, params)
        parts = []
        while rows := cur.fetchmany(size):
            parts.append(pl.DataFrame(rows, schema=driver, orient="row", strict=False))
    finally:
        cur.close()
    if not parts:
        return pl.DataFrame(schema=schema)
    return _typed(pl.concat(parts, how="vertical"), schema)


def _batches_orm(session: Session, stmt: Select, names: list[str], schema: dict, size: int) -> pl.DataFrame:
    res = session.execute(stmt.execution_options(yield_per=size))
    parts = []
    for rows in res.partitions(size):
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
        data = {}
        for n, c in zip(names, cols, strict=True):
            if schema[n] == pl.Float64:
                c = [float(v) if isinstance(v, Decimal) else v for v in c]
            data[n] = c
        parts.append(pl.DataFrame(data, schema=schema, strict=False))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical")


def size_class_expr() -> pl.Expr:
    """Enterprise size class from ``employees``, ``revenue_fen`` and ``industry_section`` (NULL if unknown)."""
    emp, rev = pl.col("employees"), pl.col("revenue_fen")
    group = pl.col("industry_section").replace_strict(SIZE_GROUP, default="other", return_dtype=pl.String)
    out = pl.lit(None, dtype=pl.String)
    for g, rules in reversed(list(SIZE_RULES.items())):
        chain = None
        for cls, e_min, r_min in rules:
            test = (emp >= e_min) & (rev >= r_min)
            chain = pl.when(test).then(pl.lit(cls)) if chain is None else chain.when(test).then(pl.lit(cls))
        assert chain is not None
        cls_expr = chain.otherwise(pl.lit("micro"))
        known = emp.is_not_null() & (rev.is_not_null() | pl.lit(all(r == 0 for _, _, r in rules)))
        out = pl.when((group == g) & known).then(cls_expr).otherwise(out)
    return out


def full_years(founded: pl.Expr, on: date) -> pl.Expr:
    """Full years from ``founded`` to ``on`` (an anniversary on ``on`` counts)."""
    years = pl.lit(on.year) - founded.dt.year()
    before = (founded.dt.month() > on.month) | ((founded.dt.month() == on.month) & (founded.dt.day() > on.day))
    return (years - before.cast(pl.Int32)).cast(pl.Int64)


def snapshot_hash(frame: pl.DataFrame) -> str:
    """SHA-256 of the frame's content in credit-code order (column names, types and values): equal
    facts give the same hash, any change gives another. Values go through Polars' row hash, so an
    upgrade of Polars may change the hash (a rerun then finds nothing new to do)."""
    h = hashlib.sha256()
    cols = sorted(frame.columns)
    h.update(repr([(c, str(frame.schema[c])) for c in cols]).encode())
    h.update(f"polars {pl.__version__.split('.')[0]}.{pl.__version__.split('.')[1]}".encode())
    if frame.height:
        f = frame.select(cols).sort("credit_code") if "credit_code" in cols else frame.select(cols)
        h.update(f.hash_rows(seed=0).to_numpy().tobytes())
        h.update(f.hash_rows(seed=7).to_numpy().tobytes())
    return h.hexdigest()


def load_registry_facts(session: Session, year: int, scope: Collection[int | str] | None = None,
                        on: date | None = None, lags: int = 2, kinds: Collection[str] = ("enterprise",),
                        district: str | None = None) -> RegistryFacts:
    """The engine's facts frame for ``year`` from the registry.

    One row per organisation of ``kinds`` (enterprises by default; ``scope``: organisation ids or credit
    codes to restrict to; ``district``: one district only), columns ``credit_code``, ``organisation_id``,
    ``name_zh``, every engine fact
    (yearly facts of ``year``, ``lags`` earlier years as ``fact__mN``, qualifications valid on ``on`` —
    31 December of ``year`` by default — as booleans, organisation attributes, ``age_years`` on ``on``;
    facts the registry lacks are NULL), derived display columns (``rd_intensity``...) and ``size_class``.
    An enterprise with no facts row for ``year`` keeps NULL yearly facts (its clauses are unknown)."""
    on = on or date(year, 12, 31)
    org_cols = [Organisation.id, Organisation.credit_code, Organisation.name_zh,
                *[getattr(Organisation, a) for a in ORG_ATTRS]]
    org_names = ["organisation_id", "credit_code", "name_zh", *ORG_ATTRS]
    org_schema = {"organisation_id": pl.Int64, "credit_code": pl.String, "name_zh": pl.String,
                  **{a: POLARS_TYPES[FACTS[a].type] for a in ORG_ATTRS}}
    org_stmt = _scoped(select(*org_cols).where(Organisation.kind.in_(list(kinds))), scope,
                       district).order_by(Organisation.id)
    frame = _batches(session, org_stmt, org_names, org_schema)

    fact_schema = {"organisation_id": pl.Int64, "year": pl.Int64,
                   **{n: POLARS_TYPES[FACTS[n].type] for n in YEARLY}}
    fact_stmt = _scoped(
        select(OrganisationFact.organisation_id, OrganisationFact.year,
               *[getattr(OrganisationFact, n) for n in YEARLY])
        .join(Organisation, Organisation.id == OrganisationFact.organisation_id)
        .where(Organisation.kind.in_(list(kinds)), OrganisationFact.year.between(year - lags, year)),
        scope, district)
    facts = _batches(session, fact_stmt, ["organisation_id", "year", *YEARLY], fact_schema)
    for lag in range(0, lags + 1):
        part = facts.filter(pl.col("year") == year - lag).drop("year")
        part = part.rename({n: lag_column(n, lag) for n in YEARLY})
        frame = frame.join(part, on="organisation_id", how="left")

    qual_stmt = _scoped(
        select(Qualification.organisation_id, Qualification.kind, Qualification.valid_from_date,
               Qualification.valid_to_date)
        .join(Organisation, Organisation.id == Qualification.organisation_id)
        .where(Organisation.kind.in_(list(kinds)), Qualification.kind.in_(list(QUALIFICATION_FACTS))),
        scope, district)
    quals = _batches(session, qual_stmt, ["organisation_id", "kind", "valid_from", "valid_to"],
                     {"organisation_id": pl.Int64, "kind": pl.String, "valid_from": pl.Date, "valid_to": pl.Date})
    # Valid on ``on``: from <= on and (no end or end >= on).
    quals = quals.filter((pl.col("valid_from") <= on) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= on)))
    for kind, col in QUALIFICATION_FACTS.items():
        holders = quals.filter(pl.col("kind") == kind)["organisation_id"].unique()
        frame = frame.with_columns(pl.col("organisation_id").is_in(holders.implode()).alias(col))

    frame = frame.with_columns(full_years(pl.col("founded_date"), on).alias("age_years"))
    # Every other engine fact is absent from the registry: a typed NULL column.
    cols = fact_columns(lags)
    frame = frame.with_columns([pl.lit(None, dtype=POLARS_TYPES[t]).alias(c) for c, t in cols.items()
                                if c not in frame.columns])
    frame = frame.with_columns(
        [pl.when(pl.col(d) != 0).then(pl.col(n).cast(pl.Float64) / pl.col(d).cast(pl.Float64))
         .otherwise(pl.lit(None, dtype=pl.Float64)).alias(name) for name, (n, d) in DERIVED_COLUMNS.items()]
    ).with_columns(size_class_expr().alias("size_class"))
    fixed = ["credit_code", "organisation_id", "name_zh"]
    extra = [*DERIVED_COLUMNS, "size_class"]
    frame = frame.select([*fixed, *sorted(cols), *extra])
    return RegistryFacts(frame, year, on, snapshot_hash(frame), lags, cols)
