"""Registry business rules and permission checks. Callers: api, pages, CLI, import, demo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Select, exists, false, func, or_, select
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.identifiers import credit_code_problem, normalize_orcid, orcid_problem
from kechuang.core.pagination import Page, PageParams, SortSpec, paginate
from kechuang.core.permissions import permission, require
from kechuang.registry import reference as ref
from kechuang.registry.models import (
    Affiliation,
    Organisation,
    OrganisationFact,
    OrganisationRelation,
    Person,
    Qualification,
    as_dict,
)
from kechuang.registry.schemas import (
    AffiliationIn,
    FactIn,
    OrganisationCreate,
    OrganisationUpdate,
    PersonCreate,
    QualificationIn,
    RelationIn,
)
from kechuang.registry.search import organisation_text_match

# Who may do what (GUIDE habit 5). Row-level scoping is in readable_*().
READ_ORGANISATIONS = permission(
    "registry.read", Role.COMMISSION, Role.DISTRICT, Role.ENTERPRISE, Role.TTO, Role.SERVICE_PROVIDER,
    Role.INVESTOR, Role.AUDITOR, Role.ADMIN, Role.RESEARCHER, Role.EXPERT,
)
READ_FACTS = permission(
    "registry.facts", Role.COMMISSION, Role.DISTRICT, Role.ENTERPRISE, Role.TTO, Role.SERVICE_PROVIDER,
    Role.INVESTOR, Role.AUDITOR,
)
READ_PEOPLE = permission("registry.people", Role.COMMISSION, Role.AUDITOR, Role.ADMIN, Role.TTO, Role.RESEARCHER,
                         Role.EXPERT)
WRITE_REGISTRY = permission("registry.write", Role.COMMISSION)
# Correcting named facts of one enterprise when an officer upholds its objection (policy domain): the
# officers who decide objections, each within the organisations it may read (a district its district).
CORRECT_FACTS = permission("registry.facts.correct", Role.COMMISSION, Role.DISTRICT)
EXPORT_REGISTRY = permission("registry.export", Role.COMMISSION, Role.DISTRICT, Role.AUDITOR, Role.ENTERPRISE,
                             Role.TTO)

_ALL_DATA = (Role.COMMISSION, Role.AUDITOR, Role.SYSTEM)
_BOUND_TO_ORG = (Role.ENTERPRISE, Role.TTO, Role.SERVICE_PROVIDER, Role.INVESTOR)


# ---------------------------------------------------------------- scoping
def readable_organisations(principal: Principal) -> Select:
    """Organisations ``principal`` may see: all, own district, or own organisation."""
    require(principal, READ_ORGANISATIONS)
    stmt = select(Organisation)
    if principal.role in _ALL_DATA or principal.role is Role.ADMIN:
        return stmt
    if principal.role is Role.DISTRICT:
        # an officer without a district binding sees nothing (no sentinel value: PostgreSQL refuses NUL)
        return stmt.where(Organisation.district == principal.district) if principal.district else stmt.where(false())
    if principal.role in _BOUND_TO_ORG:
        return stmt.where(Organisation.id == (principal.organisation_id or -1))
    if principal.role in (Role.RESEARCHER, Role.EXPERT) and principal.person_id:
        return stmt.where(
            exists().where(Affiliation.person_id == principal.person_id,
                           Affiliation.organisation_id == Organisation.id)
        )
    return stmt.where(Organisation.id == -1)


def readable_people(principal: Principal) -> Select:
    """People ``principal`` may see: all, those of own institution, or oneself."""
    require(principal, READ_PEOPLE)
    stmt = select(Person)
    if principal.role in _ALL_DATA or principal.role is Role.ADMIN:
        return stmt
    if principal.role is Role.TTO:
        return stmt.where(
            exists().where(Affiliation.person_id == Person.id,
                           Affiliation.organisation_id == (principal.organisation_id or -1))
        )
    return stmt.where(Person.id == (principal.person_id or -1))


def access_organisation_by_id(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    """The organisation if it exists and ``principal`` may read it; ``NotFound`` otherwise (both cases)."""
    org = session.scalar(readable_organisations(principal).where(Organisation.id == organisation_id))
    if org is None:
        raise NotFound()
    return org


def access_person_by_id(session: Session, principal: Principal, person_id: int) -> Person:
    """The person if visible to ``principal``; the same ``NotFound`` for missing and forbidden."""
    person = session.scalar(readable_people(principal).where(Person.id == person_id))
    if person is None:
        raise NotFound()
    return person


# ---------------------------------------------------------------- validation
def organisation_problems(data: dict[str, Any]) -> list[FieldError]:
    """Every rule an organisation's fields break (used by create, update and import)."""
    errors: list[FieldError] = []

    def bad(field: str, reason: str, **params: Any) -> None:
        errors.append(FieldError(field, reason, params, value=data.get(field)))

    if "kind" in data and data["kind"] not in ref.ORG_KINDS:
        bad("kind", N_("Unknown organisation kind; allowed: {allowed}."), allowed=", ".join(ref.ORG_KINDS))
    if "credit_code" in data:
        code = (data.get("credit_code") or "").strip().upper()
        problem = credit_code_problem(code)
        if problem:
            bad("credit_code", problem)
    district = data.get("district")
    if district and district not in ref.DISTRICTS:
        bad("district", N_("Not one of Shanghai's 16 districts."))
    if district and data.get("credit_code") and data.get("province", "上海") != "上海":
        bad("district", N_("A district is only given for organisations in Shanghai."))
    section = data.get("industry_section")
    division = data.get("industry_division")
    if section and section not in ref.INDUSTRY_SECTIONS:
        bad("industry_section", N_("Not a GB/T 4754-2017 section (A to T)."))
    if division:
        if not (isinstance(division, str) and len(division) == 2 and division.isdigit()):
            bad("industry_division", N_("A GB/T 4754-2017 division is two digits, e.g. 65."))
        elif section in ref.INDUSTRY_SECTIONS:
            lo, hi, _zh, _en = ref.INDUSTRY_SECTIONS[section]
            if not lo <= int(division) <= hi:
                bad("industry_division", N_("Division {division} is not in section {section} ({lo:02d}-{hi:02d})."),
                    division=division, section=section, lo=lo, hi=hi)
        elif not section:
            bad("industry_section", N_("Give the section together with the division."))
    ownership = data.get("ownership")
    if ownership and ownership not in ref.OWNERSHIP:
        bad("ownership", N_("Unknown ownership; allowed: {allowed}."), allowed=", ".join(ref.OWNERSHIP))
    level = data.get("state_level")
    if level:
        if level not in ref.STATE_LEVELS:
            bad("state_level", N_("Unknown level; allowed: {allowed}."), allowed=", ".join(ref.STATE_LEVELS))
        elif ownership not in (None, "state_owned", "mixed"):
            bad("state_level", N_("A state-ownership level is only given for state-owned or mixed ownership."))
    return errors


def fact_problems(data: dict[str, Any]) -> list[FieldError]:
    """Rules across the fields of one year's facts."""
    errors: list[FieldError] = []
    grade = data.get("tax_credit_grade")
    if grade and grade not in ref.TAX_CREDIT_GRADES:
        errors.append(FieldError("tax_credit_grade", N_("Tax credit grade is one of A, B, M, C, D."), value=grade))
    emp, st = data.get("employees"), data.get("st_staff")
    if emp is not None and st is not None and st > emp:
        errors.append(FieldError("st_staff", N_("S&T staff cannot exceed employees."), value=st))
    rev, ht = data.get("revenue_fen"), data.get("high_tech_income_fen")
    if rev is not None and ht is not None and ht > rev:
        errors.append(FieldError("high_tech_income_fen", N_("High-tech product income cannot exceed revenue."),
                                 value=ht))
    return errors


def qualification_problems(data: dict[str, Any]) -> list[FieldError]:
    """Rules of one qualification."""
    errors: list[FieldError] = []
    if data.get("kind") not in ref.QUALIFICATION_KINDS:
        errors.append(FieldError("kind", N_("Unknown qualification; allowed: {allowed}."),
                                 {"allowed": ", ".join(ref.QUALIFICATION_KINDS)}, value=data.get("kind")))
    start, end = data.get("valid_from_date"), data.get("valid_to_date")
    if start and end and end < start:
        errors.append(FieldError("valid_to_date", N_("The end of validity is before its start."), value=end))
    return errors


def person_problems(data: dict[str, Any]) -> list[FieldError]:
    """Rules of a person's fields."""
    errors: list[FieldError] = []
    orcid = data.get("orcid")
    if orcid:
        problem = orcid_problem(orcid)
        if problem:
            errors.append(FieldError("orcid", problem, value=orcid))
    for r in data.get("roles") or []:
        if r not in ref.PERSON_ROLES:
            errors.append(FieldError("roles", N_("Unknown role '{role}'; allowed: {allowed}."),
                                     {"role": r, "allowed": ", ".join(ref.PERSON_ROLES)}, value=r))
    cat = data.get("talent_category")
    if cat and cat not in ref.TALENT_CATEGORIES:
        errors.append(FieldError("talent_category", N_("Unknown talent category; allowed: {allowed}."),
                                 {"allowed": ", ".join(ref.TALENT_CATEGORIES)}, value=cat))
    return errors


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors=errors)


# ---------------------------------------------------------------- organisations
@dataclass
class OrganisationFilters:
    """Filters of the organisation list."""

    kind: str | None = None
    district: str | None = None
    industry_section: str | None = None
    ownership: str | None = None
    qualification: str | None = None
    synthetic: bool | None = None


ORG_SORT = SortSpec(
    {"name": Organisation.name_zh, "credit_code": Organisation.credit_code, "founded_date": Organisation.founded_date,
     "district": Organisation.district, "kind": Organisation.kind, "id": Organisation.id},
    default="name",
)


def filtered_organisations(principal: Principal, params: PageParams, filters: OrganisationFilters) -> Select:
    """The readable organisations narrowed by search text and filters (list, export)."""
    stmt = readable_organisations(principal)
    if params.q and params.q.strip():
        stmt = stmt.where(organisation_text_match(params.q))
    for col, value in ((Organisation.kind, filters.kind), (Organisation.district, filters.district),
                       (Organisation.industry_section, filters.industry_section),
                       (Organisation.ownership, filters.ownership)):
        if value:
            stmt = stmt.where(col == value)
    if filters.synthetic is not None:
        stmt = stmt.where(Organisation.is_synthetic == filters.synthetic)
    if filters.qualification:
        stmt = stmt.where(exists().where(Qualification.organisation_id == Organisation.id,
                                         Qualification.kind == filters.qualification))
    return stmt


def list_organisations(
    session: Session, principal: Principal, params: PageParams, filters: OrganisationFilters | None = None
) -> Page[Organisation]:
    """Search, filter, sort and paginate organisations visible to ``principal``."""
    stmt = filtered_organisations(principal, params, filters or OrganisationFilters())
    items, total = paginate(session, stmt, params, ORG_SORT, Organisation.id)
    return Page(items=items, total=total, page=params.page, per_page=params.per_page)


def get_organisation_by_credit_code(session: Session, principal: Principal, code: str) -> Organisation:
    """Look up by credit code within what ``principal`` may read."""
    org = session.scalar(readable_organisations(principal).where(Organisation.credit_code == code.strip().upper()))
    if org is None:
        raise NotFound()
    return org


def create_organisation(session: Session, principal: Principal, data: OrganisationCreate) -> Organisation:
    """Register an organisation after checking every rule."""
    require(principal, WRITE_REGISTRY)
    values = data.model_dump()
    values["credit_code"] = values["credit_code"].strip().upper()
    _raise_if(organisation_problems(values))
    if session.scalar(select(Organisation.id).where(Organisation.credit_code == values["credit_code"])):
        raise Conflict(N_("An organisation with credit code {code} is already registered."), code=values["credit_code"])
    org = Organisation(**values)
    session.add(org)
    session.flush()
    audit.record(session, principal, "registry.organisation.create", "organisation", org.id, after=as_dict(org))
    return org


def update_organisation(
    session: Session, principal: Principal, organisation_id: int, data: OrganisationUpdate
) -> Organisation:
    """Change an organisation's fields (the credit code and kind are fixed)."""
    require(principal, WRITE_REGISTRY)
    org = access_organisation_by_id(session, principal, organisation_id)
    changes = data.model_dump(exclude_unset=True)
    merged = {**as_dict(org), **changes}
    merged.pop("credit_code", None)
    _raise_if(organisation_problems(merged))
    before = as_dict(org)
    for k, v in changes.items():
        setattr(org, k, v)
    session.flush()
    audit.record(session, principal, "registry.organisation.update", "organisation", org.id,
                 before=before, after=as_dict(org))
    return org


def organisation_facts(session: Session, principal: Principal, organisation_id: int) -> list[OrganisationFact]:
    """All years of facts of one organisation, oldest first."""
    org = access_organisation_by_id(session, principal, organisation_id)
    require(principal, READ_FACTS)
    return list(session.scalars(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id)
                                .order_by(OrganisationFact.year)))


def organisation_qualifications(session: Session, principal: Principal, organisation_id: int) -> list[Qualification]:
    """Qualifications of one organisation, newest first."""
    org = access_organisation_by_id(session, principal, organisation_id)
    return list(session.scalars(select(Qualification).where(Qualification.organisation_id == org.id)
                                .order_by(Qualification.valid_from_date.desc())))


def organisation_relations(session: Session, principal: Principal, organisation_id: int) -> list[OrganisationRelation]:
    """Relations where the organisation is the subject."""
    org = access_organisation_by_id(session, principal, organisation_id)
    return list(session.scalars(select(OrganisationRelation).where(OrganisationRelation.organisation_id == org.id)
                                .order_by(OrganisationRelation.id)))


def upsert_fact(session: Session, principal: Principal, organisation_id: int, data: FactIn) -> OrganisationFact:
    """Create or replace one year's facts of an organisation."""
    require(principal, WRITE_REGISTRY)
    org = access_organisation_by_id(session, principal, organisation_id)
    values = data.model_dump()
    _raise_if(fact_problems(values))
    fact = session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id,
                                                         OrganisationFact.year == data.year))
    before = as_dict(fact) if fact else None
    if fact is None:
        fact = OrganisationFact(organisation_id=org.id, **values)
        session.add(fact)
    else:
        for k, v in values.items():
            setattr(fact, k, v)
    session.flush()
    audit.record(session, principal, "registry.fact.upsert", "organisation_fact", fact.id,
                 before=before, after=as_dict(fact))
    return fact


CORRECTABLE_FACTS = ("revenue_fen", "rd_expense_fen", "rd_domestic_share", "employees", "st_staff",
                     "high_tech_income_fen", "total_assets_fen", "profit_fen", "tax_credit_grade",
                     "serious_dishonesty", "major_incident")


def check_fact_correction(session: Session, principal: Principal, organisation_id: int, year: int,
                          changes: dict[str, Any], source_department: str, as_of_date: date | None
                          ) -> tuple[OrganisationFact | None, FactIn]:
    """Validate corrected values of named facts of one organisation and year (the same rules as an
    upsert: field types and ranges, rules across fields) without writing; errors name the fields."""
    require(principal, CORRECT_FACTS)
    org = access_organisation_by_id(session, principal, organisation_id)
    errors = [FieldError(k, N_("Not a fact that can be corrected."), value=k) for k in changes
              if k not in CORRECTABLE_FACTS]
    _raise_if(errors)
    fact = session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id,
                                                         OrganisationFact.year == year))
    merged: dict[str, Any] = {k: getattr(fact, k) for k in CORRECTABLE_FACTS} if fact else {}
    merged.update(changes)
    merged.update(year=year, source_department=(source_department or "").strip(), as_of_date=as_of_date)
    try:
        data = FactIn.model_validate(merged)
    except PydanticValidationError as exc:
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "__all__"
            reason = N_("Required.") if e["type"] == "missing" or merged.get(name) in (None, "") else (
                N_("Not a valid value for this fact."))
            errors.append(FieldError(name, reason, value=merged.get(name)))
        _raise_if(errors)
    _raise_if(fact_problems(data.model_dump()))
    return fact, data


def correct_facts(session: Session, principal: Principal, organisation_id: int, year: int, changes: dict[str, Any],
                  source_department: str, as_of_date: date | None, reason: str) -> OrganisationFact:
    """Correct named facts of one organisation and year (validated as :func:`check_fact_correction`), the
    other facts of the year kept; audited with before, after and the reason."""
    fact, data = check_fact_correction(session, principal, organisation_id, year, changes, source_department,
                                       as_of_date)
    before = as_dict(fact) if fact else None
    values = data.model_dump()
    if fact is None:
        fact = OrganisationFact(organisation_id=organisation_id, **values)
        session.add(fact)
    else:
        for k in (*changes, "source_department", "as_of_date"):
            setattr(fact, k, values[k])
    session.flush()
    audit.record(session, principal, "registry.fact.correct", "organisation_fact", fact.id,
                 before=before, after={**as_dict(fact), "reason": reason})
    return fact


def add_qualification(
    session: Session, principal: Principal, organisation_id: int, data: QualificationIn
) -> Qualification:
    """Record a qualification of an organisation."""
    require(principal, WRITE_REGISTRY)
    org = access_organisation_by_id(session, principal, organisation_id)
    values = data.model_dump()
    _raise_if(qualification_problems(values))
    if session.scalar(select(Qualification.id).where(Qualification.organisation_id == org.id,
                                                     Qualification.kind == data.kind,
                                                     Qualification.number == data.number)):
        raise Conflict(N_("This qualification is already recorded."))
    q = Qualification(organisation_id=org.id, **values)
    session.add(q)
    session.flush()
    audit.record(session, principal, "registry.qualification.create", "qualification", q.id, after=as_dict(q))
    return q


def add_relation(session: Session, principal: Principal, organisation_id: int, data: RelationIn) -> OrganisationRelation:
    """Record a shareholder, legal-representative or parent relation."""
    require(principal, WRITE_REGISTRY)
    org = access_organisation_by_id(session, principal, organisation_id)
    errors: list[FieldError] = []
    if data.kind not in ref.RELATION_KINDS:
        errors.append(FieldError("kind", N_("Unknown relation; allowed: {allowed}."),
                                 {"allowed": ", ".join(ref.RELATION_KINDS)}, value=data.kind))
    if (data.related_organisation_id is None) == (data.related_person_id is None):
        errors.append(FieldError("related_organisation_id",
                                 N_("Give exactly one of a related organisation or a related person.")))
    if data.kind == "legal_representative" and data.related_person_id is None:
        errors.append(FieldError("related_person_id", N_("A legal representative is a person.")))
    if data.kind == "shareholder" and data.share is None:
        errors.append(FieldError("share", N_("A shareholder relation needs the share (0 to 1).")))
    if data.related_organisation_id == org.id:
        errors.append(FieldError("related_organisation_id", N_("An organisation cannot be related to itself.")))
    _raise_if(errors)
    if data.related_organisation_id is not None and session.get(Organisation, data.related_organisation_id) is None:
        raise ValidationFailed(errors=[FieldError("related_organisation_id", N_("No such organisation."))])
    if data.related_person_id is not None and session.get(Person, data.related_person_id) is None:
        raise ValidationFailed(errors=[FieldError("related_person_id", N_("No such person."))])
    rel = OrganisationRelation(organisation_id=org.id, **data.model_dump())
    session.add(rel)
    session.flush()
    audit.record(session, principal, "registry.relation.create", "organisation_relation", rel.id,
                 after=as_dict(rel))
    return rel


# ---------------------------------------------------------------- people
PERSON_SORT = SortSpec({"name": Person.name_zh, "orcid": Person.orcid, "id": Person.id}, default="name")


def list_people(session: Session, principal: Principal, params: PageParams, role: str | None = None,
                organisation_id: int | None = None) -> Page[Person]:
    """Search, filter, sort and paginate people visible to ``principal``."""
    stmt = readable_people(principal)
    if params.q:
        like = f"%{params.q.strip()}%"
        stmt = stmt.where(or_(Person.name_zh.ilike(like), Person.name_en.ilike(like), Person.orcid.ilike(like)))
    if organisation_id:
        stmt = stmt.where(exists().where(Affiliation.person_id == Person.id,
                                         Affiliation.organisation_id == organisation_id))
    items, total = paginate(session, stmt, params, PERSON_SORT, Person.id)
    if role:  # roles is a JSON list: filter in Python on the page (small pages; portable across databases)
        items = [p for p in items if role in (p.roles or [])]
    return Page(items=items, total=total, page=params.page, per_page=params.per_page)


def create_person(session: Session, principal: Principal, data: PersonCreate) -> Person:
    """Register a person with affiliations."""
    require(principal, WRITE_REGISTRY)
    values = data.model_dump(exclude={"affiliations"})
    if values.get("orcid"):
        values["orcid"] = normalize_orcid(values["orcid"])
    _raise_if(person_problems(values))
    if values.get("orcid") and session.scalar(select(Person.id).where(Person.orcid == values["orcid"])):
        raise Conflict(N_("A person with ORCID {orcid} is already registered."), orcid=values["orcid"])
    person = Person(**values)
    session.add(person)
    session.flush()
    for a in data.affiliations:
        add_affiliation(session, principal, person, a, audited=False)
    audit.record(session, principal, "registry.person.create", "person", person.id,
                 after={**as_dict(person), "affiliations": [a.model_dump() for a in data.affiliations]})
    return person


def add_affiliation(session: Session, principal: Principal, person: Person, data: AffiliationIn,
                    audited: bool = True) -> Affiliation:
    """Add a dated affiliation of ``person`` at an organisation."""
    require(principal, WRITE_REGISTRY)
    if session.get(Organisation, data.organisation_id) is None:
        raise ValidationFailed(errors=[FieldError("organisation_id", N_("No such organisation."))])
    if data.start_date and data.end_date and data.end_date < data.start_date:
        raise ValidationFailed(errors=[FieldError("end_date", N_("The end date is before the start date."))])
    aff = Affiliation(person_id=person.id, **data.model_dump())
    session.add(aff)
    session.flush()
    if audited:
        audit.record(session, principal, "registry.affiliation.create", "affiliation", aff.id, after=as_dict(aff))
    return aff


def person_affiliations(session: Session, principal: Principal, person_id: int) -> list[Affiliation]:
    """A person's affiliations, newest first."""
    person = access_person_by_id(session, principal, person_id)
    return list(session.scalars(select(Affiliation).where(Affiliation.person_id == person.id)
                                .order_by(Affiliation.start_date.desc())))


# ---------------------------------------------------------------- qualification expiry (dashboard, 360° page)
EXPIRY_WARNING_DAYS = 90


def qualification_status(q: Qualification, today: date | None = None) -> str:
    """``expired``, ``expiring`` (within 90 days) or ``valid``."""
    today = today or date.today()
    if q.valid_to_date is None:
        return "valid"
    if q.valid_to_date < today:
        return "expired"
    if q.valid_to_date <= today + timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def expiring_qualifications(session: Session, principal: Principal, within_days: int = EXPIRY_WARNING_DAYS,
                            today: date | None = None, limit: int = 10) -> tuple[int, list[tuple[Qualification, Organisation]]]:
    """Qualifications of readable organisations ending within ``within_days``: the count and the first few."""
    today = today or date.today()
    orgs = readable_organisations(principal).subquery()
    cond = (Qualification.valid_to_date >= today, Qualification.valid_to_date <= today + timedelta(days=within_days))
    total = session.scalar(select(func.count()).select_from(Qualification)
                           .join(orgs, orgs.c.id == Qualification.organisation_id).where(*cond)) or 0
    rows = session.execute(
        select(Qualification, Organisation).join(Organisation, Organisation.id == Qualification.organisation_id)
        .where(Qualification.organisation_id.in_(select(orgs.c.id)), *cond)
        .order_by(Qualification.valid_to_date, Qualification.id).limit(limit)
    ).all()
    return int(total), [(q, o) for q, o in rows]
