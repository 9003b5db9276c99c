"""Accounts business rules: users and role bindings, password policy, log-in with throttling, browser
sessions, API tokens, language preference. Callers: api, pages, CLI, demo, ``core.deps``.

Log-in flow for pages and the API: ``login()`` (= ``authenticate()`` + ``start_session()``), then set the
cookie with ``core.web_security.set_session_cookie``; ``logout()`` ends it. A failed log-in raises
``LoginFailed`` whose ``keep_writes`` makes ``core.deps.get_session`` commit the recorded attempt anyway.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kechuang.accounts.models import ApiToken, LoginAttempt, LoginSession, UserAccount, public_fields
from kechuang.accounts.schemas import RoleUpdate, TokenRead, UserCreate, UserRead
from kechuang.config import settings
from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import (
    Conflict,
    FieldError,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from kechuang.core.i18n import N_
from kechuang.core.pagination import Page, PageParams, SortSpec, paginate
from kechuang.core.permissions import REGISTERED, permission, require
from kechuang.core.secret import csrf_token_for
from kechuang.db import utcnow
from kechuang.registry import reference as ref
from kechuang.registry.models import Organisation, Person

# Who may do what (GUIDE habit 5). Administrators manage accounts, not business data.
MANAGE_ACCOUNTS = permission("accounts.manage", Role.ADMIN)
OWN_ACCOUNT = permission("accounts.self", *(r for r in Role if r is not Role.SYSTEM))

# Throttling of failed log-ins (OWASP authentication cheat sheet: per account and per source).
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at / last_used_at are written at most once a minute
TOKEN_PREFIX = "kc_"

PASSWORD_MIN_LENGTH = 10
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "password1234", "passw0rd", "123456789a",
    "qwerty123", "qwertyuiop", "qwerty1234", "1q2w3e4r5t", "1qaz2wsx3edc", "abc123456", "abcd123456",
    "a123456789", "iloveyou1", "welcome123", "admin12345", "administrator1", "letmein123", "changeme123",
    "shanghai123", "shanghai2024", "shanghai2025", "shanghai2026", "kechuang123", "woaini1314", "zxcvbnm123",
    "1234567890a", "aa123456789", "p@ssw0rd123", "football123", "monkey12345", "dragon12345", "trustno1234",
})
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

ROLE_ORG_KINDS: dict[Role, frozenset[str]] = {
    Role.ENTERPRISE: frozenset({"enterprise"}),
    Role.TTO: ref.INSTITUTION_KINDS,
    Role.HANDLING_UNIT: frozenset({"government"}),
    Role.SERVICE_PROVIDER: frozenset({"service_provider"}),  # optional binding
    Role.INVESTOR: frozenset({"investor"}),  # optional binding
}
ORG_REQUIRED = frozenset({Role.ENTERPRISE, Role.TTO, Role.HANDLING_UNIT})
PERSON_REQUIRED = frozenset({Role.RESEARCHER, Role.EXPERT})


class LoginFailed(NotAuthenticated):
    """Wrong username or password (one message for both: no account enumeration)."""

    code = "login_failed"
    default_message = N_("Wrong username or password.")
    keep_writes = True  # the failed attempt must be committed although the request fails


def _throttled() -> TooManyRequests:
    return TooManyRequests(N_("Too many failed log-ins. Please wait {minutes} minutes and try again."),
                           minutes=int(THROTTLE_WINDOW.total_seconds() // 60))


# ---------------------------------------------------------------- passwords
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (argon2-cffi default)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def password_problems(password: str, username: str | None = None) -> list[FieldError]:
    """Every rule of the password policy that ``password`` breaks."""
    errors: list[FieldError] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        errors.append(FieldError("password", N_("At least {n} characters."), {"n": PASSWORD_MIN_LENGTH}))
    if not (re.search(r"[^\W\d_]", password) and re.search(r"\d", password)):
        errors.append(FieldError("password", N_("Use both letters and digits.")))
    if username and username.lower() in password.lower():
        errors.append(FieldError("password", N_("The password must not contain the username.")))
    if password.lower() in COMMON_PASSWORDS:
        errors.append(FieldError("password", N_("This password is too common.")))
    return errors


# ---------------------------------------------------------------- role bindings
def binding_problems(session: Session, role: Role, organisation_id: int | None, person_id: int | None,
                     district: str | None) -> list[FieldError]:
    """What is wrong with binding ``role`` to this organisation, person or district."""
    errors: list[FieldError] = []
    if role is Role.SYSTEM:
        return [FieldError("role", N_("The system role cannot be given to an account."))]
    kinds = ROLE_ORG_KINDS.get(role)
    if organisation_id is not None:
        if kinds is None:
            errors.append(FieldError("organisation_id", N_("This role is not bound to an organisation.")))
        else:
            kind = session.scalar(select(Organisation.kind).where(Organisation.id == organisation_id))
            if kind is None:
                errors.append(FieldError("organisation_id", N_("No such organisation."), value=organisation_id))
            elif kind not in kinds:
                errors.append(FieldError("organisation_id", N_("This role needs an organisation of kind {kinds}."),
                                         {"kinds": ", ".join(sorted(kinds))}, value=organisation_id))
    elif role in ORG_REQUIRED:
        errors.append(FieldError("organisation_id", N_("This role must be bound to an organisation.")))
    if person_id is not None:
        if role not in PERSON_REQUIRED:
            errors.append(FieldError("person_id", N_("This role is not bound to a person.")))
        elif session.get(Person, person_id) is None:
            errors.append(FieldError("person_id", N_("No such person."), value=person_id))
    elif role in PERSON_REQUIRED:
        errors.append(FieldError("person_id", N_("This role must be bound to a person.")))
    if district is not None:
        if role is not Role.DISTRICT:
            errors.append(FieldError("district", N_("This role is not bound to a district.")))
        elif district not in ref.DISTRICTS:
            errors.append(FieldError("district", N_("Not one of Shanghai's 16 districts."), value=district))
    elif role is Role.DISTRICT:
        errors.append(FieldError("district", N_("A district officer must be bound to a district.")))
    return errors


# ---------------------------------------------------------------- users
def _user_snapshot(user: UserAccount) -> dict:
    return public_fields(user)


def get_user(session: Session, principal: Principal, user_id: int) -> UserAccount:
    """An account: administrators any, everyone else only their own; the same 404 otherwise."""
    if principal.user_id != user_id:
        require(principal, MANAGE_ACCOUNTS)
    user = session.get(UserAccount, user_id)
    if user is None:
        raise NotFound()
    return user


def get_user_by_username(session: Session, principal: Principal, username: str) -> UserAccount:
    """An account by username (administrators and the CLI)."""
    require(principal, MANAGE_ACCOUNTS)
    user = session.scalar(select(UserAccount).where(UserAccount.username == username.strip().lower()))
    if user is None:
        raise NotFound()
    return user


def create_user(session: Session, principal: Principal, data: UserCreate, *, is_demo: bool = False,
                password_hash: str | None = None) -> UserAccount:
    """Create an account (administrators): username, password policy and role binding are checked."""
    require(principal, MANAGE_ACCOUNTS)
    username = data.username.strip().lower()
    errors: list[FieldError] = []
    if not USERNAME_RE.match(username):
        errors.append(FieldError("username", N_("3 to 64 characters: lower-case letters, digits, '.', '_' or '-'."),
                                 value=data.username))
    elif session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is not None:
        errors.append(FieldError("username", N_("This username is taken."), value=data.username))
    if password_hash is None:
        errors += password_problems(data.password, username)
    errors += binding_problems(session, data.role, data.organisation_id, data.person_id, data.district)
    if errors:
        raise ValidationFailed(errors=errors)
    user = UserAccount(
        username=username, display_name=data.display_name.strip(),
        password_hash=password_hash or hash_password(data.password), role=data.role.value,
        organisation_id=data.organisation_id, person_id=data.person_id, district=data.district,
        language=data.language, is_active=True, is_demo=is_demo, failed_login_count=0, created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(session, principal, "accounts.user.create", "user_account", user.id, after=_user_snapshot(user))
    return user


_USER_SORT = SortSpec({"username": UserAccount.username, "role": UserAccount.role,
                       "created_at": UserAccount.created_at, "last_login_at": UserAccount.last_login_at},
                      default="username")


def list_users(session: Session, principal: Principal, params: PageParams, role: str | None = None,
               active: bool | None = None) -> Page[UserRead]:
    """Accounts, paginated (administrators); ``q`` searches username and display name."""
    require(principal, MANAGE_ACCOUNTS)
    stmt = select(UserAccount)
    if role:
        stmt = stmt.where(UserAccount.role == role)
    if active is not None:
        stmt = stmt.where(UserAccount.is_active.is_(active))
    if params.q:
        like = f"%{params.q.strip().lower()}%"
        stmt = stmt.where(func.lower(UserAccount.username).like(like) | UserAccount.display_name.like(
            f"%{params.q.strip()}%"))
    rows, total = paginate(session, stmt, params, _USER_SORT, UserAccount.id)
    return Page[UserRead](items=[UserRead.model_validate(u) for u in rows], total=total, page=params.page,
                          per_page=params.per_page)


def _revoke_credentials(session: Session, user_id: int) -> None:
    now = utcnow()
    session.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
                    .values(revoked_at=now))
    session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def disable_user(session: Session, principal: Principal, user_id: int) -> UserAccount:
    """Disable an account and revoke its sessions and tokens (administrators; not oneself)."""
    require(principal, MANAGE_ACCOUNTS)
    user = get_user(session, principal, user_id)
    if principal.user_id == user.id:
        raise Conflict(N_("You cannot disable your own account."))
    before = _user_snapshot(user)
    user.is_active = False
    _revoke_credentials(session, user.id)
    session.flush()
    audit.record(session, principal, "accounts.user.disable", "user_account", user.id, before=before,
                 after=_user_snapshot(user))
    return user


def enable_user(session: Session, principal: Principal, user_id: int) -> UserAccount:
    """Re-enable a disabled account (administrators)."""
    require(principal, MANAGE_ACCOUNTS)
    user = get_user(session, principal, user_id)
    before = _user_snapshot(user)
    user.is_active = True
    user.failed_login_count = 0
    user.locked_until = None
    session.flush()
    audit.record(session, principal, "accounts.user.enable", "user_account", user.id, before=before,
                 after=_user_snapshot(user))
    return user


def set_role(session: Session, principal: Principal, user_id: int, data: RoleUpdate) -> UserAccount:
    """Change an account's role and binding (administrators; not their own role)."""
    require(principal, MANAGE_ACCOUNTS)
    user = get_user(session, principal, user_id)
    if principal.user_id == user.id:
        raise Conflict(N_("You cannot change your own role."))
    errors = binding_problems(session, data.role, data.organisation_id, data.person_id, data.district)
    if errors:
        raise ValidationFailed(errors=errors)
    before = _user_snapshot(user)
    user.role = data.role.value
    user.organisation_id, user.person_id, user.district = data.organisation_id, data.person_id, data.district
    session.flush()
    audit.record(session, principal, "accounts.user.set_role", "user_account", user.id, before=before,
                 after=_user_snapshot(user))
    return user


def set_password(session: Session, principal: Principal, user_id: int, new_password: str,
                 current_password: str | None = None) -> UserAccount:
    """Set a password: one's own (with the current one) or, for administrators, anyone's. All its sessions end."""
    if principal.user_id == user_id:
        require(principal, OWN_ACCOUNT)
    else:
        require(principal, MANAGE_ACCOUNTS)
    user = get_user(session, principal, user_id)
    if principal.user_id == user_id and not verify_password(user.password_hash, current_password or ""):
        raise ValidationFailed(errors=[FieldError("current_password", N_("The current password is wrong."))])
    errors = password_problems(new_password, user.username)
    if errors:
        raise ValidationFailed(errors=[FieldError("new_password", e.reason, e.params) for e in errors])
    user.password_hash = hash_password(new_password)
    session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))
    session.flush()
    audit.record(session, principal, "accounts.user.set_password", "user_account", user.id,
                 after={"password": "changed"})
    return user


def set_language(session: Session, principal: Principal, language: str) -> UserAccount:
    """Remember the caller's UI language (``zh`` or ``en``)."""
    require(principal, OWN_ACCOUNT)
    if language not in ("zh", "en"):
        raise ValidationFailed(errors=[FieldError("language", N_("Choose zh or en."), value=language)])
    if principal.user_id is None:
        raise NotFound()
    user = get_user(session, principal, principal.user_id)
    before = {"language": user.language}
    user.language = language
    session.flush()
    audit.record(session, principal, "accounts.user.set_language", "user_account", user.id, before=before,
                 after={"language": language})
    return user


# ---------------------------------------------------------------- log-in
def _failures_since(session: Session, since: datetime, *, username: str | None = None,
                    client_addr: str | None = None) -> int:
    stmt = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at >= since,
                                                                LoginAttempt.success.is_(False))
    if username is not None:
        stmt = stmt.where(LoginAttempt.username == username)
    if client_addr is not None:
        stmt = stmt.where(LoginAttempt.client_addr == client_addr)
    return int(session.scalar(stmt) or 0)


def _record_attempt(session: Session, username: str, client_addr: str | None, success: bool) -> None:
    session.add(LoginAttempt(at=utcnow(), username=username[:64], client_addr=client_addr, success=success))
    session.flush()


def authenticate(session: Session, username: str, password: str, client_addr: str | None) -> UserAccount:
    """The account for these credentials. Refuses with ``TooManyRequests`` after 5 failures for an account or
    20 from one address within 15 minutes, and with the same ``LoginFailed`` for unknown users and wrong
    passwords (timing equalised by a dummy argon2 verification)."""
    name = (username or "").strip().lower()[:64]
    now = utcnow()
    window_start = now - THROTTLE_WINDOW
    last_success = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == name, LoginAttempt.success.is_(True), LoginAttempt.at >= window_start))
    account_since = max(window_start, _aware(last_success)) if last_success else window_start
    if _failures_since(session, account_since, username=name) >= MAX_FAILURES_PER_ACCOUNT:
        raise _throttled()
    if client_addr and _failures_since(session, window_start, client_addr=client_addr) >= MAX_FAILURES_PER_ADDRESS:
        raise _throttled()

    user = session.scalar(select(UserAccount).where(UserAccount.username == name))
    if user is None:
        verify_password(_dummy_hash(), password)  # same work as for a real account
        _record_attempt(session, name, client_addr, False)
        raise LoginFailed()
    if not verify_password(user.password_hash, password):
        user.failed_login_count = (user.failed_login_count or 0) + 1
        if _failures_since(session, account_since, username=name) + 1 >= MAX_FAILURES_PER_ACCOUNT:
            user.locked_until = now + THROTTLE_WINDOW
        _record_attempt(session, name, client_addr, False)
        raise LoginFailed()
    if not user.is_active:
        _record_attempt(session, name, client_addr, False)
        raise LoginFailed(N_("This account is disabled. Ask an administrator."))
    if user.is_demo and not settings.demo_mode:
        _record_attempt(session, name, client_addr, False)
        raise LoginFailed(N_("Demo log-ins only work when the server runs in demo mode."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    _record_attempt(session, name, client_addr, True)
    return user


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives naive UTC


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class StartedSession:
    """A new browser session: put ``token`` in the cookie, ``csrf_token`` in forms."""

    token: str
    csrf_token: str
    expires_at: datetime
    login_session: LoginSession


def start_session(session: Session, user: UserAccount, client_addr: str | None) -> StartedSession:
    """Open a server-side session for ``user``; the token is returned once (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = LoginSession(user_id=user.id, token_hash=_sha256(token), created_at=now, expires_at=now + SESSION_LIFETIME,
                       last_seen_at=now, client_addr=client_addr, csrf_token=csrf_token_for(token))
    session.add(row)
    session.flush()
    return StartedSession(token, row.csrf_token, row.expires_at, row)


def login(session: Session, username: str, password: str, client_addr: str | None,
          request_id: str | None = None) -> tuple[UserAccount, StartedSession]:
    """``authenticate`` + ``start_session`` + an audit entry: what the log-in API and page call."""
    user = authenticate(session, username, password, client_addr)
    started = start_session(session, user, client_addr)
    audit.record(session, principal_for(user, request_id, client_addr), "accounts.login", "user_account", user.id,
                 after={"session_id": started.login_session.id})
    return user, started


def _usable(user: UserAccount | None) -> bool:
    return user is not None and user.is_active and (not user.is_demo or settings.demo_mode)


def _touch(session: Session, model: type[LoginSession] | type[ApiToken], row_id: int, column: str,
           now: datetime) -> None:
    """Best-effort "last seen / last used" stamp: a conditional UPDATE in a savepoint that is skipped when the
    database is busy (SQLite refuses a read transaction's upgrade to a writer while another request commits;
    a missed stamp is harmless, a failed page is not). Concurrent requests write it at most once."""
    col = getattr(model, column)
    try:
        with session.begin_nested():
            session.execute(update(model).where(model.id == row_id, (col.is_(None)) | (col <= now - TOUCH_EVERY))
                            .values({column: now}).execution_options(synchronize_session=False))
    except OperationalError:
        return
    obj = session.get(model, row_id)
    if obj is not None:
        set_committed_value(obj, column, now)


def resolve_session(session: Session, token: str) -> tuple[LoginSession, UserAccount] | None:
    """The live session and its user for a cookie token, or ``None`` (unknown, expired, idle, revoked)."""
    if not token or len(token) > 256:
        return None
    found = session.execute(select(LoginSession, UserAccount).join(UserAccount, UserAccount.id == LoginSession.user_id)
                            .where(LoginSession.token_hash == _sha256(token))).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.revoked_at is not None or _aware(row.expires_at) <= now or _aware(row.last_seen_at) + SESSION_IDLE <= now:
        return None
    if not _usable(user):
        return None
    if _aware(row.last_seen_at) + TOUCH_EVERY <= now:
        _touch(session, LoginSession, row.id, "last_seen_at", now)
    return row, user


def end_session(session: Session, token: str, principal: Principal | None = None) -> bool:
    """Revoke the session of ``token``; True if there was a live one."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _sha256(token or "")))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    actor = principal or Principal(role=Role.SYSTEM, username="system")
    audit.record(session, actor, "accounts.logout", "user_account", row.user_id, after={"session_id": row.id})
    return True


def principal_for(user: UserAccount, request_id: str | None = None, client_addr: str | None = None,
                  scopes: frozenset[str] = frozenset()) -> Principal:
    """The ``Principal`` acting for ``user`` (bindings from the account, optional token scopes)."""
    return Principal(role=Role(user.role), user_id=user.id, username=user.username,
                     organisation_id=user.organisation_id, person_id=user.person_id, district=user.district,
                     scopes=scopes, request_id=request_id, client_addr=client_addr)


def principal_for_session_token(session: Session, token: str, request_id: str | None = None,
                                client_addr: str | None = None) -> Principal | None:
    """The principal of a session cookie token, or ``None``."""
    found = resolve_session(session, token)
    return None if found is None else principal_for(found[1], request_id, client_addr)


# ---------------------------------------------------------------- API tokens
def _load_permissions() -> None:
    from kechuang.app import DOMAINS

    for domain in DOMAINS:  # every domain's api imports the modules that declare its permissions
        try:
            importlib.import_module(f"kechuang.{domain}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"kechuang.{domain}.api":
                raise


def scope_problems(role: Role, scopes: list[str]) -> list[FieldError]:
    """Scopes must be permission names or ``<domain>.*`` that the role holds."""
    _load_permissions()
    errors: list[FieldError] = []
    for i, scope in enumerate(scopes):
        if scope.endswith(".*"):
            domain = scope[:-2]
            held = [p for p in REGISTERED.values() if p.name.split(".", 1)[0] == domain and role in p.roles]
            known = any(p.name.split(".", 1)[0] == domain for p in REGISTERED.values())
        else:
            perm = REGISTERED.get(scope)
            known = perm is not None
            held = [perm] if perm is not None and role in perm.roles else []
        if not known:
            errors.append(FieldError(f"scopes.{i}", N_("Unknown scope '{scope}'."), {"scope": scope}, value=scope))
        elif not held:
            errors.append(FieldError(f"scopes.{i}", N_("Your role does not hold '{scope}'."), {"scope": scope},
                                     value=scope))
    return errors


def create_token(session: Session, principal: Principal, name: str, scopes: list[str],
                 expires_in_days: int = 90) -> tuple[ApiToken, str]:
    """Create an API token for the caller; returns the row and the plaintext ``kc_...`` (shown once only)."""
    require(principal, OWN_ACCOUNT)
    if principal.user_id is None:
        raise NotFound()
    clean = list(dict.fromkeys(s.strip() for s in scopes if s and s.strip()))
    errors = scope_problems(principal.role, clean)
    if not clean:
        errors.append(FieldError("scopes", N_("Give at least one scope.")))
    if not name.strip():
        errors.append(FieldError("name", N_("Give the token a name.")))
    if not 1 <= expires_in_days <= 365:
        errors.append(FieldError("expires_in_days", N_("Between 1 and 365 days."), value=expires_in_days))
    if errors:
        raise ValidationFailed(errors=errors)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=principal.user_id, name=name.strip()[:80], token_prefix=plaintext[:8],
                   token_hash=_sha256(plaintext), scopes=clean, created_at=now,
                   expires_at=now + timedelta(days=expires_in_days))
    session.add(row)
    session.flush()
    audit.record(session, principal, "accounts.token.create", "api_token", row.id,
                 after={"name": row.name, "prefix": row.token_prefix, "scopes": clean,
                        "expires_at": row.expires_at})
    return row, plaintext


def list_tokens(session: Session, principal: Principal, user_id: int | None = None) -> list[TokenRead]:
    """The caller's tokens (administrators: any user's), newest first, with last use."""
    target = principal.user_id if user_id is None else user_id
    if target != principal.user_id:
        require(principal, MANAGE_ACCOUNTS)
    else:
        require(principal, OWN_ACCOUNT)
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == target).order_by(ApiToken.id.desc())).all()
    return [TokenRead.model_validate(r) for r in rows]


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    """Revoke a token: one's own, or any for administrators; the same 404 for missing and forbidden."""
    require(principal, OWN_ACCOUNT)
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != principal.user_id and not MANAGE_ACCOUNTS.allows(principal)):
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, principal, "accounts.token.revoke", "api_token", row.id,
                     after={"name": row.name, "prefix": row.token_prefix})
    return row


def principal_for_token(session: Session, plaintext: str, request_id: str | None = None,
                        client_addr: str | None = None) -> Principal | None:
    """The principal of a Bearer token (its scopes limit the role), or ``None`` if unknown, expired or
    revoked. Records the last use at most once a minute."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 256:
        return None
    found = session.execute(select(ApiToken, UserAccount).join(UserAccount, UserAccount.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == _sha256(plaintext))).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and _aware(row.expires_at) <= now):
        return None
    if not _usable(user):
        return None
    if row.last_used_at is None or _aware(row.last_used_at) + TOUCH_EVERY <= now:
        _touch(session, ApiToken, row.id, "last_used_at", now)
    return principal_for(user, request_id, client_addr, frozenset(row.scopes or []))  # type: ignore[arg-type]


# ---------------------------------------------------------------- housekeeping
def purge_stale(session: Session, principal: Principal, older_than: timedelta = timedelta(days=30), *,
                execute: bool = False) -> dict[str, int]:
    """Count (and with ``execute`` delete) log-in attempts and ended sessions older than ``older_than``."""
    require(principal, MANAGE_ACCOUNTS)
    cutoff = utcnow() - older_than
    attempts = LoginAttempt.at < cutoff
    sessions = (LoginSession.expires_at < cutoff) | (LoginSession.revoked_at < cutoff)
    counts = {
        "login_attempt": int(session.scalar(select(func.count()).select_from(LoginAttempt).where(attempts)) or 0),
        "login_session": int(session.scalar(select(func.count()).select_from(LoginSession).where(sessions)) or 0),
    }
    if execute and any(counts.values()):
        session.execute(delete(LoginAttempt).where(attempts))
        session.execute(delete(LoginSession).where(sessions))
        session.flush()
        audit.record(session, principal, "accounts.purge", "login_session", None,
                     after={**counts, "cutoff": cutoff})
    return counts
