"""Explanations: for one enterprise, policy and period, each clause as met / not met / unknown with
the actual values, the threshold, the legal basis and the dated parameter values, in zh and en; and
"how close": for an unmet comparison, the smallest change of one fact that would meet it
("R&D intensity 2.6% → 3.0%: +¥420,000 R&D expense"). Pure, runs on the row evaluator.

How close assumes the comparison is monotone in the fact being changed (true of the sums, ratios,
tiers and caps policies are written with); the change found is checked by evaluating it again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from kechuang.policy.engine import compile_policy, required_columns
from kechuang.policy.engine.core import Core, Lowerer, evaluate, row_function
from kechuang.policy.facts import FACTS, split_column
from kechuang.policy.facts_io import row_values
from kechuang.policy.language import Expr, Policy

_CMP_OPS = ("=", "<>", "<", "<=", ">", ">=")
_MAX_STEPS = 2**46


@dataclass
class FactValue:
    """A fact read by a clause, with its value (None = missing)."""

    name: str
    column: str
    years_ago: int
    zh: str
    en: str
    type: str
    value: Any
    shown: str


@dataclass
class ParamValue:
    """A parameter used by a clause, with the dated value in force."""

    name: str
    value: Any
    since: str
    status: str
    note: str
    shown: str


@dataclass
class Comparison:
    """One comparison inside a clause: left side, operator, right side (the threshold)."""

    text: dict[str, str]
    op: str
    actual: Any
    threshold: Any
    actual_shown: str
    threshold_shown: str
    met: bool | None


@dataclass
class HowClose:
    """The smallest change of one fact that meets an unmet comparison."""

    fact: str
    column: str
    delta: Any
    new_value: Any
    before_shown: str
    after_shown: str
    target_shown: str
    text: dict[str, str]


@dataclass
class ClauseExplanation:
    """One clause: status met / not_met / unknown and why."""

    id: str
    label: dict[str, str]
    when: str
    status: str
    facts: list[FactValue]
    missing: list[str]
    params: list[ParamValue]
    comparisons: list[Comparison]
    how_close: list[HowClose] = field(default_factory=list)


@dataclass
class Explanation:
    """The whole explanation for one enterprise and one policy."""

    policy_id: str
    title: dict[str, str]
    basis: dict[str, str]
    year: int
    on: str
    eligible: bool | None
    amount_fen: int | None
    amount_shown: str
    informational: bool
    clauses: list[ClauseExplanation]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _jsonable(asdict(self))

    def text(self, locale: str = "zh") -> str:
        """A plain-text rendering in ``locale`` (zh or en)."""
        lz = locale == "zh"
        status_words = {"met": ("满足", "met"), "not_met": ("不满足", "not met"), "unknown": ("未知", "unknown")}
        elig = {True: ("符合", "eligible"), False: ("不符合", "not eligible"), None: ("待定(数据缺失)", "unknown")}
        lines = [f"{self.title['zh' if lz else 'en']} [{self.policy_id}] — {elig[self.eligible][0 if lz else 1]}"
                 + (f" {self.amount_shown}" if self.amount_fen is not None else "")]
        flag = "" if self.basis.get("status") == "confirmed" else (" (待核实)" if lz else " (unconfirmed)")
        lines.append(f"  {'依据' if lz else 'Basis'}: {self.basis.get('doc', '')}{flag} {self.basis.get('url', '')}")
        for c in self.clauses:
            lines.append(f"  [{status_words[c.status][0 if lz else 1]}] {c.label['zh' if lz else 'en']} ({c.when})")
            for cmp in c.comparisons:
                lines.append(f"      {cmp.text['zh' if lz else 'en']}: {cmp.actual_shown} {cmp.op} {cmp.threshold_shown}")
            for p in c.params:
                unc = "" if p.status == "confirmed" else (" 待核实" if lz else " unconfirmed")
                lines.append(f"      {p.name} = {p.shown} ({'自' if lz else 'since'} {p.since}{unc})")
            if c.missing:
                lines.append(f"      {'缺少数据' if lz else 'missing'}: {', '.join(c.missing)}")
            for h in c.how_close:
                lines.append(f"      → {h.text['zh' if lz else 'en']}")
        return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, Decimal | Fraction):
        return str(Decimal(v.numerator) / Decimal(v.denominator)) if isinstance(v, Fraction) else str(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


# ------------------------------------------------------------------ formatting


def yuan(fen: Any) -> str:
    """¥ text of an amount in fen (exact; fractions of a fen shown as decimals)."""
    if fen is None:
        return "—"
    if type(fen) is int:  # the common case, in integer arithmetic
        sign, a = ("-", -fen) if fen < 0 else ("", fen)
        whole, cents = divmod(a, 100)
        return f"{sign}¥{whole:,}" + (f".{cents:02d}" if cents else "")
    d = Decimal(fen.numerator) / Decimal(fen.denominator) if isinstance(fen, Fraction) else Decimal(fen)
    y = d / 100
    sign = "-" if y < 0 else ""
    y = abs(y)
    whole = int(y)
    frac = y - whole
    text = f"{whole:,}"
    if frac:
        text += str(frac.quantize(Decimal("0.01")) if frac.as_tuple().exponent >= -2 else frac)[1:]
    return f"{sign}¥{text}"


def show(value: Any, typ: str, fmt: str = "") -> str:
    """Human text of a value of a declared type."""
    if value is None:
        return "—"
    if typ in ("int_fen", "fen_frac"):
        return yuan(value)
    if fmt == "percent" or typ == "percent":
        v = float(value) * 100
        return f"{v:.2f}".rstrip("0").rstrip(".") + "%" if abs(v - round(v, 1)) > 1e-9 else f"{v:.1f}%"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        return f"{float(value):.6g}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _fmt_of(e: Expr) -> tuple[str, str]:
    """(type, fmt) used to show the value of expression ``e``."""
    if e.op in ("derived", "col"):
        f = FACTS[split_column(e.value)[0]]
        return e.type, f.fmt
    if e.op == "/" and e.type == "decimal":
        return e.type, "percent"
    if e.op == "tier" and e.type == "decimal":
        return e.type, "percent"
    if e.op == "param" and e.type == "decimal":
        return e.type, "percent"
    return e.type, ""


def _label(e: Expr, lang: str) -> str | None:
    if e.op in ("derived", "col"):
        base, lag = split_column(e.value)
        f = FACTS[base]
        name = f.zh if lang == "zh" else f.en
        if lag:
            name += f"（{lag}年前）" if lang == "zh" else f" ({lag} yr earlier)"
        return name
    return None


# ------------------------------------------------------------------ explain


class _Values:
    def __init__(self, low: Lowerer, row: dict[str, Any], cache: dict):
        self.low = low
        self.row = row
        self.cache = cache

    def lowered(self, e: Expr):
        key = id(e)
        hit = self.cache.get(key)
        if hit is None or hit[0] is not e:
            hit = self.cache[key] = (e, self.low.lower(e))
        return hit[1]

    def value(self, e: Expr, row: dict[str, Any] | None = None) -> Any:
        lv = self.lowered(e)
        v = evaluate(lv.core, self.row if row is None else row)
        if v is None or lv.den is None or not isinstance(v, int) or isinstance(v, bool):
            return v
        return v if lv.den == 1 else Fraction(v, lv.den)


_LOWERED: dict[int, dict] = {}
_STATIC: dict[int, tuple[Policy, dict]] = {}
_COLS: dict[int, tuple[Expr, list[str]]] = {}


def _columns_of(e: Expr) -> list[str]:
    hit = _COLS.get(id(e))
    if hit is None or hit[0] is not e:
        hit = _COLS[id(e)] = (e, sorted(e.columns()))
    return hit[1]


def _static(policy: Policy) -> dict:
    """What an explanation needs from the policy text alone, computed once per policy."""
    hit = _STATIC.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    info: dict[str, Any] = {"columns": required_columns([policy])}
    for c in policy.clauses:
        info[c.id] = {
            "columns": sorted(c.when.columns()),
            "params": sorted(c.when.params()),
            "tier_unit": {n.value: n.args[0].type for n in c.when.walk() if n.op == "tier"},
            "comparisons": _comparisons(c.when),
        }
    _STATIC[id(policy)] = (policy, info)
    return info


def _comparisons(e: Expr) -> list[Expr]:
    if e.op in _CMP_OPS:
        return [e]
    if e.op in ("and", "or", "not"):
        return [c for a in e.args for c in _comparisons(a)]
    return []


def explain(policy: Policy, facts_row: dict[str, Any], year: int | None = None, on: date | None = None,
            how_close: bool = True) -> Explanation:
    """Explain ``policy`` for one enterprise's facts (a dict column → value) in facts ``year``."""
    year = policy.default_year() if year is None else year
    cp = compile_policy(policy, year, on)
    static = _static(policy)
    cols = static["columns"]
    row = row_values(facts_row, cols)
    vals = _Values(Lowerer({k: v for k, (_, v) in cp.params.items()}), row, _LOWERED.setdefault(id(cp), {}))
    clauses = []
    for clause in policy.clauses:
        info = static[clause.id]
        truth = evaluate(cp.clauses[clause.id], row)
        status = "met" if truth is True else "not_met" if truth is False else "unknown"
        facts = []
        for col in info["columns"]:
            base, lag = split_column(col)
            f = FACTS[base]
            facts.append(FactValue(base, col, lag, f.zh, f.en, f.type, row.get(col), show(row.get(col), f.type, f.fmt)))
        missing = [fv.column for fv in facts if fv.value is None]
        params = _param_values(policy, cp, clause.id, info)
        comps = []
        hc: list[HowClose] = []
        for cmp in info["comparisons"]:
            lhs, rhs = cmp.args
            a, b = vals.value(lhs), vals.value(rhs)
            met = evaluate(vals.lowered(cmp).core, row)
            ta, fa = _fmt_of(lhs)
            tb, fb = _fmt_of(rhs)
            if fa and not fb and tb == "decimal":
                fb = fa
            text = {lang: _label(lhs, lang) or clause.label[lang] for lang in ("zh", "en")}
            comps.append(Comparison(text, cmp.op, a, b, show(a, ta, fa), show(b, tb, fb or fa), met))
            if how_close and status == "not_met" and met is False:
                hc.extend(_how_close(cmp, vals, row, cols))
        clauses.append(ClauseExplanation(clause.id, clause.label, clause.text, status, facts, missing, params, comps,
                                         hc))
    failed = any(c.status == "not_met" for c in clauses)
    unknown = any(c.status == "unknown" for c in clauses)
    eligible: bool | None = False if failed else (None if unknown else True)
    amount = evaluate(cp.amount, row) if cp.amount is not None and eligible else None
    if eligible and cp.amount is not None and amount is None:
        eligible = None
    return Explanation(policy.id, policy.title, policy.basis, year, cp.on.isoformat(), eligible, amount,
                       yuan(amount) if amount is not None else "", policy.informational, clauses)


_PARAMS: dict[tuple[int, str], tuple[object, list[ParamValue]]] = {}


def _param_values(policy: Policy, cp, clause_id: str, info: dict) -> list[ParamValue]:
    """The dated parameter values a clause uses, as shown (the same for every enterprise: computed once)."""
    key = (id(cp), clause_id)
    hit = _PARAMS.get(key)
    if hit is not None and hit[0] is cp:
        return list(hit[1])
    params = []
    tier_unit = info["tier_unit"]
    for name in info["params"]:
        p = policy.params[name]
        since, value = cp.params[name]
        vfmt = "percent" if p.type == "decimal" else ""
        if p.kind == "tier":
            unit = tier_unit.get(name, "int")
            shown = ", ".join(f"≤{show(u, unit) if u is not None else '∞'}: {show(v, p.type, vfmt)}"
                              for u, v in value)
        else:
            shown = show(value, p.type, vfmt)
        params.append(ParamValue(name, value, since.isoformat(), p.status, p.note, shown))
    if len(_PARAMS) > 4096:
        _PARAMS.clear()
    _PARAMS[key] = (cp, params)
    return list(params)


def _how_close(cmp: Expr, vals: _Values, row: dict[str, Any], cols: dict[str, str]) -> list[HowClose]:
    core: Core = vals.lowered(cmp).core
    lhs, rhs = cmp.args
    out = []
    for col in _columns_of(cmp):
        base, lag = split_column(col)
        typ = FACTS[base].type
        if lag or typ not in ("int", "int_fen", "decimal") or row.get(col) is None:
            continue
        found = _search(core, row, col, typ)
        if found is None:
            continue
        delta, new = found
        new_row = {**row, col: new}
        ta, fa = _fmt_of(lhs)
        tb, fb = _fmt_of(rhs)
        before = show(vals.value(lhs), ta, fa)
        after = show(vals.value(lhs, new_row), ta, fa)
        target = show(vals.value(rhs, new_row), tb, fb or fa)
        f = FACTS[base]
        sign = "+" if delta > 0 else "-"
        mag = show(abs(delta), typ, f.fmt)
        zh_verb = "增加" if delta > 0 else "减少"
        lz, le = _label(lhs, "zh") or "", _label(lhs, "en") or ""
        head_zh = f"{lz} {before} → {after}（门槛 {target}）：" if lz else ""
        head_en = f"{le} {before} → {after} (threshold {target}): " if le else ""
        text = {"zh": f"{head_zh}{f.zh}{zh_verb}{mag}", "en": f"{head_en}{sign}{mag} {f.en}"}
        out.append(HowClose(base, col, delta, new, before, after, target, text))
    out.sort(key=lambda h: 0 if h.delta > 0 else 1)
    return out


def _search(core: Core, row: dict[str, Any], col: str, typ: str) -> tuple[Any, Any] | None:
    """Smallest |change| of ``col`` making ``core`` true: integer steps (1 fen, 1 person) or 0.0001."""
    v0 = row[col]
    step = Decimal("0.0001") if typ == "decimal" else 1
    base = Decimal(str(v0)) if typ == "decimal" else v0

    def value(k: int, sign: int):
        v = base + sign * k * step
        return float(v) if typ == "decimal" else v

    trial = dict(row)  # one mutable copy: only ``col`` changes between trials
    fn = row_function(core)

    def ok(k: int, sign: int) -> bool:
        v = value(k, sign)
        if v < 0:
            return False
        trial[col] = v
        return fn(trial) is True

    best = None
    for sign in (1, -1):
        limit = _MAX_STEPS if sign > 0 else int(base / step)
        if limit <= 0 or not ok(limit, sign):
            continue
        hi = 1
        while hi < limit and not ok(hi, sign):
            hi *= 2
        hi = min(hi, limit)
        lo = hi // 2  # ok(lo) is false (or lo == 0)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid, sign):
                hi = mid
            else:
                lo = mid
        if best is None or hi < best[0]:
            best = (hi, sign)
    if best is None:
        return None
    k, sign = best
    delta = sign * k * step
    return (float(delta) if typ == "decimal" else delta), value(k, sign)
