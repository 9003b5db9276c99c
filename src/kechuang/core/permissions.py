"""Declared permissions (GUIDE habit 5): each domain declares its ``Permission`` objects with the roles
that hold them; services call ``require()``; APIs wrap them in dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from kechuang.core.auth import Principal, Role
from kechuang.core.errors import PermissionDenied

REGISTERED: dict[str, Permission] = {}


@dataclass(frozen=True)
class Permission:
    """A named capability and the roles that hold it. ``Role.SYSTEM`` holds every permission."""

    name: str
    roles: frozenset[Role]

    def __post_init__(self) -> None:
        REGISTERED[self.name] = self

    def allows(self, principal: Principal) -> bool:
        """Whether ``principal``'s role (and token scopes, if any) grant this permission."""
        if principal.role is Role.SYSTEM:
            return True
        if principal.role not in self.roles:
            return False
        if principal.scopes:
            domain = self.name.split(".", 1)[0]
            return self.name in principal.scopes or f"{domain}.*" in principal.scopes
        return True


def permission(name: str, *roles: Role) -> Permission:
    """Declare a permission held by ``roles``."""
    return Permission(name, frozenset(roles))


def require(principal: Principal, perm: Permission) -> None:
    """Raise ``PermissionDenied`` unless ``principal`` holds ``perm``."""
    if not perm.allows(principal):
        raise PermissionDenied()


def has(principal: Principal, perm: Permission) -> bool:
    """Whether ``principal`` holds ``perm``."""
    return perm.allows(principal)
