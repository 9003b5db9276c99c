"""Typed domain errors (GUIDE habit 6), rendered once as JSON or as an HTML page.

Messages are English message ids translated at render time through the Babel catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from kechuang.core.i18n import N_, gettext


@dataclass
class FieldError:
    """One problem with one input field: where, what was given, why it is refused."""

    field: str
    reason: str  # message id
    params: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    value: Any = None

    def render(self, locale: str | None = None) -> dict[str, Any]:
        """JSON-ready form in ``locale``."""
        out: dict[str, Any] = {"field": self.field, "reason": gettext(self.reason, locale, **self.params)}
        if self.row is not None:
            out["row"] = self.row
        if self.value is not None:
            out["value"] = self.value if isinstance(self.value, int | float | bool) else str(self.value)
        return out


class AppError(Exception):
    """Base of every error a user can cause; services raise these, never HTTP exceptions."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = N_("The request could not be completed.")

    def __init__(self, message: str | None = None, /, *, errors: list[FieldError] | None = None, **params: Any):
        self.message = message or self.default_message
        self.params = params
        self.errors = errors or []
        super().__init__(self.render_message("en"))

    def render_message(self, locale: str | None = None) -> str:
        """The message in ``locale`` (default: current)."""
        return gettext(self.message, locale, **self.params)

    def to_dict(self, locale: str | None = None) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code", "message", "errors": [...]}}``."""
        return {
            "error": {
                "code": self.code,
                "message": self.render_message(locale),
                "errors": [e.render(locale) for e in self.errors],
            }
        }


class ValidationFailed(AppError):
    """Input that breaks a rule; ``errors`` names each field and reason."""

    status_code = 422
    code = "validation_failed"
    default_message = N_("Some fields are not valid.")


class NotFound(AppError):
    """Missing, or not visible to the caller: the same answer for both (GUIDE habit 4)."""

    status_code = 404
    code = "not_found"
    default_message = N_("Not found.")


class NotAuthenticated(AppError):
    """No valid log-in or token."""

    status_code = 401
    code = "not_authenticated"
    default_message = N_("Please log in.")


class PermissionDenied(AppError):
    """Logged in, but this role may not do this."""

    status_code = 403
    code = "forbidden"
    default_message = N_("You are not allowed to do this.")


class Conflict(AppError):
    """The state of the data does not allow the change (duplicate, wrong state, lock)."""

    status_code = 409
    code = "conflict"
    default_message = N_("This conflicts with the current state of the data.")


class TooManyRequests(AppError):
    """Throttled."""

    status_code = 429
    code = "too_many_requests"
    default_message = N_("Too many attempts. Please wait and try again.")
