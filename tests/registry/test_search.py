"""Organisation search through the trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL): the same rows as a
plain substring test, for short and long queries, after inserts, renames and deletes, together with filters."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, inspect, select, text

from kechuang.core.auth import SYSTEM
from kechuang.core.pagination import PageParams
from kechuang.registry import search, service
from kechuang.registry.models import Organisation
from tests.factories import make_organisation

NAMES = [
    ("上海凌峰瀚海科技有限公司", "Lingfeng Hanhai Technology Co., Ltd."),
    ("上海凌峰精密机械有限公司", "Lingfeng Precision Machinery"),
    ("张江生物医药创新中心", "Zhangjiang Biomedicine Innovation Centre"),
    ("临港量子计算研究院", None),
    ("百分之百100%材料有限公司", "Hundred_Percent Materials"),
]


@pytest.fixture
def orgs(session):
    return [make_organisation(session, name_zh=zh, name_en=en, district="奉贤区" if i % 2 else "徐汇区")
            for i, (zh, en) in enumerate(NAMES)]


def _found(session, q: str, **filters) -> set[int]:
    page = service.list_organisations(session, SYSTEM, PageParams(q=q, per_page=200),
                                      service.OrganisationFilters(**filters))
    assert page.total == len(page.items)
    return {o.id for o in page.items}


def _expected(orgs, q: str) -> set[int]:
    q = q.strip().lower()
    return {o.id for o in orgs
            if any(q in (v or "").lower() for v in (o.name_zh, o.name_en, o.credit_code))}


@pytest.mark.parametrize("q", ["凌峰", "凌峰瀚", "上海凌峰", "有限公司", "lingfeng", "LINGFENG HAN", "zhang",
                               "研究院", "量子", "100%", "_percent", "%", "ltd.", "  精密机械  ", "不存在的名字"])
def test_search_finds_exactly_the_rows_containing_the_text(session, orgs, q):
    assert _found(session, q) & {o.id for o in orgs} == _expected(orgs, q)


def test_credit_code_substring(session, orgs):
    code = orgs[2].credit_code
    assert orgs[2].id in _found(session, code[3:12])
    assert _found(session, code) == {orgs[2].id}


def test_search_combines_with_filters(session, orgs):
    assert _found(session, "凌峰", district="奉贤区") == {orgs[1].id}
    assert _found(session, "凌峰瀚海", district="奉贤区") == set()
    assert _found(session, "凌峰瀚海", district="徐汇区") == {orgs[0].id}


def test_index_follows_renames_and_deletes(session, orgs):
    orgs[3].name_zh = "临港类脑智能研究院"
    session.flush()
    assert _found(session, "量子计算") == set()
    assert _found(session, "类脑智能") == {orgs[3].id}
    session.execute(delete(Organisation).where(Organisation.id == orgs[0].id))
    session.expire_all()
    assert _found(session, "凌峰瀚海") == set()
    assert _found(session, "凌峰") & {o.id for o in orgs} == {orgs[1].id}


def test_the_index_objects_exist_after_migrations(session):
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        triggers = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert {f"{search.FTS_TABLE}_{t}" for t in ("ai", "ad", "au")} <= triggers
        assert search.FTS_TABLE in inspect(bind).get_table_names()
    else:
        if not session.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")):
            pytest.skip("pg_trgm is not installed on this server")
        assert search.PG_INDEX in {i["name"] for i in inspect(bind).get_indexes("organisation")}


def test_sqlite_uses_the_fts_table_for_three_characters_or_more(session):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's compilation")
    stmt = select(Organisation.id).where(search.organisation_text_match("凌峰瀚"))
    assert search.FTS_TABLE in str(stmt.compile(session.get_bind()))
    stmt = select(Organisation.id).where(search.organisation_text_match("凌峰"))
    assert search.FTS_TABLE not in str(stmt.compile(session.get_bind()))


def test_search_objects_are_left_out_of_the_schema_comparison():
    assert search.is_search_object("organisation_search")
    assert search.is_search_object("organisation_search_data")
    assert search.is_search_object("ix_organisation_search_trgm")
    assert not search.is_search_object("organisation")
    assert not search.is_search_object("organisation_fact")
