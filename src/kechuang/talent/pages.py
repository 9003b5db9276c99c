"""Talent-evaluation pages (thin; every rule and scope is in ``service`` and ``dossier_service``): the scheme
designer with live compliance feedback (htmx), scheme versions with their cited basis, pilot units' (立新标)
standards side by side, the rule-text audit with highlighted clauses and officers' decisions, and the
commission dashboard per category and per unit with drill-down. Evaluation rounds, dossiers, the blind
reviewer workbench, results and appeals are in ``review_pages``. Templates: ``templates/talent/``."""

from __future__ import annotations

import re
from typing import Annotated, Any

import yaml
from fastapi import Depends, File, Form, Query, Request, UploadFile
from markupsafe import Markup, escape
from starlette.datastructures import FormData

from kechuang.core import i18n
from kechuang.core.auth import Principal, Role
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import Page, PageParams
from kechuang.core.permissions import has
from kechuang.registry.models import Organisation
from kechuang.talent import audit as rule_audit
from kechuang.talent import dossier_service as dsvc
from kechuang.talent import scheme as sch
from kechuang.talent import service
from kechuang.transfer import service as transfer_service
from kechuang.web.pageutil import field_errors, pages_router, redirect
from kechuang.web.templating import NavItem, label, register_nav, render

router = pages_router(prefix="/talent")

Reader = Annotated[Principal, Depends(requires(service.READ))]
Manager = Annotated[Principal, Depends(requires(service.MANAGE))]
Decider = Annotated[Principal, Depends(requires(service.DECIDE))]
Checker = Annotated[Principal, Depends(requires(service.CHECK))]
Home = Annotated[Principal, Depends(requires(dsvc.EVAL_READ))]

# Under the "Talent & transfer" pillar, next to technology transfer (order 12).
register_nav(NavItem("talent", N_("Talent evaluation"), "/talent", dsvc.EVAL_READ, order=14))
register_nav(NavItem("talent-reviews", N_("My reviews"), "/talent/reviews", dsvc.REVIEW, order=15))
# Host enterprises reach their teachers' placements here (they have no other talent page).
register_nav(NavItem("talent-practice", N_("Industry practice"), "/talent/practice", dsvc.PRACTICE_READ, order=16))

MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# ---------------------------------------------------------------- vocabularies (labels through the catalogs)
BASES: dict[str, str] = {
    "talent_title": N_("Talent title (人才称号)"), "paper_count": N_("Paper count"), "impact_factor": N_("Impact factor"),
    "publication_record": N_("Publication record"), "patent_count": N_("Patent count"),
    "grant_amount": N_("Grant amount"), "project_count": N_("Project count"), "degree": N_("Degree"),
    "award": N_("Award"), "representative_work": N_("Representative works (代表作)"), "standard": N_("Standards"),
    "technical_solution": N_("Technical solutions"), "high_quality_patent": N_("High-quality patents"),
    "commercialisation": N_("Commercialisation of results"), "service_record": N_("Service record"),
    "user_evaluation": N_("User evaluation"), "market_evaluation": N_("Market evaluation"),
    "third_party_evaluation": N_("Third-party evaluation"), "team_contribution": N_("Contribution to the team"),
    "potential": N_("Development potential"), "teaching": N_("Teaching"),
    "industry_practice": N_("Industry practice (产学研践习)"), "social_benefit": N_("Social benefit"),
    "ethics": N_("Integrity and research ethics"),
}
NEGATIVE_BASES = ("talent_title", "paper_count", "impact_factor", "publication_record", "patent_count",
                  "grant_amount", "project_count", "degree", "award")
ROLES: dict[str, str] = {"condition": N_("Condition"), "score": N_("Scored"), "main_basis": N_("Main basis")}
METHODS: dict[str, str] = {
    "peer_review": N_("Peer review"), "international_peer_review": N_("International peer review"),
    "market": N_("Market evaluation"), "user": N_("User evaluation"), "third_party": N_("Third-party evaluation"),
}
EVIDENCE: dict[str, str] = {
    "paper": N_("Paper"), "patent": N_("Patent"), "standard": N_("Standard"),
    "technical_solution": N_("Technical solution"), "transferred_result": N_("Transferred result"),
    "service_record": N_("Service record"), "software": N_("Software"), "dataset": N_("Dataset"),
    "report": N_("Report"), "contract": N_("Contract"), "licence": N_("Licence"), "adoption": N_("Adoption"),
    "user_feedback": N_("User feedback"), "placement": N_("Industry placement"),
    "teaching_record": N_("Teaching record"), "award_record": N_("Award record"),
    "review_opinion": N_("Review opinion"),
}
SCHEME_STATUS: dict[str, str] = {"draft": N_("Draft"), "in_force": N_("In force"), "retired": N_("Retired")}
FINDING_STATUS: dict[str, str] = {"open": N_("Open"), "confirmed": N_("Confirmed"), "dismissed": N_("Dismissed"),
                                  "revised": N_("Revised"), "remaining": N_("Remaining")}
LINKS: dict[str, str] = {"pay": N_("Pay"), "title": N_("Professional titles"), "promotion": N_("Promotion or appointment"),
                         "project": N_("Projects"), "resource": N_("Resources"), "award": N_("Awards")}
AUDIT_BASES: dict[str, str] = {"talent_title": N_("Talent title (人才称号)"), "paper_count": N_("Paper count"),
                               "impact_factor": N_("Impact factor"), "project_count": N_("Project count"),
                               "grant_amount": N_("Grant amount"), "degree": N_("Degree"), "award": N_("Award")}
COMPARE_ROWS: dict[str, str] = {"category": N_("Talent category"), "cycle_years": N_("Evaluation cycle (years)"),
                                "methods": N_("Assessment methods"), "representative_works": N_("Representative works"),
                                "must_not_use": N_("Must not use"), "broken_rules": N_("Broken framework rules")}
STRUCTURE_RULES: dict[str, str] = {sch.INVALID: N_("Scheme structure"), sch.WEIGHTS: N_("Weights")}
FRAMEWORK_RULE = N_("Framework rule")
PATH_LABELS: dict[str, str] = {
    "must_not_use": N_("Must not use (negative list)"), "cycle_years": N_("Evaluation cycle (years)"),
    "representative_works": N_("Representative works"), "form_fields": N_("Fields of the evaluation form"),
    "methods": N_("Assessment methods"), "basis": N_("Legal basis cited"), "indicators": N_("Indicators")}
INDICATOR_ROW = N_("Indicator row {n}")
EVAL_STATUS = {"open": N_("Open for dossiers"), "reviewing": N_("In review"), "published": N_("Published")}
DOSSIER_STATUS = {"draft": N_("Draft"), "submitted": N_("Submitted")}
VOCAB = {"eval_status": EVAL_STATUS, "dossier_status": DOSSIER_STATUS, "bases": BASES, "roles": ROLES, "methods": METHODS, "evidence": EVIDENCE, "scheme_status": SCHEME_STATUS,
         "finding_status": FINDING_STATUS, "links": LINKS, "audit_bases": AUDIT_BASES, "negative": NEGATIVE_BASES,
         "work_kinds": dsvc.WORK_KINDS, "ref_types": dsvc.REF_TYPES, "member_roles": dsvc.MEMBER_ROLES,
         "outcomes": dsvc.OUTCOMES, "transfer_modes": transfer_service.TRANSFER_MODES, "host_ratings": dsvc.HOST_RATINGS, "practice_kinds": dsvc.PRACTICE_KINDS, "appeal_decisions": dsvc.APPEAL_DECISIONS, "dossier_kinds": dsvc.DOSSIER_KINDS}


def _ctx(**kw: Any) -> dict[str, Any]:
    return {"active_nav": "talent", "v": VOCAB, "categories": sch.load_framework().categories, "text_of": text_of,
            "category_label": category_label, **kw}


def category_label(key: str | None) -> str:
    """A category's name in the current language (from the framework's bilingual data)."""
    names = sch.load_framework().categories.get(key or "", {})
    return names.get(i18n.get_locale()) or names.get("en") or (key or "—")


def text_of(value: dict[str, str] | str | None) -> str:
    """A bilingual ``{zh, en}`` text in the current language."""
    if isinstance(value, dict):
        return value.get(i18n.get_locale()) or value.get("zh") or value.get("en") or ""
    return value or ""


# ---------------------------------------------------------------- violations in the user's language
_PROBLEMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"weights of scored indicators must sum to 1 \(they sum to (?P<total>[^)]*)\)"),
     N_("The weights of scored indicators must sum to 1 (they sum to {total}).")),
    (re.compile(r"missing required key '(?P<field>[^']*)'"), N_("Missing: {field}.")),
    (re.compile(r"weight must be a number between 0 and 1"), N_("A weight is a number between 0 and 1.")),
    (re.compile(r"a condition has no weight"), N_("A condition has no weight.")),
    (re.compile(r"at least one assessment method is required"), N_("Choose at least one assessment method.")),
    (re.compile(r"at least one indicator is required"), N_("Add at least one indicator.")),
    (re.compile(r"cite the legal basis"), N_("Cite the legal basis: document and address.")),
    (re.compile(r"cycle_years must be"), N_("The evaluation cycle is a whole number of years, at least 1.")),
    (re.compile(r"need 1 ≤ min_count ≤ max_count"), N_("Representative works: 1 ≤ minimum ≤ maximum.")),
    (re.compile(r"duplicate indicator id '(?P<field>[^']*)'"), N_("Two indicators have the id {field}.")),
    (re.compile(r"unknown (?:basis|role|assessment method|category|evidence type|work type) '(?P<field>[^']*)'"),
     N_("Unknown value {field}.")),
]


_BASIS_KEYS = re.compile(r"(?<![A-Za-z_])(" + "|".join(sorted(BASES, key=len, reverse=True)) + r")(?![A-Za-z_])")


def explain(violations: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each broken rule with its label, reason (current language), where, and the cited basis documents."""
    fw = sch.load_framework()
    docs = {b["id"]: b for b in fw.basis if b.get("id")}
    rules = {r.id: r for r in fw.rules}
    out = []
    for v in violations:
        rule = rules.get(v["rule"])
        reason = v["reason"]
        if rule is None:
            for rx, msg in _PROBLEMS:
                m = rx.search(reason)
                if m:
                    reason = gettext(msg, **m.groupdict())
                    break
            else:
                reason = gettext(N_("Not a valid scheme: {detail}"), detail=reason)
        if rule is not None:  # basis keys in framework texts ("…清单中的talent_title") as labels
            reason = _BASIS_KEYS.sub(lambda k: gettext(BASES[k.group(0)]), reason)
        path = v.get("path", "")
        m = re.match(r"indicators\[(\d+)\](?: \(([^,)]+)(?:, (\w+))?\))?", path)
        if m:
            path = " · ".join(x for x in (gettext(INDICATOR_ROW, n=int(m.group(1)) + 1), m.group(2),
                                          label(m.group(3), ROLES) if m.group(3) else None) if x)
        else:
            head = re.match(r"[a-z_]+", path)
            if head and head.group(0) in PATH_LABELS:
                paren = re.search(r"\(.*\)", path)
                path = gettext(PATH_LABELS[head.group(0)]) + (" " + paren.group(0) if paren else "")
        out.append({"rule": v["rule"], "label": gettext(STRUCTURE_RULES.get(v["rule"], FRAMEWORK_RULE)),
                    "reason": reason, "path": path,
                    "basis": [docs[b] for b in (rule.basis if rule else ()) if b in docs]})
    return out


def check_text(content: str) -> list[dict[str, str]]:
    """Broken rules of a scheme text, in the current language."""
    try:
        return [v.to_dict() for v in sch.check_scheme(sch.parse_scheme_text(content))]
    except sch.SchemeError as exc:
        return [p.to_dict() for p in exc.problems]


# ---------------------------------------------------------------- designer form <-> scheme data
def _rows(form: FormData | dict, prefix: str) -> list[int]:
    return sorted({int(m.group(1)) for k in form if (m := re.fullmatch(prefix + r"(\d+)", k))})


def form_to_data(form: FormData) -> dict[str, Any]:
    """The designer's fields as a scheme mapping (the YAML that is checked and stored)."""
    def get(name: str) -> str:
        return str(form.get(name) or "").strip()

    def many(name: str) -> list[str]:
        return [str(x) for x in form.getlist(name) if str(x).strip()]

    indicators = []
    for i in _rows(form, "ind_id_"):
        iid, basis = get(f"ind_id_{i}"), get(f"ind_basis_{i}")
        if not iid and not basis:
            continue
        role = get(f"ind_role_{i}") or "score"
        ind: dict[str, Any] = {"id": iid or f"indicator_{i + 1}",
                               "label": {"zh": get(f"ind_label_zh_{i}") or iid, "en": get(f"ind_label_en_{i}") or iid},
                               "basis": basis, "role": role}
        if role != "condition":
            ind["weight"] = get(f"ind_weight_{i}") or "0"
        ev = many(f"ind_evidence_{i}")
        if ev:
            ind["evidence"] = ev
        indicators.append(ind)
    basis = [{"doc": get(f"basis_doc_{i}"), "url": get(f"basis_url_{i}")}
             for i in _rows(form, "basis_doc_") if get(f"basis_doc_{i}")]
    data: dict[str, Any] = {
        "id": get("scheme_key"), "version": 1,
        "title": {"zh": get("title_zh") or get("scheme_key"), "en": get("title_en") or get("title_zh") or get("scheme_key")},
        "category": get("category"), "basis": basis,
        "cycle_years": int(get("cycle_years")) if get("cycle_years").isdigit() else get("cycle_years") or 0,
        "blind": bool(form.get("blind")), "methods": many("methods"), "indicators": indicators,
        "form_fields": [f.strip() for f in re.split(r"[,，、\s]+", get("form_fields")) if f.strip()],
        "must_not_use": many("must_not_use"),
    }
    if get("valid_from"):
        data["valid"] = {"from": get("valid_from")}
    if get("rw_min") or get("rw_types"):
        rw: dict[str, Any] = {"min_count": int(get("rw_min")) if get("rw_min").isdigit() else 1,
                              "max_count": int(get("rw_max")) if get("rw_max").isdigit() else
                              (int(get("rw_min")) if get("rw_min").isdigit() else 1),
                              "types": many("rw_types")}
        if get("rw_share"):
            rw["domestic_journal_share_min"] = get("rw_share")
        data["representative_works"] = rw
    elif many("rw_types"):
        data["representative_works"] = {"min_count": 1, "max_count": 1, "types": many("rw_types")}
    return data


def data_to_yaml(data: dict[str, Any]) -> str:
    """YAML text of a scheme mapping (keys in the designer's order)."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    # ``valid.from`` typed as YYYY-MM-DD must be a YAML date, not a quoted string.
    return re.sub(r"(\n  from: )'(\d{4}-\d{2}-\d{2})'", r"\1\2", text)


def scheme_to_values(content: str) -> dict[str, Any]:
    """Designer values from a stored scheme's YAML (for a new version)."""
    data = yaml.safe_load(content) or {}
    values: dict[str, Any] = {
        "scheme_key": data.get("id", ""), "title_zh": text_of(data.get("title")) if not isinstance(data.get("title"), dict)
        else data["title"].get("zh", ""), "title_en": (data.get("title") or {}).get("en", "") if isinstance(data.get("title"), dict) else "",
        "category": data.get("category", ""), "cycle_years": data.get("cycle_years", ""), "blind": data.get("blind", False),
        "methods": list(data.get("methods") or []), "form_fields": ", ".join(data.get("form_fields") or []),
        "must_not_use": list(data.get("must_not_use") or []),
        "valid_from": str((data.get("valid") or {}).get("from") or ""),
        "indicators": [], "basis": [{"doc": b.get("doc", ""), "url": b.get("url", "")} for b in data.get("basis") or []],
    }
    for ind in data.get("indicators") or []:
        label = ind.get("label") or {}
        values["indicators"].append({
            "id": ind.get("id", ""), "label_zh": label.get("zh", "") if isinstance(label, dict) else str(label),
            "label_en": label.get("en", "") if isinstance(label, dict) else str(label), "basis": ind.get("basis", ""),
            "role": ind.get("role", "score"), "weight": str(ind.get("weight", "")), "evidence": list(ind.get("evidence") or [])})
    rw = data.get("representative_works") or {}
    values.update(rw_min=rw.get("min_count", ""), rw_max=rw.get("max_count", ""), rw_types=list(rw.get("types") or []),
                  rw_share=str(rw.get("domestic_journal_share_min") or ""))
    return values


def form_values(form: FormData) -> dict[str, Any]:
    """Designer values as typed (to re-render the form)."""
    data = form_to_data(form)
    values = scheme_to_values(data_to_yaml(data))
    values["is_pilot"] = bool(form.get("is_pilot"))
    # Keep the rows as typed, including blank ones.
    values["indicators"] = [{
        "id": str(form.get(f"ind_id_{i}") or ""), "label_zh": str(form.get(f"ind_label_zh_{i}") or ""),
        "label_en": str(form.get(f"ind_label_en_{i}") or ""), "basis": str(form.get(f"ind_basis_{i}") or ""),
        "role": str(form.get(f"ind_role_{i}") or "score"), "weight": str(form.get(f"ind_weight_{i}") or ""),
        "evidence": [str(x) for x in form.getlist(f"ind_evidence_{i}")]} for i in _rows(form, "ind_id_")]
    values["basis"] = [{"doc": str(form.get(f"basis_doc_{i}") or ""), "url": str(form.get(f"basis_url_{i}") or "")}
                       for i in _rows(form, "basis_doc_")]
    values["cycle_years"] = str(form.get("cycle_years") or "")
    values["rw_min"], values["rw_max"] = str(form.get("rw_min") or ""), str(form.get("rw_max") or "")
    return values


def _pad(values: dict[str, Any], extra_rows: int = 1) -> dict[str, Any]:
    blank = {"id": "", "label_zh": "", "label_en": "", "basis": "", "role": "score", "weight": "", "evidence": []}
    values["indicators"] = list(values.get("indicators") or []) + [dict(blank) for _ in range(extra_rows)]
    if not values.get("basis"):
        values["basis"] = [{"doc": "", "url": ""}]
    return values


def weight_total(values: dict[str, Any]) -> str:
    """Sum of the scored indicators' weights as typed ("—" when one is not a number)."""
    from fractions import Fraction

    total = Fraction(0)
    try:
        for ind in values.get("indicators", []):
            if ind.get("role") != "condition" and (ind.get("weight") or "").strip():
                total += Fraction(str(ind["weight"]).strip())
    except (ValueError, ZeroDivisionError):
        return "—"
    return f"{float(total):g}"


def _blank_values(principal: Principal) -> dict[str, Any]:
    fw = sch.load_framework()
    basis = [{"doc": b["doc"], "url": b["url"]} for b in fw.basis if b.get("status") == "confirmed"][:2]
    return _pad({"scheme_key": "", "title_zh": "", "title_en": "", "category": "basic_research", "cycle_years": "5",
                 "blind": True, "methods": ["peer_review"], "form_fields": "name, unit, field, representative_works, plan",
                 "must_not_use": [], "valid_from": "", "indicators": [], "basis": basis, "rw_min": "3", "rw_max": "5",
                 "rw_types": ["paper"], "rw_share": "1/3", "is_pilot": False}, extra_rows=3)


# ---------------------------------------------------------------- home
@router.get("")
def home(request: Request, session: DbSession, principal: Home):
    """Talent evaluation: what this role can do here."""
    ctx: dict[str, Any] = {"title": N_("Talent evaluation"), "can_manage": has(principal, service.MANAGE),
                           "can_read": has(principal, service.READ),
                           "sees_all": principal.role in (Role.COMMISSION, Role.AUDITOR, Role.ADMIN, Role.SYSTEM)}
    if ctx["can_read"]:
        ctx["schemes"], ctx["schemes_total"] = service.list_schemes(session, principal, PageParams(per_page=5))
        ctx["audits"], ctx["audits_total"] = service.list_audits(session, principal, PageParams(per_page=5))
    ctx["evaluations"], ctx["evaluations_total"] = dsvc.list_evaluations(session, principal, PageParams(per_page=8))
    ctx["practice_total"] = dsvc.list_practice(session, principal, PageParams(per_page=1))[1] \
        if has(principal, dsvc.PRACTICE_READ) else None
    if principal.role is Role.RESEARCHER:
        ctx["my_dossiers"] = dsvc.list_dossiers(session, principal)
    return render(request, "talent/home.html", _ctx(**ctx))


@router.get("/framework")
def framework_page(request: Request, principal: Checker):
    """The commission's framework and negative list (rules, parameters, cited sources)."""
    fw = sch.load_framework()
    docs = {b["id"]: b for b in fw.basis if b.get("id")}
    rules = [{"id": r.id, "reason": sch._text(r.reason, min=_param_for(fw, r), missing="…", indicator="…", basis="…"),
              "categories": r.categories, "bases": r.bases, "roles": r.roles,
              "basis": [docs[b] for b in r.basis if b in docs]} for r in fw.rules]
    audit_rules = [{"basis": b, "rule": rule_audit.rule_of(b),
                    "reason": rule_audit.localized_reason("pay", b, i18n.get_locale()),
                    "sources": [docs[s] for s in rule_audit.sources_of(b) if s in docs]} for b in rule_audit.BASES]
    return render(request, "talent/framework.html", _ctx(title=N_("Evaluation framework and negative list"), fw=fw,
                                                         rules=rules, audit_rules=audit_rules))


def _param_for(fw: sch.Framework, rule: sch.Rule) -> str:
    if rule.kind == "min_cycle":
        values = fw.params.get(rule.param or "min_cycle_years", {})
        return "/".join(str(values.get(c)) for c in rule.categories if c in values) or "—"
    if rule.kind == "domestic_journal_share":
        return str(fw.params.get(rule.param or "domestic_journal_share_min"))
    return ""


# ---------------------------------------------------------------- schemes
def _bool(value: str | None) -> bool | None:
    return None if value in (None, "") else value in ("1", "true", "yes")


@router.get("/schemes")
def schemes(request: Request, session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
            category: str | None = None, organisation: int | None = None, status: str | None = None,
            compliant: str | None = None, pilot: str | None = None):
    """Scheme versions visible to the caller, filterable (the dashboard's drill-down)."""
    items, total = service.list_schemes(session, principal, params, category or None, organisation_id=organisation,
                                        status=status or None, compliant=_bool(compliant), is_pilot=_bool(pilot))
    orgs = _org_names(session, {s.organisation_id for s in items} | ({organisation} if organisation else set()))
    page = Page(items=items, total=total, page=params.page, per_page=params.per_page)
    return render(request, "talent/schemes.html", _ctx(
        title=N_("Evaluation schemes"), page=page, orgs=orgs, can_manage=has(principal, service.MANAGE),
        filters={"category": category or "", "organisation": organisation, "status": status or "",
                 "compliant": compliant or "", "pilot": pilot or ""}))


def _org_names(session, ids: set[int]) -> dict[int, Organisation]:
    from sqlalchemy import select

    ids = {i for i in ids if i}
    return {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids or {-1})))}


def _designer(request: Request, principal: Principal, values: dict[str, Any], *, errors=None, status_code: int = 200,
              source=None):
    content = data_to_yaml(form_to_data_from_values(values))
    feedback = explain(check_text(content))
    return render(request, "talent/designer.html", _ctx(
        title=N_("Scheme designer"), values=values, errors=errors or {}, feedback=feedback, yaml_text=content,
        total=weight_total(values), source=source, fw=sch.load_framework()), status_code=status_code)


def form_to_data_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """The scheme mapping of designer values (the same conversion the form goes through)."""
    form: list[tuple[str, str]] = []
    for k in ("scheme_key", "title_zh", "title_en", "category", "cycle_years", "form_fields", "valid_from", "rw_min",
              "rw_max", "rw_share"):
        form.append((k, str(values.get(k) or "")))
    if values.get("blind"):
        form.append(("blind", "1"))
    form += [("methods", m) for m in values.get("methods") or []]
    form += [("must_not_use", m) for m in values.get("must_not_use") or []]
    form += [("rw_types", m) for m in values.get("rw_types") or []]
    for i, ind in enumerate(values.get("indicators") or []):
        form += [(f"ind_id_{i}", ind["id"]), (f"ind_label_zh_{i}", ind["label_zh"]), (f"ind_label_en_{i}", ind["label_en"]),
                 (f"ind_basis_{i}", ind["basis"]), (f"ind_role_{i}", ind["role"]), (f"ind_weight_{i}", ind["weight"])]
        form += [(f"ind_evidence_{i}", e) for e in ind.get("evidence") or []]
    for i, b in enumerate(values.get("basis") or []):
        form += [(f"basis_doc_{i}", b["doc"]), (f"basis_url_{i}", b["url"])]
    return form_to_data(FormData(form))


@router.get("/schemes/new")
def designer(request: Request, session: DbSession, principal: Manager, source: Annotated[int | None, Query(alias="from")] = None):
    """The scheme designer, blank or pre-filled from a stored version (to make the next version)."""
    if source:
        obj = service.access_scheme_by_id(session, principal, source)
        values = _pad(scheme_to_values(obj.content))
        values["is_pilot"] = obj.is_pilot
        return _designer(request, principal, values, source=obj)
    return _designer(request, principal, _blank_values(principal))


@router.post("/schemes/check")
async def check(request: Request, principal: Checker):
    """Live compliance feedback (htmx): the designer's fields checked against the framework; nothing stored."""
    form = await request.form()
    values = form_values(form)
    content = data_to_yaml(form_to_data(form))
    return render(request, "talent/_feedback.html", _ctx(feedback=explain(check_text(content)), yaml_text=content,
                                                         total=weight_total(values)))


@router.post("/schemes/new")
async def save_scheme(request: Request, session: DbSession, principal: Manager):
    """Save the designed scheme as a new version; a scheme that breaks the framework is refused with the reasons."""
    form = await request.form()
    values = form_values(form)
    if form.get("action") == "add_row":
        return _designer(request, principal, _pad(values))
    content = data_to_yaml(form_to_data(form))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", str(form.get("scheme_key") or "").strip()):
        return _designer(request, principal, _pad(values, 0), status_code=422, errors={"scheme_key": [
            gettext(N_("Letters, digits, - and _; a new version keeps the id."))]})
    try:
        obj = service.create_scheme(session, principal, principal.organisation_id or -1, content,
                                    is_pilot=bool(form.get("is_pilot")), refuse_violations=True)
    except ValidationFailed:
        return _designer(request, principal, _pad(values, 0), status_code=422,
                         errors={"__all__": [gettext(N_("The scheme was not saved: it breaks the rules listed below."))]})
    return redirect(f"/talent/schemes/{obj.id}?saved=1")


@router.get("/schemes/compare")
def compare(request: Request, session: DbSession, principal: Reader, ids: Annotated[list[int] | None, Query()] = None):
    """Pilot units' (立新标) standards side by side: the chosen versions, or every pilot scheme in force."""
    if ids:
        rows = [service.access_scheme_by_id(session, principal, i) for i in ids[:8]]
    else:
        rows, _total = service.list_schemes(session, principal, PageParams(per_page=8, sort="id"), is_pilot=True,
                                            status="in_force")
    pilots, _ = service.list_schemes(session, principal, PageParams(per_page=100, sort="id"), is_pilot=True)
    parsed = [sch.parse_scheme_text(r.content) for r in rows]
    table = sch.compare_schemes(parsed) if parsed else []
    orgs = _org_names(session, {r.organisation_id for r in rows} | {p.organisation_id for p in pilots})
    return render(request, "talent/compare.html", _ctx(
        title=N_("Pilot units' standards side by side"), rows=rows, parsed=parsed, table=table, orgs=orgs,
        pilots=pilots, chosen=set(ids or [r.id for r in rows]), row_labels=COMPARE_ROWS))


@router.get("/schemes/{scheme_id}")
def scheme_detail(request: Request, session: DbSession, principal: Reader, scheme_id: int, saved: int = 0):
    """One scheme version: indicators, rules, its cited basis, the framework check and every version."""
    obj = service.access_scheme_by_id(session, principal, scheme_id)
    versions = service.scheme_versions(session, principal, scheme_id)
    parsed = sch.parse_scheme_text(obj.content)
    org = session.get(Organisation, obj.organisation_id)
    flashes = [("success", gettext(N_("Saved as version {version}: compliant with the framework."), version=obj.version))] if saved else []
    return render(request, "talent/scheme.html", _ctx(
        title=obj.title, obj=obj, scheme=parsed, versions=versions, org=org, feedback=explain(check_text(obj.content)),
        can_manage=has(principal, service.MANAGE) and principal.organisation_id == obj.organisation_id,
        flashes=flashes))


@router.post("/schemes/{scheme_id}/in-force")
def scheme_in_force(request: Request, session: DbSession, principal: Manager, scheme_id: int):
    """Put a compliant draft in force (the version in force before it is retired)."""
    service.put_in_force(session, principal, scheme_id)
    return redirect(f"/talent/schemes/{scheme_id}")


# ---------------------------------------------------------------- rule-text audits
@router.get("/audits")
def audits(request: Request, session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
           organisation: int | None = None):
    """Rule-text audits (全面清理) and the upload form."""
    items, total = service.list_audits(session, principal, params, organisation)
    progress = service.audit_progress(session, principal)
    orgs = _org_names(session, {a.organisation_id for a in items})
    return render(request, "talent/audits.html", _ctx(
        title=N_("Rule-text audit"), page=Page(items=items, total=total, page=params.page, per_page=params.per_page),
        orgs=orgs, progress=progress, can_manage=has(principal, service.MANAGE), errors={}, values={}))


@router.post("/audits")
def upload_audit(request: Request, session: DbSession, principal: Manager, file: Annotated[UploadFile, File()],
                 title: Annotated[str, Form()] = ""):
    """Upload a rule document (.txt, .docx, .pdf with a text layer) and audit it."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationFailed(errors=[FieldError("file", N_("The file is larger than {mb} MB."),
                                                      {"mb": MAX_UPLOAD_BYTES // 2**20})])
        if not data:
            raise ValidationFailed(errors=[FieldError("file", N_("Choose a file."))])
        run = service.run_audit(session, principal, principal.organisation_id or -1, file.filename or "upload.txt",
                                data, title.strip() or None)
    except ValidationFailed as exc:
        params = PageParams()
        items, total = service.list_audits(session, principal, params)
        return render(request, "talent/audits.html", _ctx(
            title=N_("Rule-text audit"), page=Page(items=items, total=total, page=1, per_page=params.per_page),
            orgs=_org_names(session, {a.organisation_id for a in items}), progress=service.audit_progress(session, principal),
            can_manage=True, errors=field_errors(exc), values={"title": title}), status_code=422)
    return redirect(f"/talent/audits/{run.id}")


def highlight(text: str, findings: list) -> Markup:
    """The document with each finding's clause marked (one ``<mark>`` per clause, linked to its finding)."""
    spans: dict[tuple[int, int], list] = {}
    for f in findings:
        spans.setdefault((f.start_offset, f.end_offset), []).append(f)
    out: list[str] = []
    pos = 0
    for (s, e), fs in sorted(spans.items()):
        if s < pos:
            continue
        out.append(str(escape(text[pos:s])))
        status = "revised" if all(f.status == "revised" for f in fs) else (
            "dismissed" if all(f.status == "dismissed" for f in fs) else "open")
        ids = " ".join(f"finding-{f.id}" for f in fs)
        out.append(f'<mark class="clause clause-{status}" id="clause-{fs[0].id}" aria-describedby="{ids}">'
                   f'<a href="#finding-{fs[0].id}">{escape(text[s:e])}</a></mark>')
        pos = e
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def _finding_view(f) -> dict[str, Any]:
    return {"obj": f, "reason": rule_audit.localized_reason(f.link, f.basis, i18n.get_locale()),
            "rule": rule_audit.rule_of(f.basis)}


@router.get("/audits/{audit_id}")
def audit_detail(request: Request, session: DbSession, principal: Reader, audit_id: int):
    """The document with highlighted clauses and, per finding, the link, the basis, the reason and the decision."""
    run = service.access_audit_by_id(session, principal, audit_id)
    org = session.get(Organisation, run.organisation_id)
    counts = {k: sum(1 for f in run.findings if f.status == k) for k in ("open", "confirmed", "dismissed", "revised")}
    return render(request, "talent/audit.html", _ctx(
        title=run.title, run=run, org=org, doc=highlight(run.text, run.findings),
        findings=[_finding_view(f) for f in run.findings], counts=counts,
        can_decide=has(principal, service.DECIDE)))


@router.post("/findings/{finding_id}/decision")
def decide_finding(request: Request, session: DbSession, principal: Decider, finding_id: int,
                   decision: Annotated[str, Form()], note: Annotated[str, Form()] = ""):
    """Confirm or dismiss a finding, or mark the clause revised; htmx swaps the finding's card."""
    f = service.decide_finding(session, principal, finding_id, decision, note.strip() or None)
    if request.headers.get("HX-Request"):
        return render(request, "talent/_finding.html", _ctx(f=_finding_view(f), can_decide=True))
    return redirect(f"/talent/audits/{f.audit_id}#finding-{f.id}")


@router.get("/findings")
def findings(request: Request, session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
             organisation: int | None = None, status: str | None = None):
    """Findings across audits (the dashboard's drill-down: found, revised, remaining per institution)."""
    if status and status not in service.FINDING_FILTERS:
        raise NotFound()
    rows, total = service.list_findings(session, principal, params, organisation_id=organisation, status=status or None)
    orgs = _org_names(session, {a.organisation_id for _f, a in rows} | ({organisation} if organisation else set()))
    return render(request, "talent/findings.html", _ctx(
        title=N_("Audit findings"), rows=[(_finding_view(f), a) for f, a in rows], orgs=orgs,
        page=Page(items=rows, total=total, page=params.page, per_page=params.per_page),
        filters={"organisation": organisation, "status": status or ""}))


@router.get("/works")
def works(request: Request, session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
          organisation: int | None = None, category: str | None = None, verified: str | None = None):
    """Representative works of submitted dossiers (the dashboard's drill-down behind the verified share)."""
    rows, total = service.list_works(session, principal, params, organisation_id=organisation,
                                     category=category or None, verified=_bool(verified))
    orgs = _org_names(session, {e.organisation_id for _w, _d, e in rows} | ({organisation} if organisation else set()))
    return render(request, "talent/works.html", _ctx(
        title=N_("Representative works"), rows=rows, orgs=orgs,
        page=Page(items=rows, total=total, page=params.page, per_page=params.per_page),
        filters={"organisation": organisation, "category": category or "", "verified": verified or ""}))


# ---------------------------------------------------------------- commission dashboard
def dashboard_data(session, principal: Principal) -> dict[str, Any]:
    """Per unit and per category: schemes, compliance, evaluations, cycles, verified works, audit progress."""
    schemes_rows = service.scheme_overview(session, principal)
    try:
        eval_rows = dsvc.evaluation_overview(session, principal)
    except (NotFound, AppError):
        eval_rows = []
    audit_rows = {r["organisation_id"]: r for r in service.audit_progress(session, principal)}
    units: dict[int, dict[str, Any]] = {}

    def unit(org_id: int, name: str) -> dict[str, Any]:
        return units.setdefault(org_id, {"organisation_id": org_id, "organisation_name": name, "categories": {},
                                         "audit": audit_rows.get(org_id)})

    def cell(u: dict[str, Any], category: str) -> dict[str, Any]:
        return u["categories"].setdefault(category, {
            "category": category, "versions": 0, "compliant": 0, "non_compliant": 0, "in_force": 0,
            "cycle_years": set(), "pilot": False, "evaluations": 0, "published": 0, "dossiers": 0, "works": 0,
            "verified_works": 0, "appeals": 0, "reevaluated_in_cycle": 0})

    for r in schemes_rows:
        c = cell(unit(r["organisation_id"], r["organisation_name"]), r["category"])
        for k in ("versions", "compliant", "non_compliant", "in_force"):
            c[k] += r[k]
        c["cycle_years"] |= set(r["cycle_years"])
        c["pilot"] = c["pilot"] or r["pilot"]
    for r in eval_rows:
        c = cell(unit(r["organisation_id"], r["organisation_name"]), r["category"])
        for k in ("evaluations", "published", "dossiers", "works", "verified_works", "appeals",
                  "reevaluated_in_cycle"):
            c[k] += r[k]
        c["cycle_years"] |= set(r["cycle_years"])
    for org_id, r in audit_rows.items():
        unit(org_id, r["organisation_name"])
    by_category: dict[str, dict[str, Any]] = {}
    for u in units.values():
        for c in u["categories"].values():
            t = by_category.setdefault(c["category"], {
                "category": c["category"], "units": 0, "versions": 0, "compliant": 0, "non_compliant": 0,
                "in_force": 0, "cycle_years": set(), "evaluations": 0, "dossiers": 0, "works": 0, "verified_works": 0})
            t["units"] += 1
            for k in ("versions", "compliant", "non_compliant", "in_force", "evaluations", "dossiers", "works",
                      "verified_works"):
                t[k] += c[k]
            t["cycle_years"] |= c["cycle_years"]
    for row in [*by_category.values(), *(c for u in units.values() for c in u["categories"].values())]:
        row["cycle_years"] = sorted(row["cycle_years"])
        row["verified_share"] = row["verified_works"] / row["works"] if row["works"] else None
        row["compliance"] = row["compliant"] / row["versions"] if row["versions"] else None
    totals = {k: sum(r.get(k, 0) for r in audit_rows.values()) for k in ("found", "revised", "remaining", "dismissed")}
    order = list(sch.CATEGORIES)
    return {"units": sorted(units.values(), key=lambda u: u["organisation_id"]),
            "by_category": sorted(by_category.values(), key=lambda r: order.index(r["category"])
                                  if r["category"] in order else 99),
            "audit_totals": totals}


@router.get("/dashboard")
def dashboard(request: Request, session: DbSession, principal: Reader):
    """The commission's view (an institution's officer sees its own unit): every figure links to its records."""
    data = dashboard_data(session, principal)
    return render(request, "talent/dashboard.html", _ctx(title=N_("Talent evaluation dashboard"), **data))


# Evaluations, dossiers, blind review, results and appeals.
from kechuang.talent import practice_pages, review_pages  # noqa: E402

router.include_router(review_pages.router)
router.include_router(practice_pages.router)
