import json

import pytest
from sqlalchemy import select

from kechuang.accounts import service
from kechuang.accounts.models import ApiToken, LoginSession, UserAccount
from kechuang.accounts.schemas import RoleUpdate, UserCreate
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import Conflict, PermissionDenied, TooManyRequests, ValidationFailed
from tests.accounts.conftest import PASSWORD, PRODUCTION_HASHER, make_user
from tests.conftest import principal
from tests.factories import make_organisation, make_person


def test_production_hasher_is_argon2id_and_verifies():
    h = PRODUCTION_HASHER.hash("Some-password-77")
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PRODUCTION_HASHER.verify(h, "Some-password-77")


def test_stored_hash_is_argon2id_never_the_password(session):
    user = make_user(session)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert service.verify_password(user.password_hash, PASSWORD)
    assert not service.verify_password(user.password_hash, PASSWORD + "x")
    assert not service.verify_password("not-a-hash", PASSWORD)


@pytest.mark.parametrize("password, problem", [
    ("short1", "At least {n} characters."),
    ("onlyletterslong", "Use both letters and digits."),
    ("1234567890123", "Use both letters and digits."),
    ("xx-alice-2026-yy", "The password must not contain the username."),
    ("Password123", "This password is too common."),
])
def test_password_policy(password, problem):
    reasons = [e.reason for e in service.password_problems(password, "alice")]
    assert problem in reasons


def test_good_password_passes_policy():
    assert service.password_problems("Tide-pool-2026-k", "alice") == []


def test_create_user_refuses_weak_password_and_taken_username(session):
    make_user(session, username="taken.name")
    with pytest.raises(ValidationFailed) as exc:
        service.create_user(session, SYSTEM, UserCreate(username="Taken.Name", display_name="x", password="weak",
                                                        role=Role.AUDITOR))
    fields = {e.field for e in exc.value.errors}
    assert fields == {"username", "password"}


def test_role_binding_rules(session):
    ent = make_organisation(session, kind="enterprise")
    uni = make_organisation(session, kind="university")
    person = make_person(session)

    def problems(role, org=None, person_id=None, district=None):
        return {e.field for e in service.binding_problems(session, role, org, person_id, district)}

    assert problems(Role.ENTERPRISE, ent.id) == set()
    assert problems(Role.ENTERPRISE, uni.id) == {"organisation_id"}
    assert problems(Role.ENTERPRISE) == {"organisation_id"}
    assert problems(Role.ENTERPRISE, 999_999) == {"organisation_id"}
    assert problems(Role.TTO, uni.id) == set()
    assert problems(Role.TTO, ent.id) == {"organisation_id"}
    assert problems(Role.DISTRICT, district="浦东新区") == set()
    assert problems(Role.DISTRICT, district="朝阳区") == {"district"}
    assert problems(Role.DISTRICT) == {"district"}
    assert problems(Role.RESEARCHER, person_id=person.id) == set()
    assert problems(Role.EXPERT) == {"person_id"}
    assert problems(Role.EXPERT, person_id=999_999) == {"person_id"}
    assert problems(Role.COMMISSION, ent.id, person.id, "浦东新区") == {"organisation_id", "person_id", "district"}
    assert problems(Role.AUDITOR) == set()
    assert problems(Role.SYSTEM) == {"role"}


def test_create_user_is_audited_without_secrets(session):
    user = make_user(session, role=Role.ENTERPRISE, organisation_id=make_organisation(session).id)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.user.create",
                                                    AuditEntry.object_id == str(user.id)))
    dumped = json.dumps([entry.before, entry.after], ensure_ascii=False)
    assert entry.after["role"] == "enterprise_user"
    assert "password" not in dumped and "argon2" not in dumped and PASSWORD not in dumped


def test_only_administrators_manage_accounts(session):
    officer = principal(Role.COMMISSION)
    with pytest.raises(PermissionDenied):
        service.create_user(session, officer, UserCreate(username="nope1", display_name="x", password=PASSWORD,
                                                         role=Role.AUDITOR))
    with pytest.raises(PermissionDenied):
        service.list_users(session, officer, service.PageParams())
    admin = make_user(session, role=Role.ADMIN)
    page = service.list_users(session, service.principal_for(admin), service.PageParams(q=admin.username))
    assert [u.username for u in page.items] == [admin.username]


def test_admin_cannot_disable_self_and_disable_revokes_credentials(session):
    admin = make_user(session, role=Role.ADMIN)
    p_admin = service.principal_for(admin)
    with pytest.raises(Conflict):
        service.disable_user(session, p_admin, admin.id)
    user = make_user(session, role=Role.AUDITOR)
    started = service.start_session(session, user, "10.1.1.1")
    _row, plaintext = service.create_token(session, service.principal_for(user), "t", ["audit.read"])
    assert service.resolve_session(session, started.token) is not None
    service.disable_user(session, p_admin, user.id)
    assert service.resolve_session(session, started.token) is None
    assert service.principal_for_token(session, plaintext) is None
    with pytest.raises(service.LoginFailed):
        service.authenticate(session, user.username, PASSWORD, "10.1.1.1")


def test_set_role_checks_binding(session):
    user = make_user(session, role=Role.AUDITOR)
    with pytest.raises(ValidationFailed):
        service.set_role(session, SYSTEM, user.id, RoleUpdate(role=Role.DISTRICT))
    service.set_role(session, SYSTEM, user.id, RoleUpdate(role=Role.DISTRICT, district="杨浦区"))
    assert service.principal_for(user).district == "杨浦区"


def test_unknown_user_and_wrong_password_get_the_same_error(session):
    user = make_user(session)
    with pytest.raises(service.LoginFailed) as wrong:
        service.authenticate(session, user.username, "Wrong-pass-123", "10.0.0.1")
    with pytest.raises(service.LoginFailed) as unknown:
        service.authenticate(session, "no.such.user", "Wrong-pass-123", "10.0.0.1")
    assert wrong.value.to_dict("en") == unknown.value.to_dict("en")
    assert wrong.value.to_dict("zh") == unknown.value.to_dict("zh")


def test_throttle_per_account_same_message_for_unknown_user(session):
    user = make_user(session)
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(service.LoginFailed):
            service.authenticate(session, user.username, "Wrong-pass-123", "10.0.0.2")
    with pytest.raises(TooManyRequests) as real:  # even the right password is refused now
        service.authenticate(session, user.username, PASSWORD, "10.0.0.3")
    assert session.get(UserAccount, user.id).locked_until is not None
    for _ in range(service.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(service.LoginFailed):
            service.authenticate(session, "ghost.user", "Wrong-pass-123", "10.0.0.4")
    with pytest.raises(TooManyRequests) as ghost:
        service.authenticate(session, "ghost.user", "Wrong-pass-123", "10.0.0.5")
    assert real.value.to_dict("en") == ghost.value.to_dict("en")
    assert "15 minutes" in real.value.render_message("en")


def test_success_resets_the_account_counter(session):
    user = make_user(session)
    for _round in range(2):
        for _ in range(service.MAX_FAILURES_PER_ACCOUNT - 1):
            with pytest.raises(service.LoginFailed):
                service.authenticate(session, user.username, "Wrong-pass-123", "10.0.0.6")
        assert service.authenticate(session, user.username, PASSWORD, "10.0.0.6").id == user.id


def test_throttle_per_address(session):
    user = make_user(session)
    for i in range(service.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(service.LoginFailed):
            service.authenticate(session, f"spray{i}", "Wrong-pass-123", "192.0.2.7")
    with pytest.raises(TooManyRequests):
        service.authenticate(session, user.username, PASSWORD, "192.0.2.7")
    assert service.authenticate(session, user.username, PASSWORD, "192.0.2.8").id == user.id


def test_sessions_expire_and_end(session):
    user = make_user(session)
    started = service.start_session(session, user, "10.0.0.9")
    row = session.scalar(select(LoginSession).where(LoginSession.id == started.login_session.id))
    assert row.token_hash != started.token and len(row.token_hash) == 64
    assert service.resolve_session(session, started.token)[1].id == user.id
    assert service.end_session(session, started.token)
    assert service.resolve_session(session, started.token) is None
    again = service.start_session(session, user, None)
    again.login_session.expires_at = service.utcnow()
    session.flush()
    assert service.resolve_session(session, again.token) is None


def test_tokens_hashed_scoped_expiring(session):
    user = make_user(session, role=Role.COMMISSION)
    p = service.principal_for(user)
    row, plaintext = service.create_token(session, p, "export", ["registry.read", "registry.export"], 30)
    assert plaintext.startswith("kc_") and row.token_prefix == plaintext[:8]
    stored = session.get(ApiToken, row.id)
    assert stored.token_hash != plaintext and plaintext not in json.dumps(stored.scopes)
    tp = service.principal_for_token(session, plaintext)
    assert tp.scopes == frozenset({"registry.read", "registry.export"})
    assert session.get(ApiToken, row.id).last_used_at is not None
    listed = service.list_tokens(session, p)
    assert [t.token_prefix for t in listed] == [row.token_prefix]
    assert "token" not in listed[0].model_dump()
    with pytest.raises(ValidationFailed) as exc:  # unknown scope, scope the role lacks, no expiry beyond a year
        service.create_token(session, p, "bad", ["nonsense.thing", "accounts.manage"], 400)
    assert {e.field for e in exc.value.errors} == {"scopes.0", "scopes.1", "expires_in_days"}
    stored.expires_at = service.utcnow()
    session.flush()
    assert service.principal_for_token(session, plaintext) is None


def test_token_revocation_own_or_admin_only(session):
    owner = make_user(session, role=Role.AUDITOR)
    other = make_user(session, role=Role.AUDITOR)
    row, plaintext = service.create_token(session, service.principal_for(owner), "t", ["audit.*"])
    with pytest.raises(service.NotFound):
        service.revoke_token(session, service.principal_for(other), row.id)
    service.revoke_token(session, service.principal_for(owner), row.id)
    assert service.principal_for_token(session, plaintext) is None


def test_set_language_is_remembered(session):
    user = make_user(session)
    service.set_language(session, service.principal_for(user), "en")
    assert session.get(UserAccount, user.id).language == "en"
    with pytest.raises(ValidationFailed):
        service.set_language(session, service.principal_for(user), "fr")


def test_purge_stale_is_a_dry_run_unless_executed(session):
    from datetime import timedelta

    from kechuang.accounts.models import LoginAttempt

    user = make_user(session)
    old = service.start_session(session, user, None)
    old.login_session.expires_at = service.utcnow() - timedelta(days=40)
    live = service.start_session(session, user, None)
    session.add(LoginAttempt(at=service.utcnow() - timedelta(days=40), username="x", client_addr=None,
                             success=False))
    session.flush()
    counts = service.purge_stale(session, SYSTEM)
    assert counts["login_attempt"] >= 1 and counts["login_session"] >= 1
    assert session.get(LoginSession, old.login_session.id) is not None
    service.purge_stale(session, SYSTEM, execute=True)
    session.expire_all()
    assert session.get(LoginSession, old.login_session.id) is None
    assert service.resolve_session(session, live.token) is not None
    with pytest.raises(PermissionDenied):
        service.purge_stale(session, principal(Role.AUDITOR))
