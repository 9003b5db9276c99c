"""SQL backend: core expressions → one ``SELECT`` rendered by sqlglot for a dialect
(duckdb, postgres, sqlite, spark), run here on an in-memory DuckDB (or SQLite) over the facts.

The same lowered core as the Polars backend, so money stays integer arithmetic: ``hdiv`` renders
as integer division of non-negative numbers, ``fdiv`` as a double division guarded by NULLIF.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import polars as pl
from sqlglot import exp

from kechuang.policy.engine.core import Core

DIALECTS = ("duckdb", "postgres", "sqlite", "spark")
_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "str": "VARCHAR", "date": "DATE"}
_CMP = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}


def _lit(value, dtype: str) -> exp.Expression:
    if value is None:
        if dtype in _SQL_TYPES:
            return exp.Cast(this=exp.Null(), to=exp.DataType.build(_SQL_TYPES[dtype]))
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if isinstance(value, float):
        lit = exp.Literal.number(repr(abs(value)))
        cast = exp.Cast(this=lit, to=exp.DataType.build("DOUBLE"))
        return cast if value >= 0 else exp.Neg(this=cast)
    if isinstance(value, date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    return exp.Literal.string(str(value))


def _p(e: exp.Expression) -> exp.Expression:
    return exp.Paren(this=e)


def to_sql(c: Core) -> exp.Expression:
    """Translate one core expression to a sqlglot expression tree."""
    op = c.op
    if op == "col":
        return exp.column(c.value, quoted=True)
    if op == "const":
        return _lit(c.value, c.dtype)
    a = [to_sql(x) for x in c.args]
    if op in ("add", "sub", "mul"):
        cls = {"add": exp.Add, "sub": exp.Sub, "mul": exp.Mul}[op]
        return _p(cls(this=_p(a[0]), expression=_p(a[1])))
    if op == "fdiv":
        num = exp.Cast(this=a[0], to=exp.DataType.build("DOUBLE"))
        den = exp.Nullif(this=exp.Cast(this=a[1], to=exp.DataType.build("DOUBLE")),
                         expression=exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build("DOUBLE")))
        return _p(exp.Div(this=num, expression=den))
    if op == "hdiv":
        d = c.value
        n = _p(a[0])
        two_n = _p(exp.Mul(this=exp.Literal.number(2), expression=n))
        pos = exp.IntDiv(this=_p(exp.Add(this=two_n, expression=exp.Literal.number(d))),
                         expression=exp.Literal.number(2 * d))
        neg = exp.Neg(this=_p(exp.IntDiv(this=_p(exp.Sub(this=exp.Literal.number(d), expression=two_n)),
                                         expression=exp.Literal.number(2 * d))))
        return _p(exp.Case(ifs=[exp.If(this=exp.GTE(this=n, expression=exp.Literal.number(0)), true=pos)],
                           default=neg))
    if op == "neg":
        return exp.Neg(this=_p(a[0]))
    if op == "abs":
        return exp.Abs(this=a[0])
    if op == "tofloat":
        return exp.Cast(this=a[0], to=exp.DataType.build("DOUBLE"))
    if op == "cmp":
        return _p(_CMP[c.value](this=a[0], expression=a[1]))
    if op in ("and", "or"):
        cls = exp.And if op == "and" else exp.Or
        out = a[0]
        for x in a[1:]:
            out = cls(this=_p(out), expression=_p(x))
        return _p(out)
    if op == "not":
        return exp.Not(this=_p(a[0]))
    if op == "isnull":
        return _p(exp.Is(this=a[0], expression=exp.Null()))
    if op == "in":
        return _p(exp.In(this=a[0], expressions=[_lit(v, c.args[0].dtype) for v in c.value]))
    if op == "case":
        ifs = [exp.If(this=a[i], true=a[i + 1]) for i in range(0, len(a) - 1, 2)]
        return _p(exp.Case(ifs=ifs, default=a[-1]))
    if op == "coalesce":
        return exp.Coalesce(this=a[0], expressions=a[1:])
    if op in ("least", "greatest"):
        # NULL if any argument is NULL (PostgreSQL's LEAST would ignore NULLs), chained pairwise.
        any_null = a[0].copy().is_(exp.Null())
        for x in a[1:]:
            any_null = exp.Or(this=any_null, expression=x.copy().is_(exp.Null()))
        pick = exp.LTE if op == "least" else exp.GTE
        out = a[0]
        for x in a[1:]:
            out = _p(exp.Case(ifs=[exp.If(this=pick(this=out.copy(), expression=x.copy()), true=out.copy())],
                              default=x.copy()))
        return _p(exp.Case(ifs=[exp.If(this=any_null, true=_lit(None, c.dtype))], default=out))
    raise AssertionError(f"no SQL translation for {op}")


def _sqlite_fix(node: exp.Expression) -> exp.Expression:
    # sqlglot renders IntDiv for SQLite through REAL; SQLite's "/" on integers already truncates
    # (exact for the non-negative operands hdiv uses).
    if isinstance(node, exp.IntDiv):
        return exp.Div(this=node.this, expression=node.expression, typed=True)
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DOUBLE:
        return exp.DataType.build("REAL")
    return node


def render_select(outputs: dict[str, Core], table: str = "facts", dialect: str = "duckdb",
                  keep: tuple[str, ...] = ()) -> str:
    """One SELECT computing every output column over ``table`` in ``dialect``."""
    cols = [exp.column(k, quoted=True) for k in keep]
    cols += [exp.alias_(to_sql(c), name, quoted=True) for name, c in outputs.items()]
    sel = exp.select(*cols).from_(exp.to_table(table))
    if dialect == "sqlite":
        sel = sel.transform(_sqlite_fix)
    return sel.sql(dialect=dialect)


def run_duckdb(frame: pl.DataFrame, outputs: dict[str, Core]) -> pl.DataFrame:
    """Run the rendered SELECT on an in-memory DuckDB over ``frame``; results in input row order."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("facts", frame.to_arrow())
        sql = render_select(outputs, "facts", "duckdb")
        out = pl.from_arrow(con.sql(sql).to_arrow_table(), rechunk=False)
    finally:
        con.close()
    return _fix_types(out, outputs)


def run_sqlite(frame: pl.DataFrame, outputs: dict[str, Core]) -> pl.DataFrame:
    """Run the rendered SELECT on an in-memory SQLite (small data: tests of the SQLite dialect)."""
    con = sqlite3.connect(":memory:")
    try:
        cols = frame.columns
        types = {c: _sqlite_type(frame.schema[c]) for c in cols}
        con.execute("CREATE TABLE facts (" + ", ".join(f'"{c}" {types[c]}' for c in cols) + ")")
        rows = [tuple(_sqlite_value(v) for v in r) for r in frame.iter_rows()]
        con.executemany(f"INSERT INTO facts VALUES ({', '.join('?' for _ in cols)})", rows)
        sql = render_select(outputs, "facts", "sqlite")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        data = cur.fetchall()
    finally:
        con.close()
    out = pl.DataFrame({n: [r[i] for r in data] for i, n in enumerate(names)}, strict=False)
    return _fix_types(out, outputs)


def _sqlite_type(dt) -> str:
    if dt == pl.Float64:
        return "REAL"
    if dt in (pl.String, pl.Date):
        return "TEXT"
    return "INTEGER"


def _sqlite_value(v):
    if isinstance(v, date):
        return v.isoformat()
    return v


def _fix_types(out: pl.DataFrame, outputs: dict[str, Core]) -> pl.DataFrame:
    from kechuang.policy.engine.polars_backend import DTYPES

    casts = []
    for name, c in outputs.items():
        want = DTYPES.get(c.dtype)
        if want is None or want == pl.Null:
            continue
        if out.schema[name] != want:
            casts.append(pl.col(name).cast(want))
    return out.with_columns(casts) if casts else out


_PG_TYPES = {pl.Int64: "BIGINT", pl.Float64: "DOUBLE PRECISION", pl.Boolean: "BOOLEAN", pl.String: "TEXT",
             pl.Date: "DATE"}


def run_postgres(frame: pl.DataFrame, outputs: dict[str, Core], dsn: str) -> pl.DataFrame:
    """Push the pass down into PostgreSQL: copy ``frame`` into a temporary table and run the
    postgres rendering there (PostgreSQL's 63-character identifiers: outputs are aliased c0, c1...)."""
    import psycopg

    names = list(outputs)
    aliased = {f"c{i}": outputs[n] for i, n in enumerate(names)}
    cols = frame.columns
    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
        con.execute("CREATE TEMP TABLE facts (" + ", ".join(f'"{c}" {_PG_TYPES[frame.schema[c]]}' for c in cols)
                    + ") ON COMMIT DROP")
        with con.cursor().copy("COPY facts (" + ", ".join(f'"{c}"' for c in cols) + ") FROM STDIN") as copy:
            for r in frame.iter_rows():
                copy.write_row(r)
        cur = con.execute(render_select(aliased, "facts", "postgres"))
        data = cur.fetchall()
        con.rollback()
    out = pl.DataFrame({n: [row[i] for row in data] for i, n in enumerate(names)}, strict=False)
    if not data:
        out = pl.DataFrame({n: [] for n in names})
    return _fix_types(out, outputs)
