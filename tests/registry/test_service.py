from datetime import date

import pytest
from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.pagination import PageParams
from kechuang.registry import service
from kechuang.registry.schemas import FactIn, OrganisationCreate, PersonCreate, QualificationIn, RelationIn
from tests.conftest import principal
from tests.factories import credit_code, make_fact, make_organisation, make_person


def _create(**kw):
    data = dict(kind="enterprise", name_zh="上海测试科技有限公司", credit_code=credit_code(), district="徐汇区",
                industry_section="C", industry_division="39", ownership="private")
    data.update(kw)
    return OrganisationCreate(**data)


def test_create_organisation_is_audited(session, system):
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    org = service.create_organisation(session, system, _create())
    assert org.id and org.province == "上海"
    after = session.scalar(select(func.count()).select_from(AuditEntry))
    assert after == before + 1


def test_invalid_fields_are_all_reported(session, system):
    with pytest.raises(ValidationFailed) as exc:
        service.create_organisation(session, system, _create(
            credit_code="914403001922038217", district="火星区", industry_division="65", kind="alien"))
    fields = {e.field for e in exc.value.errors}
    assert fields == {"credit_code", "district", "industry_division", "kind"}


def test_duplicate_credit_code_conflicts(session, system):
    data = _create()
    service.create_organisation(session, system, data)
    with pytest.raises(Conflict):
        service.create_organisation(session, system, data)


def test_only_commission_writes(session):
    with pytest.raises(PermissionDenied):
        service.create_organisation(session, principal(Role.ENTERPRISE, organisation_id=1), _create())
    with pytest.raises(PermissionDenied):
        service.create_organisation(session, principal(Role.AUDITOR), _create())


def test_enterprise_sees_only_itself(session):
    a = make_organisation(session)
    b = make_organisation(session)
    pa = principal(Role.ENTERPRISE, organisation_id=a.id)
    assert service.access_organisation_by_id(session, pa, a.id).id == a.id
    with pytest.raises(NotFound):
        service.access_organisation_by_id(session, pa, b.id)
    with pytest.raises(NotFound):  # missing answers the same
        service.access_organisation_by_id(session, pa, 10**9)
    page = service.list_organisations(session, pa, PageParams(q=b.name_zh))
    assert page.total == 0


def test_district_officer_sees_own_district(session):
    make_organisation(session, district="崇明区", name_zh="崇明一号")
    make_organisation(session, district="黄浦区", name_zh="黄浦一号")
    page = service.list_organisations(session, principal(Role.DISTRICT, district="崇明区"), PageParams(per_page=200))
    assert page.total >= 1 and all(o.district == "崇明区" for o in page.items)


def test_search_filter_sort_paginate(session):
    for i in range(5):
        make_organisation(session, name_zh=f"分页测试{i}", district="奉贤区", founded_date=date(2010 + i, 1, 1))
    p = principal(Role.COMMISSION)
    page = service.list_organisations(session, p, PageParams(q="分页测试", per_page=2, page=2, sort="-founded_date"),
                                      service.OrganisationFilters(district="奉贤区"))
    assert page.total == 5 and [o.name_zh for o in page.items] == ["分页测试2", "分页测试1"]
    with pytest.raises(ValidationFailed):
        service.list_organisations(session, p, PageParams(sort="password"))


def test_qualification_filter(session, system):
    a = make_organisation(session, name_zh="资质测试甲")
    make_organisation(session, name_zh="资质测试乙")
    service.add_qualification(session, system, a.id, QualificationIn(kind="high_tech", number="GR2023",
                                                                     valid_from_date=date(2023, 12, 1)))
    page = service.list_organisations(session, principal(Role.COMMISSION), PageParams(q="资质测试"),
                                      service.OrganisationFilters(qualification="high_tech"))
    assert [o.id for o in page.items] == [a.id]


def test_fact_upsert_and_cross_field_rules(session, system):
    org = make_organisation(session)
    fact = FactIn(year=2024, revenue_fen=500_000_00, employees=10, st_staff=3, source_department="市税务局",
                  as_of_date=date(2025, 3, 1))
    f1 = service.upsert_fact(session, system, org.id, fact)
    f2 = service.upsert_fact(session, system, org.id, fact.model_copy(update={"employees": 12}))
    assert f1.id == f2.id and f2.employees == 12
    with pytest.raises(ValidationFailed) as exc:
        service.upsert_fact(session, system, org.id, fact.model_copy(update={"st_staff": 50}))
    assert exc.value.errors[0].field == "st_staff"


def test_facts_hidden_from_administrators(session):
    org = make_organisation(session)
    make_fact(session, org)
    with pytest.raises(PermissionDenied):
        service.organisation_facts(session, principal(Role.ADMIN), org.id)


def test_relations_validate(session, system):
    org = make_organisation(session)
    other = make_organisation(session)
    person = make_person(session)
    rel = service.add_relation(session, system, org.id, RelationIn(kind="shareholder", related_organisation_id=other.id,
                                                                    share="0.35"))
    assert rel.share is not None
    service.add_relation(session, system, org.id, RelationIn(kind="legal_representative",
                                                             related_person_id=person.id))
    with pytest.raises(ValidationFailed):
        service.add_relation(session, system, org.id, RelationIn(kind="shareholder", related_organisation_id=other.id))
    with pytest.raises(ValidationFailed):
        service.add_relation(session, system, org.id, RelationIn(kind="legal_representative",
                                                                 related_organisation_id=other.id))


def test_person_orcid_checked_and_unique(session, system):
    org = make_organisation(session, kind="university", name_zh="测试大学")
    p = service.create_person(session, system, PersonCreate(
        name_zh="李四", orcid="https://orcid.org/0000-0002-1694-233x", roles=["researcher"],
        affiliations=[{"organisation_id": org.id, "position": "教授", "start_date": "2020-09-01"}]))
    assert p.orcid == "0000-0002-1694-233X"
    with pytest.raises(Conflict):
        service.create_person(session, system, PersonCreate(name_zh="重复", orcid="0000-0002-1694-233X"))
    with pytest.raises(ValidationFailed):
        service.create_person(session, system, PersonCreate(name_zh="错", orcid="0000-0002-1694-2330"))
    tto = principal(Role.TTO, organisation_id=org.id)
    assert service.access_person_by_id(session, tto, p.id).id == p.id
    other_tto = principal(Role.TTO, organisation_id=org.id + 1000)
    with pytest.raises(NotFound):
        service.access_person_by_id(session, other_tto, p.id)
