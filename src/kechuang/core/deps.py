"""FastAPI dependencies shared by every domain: the request's session (commit at the edge) and the
authenticated principal. Domains build their permission dependencies with ``requires()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal
from kechuang.core.errors import NotAuthenticated
from kechuang.core.i18n import N_
from kechuang.core.permissions import Permission, require
from kechuang.core.web_security import SESSION_COOKIE
from kechuang.db import session_factory

# Routes that are public by intent (path templates). ``tests/test_routes_guarded.py`` fails on any other
# route without a ``requires()`` guard or ``get_principal``. Pages add their public paths here.
PUBLIC_ROUTES: set[str] = {
    "/",
    "/healthz",
    "/api/docs",
    "/api/openapi.json",
    "/docs/oauth2-redirect",
    "/static",
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    "/login",  # log-in page and form
    "/logout",
    "/lang/{code}",  # language switch (anonymous too)
}


def get_session() -> Iterator[Session]:
    """One session per request: committed when the handler returns, rolled back if it raises — except for
    errors marked ``keep_writes`` (a failed log-in must still count), which commit what was flushed."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if getattr(exc, "keep_writes", False):
            session.commit()
        else:
            session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent. With the default ("request") FastAPI ends the
# dependency after sending, so a client could be told "done" before the commit (and its next request, e.g.
# the page after the log-in redirect, would not see the write yet) and a failed commit would go unreported.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def client_addr(request: Request) -> str | None:
    """The client's address as the server sees it."""
    return request.client.host if request.client else None


# Declared for OpenAPI ("Authorize" in /api/docs); both are optional, the dependency below decides.
_bearer = HTTPBearer(auto_error=False, scheme_name="api_token",
                     description="API token `kc_...` created under /api/v1/accounts/tokens (scoped, expiring).")
_session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session_cookie",
                               description="Browser session set by POST /api/v1/auth/login; writes also need "
                               "the X-CSRF-Token header.")


def get_optional_principal(
    request: Request,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    cookie: Annotated[str | None, Depends(_session_cookie)] = None,
) -> Principal | None:
    """Who is calling: an API token (``Authorization: Bearer kc_...``, limited to its scopes), else the
    session cookie ``kechuang_session``, else ``None``. An invalid Bearer token is refused with 401."""
    from kechuang.accounts import service as accounts  # domain module; imported late to keep core importable

    request_id = getattr(request.state, "request_id", None)
    addr = client_addr(request)
    if bearer is not None and bearer.credentials.strip():
        principal = accounts.principal_for_token(session, bearer.credentials.strip(), request_id, addr)
        if principal is None:
            raise NotAuthenticated(N_("The API token is not valid, has expired or was revoked."))
        return principal
    token = cookie
    if token:
        principal = accounts.principal_for_session_token(session, token, request_id, addr)
        if principal is not None:
            return principal
    return getattr(request.state, "principal", None)


def get_principal(principal: Annotated[Principal | None, Depends(get_optional_principal)]) -> Principal:
    """The authenticated principal; 401 otherwise."""
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def requires(perm: Permission):
    """A dependency that yields the principal if it holds ``perm`` (route guard, listed by tests)."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        require(principal, perm)
        return principal

    dependency.__kechuang_permission__ = perm  # type: ignore[attr-defined]
    return dependency
