"""Accounts, authentication and audit-log JSON API (thin: every rule is in ``service`` / ``audit_service``).

No route edits or deletes audit entries.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kechuang.accounts import audit_service, service
from kechuang.accounts.schemas import (
    AuditEntryRead,
    DayCheck,
    LanguageIn,
    LoginIn,
    LoginOut,
    MeOut,
    PasswordChange,
    ProofOut,
    RoleUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    VerifyOut,
)
from kechuang.config import settings
from kechuang.core.auth import Principal
from kechuang.core.deps import CurrentPrincipal, DbSession, client_addr, requires
from kechuang.core.errors import NotFound
from kechuang.core.pagination import Page, PageParams
from kechuang.core.web_security import SESSION_COOKIE, clear_session_cookie, set_session_cookie

auth_router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])
accounts_router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

ManageAccounts = Annotated[Principal, Depends(requires(service.MANAGE_ACCOUNTS))]
OwnAccount = Annotated[Principal, Depends(requires(service.OWN_ACCOUNT))]
AuditRead = Annotated[Principal, Depends(requires(audit_service.READ_AUDIT))]
AuditVerify = Annotated[Principal, Depends(requires(audit_service.VERIFY_AUDIT))]


def _set_lang_cookie(response: Response, language: str) -> None:
    response.set_cookie("lang", language, max_age=365 * 86400, path="/", samesite="lax",
                        secure=settings.cookie_secure)


# ---------------------------------------------------------------- authentication
@auth_router.post("/login", response_model=LoginOut)
def login(session: DbSession, request: Request, response: Response, body: LoginIn):
    """Log in with username and password (public). Sets the HTTP-only session cookie; returns the user and
    the CSRF token for cookie-authenticated writes. Repeated failures are throttled (429)."""
    user, started = service.login(session, body.username, body.password, client_addr(request),
                                  getattr(request.state, "request_id", None))
    set_session_cookie(response, started.token, started.expires_at)
    _set_lang_cookie(response, user.language)
    return LoginOut(user=UserRead.model_validate(user), csrf_token=started.csrf_token, expires_at=started.expires_at)


@auth_router.post("/logout", status_code=204)
def logout(session: DbSession, request: Request, response: Response):
    """End the browser session (public; does nothing without one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = service.resolve_session(session, token)
        actor = service.principal_for(found[1], getattr(request.state, "request_id", None),
                                      client_addr(request)) if found else None
        service.end_session(session, token, actor)
    clear_session_cookie(response)
    response.status_code = 204
    return response


@auth_router.get("/me", response_model=MeOut)
def me(session: DbSession, request: Request, principal: CurrentPrincipal):
    """The caller: account, role and token scopes."""
    user = service.get_user(session, principal, principal.user_id) if principal.user_id else None
    return MeOut(user=UserRead.model_validate(user) if user else None, role=principal.role.value,
                 scopes=sorted(principal.scopes), csrf_token=getattr(request.state, "csrf_token", None))


# ---------------------------------------------------------------- accounts (administrators)
@accounts_router.get("/users", response_model=Page[UserRead])
def list_users(session: DbSession, principal: ManageAccounts, params: Annotated[PageParams, Query()],
               role: str | None = None, active: bool | None = None):
    """Accounts (administrators): ``q`` searches username and display name; filters role, active."""
    return service.list_users(session, principal, params, role, active)


@accounts_router.post("/users", response_model=UserRead, status_code=201)
def create_user(session: DbSession, principal: ManageAccounts, body: UserCreate):
    """Create an account with its role binding (administrators). The password must follow the policy."""
    return service.create_user(session, principal, body)


@accounts_router.get("/users/{user_id}", response_model=UserRead)
def get_user(session: DbSession, principal: ManageAccounts, user_id: int):
    """One account (administrators)."""
    return service.get_user(session, principal, user_id)


@accounts_router.post("/users/{user_id}/disable", response_model=UserRead)
def disable_user(session: DbSession, principal: ManageAccounts, user_id: int):
    """Disable an account and revoke its sessions and tokens (administrators)."""
    return service.disable_user(session, principal, user_id)


@accounts_router.post("/users/{user_id}/enable", response_model=UserRead)
def enable_user(session: DbSession, principal: ManageAccounts, user_id: int):
    """Re-enable an account (administrators)."""
    return service.enable_user(session, principal, user_id)


@accounts_router.put("/users/{user_id}/role", response_model=UserRead)
def set_role(session: DbSession, principal: ManageAccounts, user_id: int, body: RoleUpdate):
    """Change an account's role and binding (administrators)."""
    return service.set_role(session, principal, user_id, body)


# ---------------------------------------------------------------- own account
@accounts_router.put("/me/language", response_model=UserRead)
def set_language(session: DbSession, principal: OwnAccount, response: Response, body: LanguageIn):
    """Remember the caller's UI language (also sets the ``lang`` cookie)."""
    user = service.set_language(session, principal, body.language)
    _set_lang_cookie(response, user.language)
    return user


@accounts_router.put("/me/password", status_code=204)
def change_password(session: DbSession, principal: OwnAccount, body: PasswordChange):
    """Change one's own password (every browser session of the account ends: log in again)."""
    if principal.user_id is None:
        raise NotFound()
    service.set_password(session, principal, principal.user_id, body.new_password, body.current_password)
    return Response(status_code=204)


@accounts_router.get("/tokens", response_model=list[TokenRead])
def list_tokens(session: DbSession, principal: OwnAccount, user_id: int | None = None):
    """The caller's API tokens with last use (administrators: ``user_id`` for anyone's)."""
    return service.list_tokens(session, principal, user_id)


@accounts_router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(session: DbSession, principal: OwnAccount, body: TokenCreate):
    """Create an API token; the plaintext ``token`` is in this answer only and never shown again."""
    row, plaintext = service.create_token(session, principal, body.name, body.scopes, body.expires_in_days)
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=plaintext)


@accounts_router.post("/tokens/{token_id}/revoke", response_model=TokenRead)
def revoke_token(session: DbSession, principal: OwnAccount, token_id: int):
    """Revoke an API token (one's own; administrators any)."""
    return service.revoke_token(session, principal, token_id)


# ---------------------------------------------------------------- audit log (read-only)
@audit_router.get("/entries", response_model=Page[AuditEntryRead])
def list_entries(session: DbSession, principal: AuditRead, params: Annotated[PageParams, Query()],
                 action: str | None = None, object_type: str | None = None, object_id: str | None = None,
                 actor: str | None = None, since: date | None = None, until: date | None = None):
    """Audit entries (auditors, commission officers), newest first; filters action, object, actor and
    ``since`` / ``until`` (UTC days, inclusive)."""
    return audit_service.list_entries(session, principal, params, audit_service.AuditFilters(
        action, object_type, object_id, actor, since, until))


@audit_router.get("/entries/{entry_id}", response_model=AuditEntryRead)
def get_entry(session: DbSession, principal: AuditRead, entry_id: int):
    """One audit entry."""
    return audit_service.get_entry(session, principal, entry_id)


@audit_router.post("/verify", response_model=VerifyOut)
def verify(session: DbSession, principal: AuditVerify):
    """Recompute the hash chain and the sealed daily Merkle roots (auditors)."""
    report = audit_service.verify(session, principal)
    return VerifyOut(ok=report.ok, checked=report.checked, first_bad_id=report.first_bad_id,
                     problem=report.problem, message=report.message(),
                     days=[DayCheck(day_date=d.day_date, entry_count=d.entry_count, ok=d.ok) for d in report.days])


@audit_router.get("/proof/{entry_id}", response_model=ProofOut)
def proof(session: DbSession, principal: AuditRead, entry_id: int):
    """RFC 6962 inclusion proof of an entry in its UTC day's Merkle tree."""
    p = audit_service.inclusion_proof(session, principal, entry_id)
    return ProofOut(entry_id=p.entry_id, entry_hash=p.entry_hash, day_date=p.day_date, leaf_index=p.leaf_index,
                    tree_size=p.tree_size, path=p.path, root_hash=p.root_hash, sealed=p.sealed, verified=p.verified)


router = APIRouter()
router.include_router(auth_router)
router.include_router(accounts_router)
router.include_router(audit_router)

