"""Friendly HTML error pages in the user's language (JSON stays the API's answer)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kechuang.core.errors import AppError, NotAuthenticated, NotFound
from kechuang.core.i18n import N_, get_locale
from kechuang.web.pageutil import login_url, redirect
from kechuang.web.templating import render

log = logging.getLogger("kechuang.web")

TITLES: dict[int, str] = {
    400: N_("The request could not be completed"),
    403: N_("You are not allowed to see this page"),
    404: N_("Page not found"),
    409: N_("This conflicts with the current data"),
    422: N_("Some fields are not valid"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong on our side"),
}
HINTS: dict[int, str] = {
    403: N_("Your role does not include this page. Ask an administrator if you need access."),
    404: N_("The address may be mistyped, or the item may not exist or not be visible to you."),
    429: N_("Please wait a few minutes before trying again."),
    500: N_("The problem has been logged. Please try again later."),
}


def render_error_page(request: Request, exc: AppError):
    """``app.state.html_error_renderer``: log-in redirect for 401, a friendly page otherwise."""
    if isinstance(exc, NotAuthenticated):
        return redirect(login_url(request))
    status = exc.status_code
    ctx = {
        "status": status,
        "title": TITLES.get(status, TITLES[400]),
        "message": exc.render_message(),
        "hint": HINTS.get(status),
        "errors": [e.render() for e in exc.errors],
        "request_id": getattr(request.state, "request_id", None),
    }
    return render(request, "errors/error.html", ctx, status_code=status)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Wire HTML error rendering into ``app`` (404 for unknown addresses, 500 page)."""
    app.state.html_error_renderer = render_error_page

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            if _wants_html(request):
                return render_error_page(request, NotFound())
            return JSONResponse(NotFound().to_dict(get_locale()), status_code=404)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        error = AppError(N_("Something went wrong on our side."))
        if _wants_html(request):
            page = render_error_page(request, error)
            page.status_code = 500
            return page
        body = error.to_dict(get_locale())
        body["error"]["code"] = "internal_error"
        return JSONResponse(body, status_code=500)
