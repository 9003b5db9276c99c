"""Pages: every page renders for a role allowed to use it, forms keep values and mark errors, the log-in
flow checks CSRF and never tells which of username or password was wrong, tenants stay apart."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kechuang.accounts import service as accounts
from kechuang.accounts.models import UserAccount
from kechuang.accounts.schemas import UserCreate
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.registry import service as registry_service
from kechuang.registry.models import Affiliation, OrganisationRelation, Qualification
from kechuang.registry.schemas import OrganisationUpdate
from tests.conftest import principal
from tests.factories import make_fact, make_organisation, make_person

HTML = {"accept": "text/html"}
PASSWORD = "Correct-horse-42"
PLACEHOLDER = re.compile(r"\{[a-z_]+(:[^}]*)?\}")


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    """argon2id with tiny costs so log-in tests stay fast."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts._dummy_hash.cache_clear()
    yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture
def world(session):
    """Two enterprises with facts, qualifications (one expiring), a relation, a person, audit entries."""
    a = make_organisation(session, is_synthetic=True)
    b = make_organisation(session, district="徐汇区")
    for year in (2022, 2023, 2024):
        make_fact(session, a, year=year, revenue_fen=(50 + year - 2022) * 1_000_000_00)
    session.add(Qualification(organisation_id=a.id, kind="high_tech", number="GR1", valid_from_date=date(2023, 1, 1),
                              valid_to_date=date.today() + timedelta(days=30)))
    session.add(Qualification(organisation_id=a.id, kind="tech_sme", number="TS1", valid_from_date=date(2020, 1, 1),
                              valid_to_date=date(2021, 1, 1)))
    person = make_person(session)
    session.add(Affiliation(person_id=person.id, organisation_id=a.id, position="CTO"))
    session.add(OrganisationRelation(organisation_id=a.id, kind="shareholder", related_organisation_id=b.id,
                                     share=Decimal("0.25")))
    session.flush()
    registry_service.update_organisation(session, SYSTEM, a.id, OrganisationUpdate(address="张江路 1 号"))
    return {"a": a, "b": b, "person": person}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the form"
    return m.group(1)


def _check_page(r, url: str) -> None:
    assert r.status_code == 200, (url, r.status_code, r.text[-2000:])
    text = re.sub(r"<script.*?</script>", "", r.text, flags=re.S)
    assert not PLACEHOLDER.search(text), (url, PLACEHOLDER.search(text).group(0))
    assert '<html lang="zh-CN">' in r.text
    assert 'href="/static/app.css"' in r.text and "<main id=\"main\"" in r.text


def test_every_page_renders_for_an_allowed_role(session, client_as, world):
    a, person = world["a"], world["person"]
    pages = {
        Role.COMMISSION: ["/", "/registry/organisations", "/registry/organisations?q=测试&kind=enterprise&sort=-name",
                          f"/registry/organisations/{a.id}", "/registry/people", f"/registry/people/{person.id}",
                          "/registry/import", "/pillars/science", "/pillars/enterprise", "/pillars/talent",
                          "/audit", "/accounts/tokens"],
        Role.ENTERPRISE: ["/", f"/registry/organisations/{a.id}", "/registry/organisations"],
        Role.ADMIN: ["/", "/accounts", "/accounts/tokens"],
        Role.AUDITOR: ["/", "/audit", "/audit?action=registry.organisation.update"],
    }
    for role, urls in pages.items():
        client = client_as(principal(role, organisation_id=a.id if role is Role.ENTERPRISE else None))
        for url in urls:
            _check_page(client.get(url, headers=HTML), url)
    entry_id = int(re.search(r'href="/audit/entries/(\d+)"', client.get("/audit", headers=HTML).text).group(1))
    r = client.get(f"/audit/entries/{entry_id}", headers=HTML)
    _check_page(r, "/audit/entries")
    assert "证明有效" in r.text  # the entry's inclusion proof verifies


def test_htmx_requests_get_the_results_only(client_as, world):
    client = client_as(principal(Role.COMMISSION))
    r = client.get("/registry/organisations?sort=-name", headers={**HTML, "hx-request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="org-results">') and "<html" not in r.text


def test_360_page_shows_chart_facts_warnings_and_relations(client_as, world):
    a, b = world["a"], world["b"]
    r = client_as(principal(Role.COMMISSION)).get(f"/registry/organisations/{a.id}", headers=HTML)
    assert 'data-chart="facts"' in r.text and "/static/vendor/echarts.min.js" in r.text
    assert "90 天内到期" in r.text and "已过期" in r.text  # expiring and expired qualifications
    assert "市税务局" in r.text and "2025年3月31日" in r.text  # source department and as-of date
    assert f'href="/registry/organisations/{b.id}"' in r.text and "25.0%" in r.text  # related party, linked
    assert "合成演示数据" in r.text  # the synthetic banner
    assert "亿元" in r.text or "万元" in r.text


def test_enterprise_cannot_open_another_organisation(client_as, world):
    client = client_as(principal(Role.ENTERPRISE, organisation_id=world["a"].id))
    r = client.get(f"/registry/organisations/{world['b'].id}", headers=HTML)
    assert r.status_code == 404 and "页面不存在" in r.text
    missing = client.get("/registry/organisations/999999", headers=HTML)
    assert missing.status_code == 404 and missing.text.count("页面不存在") == r.text.count("页面不存在")
    listing = client.get(f"/registry/organisations?q={world['b'].name_zh}", headers=HTML)
    results = listing.text.split('<div id="org-results">', 1)[1]
    assert world["b"].name_zh not in results and "没有符合条件的单位" in results
    export = client.get("/registry/organisations/export?format=csv", headers=HTML)
    assert export.status_code == 200 and world["a"].credit_code in export.text
    assert world["b"].credit_code not in export.text


def test_navigation_shows_only_what_the_role_may_use(client_as, world):
    enterprise = client_as(principal(Role.ENTERPRISE, organisation_id=world["a"].id)).get("/", headers=HTML).text
    assert 'href="/registry/organisations"' in enterprise
    assert 'href="/accounts"' not in enterprise and 'href="/audit"' not in enterprise
    assert 'href="/registry/import"' not in enterprise
    for pillar in ("science", "enterprise", "talent"):
        assert f'href="/pillars/{pillar}"' in enterprise
    admin = client_as(principal(Role.ADMIN)).get("/", headers=HTML).text
    assert 'href="/accounts"' in admin and 'href="/registry/import"' not in admin
    forbidden = client_as(principal(Role.ENTERPRISE, organisation_id=world["a"].id)).get("/audit", headers=HTML)
    assert forbidden.status_code == 403 and "您无权查看此页面" in forbidden.text


def test_anonymous_visitors_are_sent_to_log_in(client_as):
    client = client_as(None)
    r = client.get("/registry/organisations?kind=enterprise", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fregistry%2Forganisations%3Fkind%3Denterprise"
    assert client.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/login"
    assert client.get("/no/such/page", headers=HTML).status_code == 404


def test_log_in_flow_with_csrf_and_no_account_enumeration(app, session):
    accounts.create_user(session, SYSTEM, UserCreate(username="li.wei", display_name="李伟", password=PASSWORD,
                                                     role=Role.COMMISSION, language="en"))
    client = TestClient(app, headers=HTML)
    form = client.get("/login?next=/registry/organisations")
    assert form.status_code == 200 and 'name="username"' in form.text
    token = _csrf(form.text)
    assert client.post("/login", data={"username": "li.wei", "password": PASSWORD}).status_code == 403  # no CSRF
    wrong_password = client.post("/login", data={"username": "li.wei", "password": "nope", "csrf_token": token})
    unknown_user = client.post("/login", data={"username": "nobody", "password": "nope", "csrf_token": token})
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "用户名或密码错误" in wrong_password.text and "用户名或密码错误" in unknown_user.text
    assert 'value="li.wei"' in wrong_password.text  # the username is kept
    ok = client.post("/login", data={"username": "li.wei", "password": PASSWORD, "csrf_token": token,
                                     "next": "/registry/organisations"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/registry/organisations"
    assert "kechuang_session" in ok.headers["set-cookie"] and "HttpOnly" in ok.headers["set-cookie"]
    home = client.get("/")
    assert home.status_code == 200 and "li.wei" in home.text and "Welcome" in home.text  # the user's language
    token = _csrf(home.text)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_header_language_switch_posts_with_csrf_and_is_remembered_on_the_account(app, session):
    user = accounts.create_user(session, SYSTEM, UserCreate(username="sun.li", display_name="孙丽", password=PASSWORD,
                                                            role=Role.AUDITOR))
    client = TestClient(app, headers=HTML)
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "sun.li", "password": PASSWORD, "csrf_token": token})
    home = client.get("/")
    assert 'action="/lang/en"' in home.text and 'href="/lang/en' not in home.text  # a form, not a link
    assert client.post("/lang/en", data={"next": "/"}, follow_redirects=False).status_code == 403  # no CSRF
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    client.get("/lang/en?next=/", follow_redirects=False)  # the plain link switches the cookie, writes nothing
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert session.get(UserAccount, user.id).language == "zh"
    r = client.post("/lang/en", data={"next": "/", "csrf_token": _csrf(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/" and "lang=en" in r.headers["set-cookie"]
    session.expire_all()
    assert session.get(UserAccount, user.id).language == "en"
    assert "Welcome" in client.get("/").text


def test_log_in_is_throttled_with_a_clear_message(app, session):
    client = TestClient(app, headers=HTML)
    token = _csrf(client.get("/login").text)
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        client.post("/login", data={"username": "wang.fang", "password": "bad", "csrf_token": token})
    r = client.post("/login", data={"username": "wang.fang", "password": "bad", "csrf_token": token})
    assert r.status_code == 429 and "登录失败次数过多" in r.text


def test_open_redirects_are_refused(app, session):
    accounts.create_user(session, SYSTEM, UserCreate(username="zhao.lei", display_name="赵磊", password=PASSWORD,
                                                     role=Role.AUDITOR))
    client = TestClient(app, headers=HTML)
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": "zhao.lei", "password": PASSWORD, "csrf_token": token,
                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"
    assert client.get("/lang/en?next=https://evil.example", follow_redirects=False).headers["location"] == "/"


def test_create_user_form_keeps_values_and_marks_bad_fields(client_as):
    client = client_as(principal(Role.ADMIN))
    token = _csrf(client.get("/accounts", headers=HTML).text)
    r = client.post("/accounts", headers=HTML, data={
        "csrf_token": token, "username": "chen.jing", "display_name": "陈静", "password": "short",
        "role": "enterprise_user", "organisation_id": "", "language": "zh"})
    assert r.status_code == 422
    assert 'value="chen.jing"' in r.text and 'value="陈静"' in r.text
    assert re.search(r'id="f-password"[^>]*aria-invalid="true"', r.text, flags=re.S)
    assert re.search(r'id="f-organisation_id"[^>]*aria-invalid="true"', r.text, flags=re.S)
    ok = client.post("/accounts", headers=HTML, follow_redirects=False, data={
        "csrf_token": token, "username": "chen.jing", "display_name": "陈静", "password": PASSWORD,
        "role": "auditor", "language": "zh"})
    assert ok.status_code == 303
    detail = client.get(ok.headers["location"], headers=HTML)
    assert detail.status_code == 200 and "账户已创建" in detail.text


def test_tokens_page_shows_a_new_token_once(session, client_as):
    user = accounts.create_user(session, SYSTEM, UserCreate(username="sun.li", display_name="孙丽", password=PASSWORD,
                                                            role=Role.AUDITOR))
    client = client_as(accounts.principal_for(user))
    token = _csrf(client.get("/accounts/tokens", headers=HTML).text)
    r = client.post("/accounts/tokens", headers=HTML, data={"csrf_token": token, "name": "nightly",
                                                             "scopes": ["registry.read"], "expires_in_days": "30"})
    assert r.status_code == 200
    secret = re.search(r'id="new-token">(kc_[^<]+)<', r.text).group(1)
    again = client.get("/accounts/tokens", headers=HTML).text
    assert "nightly" in again and secret not in again and "从未使用" in again
    bad = client.post("/accounts/tokens", headers=HTML, data={"csrf_token": token, "name": "", "expires_in_days": "30"})
    assert bad.status_code == 422 and "请为令牌命名" in bad.text


def test_import_reports_bad_rows_then_imports_after_confirmation(session, client_as):
    client = client_as(principal(Role.COMMISSION))
    token = _csrf(client.get("/registry/import", headers=HTML).text)
    bad_csv = "统一社会信用代码,名称,机构类型,所在区\n91310115MA1K4ABC1X,坏数据公司,enterprise,火星区\n".encode()
    r = client.post("/registry/import", headers=HTML, data={"csrf_token": token},
                    files={"file": ("bad.csv", bad_csv, "text/csv")})
    assert r.status_code == 422 and 'id="import-report"' in r.text
    assert "不是上海市的 16 个区之一" in r.text and "火星区" in r.text
    from tests.factories import credit_code

    code = credit_code()
    good_csv = f"统一社会信用代码,名称,机构类型,所在区\n{code},好数据公司,enterprise,浦东新区\n".encode()
    r = client.post("/registry/import", headers=HTML, data={"csrf_token": token},
                    files={"file": ("good.csv", good_csv, "text/csv")})
    assert r.status_code == 200 and "文件校验通过" in r.text
    upload = re.search(r'name="token" value="([0-9a-f]{64})"', r.text).group(1)
    done = client.post("/registry/import/confirm", headers=HTML,
                       data={"csrf_token": token, "token": upload, "filename": "good.csv"})
    assert done.status_code == 200 and "导入完成" in done.text
    assert registry_service.get_organisation_by_credit_code(session, SYSTEM, code).name_zh == "好数据公司"


def test_auditor_verifies_the_chain(client_as, world):
    client = client_as(principal(Role.AUDITOR))
    page = client.get("/audit", headers=HTML).text
    assert 'id="verify-chain"' in page
    r = client.post("/audit/verify", headers=HTML, data={"csrf_token": _csrf(page)})
    assert r.status_code == 200 and "哈希链完好" in r.text
    commission = client_as(principal(Role.COMMISSION)).get("/audit", headers=HTML).text
    assert 'id="verify-chain"' not in commission  # commission officers read the log but do not verify


def test_money_and_dates_follow_the_locale():
    from kechuang.web.templating import format_date, format_money

    assert format_money(1_234_567_890_00, "zh") == "12.35 亿元"
    assert format_money(12_345_600, "zh") == "12.35 万元"
    assert format_money(99_900, "zh") == "999.00 元"
    assert format_money(1_234_567_890_00, "en") == "¥1,234,567,890"
    assert format_money(-1_50, "en") == "-¥1.50"
    assert format_date(date(2026, 3, 1), "zh") == "2026年3月1日"
    assert format_date(date(2026, 3, 1), "en") == "1 Mar 2026"



def test_pillar_modules_go_live_when_a_domain_mounts_pages(client_as):
    from fastapi import APIRouter, FastAPI
    from starlette.requests import Request

    from kechuang.web.pages import _live

    page = client_as(principal(Role.COMMISSION)).get("/pillars/talent", headers=HTML).text
    assert "即将上线" in page and "该模块尚未上线" in page  # labelled, no data
    app, router = FastAPI(), APIRouter()
    router.get("/transfer")(lambda: {})
    router.get("/patent/{patent_id}")(lambda patent_id: {})
    app.include_router(router)
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})
    assert _live(request, "/transfer") and _live(request, "/transfer#contracts")
    assert not _live(request, "/patent")  # only a detail page: the card would link to a 404


def test_a_domain_page_takes_the_place_of_its_pillar_entry():
    from kechuang.web.templating import NavItem, nav_for, register_nav

    register_nav(NavItem("zz-test-science", "AI for Science", "/zz-science", order=99))
    try:
        keys = [i.key for i in nav_for(principal(Role.COMMISSION))]
        assert "zz-test-science" in keys and "pillar-science" not in keys
        assert keys[0] == "zz-test-science"  # at the pillar's position (the first entry)
    finally:
        from kechuang.web import templating

        templating.NAV[:] = [i for i in templating.NAV if i.key != "zz-test-science"]
