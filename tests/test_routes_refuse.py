"""Every guarded route refuses, in practice and not only on paper: anonymous callers get 401 and a role
that lacks the route's permission gets 403, before any input is read (one negative test per route; the
positive paths are in each domain's tests)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from kechuang.core.auth import Role
from kechuang.core.deps import PUBLIC_ROUTES, get_principal
from kechuang.core.permissions import Permission
from tests.conftest import principal


def _permissions(dependant) -> tuple[list[Permission], bool]:
    perms: list[Permission] = []
    authenticated = False
    for dep in dependant.dependencies:
        perm = getattr(dep.call, "__kechuang_permission__", None)
        if perm is not None:
            perms.append(perm)
        elif dep.call is get_principal:
            authenticated = True
        else:
            sub, auth = _permissions(dep)
            perms += sub
            authenticated = authenticated or auth
    return perms, authenticated


def _routes(app):
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute) or ctx.path in PUBLIC_ROUTES:
            continue
        perms, authenticated = _permissions(ctx.dependant)
        if not perms and not authenticated:
            continue
        url = re.sub(r"\{[^}:]+:path\}", "x/y", ctx.path)
        url = re.sub(r"\{[^}]+\}", "1", url)
        for method in sorted(ctx.methods or []):
            yield method, ctx.path, url, perms


HTML = {"accept": "text/html"}


def _outsider(perms: list[Permission]) -> Role | None:
    """A role holding none of ``perms``."""
    for role in Role:
        if role is not Role.SYSTEM and not any(role in p.roles for p in perms):
            return role
    return None


def test_anonymous_callers_are_refused_everywhere(app, client_as):
    client = client_as(None)
    wrong = []
    for method, path, url, _ in _routes(app):
        r = client.request(method, url)
        csrf_first = method == "POST" and not path.startswith("/api/") and r.status_code == 403  # form without token
        if r.status_code != 401 and not csrf_first:
            wrong.append(f"{method} {path}: {r.status_code}")
    assert not wrong, "guarded routes that did not answer 401 to an anonymous caller:\n" + "\n".join(wrong)


def test_roles_without_the_permission_are_refused_everywhere(app, client_as):
    wrong, checked = [], 0
    for method, path, url, perms in _routes(app):
        if not perms:
            continue
        role = _outsider(perms)
        if role is None:
            continue
        checked += 1
        client = client_as(principal(role, organisation_id=None, person_id=None))
        data = None
        if method == "POST" and not path.startswith("/api/"):  # a form: pass the CSRF check to reach the guard
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login", headers=HTML).text)
            data = {"csrf_token": token.group(1)} if token else None
        r = client.request(method, url, data=data)
        code = r.json().get("error", {}).get("code") if "json" in r.headers.get("content-type", "") else None
        if r.status_code != 403 or code != "forbidden":
            wrong.append(f"{method} {path} as {role.value}: {r.status_code} {code}")
    assert checked > 20
    assert not wrong, "routes that did not answer 403 to a role without their permission:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.RESEARCHER])
def test_narrow_roles_cannot_reach_the_audit_log_or_accounts(client_as, role):
    client = client_as(principal(role, organisation_id=1))
    assert client.get("/api/v1/audit/entries").status_code == 403
    assert client.get("/api/v1/accounts/users").status_code == 403
