"""Accounts and audit pages (thin): log-in/out, users (administrators), own API tokens, audit log viewer.
Templates: ``templates/accounts/``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import Response

from kechuang.accounts import audit_service
from kechuang.accounts import service as accounts
from kechuang.accounts.schemas import RoleUpdate, UserCreate
from kechuang.config import settings
from kechuang.core.auth import ROLE_LABELS, Principal, Role
from kechuang.core.deps import DbSession, OptionalPrincipal, client_addr, requires
from kechuang.core.errors import AppError, FieldError, TooManyRequests, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import PageParams
from kechuang.core.permissions import REGISTERED, has
from kechuang.core.web_security import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from kechuang.registry import reference as ref
from kechuang.web.pageutil import field_errors, pages_router, redirect, safe_next
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router()

ManageAccounts = Annotated[Principal, Depends(requires(accounts.MANAGE_ACCOUNTS))]
OwnAccount = Annotated[Principal, Depends(requires(accounts.OWN_ACCOUNT))]
AuditRead = Annotated[Principal, Depends(requires(audit_service.READ_AUDIT))]
AuditVerify = Annotated[Principal, Depends(requires(audit_service.VERIFY_AUDIT))]

register_nav(NavItem("accounts", N_("Accounts"), "/accounts", accounts.MANAGE_ACCOUNTS, order=40))
register_nav(NavItem("audit", N_("Audit log"), "/audit", audit_service.READ_AUDIT, order=41))

ASSIGNABLE_ROLES = [r for r in Role if r is not Role.SYSTEM]


# ---------------------------------------------------------------- log-in / log-out
@router.get("/login")
def login_form(request: Request, principal: OptionalPrincipal, next: str | None = None):
    """The log-in form (already logged in: go on)."""
    if principal is not None:
        return redirect(safe_next(next))
    return render(request, "accounts/login.html", {"title": N_("Log in"), "values": {"next": next or ""},
                                                   "demo_mode": settings.demo_mode})


@router.post("/login")
def login_submit(request: Request, session: DbSession, username: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""):
    """Check the credentials; one message for unknown user and wrong password; throttled after failures."""
    values = {"username": username, "next": next}
    try:
        user, started = accounts.login(session, username, password, client_addr(request),
                                       getattr(request.state, "request_id", None))
    except TooManyRequests as exc:
        return render(request, "accounts/login.html", {"title": N_("Log in"), "values": values,
                                                       "error": exc.render_message(), "throttled": True,
                                                       "demo_mode": settings.demo_mode}, status_code=429)
    except accounts.LoginFailed as exc:  # the failed attempt is committed: the handler returns normally
        return render(request, "accounts/login.html", {"title": N_("Log in"), "values": values,
                                                       "error": exc.render_message(),
                                                       "demo_mode": settings.demo_mode}, status_code=401)
    response = redirect(safe_next(next))
    set_session_cookie(response, started.token, started.expires_at)
    response.set_cookie("lang", user.language, max_age=365 * 24 * 3600, samesite="lax", httponly=True,
                        secure=settings.cookie_secure)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, principal: OptionalPrincipal):
    """End the browser session and return to the log-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(session, token, principal)
    response = redirect("/login")
    clear_session_cookie(response)
    return response


# ---------------------------------------------------------------- users (administrators)
def _role_options() -> list[tuple[str, str]]:
    return [(r.value, gettext(ROLE_LABELS[r])) for r in ASSIGNABLE_ROLES]


def _district_options() -> list[tuple[str, str]]:
    return [(d, d) for d in ref.DISTRICTS]


def _int_or_none(value: str | None, field: str, errors: list[FieldError]) -> int | None:
    if value is None or not str(value).strip():
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        errors.append(FieldError(field, N_("Enter a whole number."), value=value))
        return None


@router.get("/accounts")
def users(request: Request, session: DbSession, principal: ManageAccounts,
          params: Annotated[PageParams, Query()], role: str | None = None):
    """Accounts list with search, role filter and the create form."""
    return _users_page(request, session, principal, params, role)


def _users_page(request: Request, session: DbSession, principal: Principal, params: PageParams,
                role: str | None, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                status_code: int = 200, flashes: list | None = None) -> Response:
    page = accounts.list_users(session, principal, params, role=role or None)
    return render(request, "accounts/users.html", {
        "title": N_("Accounts"), "active_nav": "accounts", "page": page, "params": params,
        "filter_values": {**request.query_params}, "values": values or {"language": "zh"},
        "errors": errors or {}, "role_options": _role_options(), "district_options": _district_options(),
        "flashes": flashes or [],
    }, status_code=status_code, principal=principal)


@router.post("/accounts")
def create_user(request: Request, session: DbSession, principal: ManageAccounts,
                username: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
                organisation_id: Annotated[str, Form()] = "", person_id: Annotated[str, Form()] = "",
                district: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "zh"):
    """Create an account; on a problem the form comes back with the values and the bad fields marked."""
    values = {"username": username, "display_name": display_name, "role": role, "organisation_id": organisation_id,
              "person_id": person_id, "district": district, "language": language}
    problems: list[FieldError] = []
    org_id = _int_or_none(organisation_id, "organisation_id", problems)
    person = _int_or_none(person_id, "person_id", problems)
    if role not in {r.value for r in ASSIGNABLE_ROLES}:
        problems.append(FieldError("role", N_("Choose a role.")))
    if not display_name.strip():
        problems.append(FieldError("display_name", N_("Enter a display name.")))
    try:
        if problems:
            raise ValidationFailed(errors=problems)
        data = UserCreate(username=username, display_name=display_name.strip(), password=password or "-",
                          role=Role(role), organisation_id=org_id, person_id=person, district=district or None,
                          language=language if language in ("zh", "en") else "zh")
        user = accounts.create_user(session, principal, data)
    except ValidationFailed as exc:
        return _users_page(request, session, principal, PageParams(), None, values, field_errors(exc), 422)
    except ValueError as exc:  # pydantic: lengths
        errors = {"username": [gettext(N_("Invalid value: {detail}"), detail=str(exc).splitlines()[0])]}
        return _users_page(request, session, principal, PageParams(), None, values, errors, 422)
    return redirect(f"/accounts/users/{user.id}?created=1")


@router.get("/accounts/users/{user_id}")
def user_detail(request: Request, session: DbSession, principal: ManageAccounts, user_id: int,
                created: int = 0):
    """One account: role and binding, enable/disable."""
    user = accounts.get_user(session, principal, user_id)
    flashes = [("success", gettext(N_("The account was created.")))] if created else []
    return _user_page(request, principal, user, flashes=flashes)


def _user_page(request: Request, principal: Principal, user: Any, values: dict | None = None,
               errors: dict | None = None, status_code: int = 200, flashes: list | None = None) -> Response:
    return render(request, "accounts/user.html", {
        "title": user.username, "active_nav": "accounts", "user": user,
        "values": values or {"role": user.role, "organisation_id": user.organisation_id or "",
                             "person_id": user.person_id or "", "district": user.district or ""},
        "errors": errors or {}, "role_options": _role_options(), "district_options": _district_options(),
        "flashes": flashes or [], "role_label": gettext(ROLE_LABELS.get(Role(user.role), user.role)),
    }, status_code=status_code, principal=principal)


@router.post("/accounts/users/{user_id}/role")
def set_role(request: Request, session: DbSession, principal: ManageAccounts, user_id: int,
             role: Annotated[str, Form()] = "", organisation_id: Annotated[str, Form()] = "",
             person_id: Annotated[str, Form()] = "", district: Annotated[str, Form()] = ""):
    """Change the role and its binding."""
    user = accounts.get_user(session, principal, user_id)
    values = {"role": role, "organisation_id": organisation_id, "person_id": person_id, "district": district}
    problems: list[FieldError] = []
    org_id = _int_or_none(organisation_id, "organisation_id", problems)
    person = _int_or_none(person_id, "person_id", problems)
    if role not in {r.value for r in ASSIGNABLE_ROLES}:
        problems.append(FieldError("role", N_("Choose a role.")))
    try:
        if problems:
            raise ValidationFailed(errors=problems)
        accounts.set_role(session, principal, user_id, RoleUpdate(role=Role(role), organisation_id=org_id,
                                                                  person_id=person, district=district or None))
    except ValidationFailed as exc:
        return _user_page(request, principal, user, values, field_errors(exc), 422)
    return redirect(f"/accounts/users/{user_id}")


@router.post("/accounts/users/{user_id}/disable")
def disable_user(session: DbSession, principal: ManageAccounts, user_id: int):
    """Disable an account (its sessions and tokens stop working)."""
    accounts.disable_user(session, principal, user_id)
    return redirect(f"/accounts/users/{user_id}")


@router.post("/accounts/users/{user_id}/enable")
def enable_user(session: DbSession, principal: ManageAccounts, user_id: int):
    """Enable an account again."""
    accounts.enable_user(session, principal, user_id)
    return redirect(f"/accounts/users/{user_id}")


# ---------------------------------------------------------------- own API tokens
def _scope_options(principal: Principal) -> list[str]:
    accounts._load_permissions()
    return sorted(p.name for p in REGISTERED.values() if principal.role in p.roles)


def _tokens_page(request: Request, session: DbSession, principal: Principal, *, new_token: str | None = None,
                 values: dict | None = None, errors: dict | None = None, status_code: int = 200) -> Response:
    return render(request, "accounts/tokens.html", {
        "title": N_("My API tokens"), "tokens": accounts.list_tokens(session, principal),
        "new_token": new_token, "values": values or {"expires_in_days": 90}, "errors": errors or {},
        "scope_options": _scope_options(principal),
    }, status_code=status_code, principal=principal)


@router.get("/accounts/tokens")
def tokens(request: Request, session: DbSession, principal: OwnAccount):
    """Own API tokens with last use; create and revoke."""
    return _tokens_page(request, session, principal)


@router.post("/accounts/tokens")
def create_token(request: Request, session: DbSession, principal: OwnAccount,
                 name: Annotated[str, Form()] = "", scopes: Annotated[list[str] | None, Form()] = None,
                 expires_in_days: Annotated[str, Form()] = "90"):
    """Create a token: its secret is shown on this page once."""
    values = {"name": name, "scopes": scopes or [], "expires_in_days": expires_in_days}
    problems: list[FieldError] = []
    days = _int_or_none(expires_in_days, "expires_in_days", problems) or 0
    try:
        if problems:
            raise ValidationFailed(errors=problems)
        _row, plaintext = accounts.create_token(session, principal, name, scopes or [], days)
    except ValidationFailed as exc:
        errors = field_errors(exc)
        for key in [k for k in errors if k.startswith("scopes.")]:
            errors.setdefault("scopes", []).extend(errors.pop(key))
        return _tokens_page(request, session, principal, values=values, errors=errors, status_code=422)
    return _tokens_page(request, session, principal, new_token=plaintext)


@router.post("/accounts/tokens/{token_id}/revoke")
def revoke_token(session: DbSession, principal: OwnAccount, token_id: int):
    """Revoke one of one's tokens."""
    accounts.revoke_token(session, principal, token_id)
    return redirect("/accounts/tokens")


# ---------------------------------------------------------------- audit log
def _audit_filters(action: str | None = None, object_type: str | None = None, object_id: str | None = None,
                   actor: str | None = None) -> audit_service.AuditFilters:
    return audit_service.AuditFilters(action or None, object_type or None, object_id or None, actor or None)


@router.get("/audit")
def audit_log(request: Request, session: DbSession, principal: AuditRead, params: Annotated[PageParams, Query()],
              filters: Annotated[audit_service.AuditFilters, Depends(_audit_filters)]):
    """Audit entries with filters; auditors can verify the chain."""
    page = audit_service.list_entries(session, principal, params, filters)
    template = "accounts/_audit_results.html" if request.headers.get("hx-request") else "accounts/audit.html"
    return render(request, template, {
        "title": N_("Audit log"), "active_nav": "audit", "page": page, "params": params,
        "values": {**request.query_params}, "may_verify": has(principal, audit_service.VERIFY_AUDIT),
    }, principal=principal)


@router.post("/audit/verify")
def audit_verify(request: Request, session: DbSession, principal: AuditVerify):
    """Recompute the hash chain and the sealed daily roots; show the result."""
    report = audit_service.verify(session, principal)
    return render(request, "accounts/audit_verify.html", {
        "title": N_("Verify the audit chain"), "active_nav": "audit", "report": report,
        "message": report.message(),
    }, principal=principal)


@router.get("/audit/entries/{entry_id}")
def audit_entry(request: Request, session: DbSession, principal: AuditRead, entry_id: int):
    """One entry with its before/after and its inclusion proof in the day's Merkle tree."""
    entry = audit_service.get_entry(session, principal, entry_id)
    try:
        proof = audit_service.inclusion_proof(session, principal, entry_id)
    except AppError:
        proof = None
    return render(request, "accounts/audit_entry.html", {
        "title": N_("Audit entry"), "active_nav": "audit", "entry": entry, "proof": proof,
    }, principal=principal)
