"""FastAPI dependencies shared by every domain: the request's session (commit at the edge) and the
authenticated principal. Domains build their permission dependencies with ``requires()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal
from kechuang.core.errors import NotAuthenticated
from kechuang.core.permissions import Permission, require
from kechuang.db import session_scope


def get_session() -> Iterator[Session]:
    """One session per request: committed when the handler returns, rolled back if it raises."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def get_optional_principal(request: Request) -> Principal | None:
    """The principal set by the authentication middleware, or ``None``."""
    return getattr(request.state, "principal", None)


def get_principal(principal: Annotated[Principal | None, Depends(get_optional_principal)]) -> Principal:
    """The authenticated principal; 401 otherwise."""
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def requires(perm: Permission):
    """A dependency that yields the principal if it holds ``perm`` (route guard, listed by tests)."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        require(principal, perm)
        return principal

    dependency.__kechuang_permission__ = perm  # type: ignore[attr-defined]
    return dependency
