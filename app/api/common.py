"""What every API module shares: the blueprint with the sign-in/CSRF guard, pagination, and
the request body as the services take it."""
from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint, abort
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import Select
from werkzeug.exceptions import BadRequest
from wtforms import ValidationError as WTFValidationError

from app.api.docs import ApiBlueprint
from app.catalog.queries import count
from app.extensions import db
from app.org.auth import authenticated_by_token
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
