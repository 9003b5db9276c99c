"""Helpers shared by every domain's ``pages.py``: the pages router, form parsing and field errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from kechuang.core.auth import Principal
from kechuang.core.deps import get_optional_principal
from kechuang.core.errors import AppError, FieldError, ValidationFailed
from kechuang.core.i18n import N_


def remember_principal(
    request: Request, principal: Annotated[Principal | None, Depends(get_optional_principal)]
) -> None:
    """Keep the principal on the request so layouts and error pages can show navigation."""
    request.state.web_principal = principal


def pages_router(**kwargs: Any) -> APIRouter:
    """An HTML router: hidden from OpenAPI, principal remembered for the layout."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(remember_principal)], **kwargs)


def field_errors(exc: AppError) -> dict[str, list[str]]:
    """Field name → translated reasons, for re-rendering a form; ``__all__`` for the message itself."""
    out: dict[str, list[str]] = {}
    for e in exc.errors:
        out.setdefault(e.field, []).append(e.render()["reason"])
    if not out:
        out["__all__"] = [exc.render_message()]
    return out


def form_date(value: str | None, name: str, errors: list[FieldError], required: bool = False) -> date | None:
    """A form's ``YYYY-MM-DD`` field as a date; a problem is appended to ``errors`` (field + reason) and gives
    ``None``, so a form can report every bad field at once."""
    text = (value or "").strip()
    if not text:
        if required:
            errors.append(FieldError(name, N_("This field is required.")))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, N_("Enter a date as YYYY-MM-DD."), value=text))
        return None


def form_yuan(value: str | None, name: str, errors: list[FieldError], required: bool = False) -> int | None:
    """An amount typed in yuan ("1,234.56") as integer fen (exact, via Decimal); a problem is appended to
    ``errors`` and gives ``None``."""
    text = (value or "").replace(",", "").replace("，", "").strip()
    if not text:
        if required:
            errors.append(FieldError(name, N_("This field is required.")))
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError(name, N_("Enter an amount in yuan, e.g. 12500.50."), value=value))
        return None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        errors.append(FieldError(name, N_("At most two decimals (fen)."), value=value))
        return None
    return int(amount * 100)


def is_validation(exc: AppError) -> bool:
    """Whether ``exc`` is a form problem to show beside the fields (422)."""
    return isinstance(exc, ValidationFailed)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local redirect target only (no scheme, no host, no ``//``) — prevents open redirects."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    """A See Other redirect (after a POST)."""
    return RedirectResponse(url, status_code=status_code)


def login_url(request: Request) -> str:
    """``/login?next=<current path>``."""
    path = request.url.path + (("?" + request.url.query) if request.url.query else "")
    return "/login?next=" + quote(path, safe="")
