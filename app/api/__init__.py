"""REST API (flask-smorest, OpenAPI 3 at /api/openapi.json, docs at /api/docs).

Clients authenticate with `Authorization: Bearer <token>`; a request with an Authorization
header is authenticated by its token only (a bad one is 401, never the session cookie). A
browser session may call the API too, but then every state-changing call must carry the CSRF
token (X-CSRFToken), so a cookie alone never authorises a write.
"""
from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    from app.api.applications import blp as applications_blp
    from app.api.audit import blp as audit_blp
    from app.api.cases import blp as cases_blp
    from app.api.catalog import blp as catalog_blp
    from app.api.docs import api
    from app.api.idempotency import expire_idempotency_keys
    from app.api.notifications import blp as notifications_blp
    from app.api.org import blp as org_blp
    from app.api.sla import blp as sla_blp
    from app.api.tasks import blp as tasks_blp
    from app.engine.scheduler import register_periodic
    from app.extensions import csrf
    from app.safe_input import BusinessKeyConverter

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "个人 API 令牌"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    api.register_converter(BusinessKeyConverter, lambda c: {
        "type": "string", "pattern": f"^{c.regex}$", "example": "SQ-2026-000042"})
    # kept 24 h by default; swept hourly (a lookup ignores an expired key anyway)
    register_periodic("expire_idempotency_keys", expire_idempotency_keys, 3600)
    for blp in (catalog_blp, org_blp, applications_blp, cases_blp, tasks_blp, notifications_blp, sla_blp, audit_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp)


def error_response(exc):
    """The API's answer to an error: flask-smorest's JSON body for an HTTP error, the same shape
    for the platform's own (app/errors.py, with the field errors of an `Invalid`)."""
    from app.api.docs import api
    from app.errors import PlatformError, json_body

    if isinstance(exc, PlatformError):
        return json_body(exc), int(exc.status)
    return api.handle_http_exception(exc)
