"""REST API (flask-smorest, OpenAPI 3 at /api/openapi.json, docs at /api/docs).

Clients authenticate with `Authorization: Bearer <token>`; a request with an Authorization
header is authenticated by its token only (a bad one is 401, never the session cookie). A
browser session may call the API too, but then every state-changing call must carry the CSRF
token (X-CSRFToken), so a cookie alone never authorises a write.
"""
from __future__ import annotations

from flask import Flask, request
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import Select
from werkzeug.exceptions import BadRequest
from wtforms import ValidationError as WTFValidationError

from app.api.docs import ApiBlueprint
from app.catalog.queries import count
from app.extensions import csrf, db
from app.org.auth import authenticated_by_token
from app.safe_input import BusinessKeyConverter
from app.validation import FieldErrors

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _guard() -> None:
    """Every API call needs a signed-in user; cookie-authenticated writes need CSRF."""
    if request.endpoint and request.endpoint.startswith("api-docs."):
        return
    if not current_user.is_authenticated:
        abort(401, message="未登录或令牌无效")
    if request.method not in SAFE_METHODS and not authenticated_by_token():
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (CSRFError, WTFValidationError):
            abort(400, message="CSRF 校验失败")


def api_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """Every API blueprint is created here, so none can forget the sign-in/CSRF guard."""
    blp = ApiBlueprint(name, import_name, **kwargs)
    blp.before_request(_guard)
    return blp


def past_the_end(pagination_parameters) -> bool:
    """A page that starts after the last row is empty: answered without asking the database,
    whose OFFSET overflows (an error) for the page numbers a client may send."""
    return pagination_parameters.first_item >= pagination_parameters.item_count


def paginated(stmt: Select, pagination_parameters) -> list:
    """One page of the ordered `stmt` for `@blp.paginate()`, which sends the total in a header."""
    pagination_parameters.item_count = count(stmt)
    if past_the_end(pagination_parameters):
        return []
    return db.session.scalars(stmt.offset(pagination_parameters.first_item)
                              .limit(pagination_parameters.page_size)).all()


def _json_body():
    """The parsed JSON body (None without one, or for `null`); a body that does not parse is a
    400, as flask-smorest answers for the operations it parses itself — not an empty change."""
    if not request.is_json or not request.get_data(cache=True):
        return None
    try:
        return request.get_json()
    except BadRequest:
        abort(400, message="请求体不是有效的 JSON")


def json_object() -> dict:
    """The JSON body as an object: none is {}, any other JSON value (a list, a string, true …)
    a 422 — the services take a dict of fields."""
    body = _json_body()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise FieldErrors({"_schema": ["请求体须为 JSON 对象"]})
    return body


def form_with_letter(keep_missing_items: bool = False) -> tuple[dict, object | None]:
    """A start form's fields and its sealed letter (南通 arts. 20, 24): JSON, or multipart with
    the letter in the `letter` file field. A multipart `items` is a list; without it, `items`
    is [] unless `keep_missing_items` (a draft's update keeps what it stored; a case form
    without items has none)."""
    if request.mimetype == "multipart/form-data":
        data = request.form.to_dict()
        if not keep_missing_items or "items" in request.form:
            data["items"] = request.form.getlist("items")
        letter = request.files.get("letter")
        return data, letter if letter and letter.filename else None
    body = _json_body()
    return body if isinstance(body, dict) else {}, None


def register_api(app: Flask, api: Api) -> None:
    from app.api.applications import blp as applications_blp
    from app.api.cases import blp as cases_blp
    from app.api.catalog import blp as catalog_blp
    from app.api.idempotency import expire_idempotency_keys
    from app.api.notifications import blp as notifications_blp
    from app.api.org import blp as org_blp
    from app.api.tasks import blp as tasks_blp
    from app.engine.scheduler import register_periodic

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "个人 API 令牌"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    api.register_converter(BusinessKeyConverter, lambda c: {
        "type": "string", "pattern": f"^{c.regex}$", "example": "SQ-2026-000042"})
    # kept 24 h by default; swept hourly (a lookup ignores an expired key anyway)
    register_periodic("expire_idempotency_keys", expire_idempotency_keys, 3600)
    for blp in (catalog_blp, org_blp, applications_blp, cases_blp, tasks_blp, notifications_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp)


def error_response(exc):
    """The API's answer to an error: flask-smorest's JSON body for an HTTP error, the same shape
    for the platform's own (app/errors.py, with the field errors of an `Invalid`)."""
    from app.errors import PlatformError, json_body
    from app.extensions import api

    if isinstance(exc, PlatformError):
        return json_body(exc), int(exc.status)
    return api.handle_http_exception(exc)
