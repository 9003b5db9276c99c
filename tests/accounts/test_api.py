from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from kechuang.accounts import service
from kechuang.accounts.models import ApiToken, UserAccount
from kechuang.core.auth import Role
from tests.accounts.conftest import PASSWORD, log_in, make_user
from tests.conftest import principal
from tests.factories import make_organisation


def test_login_sets_secure_cookie_and_logout_needs_csrf(session, browser):
    user = make_user(session, role=Role.AUDITOR, display_name="审计员")
    r = browser.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "kechuang_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    body = r.json()
    assert body["user"]["username"] == user.username and "password_hash" not in body["user"]
    csrf = body["csrf_token"]
    me = browser.get("/api/v1/auth/me").json()
    assert (me["user"]["id"], me["role"], me["csrf_token"]) == (user.id, "auditor", csrf)
    refused = browser.post("/api/v1/auth/logout")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_stolen_cookie_after_logout_is_useless(session, app):
    user = make_user(session)
    a = TestClient(app, headers={"accept": "application/json"})
    csrf = log_in(a, user.username)
    token = a.cookies.get("kechuang_session")
    a.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    b = TestClient(app, cookies={"kechuang_session": token}, headers={"accept": "application/json"})
    assert b.get("/api/v1/auth/me").status_code == 401


def test_login_failures_same_answer_then_throttled(session, browser):
    user = make_user(session)
    wrong = browser.post("/api/v1/auth/login", json={"username": user.username, "password": "Wrong-pass-1"})
    unknown = browser.post("/api/v1/auth/login", json={"username": "nobody.here", "password": "Wrong-pass-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT - 1):
        browser.post("/api/v1/auth/login?lang=en", json={"username": user.username, "password": "Wrong-pass-1"})
    r = browser.post("/api/v1/auth/login?lang=en", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed log-ins" in r.json()["error"]["message"]


def test_demo_account_refused_outside_demo_mode(session, browser, monkeypatch):
    from kechuang.accounts import demo
    from kechuang.config import settings

    make_organisation(session, kind="enterprise")
    demo.ensure_demo_users(session)
    body = {"username": "demo_enterprise", "password": demo.DEMO_PASSWORD}
    monkeypatch.setattr(settings, "demo_mode", False)
    assert browser.post("/api/v1/auth/login", json=body).status_code == 401
    monkeypatch.setattr(settings, "demo_mode", True)
    assert browser.post("/api/v1/auth/login", json=body).status_code == 200
    assert browser.get("/api/v1/auth/me").json()["role"] == "enterprise_user"
    monkeypatch.setattr(settings, "demo_mode", False)  # a running demo session stops working too
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_language_needs_csrf_and_is_remembered(session, browser):
    user = make_user(session)
    csrf = log_in(browser, user.username)
    assert browser.put("/api/v1/accounts/me/language", json={"language": "en"}).status_code == 403
    r = browser.put("/api/v1/accounts/me/language", json={"language": "en"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["language"] == "en"
    assert "lang=en" in r.headers["set-cookie"]
    assert session.get(UserAccount, user.id).language == "en"


def test_form_posts_need_the_csrf_token(session, app):
    @app.get("/_test/csrf")
    def _token(request: Request) -> dict:
        return {"token": request.state.csrf_token}

    @app.post("/_test/form")
    async def _form(request: Request) -> dict:
        form = await request.form()
        return {"name": form.get("name")}

    c = TestClient(app)
    token = c.get("/_test/csrf").json()["token"]  # anonymous: bound to the kechuang_csrf cookie
    assert c.post("/_test/form", data={"name": "甲"}).status_code == 403
    assert c.post("/_test/form", data={"name": "甲", "csrf_token": "forged"}).status_code == 403
    ok = c.post("/_test/form", data={"name": "甲", "csrf_token": token})
    assert ok.status_code == 200 and ok.json() == {"name": "甲"}  # the handler still reads the body
    multipart = c.post("/_test/form", data={"name": "乙", "csrf_token": token},
                       files={"f": ("a.csv", b"x,y\n", "text/csv")})
    assert multipart.status_code == 200 and multipart.json() == {"name": "乙"}
    assert c.post("/_test/form", data={"name": "丙"}, headers={"X-CSRF-Token": token}).status_code == 200
    other = TestClient(app)  # another browser (no cookie) cannot reuse the token
    assert other.post("/_test/form", data={"name": "丁", "csrf_token": token}).status_code == 403
    user = make_user(session)
    csrf = log_in(c, user.username)  # logged in: the token follows the session
    assert c.get("/_test/csrf").json()["token"] == csrf
    assert c.post("/_test/form", data={"name": "戊", "csrf_token": token}).status_code == 403
    assert c.post("/_test/form", data={"name": "戊", "csrf_token": csrf}).status_code == 200


def test_tokens_shown_once_scoped_used_revoked(session, app, browser):
    org = make_organisation(session, name_zh="令牌测试企业")
    user = make_user(session, role=Role.COMMISSION)
    csrf = log_in(browser, user.username)
    created = browser.post("/api/v1/accounts/tokens", json={"name": "nightly", "scopes": ["registry.read"],
                                                            "expires_in_days": 7},
                           headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    plaintext = created.json()["token"]
    assert plaintext.startswith("kc_")
    row = session.scalar(select(ApiToken).where(ApiToken.id == created.json()["id"]))
    assert row.token_hash != plaintext and row.last_used_at is None
    listed = browser.get("/api/v1/accounts/tokens").json()
    assert listed[0]["token_prefix"] == plaintext[:8] and "token" not in listed[0]
    assert plaintext not in browser.get("/api/v1/accounts/tokens").text

    bot = TestClient(app, headers={"accept": "application/json", "authorization": f"Bearer {plaintext}"})
    assert bot.get(f"/api/v1/registry/organisations/{org.id}").status_code == 200
    # writes: the role could, the token's scope cannot; Bearer requests need no CSRF token
    assert bot.patch(f"/api/v1/registry/organisations/{org.id}", json={"address": "x"}).status_code == 403
    assert bot.get("/api/v1/accounts/tokens").status_code == 403  # accounts.self not in scope
    assert bot.get("/api/v1/auth/me").json()["scopes"] == ["registry.read"]
    session.refresh(row)
    assert row.last_used_at is not None
    listed = browser.get("/api/v1/accounts/tokens").json()
    assert listed[0]["last_used_at"] is not None

    assert browser.post(f"/api/v1/accounts/tokens/{row.id}/revoke", headers={"X-CSRF-Token": csrf}).status_code == 200
    r = bot.get(f"/api/v1/registry/organisations/{org.id}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    bad = TestClient(app, headers={"accept": "application/json", "authorization": "Bearer kc_nonsense"})
    assert bad.get("/api/v1/auth/me").status_code == 401


def test_expired_token_refused(session, app):
    user = make_user(session, role=Role.AUDITOR)
    row, plaintext = service.create_token(session, service.principal_for(user), "t", ["audit.read"], 1)
    bot = TestClient(app, headers={"accept": "application/json", "authorization": f"Bearer {plaintext}"})
    assert bot.get("/api/v1/audit/entries").status_code == 200
    row.expires_at = service.utcnow()
    session.flush()
    assert bot.get("/api/v1/audit/entries").status_code == 401


def test_admin_manages_users_through_the_api(session, browser):
    admin = make_user(session, role=Role.ADMIN)
    ent = make_organisation(session, kind="enterprise")
    csrf = log_in(browser, admin.username)
    h = {"X-CSRF-Token": csrf}
    body = {"username": "new.enterprise", "display_name": "新企业用户", "password": "Fresh-start-2026",
            "role": "enterprise_user", "organisation_id": ent.id}
    created = browser.post("/api/v1/accounts/users", json=body, headers=h)
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    weak = browser.post("/api/v1/accounts/users", json={**body, "username": "weak.one", "password": "weak"},
                        headers=h)
    assert weak.status_code == 422 and weak.json()["error"]["errors"][0]["field"] == "password"
    wrong_kind = browser.put(f"/api/v1/accounts/users/{uid}/role", json={"role": "tto_officer",
                                                                         "organisation_id": ent.id}, headers=h)
    assert wrong_kind.status_code == 422
    assert browser.put(f"/api/v1/accounts/users/{uid}/role", json={"role": "auditor"}, headers=h).status_code == 200
    listed = browser.get("/api/v1/accounts/users", params={"q": "new.enterprise"}).json()
    assert listed["total"] == 1 and listed["items"][0]["role"] == "auditor"
    assert browser.post(f"/api/v1/accounts/users/{uid}/disable", headers=h).json()["is_active"] is False
    assert browser.get(f"/api/v1/accounts/users/{uid}").json()["is_active"] is False


def test_account_routes_refuse_other_roles(session, client_as):
    officer = client_as(principal(Role.COMMISSION))
    assert officer.get("/api/v1/accounts/users").status_code == 403
    assert officer.post("/api/v1/accounts/users", json={}).status_code in (403, 422)
    assert officer.post("/api/v1/accounts/users/1/disable").status_code == 403
    assert officer.put("/api/v1/accounts/users/1/role", json={"role": "admin"}).status_code == 403
    anon = client_as(None)
    for method, path in [("get", "/api/v1/accounts/users"), ("get", "/api/v1/accounts/tokens"),
                         ("post", "/api/v1/accounts/tokens"), ("get", "/api/v1/auth/me"),
                         ("put", "/api/v1/accounts/me/language"), ("get", "/api/v1/audit/entries"),
                         ("post", "/api/v1/audit/verify"), ("get", "/api/v1/audit/proof/1")]:
        assert getattr(anon, method)(path).status_code in (401, 422), path


def test_audit_api_read_verify_prove(session, client_as):
    from kechuang.core import audit

    entry = audit.record(session, principal(Role.COMMISSION), "test.write", "thing", 1, after={"n": 1})
    auditor = client_as(principal(Role.AUDITOR))
    page = auditor.get("/api/v1/audit/entries", params={"action": "test.write"}).json()
    assert page["total"] >= 1 and page["items"][0]["action"] == "test.write"
    assert auditor.get("/api/v1/audit/entries", params={"actor": "nobody"}).json()["total"] == 0
    today = entry.at.date().isoformat()
    assert auditor.get("/api/v1/audit/entries", params={"action": "test.write", "since": today,
                                                        "until": today}).json()["total"] >= 1
    assert auditor.get("/api/v1/audit/entries", params={"action": "test.write", "until": "2000-01-01"}
                       ).json()["total"] == 0
    v = auditor.post("/api/v1/audit/verify?lang=en").json()
    assert v["ok"] is True and v["message"].startswith("OK")
    proof = auditor.get(f"/api/v1/audit/proof/{entry.id}").json()
    assert proof["verified"] is True and proof["entry_hash"] == entry.hash
    officer = client_as(principal(Role.COMMISSION))
    assert officer.get("/api/v1/audit/entries").status_code == 200
    assert officer.post("/api/v1/audit/verify").status_code == 403
    enterprise = client_as(principal(Role.ENTERPRISE, organisation_id=1))
    assert enterprise.get("/api/v1/audit/entries").status_code == 403
    assert enterprise.get(f"/api/v1/audit/proof/{entry.id}").status_code == 403
    admin = client_as(principal(Role.ADMIN))
    assert admin.get("/api/v1/audit/entries").status_code == 403
    for method in ("put", "patch", "delete"):
        assert getattr(auditor, method)(f"/api/v1/audit/entries/{entry.id}").status_code == 405


def test_change_own_password(session, browser):
    user = make_user(session)
    csrf = log_in(browser, user.username)
    h = {"X-CSRF-Token": csrf}
    wrong = browser.put("/api/v1/accounts/me/password", json={"current_password": "nope",
                                                               "new_password": "Brand-new-2027"}, headers=h)
    assert wrong.status_code == 422 and wrong.json()["error"]["errors"][0]["field"] == "current_password"
    weak = browser.put("/api/v1/accounts/me/password", json={"current_password": PASSWORD, "new_password": "short"},
                       headers=h)
    assert weak.status_code == 422 and weak.json()["error"]["errors"][0]["field"] == "new_password"
    ok = browser.put("/api/v1/accounts/me/password", json={"current_password": PASSWORD,
                                                            "new_password": "Brand-new-2027"}, headers=h)
    assert ok.status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401  # sessions ended
    log_in(browser, user.username, "Brand-new-2027")
