from collections import Counter

import pytest
from sqlalchemy import func, select

from kechuang.core.audit import verify_chain
from kechuang.core.identifiers import is_valid_credit_code, is_valid_orcid
from kechuang.demo import generator
from kechuang.registry import reference as ref
from kechuang.registry.models import (
    Affiliation,
    Organisation,
    OrganisationFact,
    OrganisationRelation,
    Person,
    Qualification,
)


@pytest.fixture(scope="module")
def small() -> generator.DemoData:
    return generator.generate("small", 2025)


def test_small_is_deterministic_for_a_seed(small):
    again = generator.generate("small", 2025)
    assert [o["credit_code"] for o in again.records["organisations"]] == \
        [o["credit_code"] for o in small.records["organisations"]]
    assert again.records == small.records and again.relations == small.relations
    other = generator.generate("small", 7)
    assert [o["credit_code"] for o in other.records["organisations"]] != \
        [o["credit_code"] for o in small.records["organisations"]]


def test_small_shape_and_identifiers(small):
    orgs = small.records["organisations"]
    kinds = Counter(o["kind"] for o in orgs)
    assert 200 <= len(orgs) <= 500 and kinds["enterprise"] == 300
    assert sum(kinds[k] for k in ref.INSTITUTION_KINDS) == 20
    assert {"service_provider", "investor", "government"} <= set(kinds)
    assert {o["district"] for o in orgs if o["kind"] == "enterprise"} == set(ref.DISTRICTS)
    assert all(is_valid_credit_code(o["credit_code"]) for o in orgs)
    assert all(o["credit_code"][2:8] == ref.DISTRICTS[o["district"]] for o in orgs)
    assert len({o["credit_code"] for o in orgs}) == len(orgs)
    people = small.records["people"]
    assert len(people) == 200
    orcids = [p["orcid"] for p in people if p["orcid"]]
    assert len(orcids) > 100 and all(is_valid_orcid(o) for o in orcids) and len(set(orcids)) == len(orcids)
    assert {f["year"] for f in small.records["facts"]} == {2022, 2023, 2024}
    assert {q["kind"] for q in small.records["qualifications"]} >= {"high_tech", "tech_sme", "specialised"}
    assert {r["kind"] for r in small.relations} == {"shareholder", "legal_representative", "parent"}
    for kind, rows in small.records.items():
        assert all(r["is_synthetic"] is True for r in rows), kind


def test_load_small_is_synthetic_valid_and_idempotent(session, system, small):
    loaded = generator.load(session, system, small, source="demo:small:test")
    assert loaded.result.created == sum(len(v) for v in small.records.values())
    assert loaded.relations_created == len(small.relations)
    for model in (Organisation, OrganisationFact, Qualification, Person, OrganisationRelation):
        assert session.scalar(select(func.count()).select_from(model).where(model.is_synthetic.is_(False))) == 0
    assert session.scalar(select(func.count()).select_from(Affiliation)) >= 200
    again = generator.load(session, system, small, source="demo:small:test")
    assert (again.result.created, again.result.updated) == (0, 0)
    assert again.relations_created == 0
    assert verify_chain(session).ok


@pytest.mark.slow
def test_city_shape_on_a_reduced_size():
    data = generator.generate(generator.demo_size("city", scale=0.05), 2025)
    ents = [o for o in data.records["organisations"] if o["kind"] == "enterprise"]
    assert len(ents) == 5000
    sections = Counter(o["industry_section"] for o in ents)
    assert sum(sections[s] for s in "CIMFL") / len(ents) > 0.7
    tech = {o["credit_code"] for o in ents if o["industry_section"] in generator.TECH_SECTIONS}
    high_tech = {q["credit_code"] for q in data.records["qualifications"] if q["kind"] == "high_tech"}
    assert 0.1 < len(high_tech & tech) / len(tech) < 0.3
    assert Counter(o["district"] for o in ents).most_common(1)[0][0] == "浦东新区"
