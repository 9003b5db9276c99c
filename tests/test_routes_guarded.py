"""Every route is guarded (``core.deps.requires`` or ``get_principal``) or public by intent (GUIDE habit 5)."""

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from kechuang.app import create_app
from kechuang.core.deps import PUBLIC_ROUTES, get_principal


def _guards(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dep in dependant.dependencies:
        perm = getattr(dep.call, "__kechuang_permission__", None)
        if perm is not None:
            found.append(perm.name)
        elif dep.call is get_principal:
            found.append("authenticated")
        else:
            found += _guards(dep)
    return found


def route_guards() -> dict[str, list[str]]:
    """``"METHOD /path"`` → the guards found on the route's dependency tree."""
    table: dict[str, list[str]] = {}
    for ctx in iter_route_contexts(create_app().routes):
        if not isinstance(ctx.original_route, APIRoute):
            continue
        for method in sorted(ctx.methods or []):
            table[f"{method} {ctx.path}"] = _guards(ctx.dependant)
    return table


def test_every_route_is_guarded_or_public_by_intent():
    table = route_guards()
    assert len(table) > 10
    unguarded = sorted(k for k, guards in table.items() if not guards and k.split(" ", 1)[1] not in PUBLIC_ROUTES)
    assert unguarded == [], "routes without a guard (add requires(...) or list them in core.deps.PUBLIC_ROUTES):\n" \
        + "\n".join(unguarded)


def test_known_guards_are_found():
    table = route_guards()
    assert table["GET /api/v1/registry/organisations"] == ["registry.read"]
    assert table["POST /api/v1/accounts/users"] == ["accounts.manage"]
    assert table["POST /api/v1/audit/verify"] == ["audit.verify"]
    assert table["GET /api/v1/auth/me"] == ["authenticated"]
    assert table["POST /api/v1/auth/login"] == []


def test_no_route_edits_or_deletes_audit_entries():
    for key in route_guards():
        method, path = key.split(" ", 1)
        if path.startswith("/api/v1/audit"):
            assert method in ("GET", "POST"), key
            assert method == "GET" or path == "/api/v1/audit/verify", key
