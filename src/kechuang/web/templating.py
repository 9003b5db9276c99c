"""The one Jinja2 environment of the web pages: i18n, locale-aware filters, navigation and ``render()``.

Templates live in ``web/templates/`` (layout, macros, error pages, dashboard) and in each domain's
``<domain>/templates/<domain>/`` folder. UI text goes through ``{{ _("English id {param}", param=x) }}``
(the same ``{name}`` placeholders as the Python code, so one catalog serves both); ``{% trans %}`` blocks
are not used because they would need ``%(name)s`` placeholders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from kechuang.core import i18n
from kechuang.core.auth import ROLE_LABELS, Principal
from kechuang.core.i18n import N_
from kechuang.core.permissions import Permission, has
from kechuang.registry import reference as ref

PACKAGE_DIR = Path(__file__).resolve().parents[1]
WEB_DIR = Path(__file__).resolve().parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}


def template_dirs() -> list[str]:
    """``web/templates`` first, then every domain's ``templates`` folder."""
    dirs = [WEB_DIR / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.is_dir() and p.parent != WEB_DIR)
    return [str(d) for d in dirs]


# ---------------------------------------------------------------- translation callables
def _format(text: str, params: dict[str, Any], autoescape: bool) -> str:
    if autoescape:
        return Markup(escape(text)).format(**params) if params else Markup(escape(text))
    return text.format(**params) if params else text


@pass_context
def _gettext(ctx, message: str, **params: Any) -> str:
    return _format(i18n.gettext(message), params, ctx.eval_ctx.autoescape)


@pass_context
def _ngettext(ctx, singular: str, plural: str, n: int, **params: Any) -> str:
    params.setdefault("num", n)
    return _format(i18n.gettext(singular if n == 1 else plural), params, ctx.eval_ctx.autoescape)


# ---------------------------------------------------------------- filters
def babel_locale(locale: str | None = None) -> str:
    """The Babel locale for a kechuang locale code."""
    return BABEL_LOCALES.get(locale or i18n.get_locale(), "zh_Hans_CN")


def format_money(fen: int | None, locale: str | None = None) -> str:
    """Money held in fen: 元 / 万元 / 亿元 in Chinese, ``¥1,234,567`` in English."""
    if fen is None:
        return "—"
    loc = locale or i18n.get_locale()
    yuan = Decimal(int(fen)) / 100
    if loc == "zh":
        bl = babel_locale("zh")
        size = abs(yuan)
        if size >= 100_000_000:
            return f"{babel_numbers.format_decimal(yuan / 100_000_000, format='#,##0.00', locale=bl)} 亿元"
        if size >= 10_000:
            return f"{babel_numbers.format_decimal(yuan / 10_000, format='#,##0.00', locale=bl)} 万元"
        return f"{babel_numbers.format_decimal(yuan, format='#,##0.00', locale=bl)} 元"
    fmt = "#,##0" if abs(yuan) >= 1000 else "#,##0.00"
    sign = "-" if yuan < 0 else ""
    return f"{sign}¥{babel_numbers.format_decimal(abs(yuan), format=fmt, locale=babel_locale('en'))}"


def format_number(value: int | float | Decimal | None, locale: str | None = None) -> str:
    """A number with the locale's grouping."""
    if value is None:
        return "—"
    return babel_numbers.format_decimal(value, locale=babel_locale(locale))


def format_percent(value: float | Decimal | None, locale: str | None = None, digits: int = 1) -> str:
    """A ratio (0.05) as a percentage (5.0%)."""
    if value is None:
        return "—"
    return babel_numbers.format_percent(value, format="#,##0." + "0" * digits + "%", locale=babel_locale(locale))


def format_date(value: date | datetime | None, locale: str | None = None, fmt: str = "medium") -> str:
    """A date in the locale's format (2026年11月28日 / 28 Nov 2026)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    return babel_dates.format_date(value, format=fmt, locale=babel_locale(locale))


def format_datetime(value: datetime | None, locale: str | None = None) -> str:
    """A timestamp in Shanghai time, medium format."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return babel_dates.format_datetime(value, format="medium", tzinfo=SHANGHAI, locale=babel_locale(locale))


def label(key: str | None, mapping: dict[str, str]) -> str:
    """Translated label of a vocabulary key (e.g. ``ORG_KINDS``), or the key itself."""
    if key is None:
        return "—"
    return i18n.gettext(mapping[key]) if key in mapping else str(key)


def district_label(value: str | None, locale: str | None = None) -> str:
    """A district name: Chinese as stored, its romanised name in English."""
    if not value:
        return "—"
    return value if (locale or i18n.get_locale()) == "zh" else ref.DISTRICT_EN.get(value, value)


def industry_label(org: Any, locale: str | None = None) -> str:
    """GB/T 4754-2017 section letter and name, plus the division: ``I 信息传输、软件和信息技术服务业 · 64``."""
    section = getattr(org, "industry_section", None)
    if not section:
        return "—"
    names = ref.INDUSTRY_SECTIONS.get(section)
    name = (names[2] if (locale or i18n.get_locale()) == "zh" else names[3]) if names else ""
    division = getattr(org, "industry_division", None)
    return f"{section} {name}" + (f" · {division}" if division else "")


def org_name(org: Any, locale: str | None = None) -> str:
    """An organisation's (or person's) name in the current language, falling back to Chinese."""
    if (locale or i18n.get_locale()) == "en" and getattr(org, "name_en", None):
        return org.name_en
    return org.name_zh


# ---------------------------------------------------------------- navigation
@dataclass(frozen=True)
class NavItem:
    """One entry of the main navigation; shown when ``visible(principal)`` holds."""

    key: str
    label: str  # message id
    url: str
    permission: Permission | None = None
    check: Callable[[Principal], bool] | None = None
    order: int = 100

    def visible(self, principal: Principal | None) -> bool:
        """Whether the principal may use this entry."""
        if principal is None:
            return False
        if self.permission is not None and not has(principal, self.permission):
            return False
        return self.check(principal) if self.check else True


NAV: list[NavItem] = []


def register_nav(item: NavItem) -> None:
    """Add (or replace, by key) an entry of the main navigation; domains call this from ``pages.py``."""
    for i, existing in enumerate(NAV):
        if existing.key == item.key:
            NAV[i] = item
            break
    else:
        NAV.append(item)
    NAV.sort(key=lambda it: it.order)


def nav_for(principal: Principal | None) -> list[NavItem]:
    """The navigation entries ``principal`` may use. A domain entry with a pillar's label (e.g. the science
    domain's "AI for Science") takes the place of that pillar's overview entry."""
    items = [item for item in NAV if item.visible(principal)]
    domain_by_label = {i.label: i for i in items if not i.key.startswith("pillar-")}
    out: list[NavItem] = []
    for item in items:
        if item.key.startswith("pillar-") and item.label in domain_by_label:
            chosen = domain_by_label[item.label]
        elif item.key.startswith("pillar-") or item in domain_by_label.values():
            chosen = item
        else:
            continue
        if chosen not in out:  # a domain entry sorted before its pillar is not listed twice
            out.append(chosen)
    return out


# ---------------------------------------------------------------- environment
env = Environment(
    loader=FileSystemLoader(template_dirs()),
    autoescape=select_autoescape(["html", "xml"], default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
# ``{name}`` placeholders with escaped parameters (the newstyle wrappers would apply ``%`` formatting).
env.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext, N_=N_, ROLE_LABELS=ROLE_LABELS,
                   ORG_KINDS=ref.ORG_KINDS, QUALIFICATION_KINDS=ref.QUALIFICATION_KINDS,
                   RELATION_KINDS=ref.RELATION_KINDS, OWNERSHIP=ref.OWNERSHIP, DISTRICT_EN=ref.DISTRICT_EN,
                   PERSON_ROLES=ref.PERSON_ROLES, TALENT_CATEGORIES=ref.TALENT_CATEGORIES)
env.filters.update(money=format_money, number=format_number, percent=format_percent, date=format_date,
                   datetime=format_datetime, label=label, district=district_label, industry=industry_label,
                   name=org_name)


def csrf_token(request: Request) -> str:
    """The CSRF token for forms of this request (issued by the accounts domain)."""
    token = getattr(request.state, "csrf_token", None)
    if token:
        return token
    try:
        from kechuang.accounts import web as accounts_web  # type: ignore[attr-defined]
    except ImportError:
        return ""
    getter = getattr(accounts_web, "csrf_token", None)
    return getter(request) if getter else ""


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (``None`` removes one)."""
    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None or v == "":
            params.pop(k, None)
        else:
            params[k] = str(v)
    query = urlencode(params)
    return request.url.path + ("?" + query if query else "")


def page_principal(request: Request) -> Principal | None:
    """The principal the page is rendered for (set by the page dependencies)."""
    return getattr(request.state, "web_principal", None)


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200,
           principal: Principal | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render ``template`` with the layout's globals: locale, principal, CSRF token, navigation."""
    who = principal if principal is not None else page_principal(request)
    locale = i18n.get_locale()
    ctx: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh" else "en",
        "principal": who,
        "csrf_token": csrf_token(request),
        "nav": nav_for(who),
        "active_nav": "",
        "synthetic": False,
        "url_with": lambda **kw: url_with(request, **kw),
        "current_url": request.url.path + (("?" + request.url.query) if request.url.query else ""),
    }
    ctx.update(context or {})
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)
