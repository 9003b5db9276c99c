"""Pages of the web shell: dashboard per role, language switch, the three pillars' overview pages."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.routing import iter_route_contexts

from kechuang.accounts import audit_service
from kechuang.accounts import service as accounts_service
from kechuang.config import settings
from kechuang.core import i18n
from kechuang.core.auth import Principal, Role
from kechuang.core.deps import CurrentPrincipal, DbSession, get_optional_principal
from kechuang.core.errors import AppError, NotFound
from kechuang.core.i18n import N_
from kechuang.core.pagination import PageParams
from kechuang.core.permissions import has
from kechuang.registry import service as registry_service
from kechuang.web.pageutil import pages_router, safe_next
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router()


@dataclass(frozen=True)
class Module:
    """A module of a pillar; ``url`` is live once a domain mounts a page at its path, else "coming soon"."""

    title: str
    description: str
    url: str


@dataclass(frozen=True)
class Pillar:
    """One of the three pillars of the platform."""

    key: str
    title: str
    description: str
    modules: tuple[Module, ...]


PILLARS: tuple[Pillar, ...] = (
    Pillar("science", N_("AI for Science"),
           N_("Shared datasets, models and evaluation tasks for scientific research, with reproducible runs."),
           (Module(N_("Datasets"), N_("Catalogue of open and restricted research datasets."), "/science#datasets"),
            Module(N_("Models"), N_("Registered scientific models with their licences and cards."), "/science#models"),
            Module(N_("Evaluation tasks and leaderboards"), N_("Benchmarks, submitted runs and rankings."),
                   "/science#tasks"))),
    Pillar("enterprise", N_("Enterprise innovation"),
           N_("Policies as rules, innovation vouchers, open challenges and shared facilities for enterprises."),
           (Module(N_("Policy entitlements"), N_("Which support policies an enterprise qualifies for, and why."),
                   "/policy"),
            Module(N_("Innovation vouchers"), N_("Applications, redemptions and balances of vouchers."), "/voucher"),
            Module(N_("Open challenges"), N_("Technology challenges published by enterprises (揭榜挂帅)."),
                   "/challenge"),
            Module(N_("Shared facilities"), N_("Large research instruments open for booking."), "/facility"))),
    Pillar("talent", N_("Talent & transfer"),
           N_("Technology transfer, patents and talent evaluation across universities and institutes."),
           (Module(N_("Technology transfer"), N_("Transfer projects and income shares of researchers."),
                   "/transfer"),
            Module(N_("Patents"), N_("Patent portfolios and their transfer status."), "/patent"),
            Module(N_("Talent evaluation"), N_("Category-based evaluation of researchers."), "/talent"))),
)

for _order, _p in enumerate(PILLARS):
    register_nav(NavItem(f"pillar-{_p.key}", _p.title, f"/pillars/{_p.key}", order=10 + _order))


def _page_paths(app) -> set[str]:
    """Every mounted page path (routers may be nested, so walk the route contexts)."""
    cached = getattr(app.state, "kechuang_page_paths", None)
    if cached is None:
        cached = {ctx.path for ctx in iter_route_contexts(app.routes) if not ctx.path.startswith("/api/")}
        app.state.kechuang_page_paths = cached
    return cached


def _live(request: Request, url: str) -> bool:
    """Whether a page is mounted at ``url`` (its path, without the fragment): the card links to it."""
    return url.split("#", 1)[0] in _page_paths(request.app)


@router.get("/")
def dashboard(request: Request, session: DbSession, principal: Annotated[Principal | None,
                                                                          Depends(get_optional_principal)]):
    """Dashboard for the logged-in role; anonymous visitors go to the log-in page."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    stats: list[dict[str, Any]] = []
    expiring: list = []
    own_org = None
    if has(principal, registry_service.READ_ORGANISATIONS):
        orgs = registry_service.list_organisations(session, principal, PageParams(per_page=1))
        stats.append({"label": N_("Organisations visible to you"), "value": orgs.total,
                      "url": "/registry/organisations"})
        count, expiring = registry_service.expiring_qualifications(session, principal, limit=5)
        stats.append({"label": N_("Qualifications expiring within 90 days"), "value": count,
                      "url": "/registry/organisations"})
        if principal.organisation_id:
            try:
                own_org = registry_service.access_organisation_by_id(session, principal, principal.organisation_id)
            except NotFound:
                own_org = None
    if has(principal, registry_service.READ_PEOPLE):
        people = registry_service.list_people(session, principal, PageParams(per_page=1))
        stats.append({"label": N_("People visible to you"), "value": people.total, "url": "/registry/people"})
    from kechuang.policy import service as policy_service  # 免申即享: entitlements waiting for the enterprise

    if has(principal, policy_service.CONFIRM) and principal.organisation_id:
        waiting = policy_service.status_counts(session, principal).get("notified", 0)
        stats.append({"label": N_("Policy entitlements awaiting your confirmation"), "value": waiting,
                      "url": "/policy/mine"})
    recent_audit: list = []
    if has(principal, audit_service.READ_AUDIT):
        recent_audit = audit_service.list_entries(session, principal, PageParams(per_page=5)).items
    return render(request, "dashboard.html", {
        "title": N_("Dashboard"), "stats": stats, "expiring": expiring, "own_org": own_org,
        "pillars": PILLARS, "recent_audit": recent_audit, "is_live": lambda url: _live(request, url),
        "synthetic": bool(own_org and own_org.is_synthetic) or any(o.is_synthetic for _q, o in expiring),
        "Role": Role,
    }, principal=principal)


@router.get("/pillars/{key}")
def pillar(request: Request, principal: CurrentPrincipal, key: str):
    """Overview of one pillar: its modules, live or coming soon."""
    found = next((p for p in PILLARS if p.key == key), None)
    if found is None:
        raise NotFound()
    return render(request, "pillar.html", {"title": found.title, "pillar": found, "active_nav": f"pillar-{key}",
                                           "is_live": lambda url: _live(request, url)}, principal=principal)


def _language_response(code: str, next_url: str | None) -> tuple[str, RedirectResponse]:
    locale = i18n.normalize_locale(code)
    response = RedirectResponse(safe_next(_strip_lang(next_url)), status_code=303)
    response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True,
                        secure=settings.cookie_secure)
    return locale, response


@router.get("/lang/{code}")
def switch_language_link(code: str, next: str | None = None):
    """Switch the interface language for this browser (the ``lang`` cookie); a plain link, so it writes
    nothing else. The header's switch posts to the same address and is also remembered on the account."""
    return _language_response(code, next)[1]


@router.post("/lang/{code}")
def switch_language(request: Request, session: DbSession, code: str, next: Annotated[str | None, Form()] = None):
    """Switch the interface language (the ``lang`` cookie, and remembered on the account when logged in)."""
    locale, response = _language_response(code, next)
    principal = getattr(request.state, "web_principal", None)
    if principal is not None and principal.user_id is not None:
        with suppress(AppError):  # e.g. a token without the accounts scope: the cookie still switches
            accounts_service.set_language(session, principal, locale)  # remembered per user
    return response


def _strip_lang(target: str | None) -> str | None:
    if not target or "lang=" not in target:
        return target
    path, _, query = target.partition("?")
    kept = "&".join(p for p in query.split("&") if not p.startswith("lang="))
    return path + ("?" + kept if kept else "")
