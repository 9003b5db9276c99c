"""Lowering of type-checked policy expressions to a small core every backend runs identically.

Exactness: every money value and every constant-denominator decimal is lowered to an *integer*
expression together with a constant positive denominator (``value = expr / den``). Sums bring
terms to a common denominator, products multiply denominators, ``ROUND`` becomes an integer
half-away-from-zero division (``hdiv``). So ``ROUND(premium_paid_fen * 0.5)`` is computed as
``hdiv(premium_paid_fen * 1, 2)`` on 64-bit integers — no float ever touches money. Only ratios of
non-constant numbers (``rd_expense_fen / revenue_fen``) and measured decimals are doubles (``fdiv``),
and they are only compared, never turned into money. Division by zero gives NULL (unknown).

Core ops (``Core.op``): col, const, add, sub, mul, fdiv, hdiv, neg, abs, tofloat, cmp (value = op),
and, or, not, isnull, in (value = tuple), case (args = c1, v1, c2, v2, ..., else), coalesce, least,
greatest (NULL if any argument is NULL). ``dtype`` is int, float, bool, str, date or null.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from kechuang.policy.language import Expr


@dataclass(frozen=True)
class Core:
    """A lowered expression node."""

    op: str
    dtype: str
    args: tuple[Core, ...] = ()
    value: Any = None

    def walk(self):
        """This node and all below."""
        yield self
        for a in self.args:
            yield from a.walk()


def const(value: Any, dtype: str | None = None) -> Core:
    """A literal of the core."""
    if dtype is None:
        dtype = ("bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
                 if isinstance(value, float) else "str" if isinstance(value, str) else "date"
                 if isinstance(value, date) else "null")
    return Core("const", dtype, value=value)


NULL = const(None, "null")


# ------------------------------------------------------------------ lowered values


@dataclass(frozen=True)
class LV:
    """A lowered value: ``core / den`` when ``den`` is an int (exact), a double when ``den`` is None."""

    core: Core
    den: int | None = 1

    @property
    def exact(self) -> bool:
        return self.den is not None


def _is_const(c: Core) -> bool:
    return c.op == "const"


def _mul_int(c: Core, k: int) -> Core:
    if k == 1:
        return c
    if _is_const(c):
        return NULL if c.value is None else const(c.value * k)
    return Core("mul", "int", (c, const(k)))


def _scale(v: LV, den: int) -> Core:
    """Integer core of exact ``v`` expressed over denominator ``den`` (a multiple of v.den)."""
    assert v.den is not None
    return _mul_int(v.core, den // v.den)


def _float(v: LV) -> Core:
    if v.den is None:
        return v.core
    if _is_const(v.core):
        return const(None if v.core.value is None else v.core.value / v.den, "float")
    if v.den == 1:
        return Core("tofloat", "float", (v.core,))
    return Core("fdiv", "float", (v.core, const(v.den)))


def _unify(vals: list[LV]) -> tuple[list[Core], int | None]:
    """Bring numeric values to one domain: a common denominator, or doubles if any is inexact."""
    if all(v.exact for v in vals):
        den = 1
        for v in vals:
            den = den * v.den // math.gcd(den, v.den)
        return [_scale(v, den) for v in vals], den
    return [_float(v) for v in vals], None


def _fraction(value: Any) -> tuple[int, int]:
    f = Fraction(value) if not isinstance(value, Decimal) else Fraction(value)
    return f.numerator, f.denominator


def lower_const(value: Any, typ: str) -> LV:
    """A Python constant (int, Decimal, str, bool, date, None) as a lowered value."""
    if value is None:
        return LV(NULL)
    if typ in ("int", "int_fen", "fen_frac", "decimal") and not isinstance(value, bool):
        n, d = _fraction(value)
        return LV(const(n), d)
    return LV(const(value))


_CMP = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


class Lowerer:
    """Lower typed expressions of one policy with its parameter values for one period."""

    def __init__(self, params: dict[str, Any]):
        self.params = params  # name -> value in force

    def bool(self, e: Expr) -> Core:
        """Lower a true/false expression."""
        return self.lower(e).core

    def money(self, e: Expr) -> Core:
        """Lower a whole-fen expression to an integer core."""
        v = self.lower(e)
        assert v.den == 1, "amount must be whole fen"
        return v.core

    def number(self, e: Expr) -> Core:
        """Lower a numeric expression to a double (ranking)."""
        return _float(self.lower(e))

    def lower(self, e: Expr) -> LV:
        op = e.op
        if op == "col":
            return LV(Core("col", {"int_fen": "int", "int": "int", "decimal": "float"}.get(e.type, e.type),
                           value=e.value), None if e.type == "decimal" else 1)
        if op == "derived":
            return self.lower(e.args[0])
        if op == "const":
            return lower_const(e.value, e.type)
        if op == "param":
            return lower_const(self.params[e.value], e.type)
        if op in ("+", "-"):
            (a, b), den = _unify([self.lower(x) for x in e.args])
            return LV(self.arith("add" if op == "+" else "sub", a, b, den), den)
        if op == "*":
            a, b = (self.lower(x) for x in e.args)
            if a.exact and b.exact:
                return LV(self.arith("mul", a.core, b.core, 1), a.den * b.den)
            return LV(self.arith("mul", _float(a), _float(b), None), None)
        if op == "/":
            a, b = (self.lower(x) for x in e.args)
            if a.exact and b.exact and _is_const(b.core) and b.core.value is not None:
                # Division by a constant stays exact: (a/da) / (p/q) = (a*q) / (da*p).
                p, q = b.core.value, b.den
                if p == 0:
                    return LV(NULL)
                core = _mul_int(a.core, q)
                if p < 0:
                    core, p = self.neg(core), -p
                return LV(core, a.den * p)
            if a.exact and b.exact:
                # (a/da) / (b/db) = (a*db) / (b*da): one rounding only.
                return LV(Core("fdiv", "float", (_mul_int(a.core, b.den), _mul_int(b.core, a.den))), None)
            return LV(Core("fdiv", "float", (_float(a), _float(b))), None)
        if op == "neg":
            a = self.lower(e.args[0])
            return LV(self.neg(a.core), a.den)
        if op == "abs":
            a = self.lower(e.args[0])
            if _is_const(a.core):
                return LV(const(None if a.core.value is None else abs(a.core.value), a.core.dtype), a.den)
            return LV(Core("abs", a.core.dtype, (a.core,)), a.den)
        if op == "round":
            a = self.lower(e.args[0])
            assert a.den is not None
            if a.den == 1:
                return a
            if _is_const(a.core):
                return LV(const(None if a.core.value is None else _hdiv(a.core.value, a.den)), 1)
            return LV(Core("hdiv", "int", (a.core,), value=a.den), 1)
        if op in _CMP:
            return LV(self.compare(op, self.lower(e.args[0]), self.lower(e.args[1])))
        if op in ("and", "or"):
            return LV(Core(op, "bool", tuple(self.lower(x).core for x in e.args)))
        if op == "not":
            return LV(Core("not", "bool", (self.lower(e.args[0]).core,)))
        if op == "isnull":
            return LV(Core("isnull", "bool", (self.lower(e.args[0]).core,)))
        if op == "in":
            x = self.lower(e.args[0])
            vals = [self.lower(v) for v in e.args[1:]]
            if x.den == 1 and all(v.den == 1 for v in vals) or e.args[0].type not in ("int", "int_fen", "decimal",
                                                                                       "fen_frac"):
                return LV(Core("in", "bool", (x.core,), value=tuple(v.core.value for v in vals)))
            return LV(Core("or", "bool", tuple(self.compare("=", x, v) for v in vals)))
        if op == "case":
            conds = [self.lower(c).core for c in e.args[0:-1:2]]
            results = [self.lower(v) for v in (*e.args[1:-1:2], e.args[-1])]
            cores, den = self.choice(results, e.type)
            parts = []
            for c, v in zip(conds, cores[:-1], strict=True):
                parts += [c, v]
            return LV(Core("case", cores[-1].dtype if cores else "null", (*parts, cores[-1])), den)
        if op in ("coalesce", "least", "greatest"):
            cores, den = self.choice([self.lower(x) for x in e.args], e.type)
            return LV(Core(op, _dtype_of(cores), tuple(cores)), den)
        if op == "tier":
            x = self.lower(e.args[0])
            rows = self.params[e.value]
            values = [lower_const(v, e.type) for _, v in rows]
            vcores, den = _unify(values)
            parts: list[Core] = []
            default: Core = NULL
            for (up_to, _), vc in zip(rows, vcores, strict=True):
                if up_to is None:
                    default = vc
                    break
                parts += [self.compare("<=", x, lower_const(up_to, "decimal")), vc]
            dtype = "int" if den is not None else "float"
            if not parts:
                return LV(default, den)
            return LV(Core("case", dtype, (*parts, _typed_null(default, dtype))), den)
        raise AssertionError(f"cannot lower {op}")

    def choice(self, vals: list[LV], typ: str) -> tuple[list[Core], int | None]:
        if typ in ("int", "int_fen", "fen_frac", "decimal"):
            cores, den = _unify(vals)
            dtype = "int" if den is not None else "float"
            return [_typed_null(c, dtype) for c in cores], den
        dtype = {"bool": "bool", "str": "str", "date": "date"}.get(typ, "null")
        return [_typed_null(v.core, dtype) for v in vals], 1

    def arith(self, op: str, a: Core, b: Core, den: int | None) -> Core:
        dtype = "int" if den is not None else "float"
        if _is_const(a) and _is_const(b):
            if a.value is None or b.value is None:
                return const(None, dtype)
            f = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}[op]
            return const(f(a.value, b.value), dtype)
        if op == "mul" and dtype == "int":
            if _is_const(b) and b.value == 1:
                return a
            if _is_const(a) and a.value == 1:
                return b
        return Core(op, dtype, (a, b))

    def neg(self, c: Core) -> Core:
        if _is_const(c):
            return const(None if c.value is None else -c.value, c.dtype)
        return Core("neg", c.dtype, (c,))

    def compare(self, op: str, a: LV, b: LV) -> Core:
        if a.core.dtype in ("int", "float") or b.core.dtype in ("int", "float"):
            (x, y), _ = _unify([a, b])
        else:
            x, y = a.core, b.core
        return Core("cmp", "bool", (x, y), value=op)


def _typed_null(c: Core, dtype: str) -> Core:
    if c.op == "const" and c.value is None:
        return const(None, dtype)
    return c


def _dtype_of(cores: list[Core]) -> str:
    for c in cores:
        if c.dtype != "null":
            return c.dtype
    return "null"


def _hdiv(n: int, d: int) -> int:
    """Round n/d half away from zero to an integer (d > 0), exactly."""
    if n >= 0:
        return (2 * n + d) // (2 * d)
    return -((d - 2 * n) // (2 * d))


# ------------------------------------------------------------------ row evaluator (explanations, tests)


def evaluate(c: Core, row: dict[str, Any]) -> Any:
    """Evaluate a core expression on one row with SQL three-valued logic (None = NULL/unknown)."""
    hit = _COMPILED.get(id(c))
    if hit is None or hit[0] is not c:
        hit = _compile_cached(c)
    return hit[1](row)


def row_function(c: Core):
    """The compiled evaluator of ``c`` (cached): call it many times on rows."""
    hit = _COMPILED.get(id(c))
    if hit is None or hit[0] is not c:
        hit = _compile_cached(c)
    return hit[1]


def interpret(c: Core, row: dict[str, Any]) -> Any:
    """The reference tree-walking evaluator (same results as :func:`evaluate`; kept for tests)."""
    return _EVAL[c.op](c, row)


# Compiled row evaluators: each core tree becomes nested Python closures once (no per-call dispatch on
# ``op``), cached by node identity. Explanations and how-close searches call them thousands of times.
_COMPILED: dict[int, tuple[Core, Any]] = {}


def _compile_cached(c: Core) -> tuple[Core, Any]:
    if len(_COMPILED) > 20_000:
        _COMPILED.clear()
    hit = _COMPILED[id(c)] = (c, compile_row(c))
    return hit


def compile_row(c: Core):
    """A function ``row -> value`` computing ``c`` with SQL three-valued logic."""
    op = c.op
    if op == "col":
        name = c.value
        return lambda row: row.get(name)
    if op == "const":
        v = c.value
        return lambda row: v
    fs = [compile_row(a) for a in c.args]
    if op in ("add", "sub", "mul"):
        f = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}[op]
        fa, fb = fs
        if c.dtype == "float":
            def arith_f(row):
                a = fa(row)
                if a is None:
                    return None
                b = fb(row)
                return None if b is None else f(float(a), float(b))
            return arith_f

        def arith(row):
            a = fa(row)
            if a is None:
                return None
            b = fb(row)
            return None if b is None else f(a, b)
        return arith
    if op == "fdiv":
        fa, fb = fs

        def fdiv(row):
            a = fa(row)
            b = fb(row)
            if a is None or b is None or b == 0:
                return None
            return float(a) / float(b)
        return fdiv
    if op == "hdiv":
        fa, d = fs[0], c.value

        def hdiv(row):
            a = fa(row)
            return None if a is None else _hdiv(a, d)
        return hdiv
    if op in ("neg", "abs", "tofloat"):
        fa = fs[0]
        g = {"neg": operator.neg, "abs": abs, "tofloat": float}[op]

        def unary(row):
            a = fa(row)
            return None if a is None else g(a)
        return unary
    if op == "cmp":
        fa, fb = fs
        g = _CMP[c.value]

        def cmp(row):
            a = fa(row)
            if a is None:
                return None
            b = fb(row)
            return None if b is None else g(a, b)
        return cmp
    if op == "and":
        def and_(row):
            unknown = False
            for f in fs:
                v = f(row)
                if v is False:
                    return False
                if v is None:
                    unknown = True
            return None if unknown else True
        return and_
    if op == "or":
        def or_(row):
            unknown = False
            for f in fs:
                v = f(row)
                if v is True:
                    return True
                if v is None:
                    unknown = True
            return None if unknown else False
        return or_
    if op == "not":
        fa = fs[0]

        def not_(row):
            v = fa(row)
            return None if v is None else not v
        return not_
    if op == "isnull":
        fa = fs[0]
        return lambda row: fa(row) is None
    if op == "in":
        fa, values = fs[0], c.value

        def in_(row):
            v = fa(row)
            return None if v is None else v in values
        return in_
    if op == "case":
        pairs = [(fs[i], fs[i + 1]) for i in range(0, len(fs) - 1, 2)]
        other = fs[-1]

        def case(row):
            for cond, val in pairs:
                if cond(row) is True:
                    return val(row)
            return other(row)
        return case
    if op == "coalesce":
        def coalesce(row):
            for f in fs:
                v = f(row)
                if v is not None:
                    return v
            return None
        return coalesce
    if op in ("least", "greatest"):
        g = min if op == "least" else max

        def minmax(row):
            vals = [f(row) for f in fs]
            return None if None in vals else g(vals)
        return minmax
    raise AssertionError(f"no row evaluator for {op}")


def _ev_col(c, row):
    return row.get(c.value)


def _ev_const(c, row):
    return c.value


def _ev_arith(f):
    def run(c, row):
        a = evaluate(c.args[0], row)
        if a is None:
            return None
        b = evaluate(c.args[1], row)
        if b is None:
            return None
        if c.dtype == "float":
            return f(float(a), float(b))
        return f(a, b)

    return run


def _ev_fdiv(c, row):
    a = evaluate(c.args[0], row)
    b = evaluate(c.args[1], row)
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def _ev_hdiv(c, row):
    a = evaluate(c.args[0], row)
    return None if a is None else _hdiv(a, c.value)


def _ev_neg(c, row):
    a = evaluate(c.args[0], row)
    return None if a is None else -a


def _ev_abs(c, row):
    a = evaluate(c.args[0], row)
    return None if a is None else abs(a)


def _ev_tofloat(c, row):
    a = evaluate(c.args[0], row)
    return None if a is None else float(a)


def _ev_cmp(c, row):
    a = evaluate(c.args[0], row)
    if a is None:
        return None
    b = evaluate(c.args[1], row)
    if b is None:
        return None
    return _CMP[c.value](a, b)


def _ev_and(c, row):
    unknown = False
    for a in c.args:
        v = evaluate(a, row)
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def _ev_or(c, row):
    unknown = False
    for a in c.args:
        v = evaluate(a, row)
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def _ev_not(c, row):
    v = evaluate(c.args[0], row)
    return None if v is None else not v


def _ev_isnull(c, row):
    return evaluate(c.args[0], row) is None


def _ev_in(c, row):
    v = evaluate(c.args[0], row)
    return None if v is None else v in c.value


def _ev_case(c, row):
    args = c.args
    for i in range(0, len(args) - 1, 2):
        if evaluate(args[i], row) is True:
            return evaluate(args[i + 1], row)
    return evaluate(args[-1], row)


def _ev_coalesce(c, row):
    for a in c.args:
        v = evaluate(a, row)
        if v is not None:
            return v
    return None


def _ev_minmax(f):
    def run(c, row):
        vals = [evaluate(a, row) for a in c.args]
        if any(v is None for v in vals):
            return None
        return f(vals)

    return run


_EVAL = {
    "col": _ev_col, "const": _ev_const, "add": _ev_arith(operator.add), "sub": _ev_arith(operator.sub),
    "mul": _ev_arith(operator.mul), "fdiv": _ev_fdiv, "hdiv": _ev_hdiv, "neg": _ev_neg, "abs": _ev_abs,
    "tofloat": _ev_tofloat, "cmp": _ev_cmp, "and": _ev_and, "or": _ev_or, "not": _ev_not, "isnull": _ev_isnull,
    "in": _ev_in, "case": _ev_case, "coalesce": _ev_coalesce, "least": _ev_minmax(min), "greatest": _ev_minmax(max),
}
