"""Browser security: the session cookie, and CSRF protection for every state-changing browser request.

CSRF tokens are HMAC-SHA-256 of the session token (logged in) or of a random anonymous cookie
``kechuang_csrf`` (logged out, e.g. the log-in form), so the middleware checks them without the database.
Templates read the token from ``request.state.csrf_token`` and send it as the form field ``csrf_token`` or
the header ``X-CSRF-Token`` (htmx: ``hx-headers='{"X-CSRF-Token": "..."}'``).

Checked: every unsafe (POST/PUT/PATCH/DELETE) request outside ``/api/``, and every unsafe ``/api/`` request
that carries the session cookie. Exempt: requests with ``Authorization: Bearer`` (API tokens are not sent by
browsers on their own) and the JSON log-in endpoint (``CSRF_EXEMPT_PATHS``).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kechuang.config import settings
from kechuang.core.errors import PermissionDenied
from kechuang.core.i18n import N_
from kechuang.core.secret import csrf_token_for

SESSION_COOKIE = "kechuang_session"
CSRF_COOKIE = "kechuang_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_EXEMPT_PATHS: set[str] = {"/api/v1/auth/login"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfFailed(PermissionDenied):
    """The request lacks the CSRF token of this browser session."""

    code = "csrf_failed"
    default_message = N_("The form has expired or did not come from this site. Reload the page and try again.")


def set_session_cookie(response: Response, token: str, expires_at: datetime) -> None:
    """Set the HTTP-only, SameSite=Lax session cookie (Secure when ``settings.cookie_secure``)."""
    max_age = max(0, int((expires_at - datetime.now(expires_at.tzinfo)).total_seconds()))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=settings.cookie_secure)


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)


def _cookie_header(name: str, value: str) -> bytes:
    r = Response()
    r.set_cookie(name, value, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)
    return next(v for k, v in r.raw_headers if k == b"set-cookie")


class CsrfMiddleware:
    """Pure ASGI middleware: puts ``csrf_token`` into ``request.state`` and refuses forged unsafe requests."""

    def __init__(self, app: ASGIApp, max_body: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        is_api = path.startswith("/api/")
        session_token = request.cookies.get(SESSION_COOKIE)
        new_anon: str | None = None
        if session_token:
            expected = csrf_token_for(session_token)
        else:
            anon = request.cookies.get(CSRF_COOKIE)
            if not anon or len(anon) > 128:
                anon = secrets.token_urlsafe(24)
                new_anon = None if is_api else anon
            expected = csrf_token_for("anon:" + anon)
        scope.setdefault("state", {})["csrf_token"] = expected

        if scope["method"] not in SAFE_METHODS and self._must_check(request, is_api, session_token):
            headers = Headers(scope=scope)
            submitted = headers.get(CSRF_HEADER)
            if submitted is None and headers.get("content-type", "").startswith(FORM_TYPES):
                body = await self._read_body(receive)
                if body is None:
                    submitted = None
                else:
                    submitted = await self._form_token(scope, body)
                    receive = _replay(body, receive)
            if not submitted or not hmac.compare_digest(str(submitted), expected):
                from kechuang.app import error_response  # the one error renderer (JSON or page)

                response = error_response(Request(scope), CsrfFailed())
                await response(scope, receive, send)
                return

        if new_anon is None:
            await self.app(scope, receive, send)
            return
        cookie = _cookie_header(CSRF_COOKIE, new_anon)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    def _must_check(request: Request, is_api: bool, session_token: str | None) -> bool:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return False
        if is_api:
            return bool(session_token) and request.url.path not in CSRF_EXEMPT_PATHS
        return True

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _form_token(scope: Scope, body: bytes) -> str | None:
        form = await Request(scope, _replay(body, None)).form()
        try:
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else None
        finally:
            await form.close()


def _replay(body: bytes, receive: Receive | None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay
