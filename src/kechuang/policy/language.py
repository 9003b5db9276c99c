"""The policy language: one YAML file per policy version, expressions in a safe SQL subset.

Pure module (no database). Expressions are parsed with sqlglot, never evaluated by Python, and
type-checked against :data:`kechuang.policy.facts.FACTS` when a file is loaded. Every problem is
reported as ``file:line:col: reason``. See ``docs/policy-language.md`` for the reference.

Numbers from YAML are read as ``int`` or ``Decimal`` (never float). Money is integer fen; multiplying
money by a rate gives fractions of a fen that must be rounded with ``ROUND()`` (half away from zero)
before they can be an amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from kechuang.policy.facts import FACTS, MAX_LAG, lag_column

NUMERIC = frozenset({"int", "int_fen", "fen_frac", "decimal"})
MONEY = frozenset({"int_fen", "fen_frac"})
STATUSES = ("confirmed", "unconfirmed")
ALLOCATIONS = ("pro_rata", "first_come", "ranked_by")


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One load problem with its place in the file (1-based line and column)."""

    file: str
    line: int
    col: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.reason}"


class PolicyError(Exception):
    """A policy file (or set of files) is refused; ``problems`` lists every reason with its place."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ExprError(Exception):
    """An expression problem at ``offset`` characters into the expression text."""

    def __init__(self, reason: str, offset: int = 0):
        self.reason = reason
        self.offset = offset
        super().__init__(reason)


# --------------------------------------------------------------------------- typed expression tree


@dataclass(frozen=True)
class Expr:
    """A type-checked expression node.

    ``op`` is one of: col, derived, const, param, tier, + - * / neg, = <> < <= > >=, and, or, not,
    isnull, in, case, coalesce, least, greatest, abs, round. ``type`` is int, int_fen, fen_frac,
    decimal, bool, str, date or null; ``exact`` is False for measured decimals and ratios of
    non-constant numbers (held as doubles), True otherwise; ``const`` when it has no fact in it.
    """

    op: str
    type: str
    args: tuple[Expr, ...] = ()
    value: Any = None
    exact: bool = True
    const: bool = False
    pos: int = 0

    def walk(self):
        """This node and all nodes below it."""
        yield self
        for a in self.args:
            yield from a.walk()

    def columns(self) -> set[str]:
        """Facts-table columns this expression reads (lags as ``fact__mN``)."""
        return {n.value for n in self.walk() if n.op == "col"}

    def params(self) -> set[str]:
        """Parameter names this expression uses."""
        return {n.value for n in self.walk() if n.op in ("param", "tier")}


# --------------------------------------------------------------------------- policy model


@dataclass
class Param:
    """A dated parameter: values in force from each date; a tier table is a list of [up_to, value]."""

    name: str
    values: list[tuple[date, Any]]
    status: str = "confirmed"
    note: str = ""
    label: dict[str, str] = field(default_factory=dict)
    kind: str = "number"  # number | tier | str | bool
    type: str = "int"

    def value_on(self, on: date) -> tuple[date, Any] | None:
        """(since, value) in force on ``on``, or None before the first date."""
        found = None
        for since, v in self.values:
            if since <= on:
                found = (since, v)
        return found


@dataclass
class Clause:
    """One condition of eligibility."""

    id: str
    label: dict[str, str]
    when: Expr
    text: str


@dataclass
class Budget:
    """A budget applied after eligibility."""

    total_fen: int
    allocation: str
    ranked_by: Expr | None = None
    order_by: Expr | None = None


@dataclass
class PolicyTest:
    """An input → expected-output case kept beside the policy."""

    name: str
    facts: dict[str, Any]
    year: int | None
    eligible: bool | None
    amount_fen: int | None
    expect_amount: bool
    failed: list[str] | None
    line: int


@dataclass
class Policy:
    """One policy version, loaded and type-checked."""

    id: str
    title: dict[str, str]
    basis: dict[str, str]
    valid_from: date
    valid_to: date | None
    facts_year: int | None
    params: dict[str, Param]
    clauses: list[Clause]
    amount: Expr | None
    amount_text: str | None
    excludes: list[str]
    budget: Budget | None
    tests: list[PolicyTest]
    informational: bool = False
    summary: dict[str, str] = field(default_factory=dict)
    file: str = ""
    source_text: str = ""

    def applies_to(self, year: int) -> bool:
        """Whether this policy is evaluated on the facts of ``year``."""
        if self.facts_year is not None:
            return self.facts_year == year
        end = self.valid_to or date(9999, 12, 31)
        return self.valid_from <= date(year, 12, 31) and end >= date(year, 1, 1)

    def evaluation_date(self, year: int) -> date:
        """The date whose parameter values apply: the start of validity, or 1 January of ``year``
        for a standing policy (no ``facts_year``) that was already valid then."""
        if self.facts_year is not None:
            return self.valid_from
        return max(self.valid_from, date(year, 1, 1))

    def default_year(self) -> int:
        """The facts year used by tests that do not name one."""
        return self.facts_year if self.facts_year is not None else self.valid_from.year

    def param_values(self, year: int) -> dict[str, tuple[date, Any]]:
        """Each parameter's (since, value) for the facts of ``year``; raises if one has no value yet."""
        on = self.evaluation_date(year)
        out = {}
        for name, p in self.params.items():
            v = p.value_on(on)
            if v is None:
                raise PolicyError([Problem(self.file, 1, 1, f"parameter {name!r} has no value in force on {on}")])
            out[name] = v
        return out

    def columns(self) -> set[str]:
        """Facts-table columns the policy reads."""
        cols: set[str] = set()
        for c in self.clauses:
            cols |= c.when.columns()
        for e in (self.amount, self.budget and self.budget.ranked_by, self.budget and self.budget.order_by):
            if e is not None:
                cols |= e.columns()
        return cols


# --------------------------------------------------------------------------- YAML with positions


class _Located:
    """Build Python data from a YAML node tree, remembering where each value came from."""

    def __init__(self, text: str):
        self.loader = yaml.SafeLoader(text)
        self.marks: dict[tuple, yaml.Node] = {}

    def build(self, node: yaml.Node, path: tuple = ()) -> Any:
        self.marks[path] = node
        if isinstance(node, yaml.MappingNode):
            out = {}
            for k, v in node.value:
                key = self.build(k, (*path, "__key__"))
                if not isinstance(key, str | int | Decimal | bool | date):
                    raise yaml.YAMLError("mapping keys must be plain scalars")
                out[key] = self.build(v, (*path, key))
                self.marks[(*path, key, "__keynode__")] = k
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:float":
            text = node.value.replace("_", "")
            try:
                return Decimal(text)
            except ArithmeticError as exc:
                raise yaml.YAMLError(f"not a decimal number: {node.value}") from exc
        return self.loader.construct_object(node, deep=True)


def _place(node: yaml.Node | None, offset: int = 0, text: str = "") -> tuple[int, int]:
    """1-based (line, col) in the file of ``offset`` characters into the scalar held by ``node``.

    Walks the scalar's source lines (block ``|``/``>``, plain or quoted, folded or not), so an
    offset into the folded value lands on the right source line and column."""
    if node is None:
        return 1, 1
    mark = node.start_mark
    line0, col0 = mark.line, mark.column
    style = getattr(node, "style", None)
    buf = mark.buffer or ""
    src = buf[mark.pointer:node.end_mark.pointer] if buf else text
    positions: list[tuple[int, int]] = []
    if style in ("|", ">"):
        for i, raw in enumerate(src.split("\n")[1:]):
            ind = len(raw) - len(raw.lstrip(" "))
            positions += [(line0 + 1 + i, j) for j in range(ind, len(raw))]
            positions.append((line0 + 1 + i, len(raw)))
    else:
        q = 1 if style in ("'", '"') else 0
        for i, raw in enumerate(src[q:].split("\n")):
            if i == 0:
                positions += [(line0, col0 + q + j) for j in range(len(raw))]
                positions.append((line0, col0 + q + len(raw)))
            else:
                ind = len(raw) - len(raw.lstrip())
                positions += [(line0 + i, j) for j in range(ind, len(raw))]
                positions.append((line0 + i, len(raw)))
    if not positions:
        return line0 + 1, col0 + 1
    ln, col = positions[max(0, min(offset, len(positions) - 1))]
    return ln + 1, col + 1


# --------------------------------------------------------------------------- expressions

_LAG_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)@-(\d+)")


def _preprocess(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Rewrite ``fact@-N`` to ``fact__mN``; return the text and (new_offset, shift) pairs to map back."""
    shifts: list[tuple[int, int]] = []
    out: list[str] = []
    last = 0
    shift = 0
    for m in _LAG_RE.finditer(text):
        out.append(text[last:m.start()])
        repl = f"{m.group(1)}__m{m.group(2)}"
        out.append(repl)
        shift += len(repl) - len(m.group(0))
        shifts.append((sum(len(x) for x in out), shift))
        last = m.end()
    out.append(text[last:])
    return "".join(out), shifts


def _map_back(offset: int, shifts: list[tuple[int, int]]) -> int:
    """Offset in the rewritten text → offset in the original text."""
    s = 0
    for end_new, shift in shifts:
        if offset >= end_new:
            s = shift
    return max(0, offset - s)


class ExprContext:
    """What an expression may name: facts (with derived facts), and a policy's parameters."""

    def __init__(self, params: dict[str, Param]):
        self.params = params


def parse_expression(text: str, ctx: ExprContext) -> Expr:
    """Parse and type-check one expression; raise :class:`ExprError` with an offset into ``text``."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("empty expression")
    new, shifts = _preprocess(text)
    try:
        tree = sqlglot.parse_one(new, read="duckdb")
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        off = _line_col_to_offset(new, err.get("line", 1), err.get("col", 1))
        raise ExprError(f"syntax error: {err.get('description', str(exc)).splitlines()[0]}",
                        _map_back(off, shifts)) from None
    except TokenError as exc:
        raise ExprError(f"syntax error: {exc}", 0) from None
    if tree is None:
        raise ExprError("empty expression")
    try:
        return _Checker(ctx).conv(tree, 0)
    except ExprError as exc:
        exc.offset = _map_back(exc.offset, shifts)
        raise


def _line_col_to_offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    off = sum(len(x) + 1 for x in lines[: max(0, line - 1)])
    return max(0, min(len(text), off + max(0, col - 1)))


def _node_pos(node: exp.Expression, default: int) -> int:
    best = None
    for n in node.walk():
        meta = getattr(n, "_meta", None) or {}
        if "start" in meta and (best is None or meta["start"] < best):
            best = meta["start"]
    return default if best is None else best


def _numeric_join(types: list[Expr], pos: int, what: str) -> tuple[str, bool]:
    """Result type of a numeric choice (LEAST, CASE, COALESCE...): money with money or constants."""
    nums = [t for t in types if t.type != "null"]
    if not nums:
        return "null", True
    money = [t for t in nums if t.type in MONEY]
    exact = all(t.exact for t in nums)
    if money:
        for t in nums:
            if t.type not in MONEY and not t.const:
                raise ExprError(f"{what} mixes money (fen) with a non-money value", t.pos)
        if all(t.type == "int_fen" or (t.type == "int" and t.const) for t in nums):
            return "int_fen", True
        if not exact:
            raise ExprError(f"{what} mixes money with an inexact ratio", pos)
        return "fen_frac", True
    if all(t.type == "int" for t in nums):
        return "int", True
    return "decimal", exact


class _Checker:
    def __init__(self, ctx: ExprContext):
        self.ctx = ctx

    def conv(self, node: exp.Expression, pos: int) -> Expr:
        pos = _node_pos(node, pos)
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExprError(f"not allowed in a policy expression: {type(node).__name__} ({node.sql()})", pos)
        return method(node, pos)

    # leaves ---------------------------------------------------------------
    def _Paren(self, node, pos):
        return self.conv(node.this, pos)

    def _Column(self, node, pos):
        if node.table or node.args.get("db"):
            raise ExprError(f"qualified names are not allowed: {node.sql()}", pos)
        name = node.name
        return self.name_ref(name, pos)

    def name_ref(self, name: str, pos: int) -> Expr:
        if name in self.ctx.params:
            p = self.ctx.params[name]
            if p.kind == "tier":
                raise ExprError(f"tier table {name!r} can only be used inside TIER(value, {name})", pos)
            return Expr("param", p.type, value=name, const=True, pos=pos)
        base, lag = name, 0
        m = re.fullmatch(r"(.+)__m(\d+)", name)
        if m and m.group(1) in FACTS:
            base, lag = m.group(1), int(m.group(2))
            if not 1 <= lag <= MAX_LAG:
                raise ExprError(f"a fact may look back 1 to {MAX_LAG} years, not {lag}", pos)
        fact = FACTS.get(base)
        if fact is None:
            raise ExprError(f"unknown name {name!r}: not a declared fact or a parameter of this policy", pos)
        if fact.derived:
            inner = parse_expression(_lag_text(fact.derived, lag), ExprContext({})) if lag else _derived(base)
            return Expr("derived", inner.type, (inner,), value=lag_column(base, lag), exact=inner.exact, pos=pos)
        return Expr("col", fact.type, value=lag_column(base, lag), exact=fact.type != "decimal", pos=pos)

    def _Literal(self, node, pos):
        if node.is_string:
            return Expr("const", "str", value=node.this, const=True, pos=pos)
        text = node.this
        if re.fullmatch(r"\d+", text):
            return Expr("const", "int", value=int(text), const=True, pos=pos)
        try:
            return Expr("const", "decimal", value=Decimal(text), const=True, pos=pos)
        except ArithmeticError:
            raise ExprError(f"not a number: {text}", pos) from None

    def _Boolean(self, node, pos):
        return Expr("const", "bool", value=bool(node.this), const=True, pos=pos)

    def _Null(self, node, pos):
        return Expr("const", "null", value=None, const=True, pos=pos)

    def _Cast(self, node, pos):
        if node.to.this == exp.DataType.Type.DATE and isinstance(node.this, exp.Literal) and node.this.is_string:
            try:
                return Expr("const", "date", value=date.fromisoformat(node.this.this), const=True, pos=pos)
            except ValueError:
                raise ExprError(f"not a date (YYYY-MM-DD): {node.this.this}", pos) from None
        raise ExprError("only DATE 'YYYY-MM-DD' literals are allowed, no other casts", pos)

    # arithmetic -------------------------------------------------------------
    def _Neg(self, node, pos):
        a = self.conv(node.this, pos)
        self.need_numeric(a, "-")
        if a.op == "const":
            return Expr("const", a.type, value=-a.value, const=True, pos=pos)
        return Expr("neg", a.type, (a,), exact=a.exact, const=a.const, pos=pos)

    def _Add(self, node, pos):
        return self.additive("+", node, pos)

    def _Sub(self, node, pos):
        return self.additive("-", node, pos)

    def additive(self, op, node, pos):
        a, b = self.conv(node.this, pos), self.conv(node.expression, pos)
        self.need_numeric(a, op)
        self.need_numeric(b, op)
        const = a.const and b.const
        if a.type in MONEY or b.type in MONEY:
            for x in (a, b):
                if x.type not in MONEY and not x.const:
                    raise ExprError(f"'{op}' adds money (fen) and a non-money value", x.pos)
            if not (a.exact and b.exact):
                raise ExprError(f"'{op}' mixes money with an inexact ratio", pos)
            t = "int_fen" if all(x.type == "int_fen" or (x.type == "int") for x in (a, b)) else "fen_frac"
            return Expr(op, t, (a, b), const=const, pos=pos)
        t = "int" if a.type == "int" and b.type == "int" else "decimal"
        return Expr(op, t, (a, b), exact=a.exact and b.exact, const=const, pos=pos)

    def _Mul(self, node, pos):
        a, b = self.conv(node.this, pos), self.conv(node.expression, pos)
        self.need_numeric(a, "*")
        self.need_numeric(b, "*")
        const = a.const and b.const
        if a.type in MONEY and b.type in MONEY:
            raise ExprError("money times money has no meaning", pos)
        if a.type in MONEY or b.type in MONEY:
            m, o = (a, b) if a.type in MONEY else (b, a)
            if not o.exact:
                raise ExprError("money may only be multiplied by integers, constants, parameters or TIER() "
                                "values (a measured ratio would make the amount inexact)", o.pos)
            t = "int_fen" if m.type == "int_fen" and o.type == "int" else "fen_frac"
            return Expr("*", t, (a, b), const=const, pos=pos)
        t = "int" if a.type == "int" and b.type == "int" else "decimal"
        return Expr("*", t, (a, b), exact=a.exact and b.exact, const=const, pos=pos)

    def _Div(self, node, pos):
        a, b = self.conv(node.this, pos), self.conv(node.expression, pos)
        self.need_numeric(a, "/")
        self.need_numeric(b, "/")
        if b.op == "const" and b.value == 0:
            raise ExprError("division by zero", b.pos)
        const = a.const and b.const
        if a.type in MONEY and b.type in MONEY:
            return Expr("/", "decimal", (a, b), exact=const, const=const, pos=pos)
        if a.type in MONEY:
            if not b.const:
                raise ExprError("money may only be divided by a constant or a parameter "
                                "(divide money by money to get a ratio)", b.pos)
            return Expr("/", "fen_frac", (a, b), const=const, pos=pos)
        if b.type in MONEY:
            raise ExprError("dividing by money gives no meaningful unit", b.pos)
        exact = a.exact and b.const and b.exact
        return Expr("/", "decimal", (a, b), exact=exact, const=const, pos=pos)

    # comparisons and logic --------------------------------------------------
    def compare(self, op, a: Expr, b: Expr, pos: int) -> Expr:
        a, b = _coerce_date(a, b), _coerce_date(b, a)
        ta, tb = a.type, b.type
        if "null" in (ta, tb):
            raise ExprError("compare with NULL using IS NULL / IS NOT NULL", pos)
        if ta in NUMERIC and tb in NUMERIC:
            if (ta in MONEY) != (tb in MONEY):
                other = b if ta in MONEY else a
                if not other.const:
                    raise ExprError(f"'{op}' compares money (fen) with a non-money value", other.pos)
        elif ta != tb:
            raise ExprError(f"'{op}' compares {ta} with {tb}", pos)
        elif op not in ("=", "<>") and ta in ("bool",):
            raise ExprError(f"'{op}' cannot order true/false", pos)
        return Expr(op, "bool", (a, b), const=a.const and b.const, pos=pos)

    def _EQ(self, node, pos):
        return self.compare("=", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def _NEQ(self, node, pos):
        return self.compare("<>", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def _GT(self, node, pos):
        return self.compare(">", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def _GTE(self, node, pos):
        return self.compare(">=", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def _LT(self, node, pos):
        return self.compare("<", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def _LTE(self, node, pos):
        return self.compare("<=", self.conv(node.this, pos), self.conv(node.expression, pos), pos)

    def logical(self, op, parts, pos):
        for p in parts:
            if p.type != "bool":
                raise ExprError(f"{op.upper()} needs true/false operands, got {p.type}", p.pos)
        flat: list[Expr] = []
        for p in parts:
            flat.extend(p.args if p.op == op else (p,))
        return Expr(op, "bool", tuple(flat), const=all(p.const for p in flat), pos=pos)

    def _And(self, node, pos):
        return self.logical("and", [self.conv(node.this, pos), self.conv(node.expression, pos)], pos)

    def _Or(self, node, pos):
        return self.logical("or", [self.conv(node.this, pos), self.conv(node.expression, pos)], pos)

    def _Not(self, node, pos):
        a = self.conv(node.this, pos)
        if a.type != "bool":
            raise ExprError(f"NOT needs a true/false operand, got {a.type}", a.pos)
        return Expr("not", "bool", (a,), const=a.const, pos=pos)

    def _Is(self, node, pos):
        if not isinstance(node.expression, exp.Null):
            raise ExprError("only IS NULL / IS NOT NULL are allowed", pos)
        a = self.conv(node.this, pos)
        return Expr("isnull", "bool", (a,), pos=pos)

    def _In(self, node, pos):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise ExprError("IN takes a list of constants, not a subquery", pos)
        a = self.conv(node.this, pos)
        vals = []
        for v in node.expressions:
            e = _coerce_date(self.conv(v, pos), a)
            if e.op != "const" or e.type == "null":
                raise ExprError("IN takes a list of constants (no NULL)", e.pos)
            self.compare("=", a, e, e.pos)
            vals.append(e)
        if not vals:
            raise ExprError("IN needs at least one value", pos)
        return Expr("in", "bool", (a, *vals), pos=pos)

    def _Between(self, node, pos):
        a = self.conv(node.this, pos)
        lo, hi = self.conv(node.args["low"], pos), self.conv(node.args["high"], pos)
        return self.logical("and", [self.compare(">=", a, lo, pos), self.compare("<=", a, hi, pos)], pos)

    def _Case(self, node, pos):
        if node.this is not None:
            raise ExprError("use the searched form CASE WHEN condition THEN value ... END", pos)
        parts: list[Expr] = []
        results: list[Expr] = []
        for branch in node.args.get("ifs") or []:
            c = self.conv(branch.this, pos)
            if c.type != "bool":
                raise ExprError("a WHEN condition must be true/false", c.pos)
            v = self.conv(branch.args["true"], pos)
            parts += [c, v]
            results.append(v)
        default = node.args.get("default")
        d = self.conv(default, pos) if default is not None else Expr("const", "null", const=True, pos=pos)
        results.append(d)
        t, exact = self.join(results, pos, "CASE")
        return Expr("case", t, (*parts, d), exact=exact, const=all(p.const for p in (*parts, d)), pos=pos)

    def join(self, items: list[Expr], pos: int, what: str) -> tuple[str, bool]:
        kinds = {x.type for x in items if x.type != "null"}
        if kinds and kinds <= NUMERIC:
            return _numeric_join(items, pos, what)
        if len(kinds) > 1:
            raise ExprError(f"{what} mixes types: {', '.join(sorted(kinds))}", pos)
        return (kinds.pop() if kinds else "null"), True

    # functions --------------------------------------------------------------
    def variadic(self, op, node, pos):
        args = [self.conv(node.this, pos)] + [self.conv(x, pos) for x in node.expressions]
        if op != "coalesce":
            for a in args:
                self.need_numeric(a, op.upper())
        if len(args) < 2:
            raise ExprError(f"{op.upper()} needs at least two arguments", pos)
        t, exact = self.join(args, pos, op.upper())
        return Expr(op, t, tuple(args), exact=exact, const=all(a.const for a in args), pos=pos)

    def _Least(self, node, pos):
        return self.variadic("least", node, pos)

    def _Greatest(self, node, pos):
        return self.variadic("greatest", node, pos)

    def _Coalesce(self, node, pos):
        return self.variadic("coalesce", node, pos)

    def _Abs(self, node, pos):
        a = self.conv(node.this, pos)
        self.need_numeric(a, "ABS")
        return Expr("abs", a.type, (a,), exact=a.exact, const=a.const, pos=pos)

    def _Round(self, node, pos):
        a = self.conv(node.this, pos)
        self.need_numeric(a, "ROUND")
        dec = node.args.get("decimals")
        if dec is not None and not (isinstance(dec, exp.Literal) and dec.this == "0"):
            raise ExprError("ROUND rounds to a whole number (of fen for money); no decimals argument", pos)
        if not a.exact:
            raise ExprError("ROUND applies to exact numbers (money, counts, constants), not to measured ratios",
                            a.pos)
        t = {"fen_frac": "int_fen", "int_fen": "int_fen", "int": "int", "decimal": "int"}[a.type]
        return Expr("round", t, (a,), const=a.const, pos=pos)

    def _Anonymous(self, node, pos):
        name = str(node.this).upper()
        if name != "TIER":
            raise ExprError(f"unknown function {node.this}(); allowed: LEAST, GREATEST, COALESCE, ROUND, ABS, TIER",
                            pos)
        if len(node.expressions) != 2 or not isinstance(node.expressions[1], exp.Column):
            raise ExprError("TIER takes (value, tier_table_parameter)", pos)
        x = self.conv(node.expressions[0], pos)
        self.need_numeric(x, "TIER")
        tname = node.expressions[1].name
        p = self.ctx.params.get(tname)
        if p is None or p.kind != "tier":
            raise ExprError(f"{tname!r} is not a tier-table parameter of this policy", _node_pos(node.expressions[1], pos))
        return Expr("tier", p.type, (x,), value=tname, exact=True, pos=pos)

    def need_numeric(self, a: Expr, op: str) -> None:
        if a.type not in NUMERIC and a.type != "null":
            raise ExprError(f"{op} needs numbers, got {a.type}", a.pos)


def _coerce_date(a: Expr, other: Expr) -> Expr:
    """A string constant compared with a date is read as a date (YYYY-MM-DD)."""
    if a.op == "const" and a.type == "str" and other.type == "date":
        try:
            return Expr("const", "date", value=date.fromisoformat(a.value), const=True, pos=a.pos)
        except ValueError:
            raise ExprError(f"not a date (YYYY-MM-DD): {a.value}", a.pos) from None
    return a


def _lag_text(text: str, lag: int) -> str:
    """Shift every fact in a derived definition ``lag`` more years back."""

    def shift(m: re.Match) -> str:
        name, ago = m.group(1), int(m.group(2) or 0)
        if name not in FACTS:
            return m.group(0)
        return f"{name}@-{ago + lag}"

    return re.sub(r"([A-Za-z_][A-Za-z0-9_]*)(?:@-(\d+))?", shift, text)


_DERIVED_CACHE: dict[str, Expr] = {}


def _derived(name: str) -> Expr:
    if name not in _DERIVED_CACHE:
        _DERIVED_CACHE[name] = parse_expression(FACTS[name].derived or "", ExprContext({}))
    return _DERIVED_CACHE[name]


# --------------------------------------------------------------------------- loading

_TOP_KEYS = {"id", "title", "summary", "basis", "valid", "facts_year", "params", "clauses", "amount", "excludes",
             "budget", "tests", "informational"}
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class _Loader:
    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.problems: list[Problem] = []
        self.loc: _Located | None = None

    def problem(self, path: tuple, reason: str, offset: int = 0, expr_text: str = "") -> None:
        node = self.loc.marks.get(path) if self.loc else None
        while node is None and path:
            path = path[:-1]
            node = self.loc.marks.get(path) if self.loc else None
        line, col = _place(node, offset, expr_text)
        self.problems.append(Problem(self.path, line, col, reason))

    def expr(self, path: tuple, text: Any, ctx: ExprContext) -> Expr | None:
        if isinstance(text, bool | int | Decimal):
            text = str(text).upper() if isinstance(text, bool) else str(text)
        if not isinstance(text, str):
            self.problem(path, "an expression must be text")
            return None
        try:
            return parse_expression(text, ctx)
        except ExprError as exc:
            self.problem(path, exc.reason, exc.offset, text)
            return None

    def labels(self, path: tuple, value: Any, what: str) -> dict[str, str]:
        if (not isinstance(value, dict) or set(value) != {"zh", "en"} or not isinstance(value.get("zh"), str)
                or not isinstance(value.get("en"), str)):
            self.problem(path, f"{what} needs zh and en text and nothing else: {{zh: ..., en: ...}} "
                               "(quote text that contains commas)")
            return {"zh": "", "en": ""}
        return {"zh": value["zh"], "en": value["en"]}

    def load(self) -> Policy | None:
        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problems.append(Problem(self.path, (mark.line + 1) if mark else 1, (mark.column + 1) if mark else 1,
                                         f"YAML: {exc.problem or exc}"))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.path, 1, 1, f"YAML: {exc}"))
            return None
        if node is None:
            self.problems.append(Problem(self.path, 1, 1, "empty file"))
            return None
        self.loc = _Located(self.text)
        try:
            doc = self.loc.build(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.problems.append(Problem(self.path, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                                         f"YAML: {exc}"))
            return None
        if not isinstance(doc, dict):
            self.problem((), "a policy file is a mapping (id, title, basis, valid, clauses, ...)")
            return None
        for k in doc:
            if k not in _TOP_KEYS:
                self.problem((k, "__keynode__"), f"unknown key {k!r}; allowed: {', '.join(sorted(_TOP_KEYS))}")
        pid = doc.get("id")
        if not isinstance(pid, str) or not _ID_RE.fullmatch(pid):
            self.problem(("id",), "id must be lower-case letters, digits, '-', '_' or '.'")
            pid = str(pid)
        title = self.labels(("title",), doc.get("title"), "title")
        summary = self.labels(("summary",), doc["summary"], "summary") if "summary" in doc else {}
        basis = doc.get("basis")
        if not isinstance(basis, dict) or not isinstance(basis.get("doc"), str):
            self.problem(("basis",), "basis needs {doc: document number, url: ..., status: confirmed|unconfirmed}")
            basis = {"doc": "", "url": "", "status": "unconfirmed"}
        status = basis.get("status", "confirmed")
        if status not in STATUSES:
            self.problem(("basis", "status"), "status must be confirmed or unconfirmed")
        basis = {k: str(v) for k, v in basis.items()}
        basis.setdefault("url", "")
        basis.setdefault("status", "confirmed")
        valid = doc.get("valid")
        vfrom, vto = date(1970, 1, 1), None
        if not isinstance(valid, dict) or not isinstance(valid.get("from"), date):
            self.problem(("valid",), "valid needs {from: YYYY-MM-DD, to: YYYY-MM-DD or absent}")
        else:
            vfrom = valid["from"]
            vto = valid.get("to")
            if vto is not None and (not isinstance(vto, date) or vto < vfrom):
                self.problem(("valid", "to"), "valid.to must be a date on or after valid.from")
                vto = None
        fy = doc.get("facts_year")
        if fy is not None and (not isinstance(fy, int) or isinstance(fy, bool) or not 1990 <= fy <= 2100):
            self.problem(("facts_year",), "facts_year must be a year")
            fy = None
        params = self.load_params(doc.get("params") or {}, basis["status"])
        ctx = ExprContext(params)
        clauses = []
        raw_clauses = doc.get("clauses")
        if not isinstance(raw_clauses, list) or not raw_clauses:
            self.problem(("clauses",), "clauses must be a non-empty list")
            raw_clauses = []
        seen = set()
        for i, c in enumerate(raw_clauses):
            if not isinstance(c, dict):
                self.problem(("clauses", i), "a clause is {id, label: {zh, en}, when: expression}")
                continue
            cid = c.get("id")
            if not isinstance(cid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
                self.problem(("clauses", i, "id"), "clause id must be lower_snake_case")
                cid = f"clause{i}"
            if cid in seen:
                self.problem(("clauses", i, "id"), f"duplicate clause id {cid!r}")
            seen.add(cid)
            label = self.labels(("clauses", i, "label"), c.get("label"), "label")
            e = self.expr(("clauses", i, "when"), c.get("when"), ctx)
            if e is not None and e.type != "bool":
                self.problem(("clauses", i, "when"), f"a clause must be true/false, this is {e.type}")
                e = None
            if e is not None:
                clauses.append(Clause(cid, label, e, str(c.get("when"))))
        amount = None
        if doc.get("amount") is not None:
            amount = self.expr(("amount",), doc["amount"], ctx)
            if amount is not None and amount.type != "int_fen":
                hint = "; wrap it in ROUND()" if amount.type == "fen_frac" else ""
                self.problem(("amount",), f"amount must be whole fen (int_fen), this is {amount.type}{hint}")
                amount = None
        excludes = doc.get("excludes") or []
        if not isinstance(excludes, list) or not all(isinstance(x, str) for x in excludes):
            self.problem(("excludes",), "excludes is a list of policy ids")
            excludes = []
        budget = self.load_budget(doc.get("budget"), ctx, amount is not None)
        policy = Policy(
            id=pid, title=title, basis=basis, valid_from=vfrom, valid_to=vto, facts_year=fy, params=params,
            clauses=clauses, amount=amount, amount_text=str(doc["amount"]) if doc.get("amount") is not None else None,
            excludes=list(excludes), budget=budget, tests=[], informational=bool(doc.get("informational", False)),
            summary=summary, file=self.path, source_text=self.text,
        )
        policy.tests = self.load_tests(doc.get("tests") or [], policy)
        if self.problems:
            return None
        return policy

    def load_params(self, raw: Any, default_status: str) -> dict[str, Param]:
        out: dict[str, Param] = {}
        if not isinstance(raw, dict):
            self.problem(("params",), "params is a mapping name → {date: value}")
            return out
        for name, spec in raw.items():
            path = ("params", name)
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                self.problem((*path, "__keynode__"), "parameter names are lower_snake_case")
                continue
            if name in FACTS:
                self.problem((*path, "__keynode__"), f"parameter {name!r} hides the fact of the same name")
                continue
            status, note, label = default_status, "", {}
            if isinstance(spec, dict) and "values" in spec:
                status = spec.get("status", default_status)
                if status not in STATUSES:
                    self.problem((*path, "status"), "status must be confirmed or unconfirmed")
                note = str(spec.get("note", ""))
                if "label" in spec:
                    label = self.labels((*path, "label"), spec["label"], "label")
                vpath, values = (*path, "values"), spec["values"]
            else:
                vpath, values = path, spec
            if not isinstance(values, dict) or not values or not all(isinstance(k, date) for k in values):
                self.problem(vpath, "parameter values are dated: {YYYY-MM-DD: value, ...}")
                continue
            kinds = set()
            dated = []
            for since, v in sorted(values.items()):
                kind, typ, val = self.param_value(name, v, (*vpath, since))
                if kind is None:
                    continue
                kinds.add((kind, typ))
                dated.append((since, val))
            if len(kinds) > 1:
                self.problem(vpath, "all dated values of a parameter must have the same type")
                continue
            if not kinds:
                continue
            kind, typ = kinds.pop()
            out[name] = Param(name, dated, status, note, label, kind, typ)
        return out

    def param_value(self, name: str, v: Any, path: tuple) -> tuple[str | None, str, Any]:
        money = name.endswith("_fen")
        if isinstance(v, bool):
            return "bool", "bool", v
        if isinstance(v, int):
            return "number", "int_fen" if money else "int", v
        if isinstance(v, Decimal):
            if money:
                self.problem(path, "a money parameter (_fen) must be whole fen")
                return None, "", None
            return "number", "decimal", v
        if isinstance(v, str):
            return "str", "str", v
        if isinstance(v, list):
            rows = []
            ok = True
            for r in v:
                if (not isinstance(r, list) or len(r) != 2 or not (r[0] is None or isinstance(r[0], int | Decimal))
                        or not isinstance(r[1], int | Decimal) or isinstance(r[1], bool)):
                    ok = False
                    break
                rows.append((r[0], r[1]))
            ups = [r[0] for r in rows if r[0] is not None]
            if not ok or not rows or ups != sorted(ups) or any(r[0] is None for r in rows[:-1]):
                self.problem(path, "a tier table is a list of [up_to, value] rows with rising up_to; "
                                   "only the last up_to may be null (no upper bound)")
                return None, "", None
            if all(isinstance(r[1], int) for r in rows):
                typ = "int_fen" if money else "int"
            else:
                typ = "decimal"
                if money:
                    self.problem(path, "a money tier table (_fen) must give whole fen")
                    return None, "", None
            return "tier", typ, tuple(rows)
        self.problem(path, "a parameter value is a number, text, true/false or a tier table")
        return None, "", None

    def load_budget(self, raw: Any, ctx: ExprContext, has_amount: bool) -> Budget | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("total_fen"), int) or raw["total_fen"] < 0:
            self.problem(("budget",), "budget needs total_fen (whole fen) and an allocation")
            return None
        if not has_amount:
            self.problem(("budget",), "a budget needs an amount")
            return None
        alloc = raw.get("allocation", "ranked_by" if "ranked_by" in raw else None)
        if alloc not in ALLOCATIONS:
            self.problem(("budget", "allocation"), "allocation must be pro_rata, first_come or ranked_by")
            return None
        b = Budget(raw["total_fen"], alloc)
        if alloc == "ranked_by":
            b.ranked_by = self.expr(("budget", "ranked_by"), raw.get("ranked_by"), ctx)
            if b.ranked_by is not None and b.ranked_by.type not in NUMERIC:
                self.problem(("budget", "ranked_by"), "ranked_by must be a number (higher ranks first)")
        if alloc == "first_come" and raw.get("order_by") is not None:
            b.order_by = self.expr(("budget", "order_by"), raw["order_by"], ctx)
        return b

    def load_tests(self, raw: Any, policy: Policy) -> list[PolicyTest]:
        out = []
        if not isinstance(raw, list):
            self.problem(("tests",), "tests is a list of {facts: {...}, eligible: ..., amount_fen: ...}")
            return out
        for i, t in enumerate(raw):
            path = ("tests", i)
            node = self.loc.marks.get(path)
            line = node.start_mark.line + 1 if node else 1
            if not isinstance(t, dict) or not isinstance(t.get("facts", {}), dict):
                self.problem(path, "a test is {facts: {...}, eligible: true|false|null, amount_fen: ...}")
                continue
            facts = {}
            for k, v in (t.get("facts") or {}).items():
                m = re.fullmatch(r"([a-z_0-9]+)(?:@-(\d+))?", str(k))
                base = m.group(1) if m else str(k)
                if not m or base not in FACTS or FACTS[base].derived:
                    self.problem((*path, "facts", k, "__keynode__"), f"unknown fact {k!r} in test")
                    continue
                facts[lag_column(base, int(m.group(2) or 0))] = v
            if "eligible" not in t:
                self.problem(path, "a test must state eligible: true, false or null (unknown)")
                continue
            year = t.get("year")
            failed = t.get("failed")
            if failed is not None and not isinstance(failed, list):
                self.problem((*path, "failed"), "failed is a list of clause ids")
                failed = None
            ids = {c.id for c in policy.clauses}
            for f in failed or []:
                if f not in ids:
                    self.problem((*path, "failed"), f"no clause {f!r} in this policy")
            out.append(PolicyTest(str(t.get("name", f"test {i + 1}")), facts, year, t["eligible"],
                                  t.get("amount_fen"), "amount_fen" in t, failed, line))
        return out


def load_text(text: str, path: str = "<policy>") -> Policy:
    """Load one policy from YAML text; raise :class:`PolicyError` listing every problem."""
    loader = _Loader(path, text)
    policy = loader.load()
    if policy is None:
        raise PolicyError(loader.problems)
    return policy


def load_file(path: str | Path) -> Policy:
    """Load one policy file."""
    p = Path(path)
    return load_text(p.read_text(encoding="utf-8"), str(p))


def policy_files(directory: str | Path) -> list[Path]:
    """The policy files of a directory (``*.yaml`` / ``*.yml``), sorted."""
    d = Path(directory)
    return sorted([*d.glob("*.yaml"), *d.glob("*.yml")])


def load_directory(directory: str | Path) -> list[Policy]:
    """Load every policy of a directory; raise one :class:`PolicyError` with all problems of all files."""
    policies, problems = [], []
    for f in policy_files(directory):
        try:
            policies.append(load_file(f))
        except PolicyError as exc:
            problems.extend(exc.problems)
    problems.extend(check_references(policies))
    if problems:
        raise PolicyError(problems)
    return policies


def check_references(policies: list[Policy]) -> list[Problem]:
    """Cross-file checks: unique ids, ``excludes`` naming known policies."""
    problems = []
    ids: dict[str, Policy] = {}
    for p in policies:
        if p.id in ids:
            problems.append(Problem(p.file, 1, 1, f"duplicate policy id {p.id!r} (also in {ids[p.id].file})"))
        ids[p.id] = p
    for p in policies:
        for x in p.excludes:
            if x not in ids:
                problems.append(Problem(p.file, _line_of(p.source_text, "excludes"), 1,
                                        f"excludes unknown policy {x!r}"))
    return problems


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(key + ":"):
            return i
    return 1


LIBRARY_DIR = Path(__file__).resolve().parent / "library"
