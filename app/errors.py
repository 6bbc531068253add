"""The platform's error types, each with its HTTP status (ARCHITECTURE.md, Conventions).

Services and the engine raise these (or their own subclasses); create_app maps them once for
the API (a JSON body: code, status, message and, for `Invalid`, the field errors) and once for
the pages (the error page in Chinese). Messages are user-facing, zh_CN first.
"""
from __future__ import annotations

from http import HTTPStatus

from werkzeug.exceptions import HTTPException, default_exceptions


class PlatformError(Exception):
    """Base of every error raised on purpose; `status` is its HTTP status."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR

    @property
    def message(self) -> str:
        """What the user is told (by default the exception's text)."""
        return str(self)

    def as_http(self) -> HTTPException:
        """The matching werkzeug exception, for the error page."""
        return default_exceptions[self.status](description=self.message)


class NotFound(PlatformError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = HTTPStatus.NOT_FOUND


class Forbidden(PlatformError):
    """The caller may not do this (role, department, regulation)."""

    status = HTTPStatus.FORBIDDEN


class Conflict(PlatformError):
    """The thing moved under the caller (already done, changed meanwhile, key taken): nothing
    was written; a fresh look shows the current state."""

    status = HTTPStatus.CONFLICT


class Invalid(PlatformError):
    """Input refused; `errors` maps field name → list of Chinese messages."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, errors: dict[str, list[str]], text: str | None = None):
        super().__init__(text if text is not None else errors)
        self.errors = errors

    @property
    def message(self) -> str:
        return "提交的数据有误"


class Unavailable(PlatformError):
    """Not now, and not the caller's doing (e.g. a flow definition at fault): nothing was
    applied; the administrators find the cause in the log."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


def json_body(exc: PlatformError) -> dict:
    """The API's error body for `exc` (the shape flask-smorest uses for its own errors)."""
    body = {"code": int(exc.status), "status": exc.status.phrase, "message": exc.message}
    if isinstance(exc, Invalid):
        body["errors"] = {"json": exc.errors}
    return body
