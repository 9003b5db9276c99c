"""create_app(): mounts every domain's API and page routers, middleware and error handlers."""

from __future__ import annotations

import asyncio
import importlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware

from kechuang import __version__
from kechuang.config import settings
from kechuang.core.errors import AppError, FieldError, ValidationFailed
from kechuang.core.i18n import N_, get_locale, normalize_locale, set_locale
from kechuang.core.web_security import CsrfMiddleware

log = logging.getLogger("kechuang")
WEB_DIR = Path(__file__).resolve().parent / "web"

# Each domain contributes ``api.router`` and, when it has pages, ``pages.router``. Add new domains here.
DOMAINS: list[str] = ["registry", "commitments", "accounts", "transfer", "talent", "science", "policy"]
# A domain with more than one area adds routers from modules named ``<area>_api`` / ``<area>_pages``.
EXTRA_ROUTERS: list[str] = ["kechuang.policy.authoring_api", "kechuang.policy.authoring_pages"]

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "validation_failed"},
                "message": {"type": "string", "example": "部分字段无效。"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "reason": {"type": "string"},
                                       "row": {"type": "integer"}, "value": {}},
                    },
                },
            },
        }
    },
}


class RequestContextMiddleware(BaseHTTPMiddleware):
    """Request id, locale (``?lang=``, cookie ``lang``, user preference, Accept-Language)."""

    async def dispatch(self, request: Request, call_next):
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        lang = request.query_params.get("lang") or request.cookies.get("lang")
        set_locale(normalize_locale(lang or _accept_language(request.headers.get("accept-language"))))
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response


def _accept_language(header: str | None) -> str | None:
    if not header:
        return None
    first = header.split(",")[0].split(";")[0].strip()
    return first if first.lower().startswith(("zh", "en")) else None


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(request: Request, exc: AppError):
    """Render ``exc`` once: JSON for the API, a friendly page for browsers."""
    renderer = getattr(request.app.state, "html_error_renderer", None)
    if renderer is not None and _wants_html(request):
        return renderer(request, exc)
    return JSONResponse(exc.to_dict(get_locale()), status_code=exc.status_code)


# Jobs the web process runs in the background: (interval in seconds, "module:function"). Each runs once at
# start-up and then every interval, in a worker thread; a failure is logged and retried at the next interval.
PERIODIC_JOBS: list[tuple[int, str]] = [
    (3600, "kechuang.accounts.jobs:seal_finished_days"),  # daily Merkle roots of the audit log
    (3600, "kechuang.policy.jobs:lapse_overdue"),  # entitlements not confirmed by their deadline lapse
    (3, "kechuang.science.jobs:work_queued"),  # queued evaluation runs (also: kechuang science worker)
]


async def _run_periodically(interval: int, target: str) -> None:
    module_name, _, func_name = target.partition(":")
    job = getattr(importlib.import_module(module_name), func_name)
    while True:
        try:
            await run_in_threadpool(job)
        except Exception:  # a background job must not take the web process down
            log.exception("periodic job %s failed", target)
        await asyncio.sleep(interval)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the periodic jobs with the server (not under the test client), stop them on shutdown."""
    tasks = [asyncio.create_task(_run_periodically(i, t)) for i, t in PERIODIC_JOBS] if settings.run_jobs else []
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()


def create_app() -> FastAPI:
    """The kechuang web application."""
    app = FastAPI(
        lifespan=lifespan,
        title="kechuang API",
        version=__version__,
        description="kechuang (科创): science-and-technology innovation platform. JSON API; errors share one "
        "schema (`error.code`, `error.message`, `error.errors[]` with `field` and `reason`). Lists take "
        "`page`, `per_page` (≤200), `sort` (`field` or `-field`) and `q`.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.add_middleware(CsrfMiddleware)  # inside RequestContextMiddleware: locale is set before it runs
    app.add_middleware(RequestContextMiddleware)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errors = [
            FieldError(".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")) or "body",
                       N_("Invalid value: {detail}"), {"detail": e.get("msg", "")}, value=e.get("input"))
            for e in exc.errors()
        ]
        return error_response(request, ValidationFailed(errors=errors))

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict[str, str]:
        """Liveness probe (public)."""
        return {"status": "ok", "version": __version__}

    static_dir = WEB_DIR / "static"
    if static_dir.exists():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

    for name in EXTRA_ROUTERS:  # first: their fixed paths (/policy/sandbox) win over a domain's /policy/{id}
        app.include_router(importlib.import_module(name).router)
    for domain in DOMAINS:
        for part in ("api", "pages"):
            try:
                module = importlib.import_module(f"kechuang.{domain}.{part}")
            except ModuleNotFoundError as exc:
                if exc.name == f"kechuang.{domain}.{part}":
                    continue
                raise
            app.include_router(module.router)

    from kechuang.web import errors as web_errors
    from kechuang.web import pages as web_pages

    web_errors.install(app)  # friendly HTML error pages (app.state.html_error_renderer)
    app.include_router(web_pages.router)  # dashboard, language switch, pillar pages

    if not any(getattr(r, "path", None) == "/" for r in app.routes):

        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def index() -> str:
            return "<!doctype html><title>kechuang</title><h1>kechuang 科创</h1><p><a href='/api/docs'>API</a></p>"

    app.openapi = lambda: _openapi_with_errors(app)  # type: ignore[method-assign]
    return app


_ERROR_RESPONSES = {
    "401": "Not logged in or token invalid",
    "403": "Not allowed for this role, or CSRF check failed",
    "404": "Missing, or not visible to the caller (the same answer for both)",
    "409": "Conflicts with the current state",
    "422": "Validation failed: each field with its reason",
}


def _openapi_with_errors(app: FastAPI) -> dict:
    """OpenAPI with the shared error schema referenced by every operation's 4xx responses."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path_item in schema.get("paths", {}).values():
        for op in path_item.values():
            responses = op.setdefault("responses", {})
            for code, text in _ERROR_RESPONSES.items():
                example = responses.get(code, {}).get("content", {}).get("application/json", {}).get("example")
                responses[code] = {"description": text, **ref}
                if example is not None:  # a route's own example of the error body is kept
                    responses[code] = {"description": text, "content": {"application/json": {
                        **ref["content"]["application/json"], "example": example}}}
    app.openapi_schema = schema
    return schema
