"""Evaluation schemes (人才评价方案) as data, and their check against the commission's framework.

Pure module (no database). A scheme is one YAML file per version, owned by an employing unit
(谁使用谁评价); the framework (``library/framework.yaml``) holds the categories, parameters and the
negative list as rules with ids and legal sources (国科发才〔2022〕255号, the 2020 MOST measures on
"唯论文"). :func:`check_scheme` returns every broken rule with its reason; an empty list is compliant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kechuang.core.i18n import get_locale

LIBRARY = Path(__file__).resolve().parent / "library"
FRAMEWORK_FILE = LIBRARY / "framework.yaml"
SCHEMES_DIR = LIBRARY / "schemes"

CATEGORIES = ("basic_research", "applied_rd", "tech_service", "public_welfare")
# What an indicator measures. Only an enumerated basis can be checked against the negative list.
BASES = (
    "talent_title",  # 人才称号/帽子
    "paper_count",
    "impact_factor",
    "publication_record",
    "patent_count",
    "grant_amount",
    "project_count",
    "degree",
    "award",
    "representative_work",  # 代表作
    "standard",
    "technical_solution",
    "high_quality_patent",
    "commercialisation",
    "service_record",
    "user_evaluation",
    "market_evaluation",
    "third_party_evaluation",
    "team_contribution",
    "potential",  # 发展潜力
    "teaching",
    "industry_practice",  # 产学研践习
    "social_benefit",
    "ethics",  # 品德/学风
)
ROLES = ("condition", "score", "main_basis")
METHODS = ("peer_review", "international_peer_review", "market", "user", "third_party")
EVIDENCE_TYPES = (
    "paper", "patent", "standard", "technical_solution", "transferred_result", "service_record", "software",
    "dataset", "report", "contract", "licence", "adoption", "user_feedback", "placement", "teaching_record",
    "award_record", "review_opinion",
)
INVALID = "invalid-scheme"
WEIGHTS = "weights-sum-to-one"


@dataclass(frozen=True)
class Violation:
    """One broken rule: its id, the reason (in the current locale) and where in the scheme."""

    rule: str
    reason: str
    path: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"rule": self.rule, "reason": self.reason, "path": self.path}

    def __str__(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return f"{self.rule}: {self.reason}{where}"


class SchemeError(Exception):
    """A scheme or framework file cannot be read; ``problems`` lists each reason."""

    def __init__(self, problems: list[Violation]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it measures (basis), how it is used (role) and its weight."""

    id: str
    label: dict[str, str]
    basis: str
    role: str
    weight: Fraction
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepresentativeWorks:
    """Representative-work rules (代表作): how many, which types, domestic-journal share of papers."""

    min_count: int
    max_count: int
    types: tuple[str, ...]
    domestic_journal_share_min: Fraction | None = None


@dataclass(frozen=True)
class Scheme:
    """One version of an employing unit's evaluation scheme."""

    id: str
    version: int
    title: dict[str, str]
    category: str
    unit: dict[str, str]
    basis: tuple[dict[str, str], ...]
    valid_from: date | None
    cycle_years: int
    methods: tuple[str, ...]
    indicators: tuple[Indicator, ...]
    representative_works: RepresentativeWorks | None
    form_fields: tuple[str, ...]
    must_not_use: tuple[str, ...]
    blind: bool = False
    file: str = ""


@dataclass(frozen=True)
class Rule:
    """A framework rule: id, kind of check, categories it applies to, reason text and sources."""

    id: str
    kind: str
    categories: tuple[str, ...]
    reason: dict[str, str]
    bases: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    param: str | None = None
    basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    """The commission's framework: parameters, rules, forbidden form fields, cited sources."""

    id: str
    version: int
    params: dict[str, Any]
    rules: tuple[Rule, ...]
    forbidden_form_fields: frozenset[str]
    categories: dict[str, dict[str, str]]
    basis: tuple[dict[str, str], ...] = field(default=())

    @property
    def main_basis_weight(self) -> Fraction:
        """Weight from which an indicator counts as a main basis."""
        return Fraction(str(self.params["main_basis_weight"]))

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id."""
        return next(r for r in self.rules if r.id == rule_id)

    def negative_list(self, category: str) -> tuple[str, ...]:
        """Bases the category must not use in any role (what a scheme's ``must_not_use`` must name)."""
        out: list[str] = []
        for r in self.rules:
            if r.kind == "forbidden_basis" and category in r.categories and set(ROLES) <= set(r.roles):
                out += [b for b in r.bases if b not in out]
        return tuple(out)


def _text(reason: dict[str, str], **params: object) -> str:
    loc = get_locale()
    msg = reason.get(loc) or reason.get("en") or next(iter(reason.values()))
    return msg.format(**params) if params else msg


def _fraction(value: Any) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(value)
    return Fraction(str(value)) if not isinstance(value, str) else Fraction(value.strip())


def _label(value: Any, default: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"zh": str(value or default), "en": str(value or default)}


# --------------------------------------------------------------------------- loading


def parse_framework(data: dict[str, Any]) -> Framework:
    """Build a framework from parsed YAML."""
    rules = tuple(
        Rule(id=r["id"], kind=r["kind"], categories=tuple(r.get("categories") or CATEGORIES),
             reason=dict(r["reason"]), bases=tuple(r.get("bases") or ()), roles=tuple(r.get("roles") or ()),
             param=r.get("param"), basis=tuple(r.get("basis") or ()))
        for r in data["rules"]
    )
    return Framework(id=data["id"], version=int(data["version"]), params=dict(data["params"]), rules=rules,
                     forbidden_form_fields=frozenset(str(f).lower() for f in data.get("forbidden_form_fields", ())),
                     categories=dict(data["categories"]), basis=tuple(data.get("basis") or ()))


@lru_cache(maxsize=4)
def load_framework(path: Path = FRAMEWORK_FILE) -> Framework:
    """The framework file (cached)."""
    return parse_framework(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def parse_scheme(data: Any, file: str = "") -> Scheme:
    """Validate the structure of a parsed scheme; raises :class:`SchemeError` listing every problem."""
    problems: list[Violation] = []

    def bad(path: str, reason: str, rule: str = INVALID) -> None:
        problems.append(Violation(rule, reason, path))

    if not isinstance(data, dict):
        raise SchemeError([Violation(INVALID, "a scheme is a YAML mapping")])
    for key in ("id", "version", "category", "cycle_years", "indicators"):
        if key not in data:
            bad(key, f"missing required key {key!r}")
    category = data.get("category")
    if category is not None and category not in CATEGORIES:
        bad("category", f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
    try:
        version = int(data.get("version", 1))
    except (TypeError, ValueError):
        bad("version", "version must be an integer")
        version = 1
    cycle = data.get("cycle_years", 0)
    if not isinstance(cycle, int) or isinstance(cycle, bool) or cycle < 1:
        bad("cycle_years", "cycle_years must be a whole number of years ≥ 1")
        cycle = 0
    methods = tuple(data.get("methods") or ())
    for i, m in enumerate(methods):
        if m not in METHODS:
            bad(f"methods[{i}]", f"unknown assessment method {m!r}; one of {', '.join(METHODS)}")
    if not methods:
        bad("methods", "at least one assessment method is required")
    indicators: list[Indicator] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("indicators") or ()):
        p = f"indicators[{i}]"
        if not isinstance(raw, dict):
            bad(p, "an indicator is a mapping")
            continue
        iid = str(raw.get("id") or f"#{i}")
        if iid in seen:
            bad(p, f"duplicate indicator id {iid!r}")
        seen.add(iid)
        basis, role = raw.get("basis"), raw.get("role", "score")
        if basis not in BASES:
            bad(f"{p}.basis", f"unknown basis {basis!r}; one of {', '.join(BASES)}")
        if role not in ROLES:
            bad(f"{p}.role", f"unknown role {role!r}; one of {', '.join(ROLES)}")
        try:
            weight = _fraction(raw.get("weight", 0))
            if weight < 0 or weight > 1:
                raise ValueError(weight)
        except (ValueError, ZeroDivisionError):
            bad(f"{p}.weight", "weight must be a number between 0 and 1")
            weight = Fraction(0)
        if role == "condition" and weight:
            bad(f"{p}.weight", "a condition has no weight")
        evidence = tuple(raw.get("evidence") or ())
        for j, e in enumerate(evidence):
            if e not in EVIDENCE_TYPES:
                bad(f"{p}.evidence[{j}]", f"unknown evidence type {e!r}")
        indicators.append(Indicator(iid, _label(raw.get("label"), iid), str(basis), str(role), weight, evidence))
    if not indicators:
        bad("indicators", "at least one indicator is required")
    scored = [ind for ind in indicators if ind.role != "condition"]
    if scored and sum(ind.weight for ind in scored) != 1:
        total = sum(ind.weight for ind in scored)
        bad("indicators", f"weights of scored indicators must sum to 1 (they sum to {float(total):g})", WEIGHTS)
    rw = None
    raw_rw = data.get("representative_works")
    if raw_rw is not None:
        try:
            share = raw_rw.get("domestic_journal_share_min")
            rw = RepresentativeWorks(
                min_count=int(raw_rw.get("min_count", 1)), max_count=int(raw_rw.get("max_count", raw_rw.get("min_count", 1))),
                types=tuple(raw_rw.get("types") or ()),
                domestic_journal_share_min=None if share is None else _fraction(share))
            if rw.min_count < 1 or rw.max_count < rw.min_count:
                bad("representative_works", "need 1 ≤ min_count ≤ max_count")
            for j, t in enumerate(rw.types):
                if t not in EVIDENCE_TYPES:
                    bad(f"representative_works.types[{j}]", f"unknown work type {t!r}")
        except (AttributeError, TypeError, ValueError, ZeroDivisionError):
            bad("representative_works", "representative_works must be a mapping with counts, types and a share")
    must_not = tuple(data.get("must_not_use") or ())
    for j, b in enumerate(must_not):
        if b not in BASES:
            bad(f"must_not_use[{j}]", f"unknown basis {b!r}")
    valid = (data.get("valid") or {}).get("from") if isinstance(data.get("valid"), dict) else None
    if valid is not None and not isinstance(valid, date):
        bad("valid.from", "valid.from must be a date (YYYY-MM-DD)")
        valid = None
    basis = tuple(data.get("basis") or ())
    if not basis or not all(isinstance(b, dict) and b.get("doc") for b in basis):
        bad("basis", "cite the legal basis: a list of {doc, url}")
    if problems:
        raise SchemeError(problems)
    return Scheme(
        id=str(data["id"]), version=version, title=_label(data.get("title"), str(data["id"])), category=category,
        unit=dict(data.get("unit") or {}), basis=basis, valid_from=valid, cycle_years=cycle, methods=methods,
        indicators=tuple(indicators), representative_works=rw,
        form_fields=tuple(str(f) for f in data.get("form_fields") or ()), must_not_use=must_not,
        blind=bool(data.get("blind", False)), file=file)


def parse_scheme_text(text: str, file: str = "") -> Scheme:
    """Parse YAML text into a scheme (raises :class:`SchemeError`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchemeError([Violation(INVALID, f"not valid YAML: {exc}")]) from exc
    return parse_scheme(data, file)


def load_scheme(path: Path | str) -> Scheme:
    """Read and parse one scheme file (raises :class:`SchemeError`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([Violation(INVALID, f"cannot read {p}: {exc}")]) from exc
    return parse_scheme_text(text, str(p))


# --------------------------------------------------------------------------- checking


def effective_role(ind: Indicator, framework: Framework) -> str:
    """``main_basis`` for an indicator weighing at least the framework's parameter, else its declared role."""
    if ind.role != "condition" and ind.weight >= framework.main_basis_weight:
        return "main_basis"
    return ind.role


def _fmt_fraction(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def check_scheme(scheme: Scheme, framework: Framework | None = None) -> list[Violation]:
    """Every framework rule the scheme breaks (empty list: compliant)."""
    fw = framework or load_framework()
    out: list[Violation] = []
    for rule in fw.rules:
        if scheme.category not in rule.categories:
            continue
        if rule.kind == "forbidden_basis":
            for i, ind in enumerate(scheme.indicators):
                role = effective_role(ind, fw)
                if ind.basis in rule.bases and role in rule.roles:
                    out.append(Violation(rule.id, _text(rule.reason), f"indicators[{i}] ({ind.id}, {role})"))
        elif rule.kind == "form_field":
            for i, f in enumerate(scheme.form_fields):
                if f.lower() in fw.forbidden_form_fields:
                    out.append(Violation(rule.id, _text(rule.reason), f"form_fields[{i}] ({f})"))
        elif rule.kind == "min_cycle":
            minimum = int(fw.params[rule.param or "min_cycle_years"][scheme.category])
            if scheme.cycle_years < minimum:
                out.append(Violation(rule.id, _text(rule.reason, min=minimum), f"cycle_years ({scheme.cycle_years})"))
        elif rule.kind == "domestic_journal_share":
            minimum = Fraction(str(fw.params[rule.param or "domestic_journal_share_min"]))
            rw = scheme.representative_works
            share = rw.domestic_journal_share_min if rw else None
            if rw is None or ("paper" in rw.types and (share is None or share < minimum)):
                out.append(Violation(rule.id, _text(rule.reason, min=_fmt_fraction(minimum)),
                                     "representative_works.domestic_journal_share_min"))
        elif rule.kind == "must_not_use":
            missing = [b for b in fw.negative_list(scheme.category) if b not in scheme.must_not_use]
            if missing:
                out.append(Violation(rule.id, _text(rule.reason, missing=", ".join(missing)), "must_not_use"))
        elif rule.kind == "must_not_use_respected":
            for i, ind in enumerate(scheme.indicators):
                if ind.basis in scheme.must_not_use:
                    out.append(Violation(rule.id, _text(rule.reason, indicator=ind.id, basis=ind.basis),
                                         f"indicators[{i}]"))
    return out


def check_file(path: Path | str, framework: Framework | None = None) -> list[Violation]:
    """Load and check one scheme file; load problems are returned as violations of ``invalid-scheme``."""
    try:
        scheme = load_scheme(path)
    except SchemeError as exc:
        return exc.problems
    return check_scheme(scheme, framework)


def library_schemes() -> list[Scheme]:
    """The shipped example schemes (one compliant scheme per category)."""
    return [load_scheme(p) for p in sorted(SCHEMES_DIR.glob("*.yaml"))]


def compare_schemes(schemes: list[Scheme], framework: Framework | None = None) -> list[dict[str, Any]]:
    """Side-by-side view of schemes (pilot units' own standards, 立新标): one row per attribute, one column per scheme.

    Rows: category, cycle, methods, representative-work rules, weight per basis (main bases marked with *),
    conditions, the must-not-use list and the broken framework rules.
    """
    fw = framework or load_framework()

    def weights(s: Scheme, basis: str) -> str:
        ws = [i for i in s.indicators if i.basis == basis]
        if not ws:
            return ""
        if all(i.role == "condition" for i in ws):
            return "condition"
        total = sum(i.weight for i in ws)
        star = "*" if any(effective_role(i, fw) == "main_basis" for i in ws) else ""
        return f"{float(total):.2f}{star}"

    def rw(s: Scheme) -> str:
        r = s.representative_works
        if r is None:
            return ""
        share = f", domestic ≥ {_fmt_fraction(r.domestic_journal_share_min)}" if r.domestic_journal_share_min else ""
        return f"{r.min_count}–{r.max_count}: {', '.join(r.types)}{share}"

    rows: list[dict[str, Any]] = [
        {"attribute": "category", "values": [s.category for s in schemes]},
        {"attribute": "cycle_years", "values": [s.cycle_years for s in schemes]},
        {"attribute": "methods", "values": [", ".join(s.methods) for s in schemes]},
        {"attribute": "representative_works", "values": [rw(s) for s in schemes]},
    ]
    used = [b for b in BASES if any(i.basis == b for s in schemes for i in s.indicators)]
    rows += [{"attribute": f"weight.{b}", "values": [weights(s, b) for s in schemes]} for b in used]
    rows.append({"attribute": "must_not_use", "values": [", ".join(s.must_not_use) for s in schemes]})
    rows.append({"attribute": "broken_rules",
                 "values": [", ".join(sorted({v.rule for v in check_scheme(s, fw)})) or "compliant" for s in schemes]})
    return rows
