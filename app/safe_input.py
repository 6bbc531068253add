"""What every request's input must be before a view sees it, checked once for the API and the pages.

- Integers fit the database's 32-bit INTEGER columns (every id and number column is INTEGER on
  PostgreSQL). A larger id in a path matches no route (404) through the `int` URL converter
  below; body and query integers are range-checked by the shared marshmallow `Schema`
  (app.validation); the few ids read by hand go through `as_id`. PostgreSQL refuses an
  out-of-range parameter with an error, which would otherwise be a 500.
- No NUL byte (\\x00) anywhere: PostgreSQL cannot store one in text and refuses the whole
  statement. A request carrying one in its path, query string, form fields, file names or JSON
  strings is refused here, before any view or query runs: 422 with field errors on the API,
  a 400 page on the web.
"""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import BaseConverter, IntegerConverter

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
NUL = "\x00"
NUL_MESSAGE = "不能包含空字符（\\0）"
_MAX_REPORTED = 20  # an error body names this many offending fields at most


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a non-negative integer no larger than INTEGER's maximum."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = INT32_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class BusinessKeyConverter(BaseConverter):
    """`<key:...>`: a business key as the platform writes them (SQ-2026-000042, DM-2026-000007).
    Nothing else matches, so a key route never shadows a literal sibling (`/api/applications/drafts`,
    `/api/cases/flows`) and the document can state the format."""

    regex = r"[A-Z]{2,8}-[0-9]{4}-[0-9]{6,10}"


def as_id(value) -> int | None:
    """`value` (a form or JSON value) as an id for a lookup, None when it is not one that can exist."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= INT32_MAX else None


def _walk_json(value, where: str, found: dict[str, list[str]]) -> None:
    if len(found) >= _MAX_REPORTED:
        return
    if isinstance(value, str):
        if NUL in value:
            found[where or "body"] = [NUL_MESSAGE]
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if NUL in str(key):
                found[name.replace(NUL, "\\0")] = [NUL_MESSAGE]
            _walk_json(item, name, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_json(item, f"{where}.{index}" if where else str(index), found)


def _pairs_with_nul(pairs) -> dict[str, list[str]]:
    return {(key or "").replace(NUL, "\\0"): [NUL_MESSAGE]
            for key, value in pairs if NUL in (key or "") or NUL in (value or "")}


def nul_errors() -> dict[str, dict[str, list[str]]]:
    """Where this request carries a NUL byte: location (path, query, form, files, json) → field → messages."""
    errors: dict[str, dict[str, list[str]]] = {}
    if NUL in request.path:
        named = {k: [NUL_MESSAGE] for k, v in (request.view_args or {}).items()
                 if isinstance(v, str) and NUL in v}
        errors["path"] = named or {"path": [NUL_MESSAGE]}
    query = _pairs_with_nul(request.args.items(multi=True))
    if query:
        errors["query"] = query
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = _pairs_with_nul(request.form.items(multi=True))
        files = _pairs_with_nul((key, f.filename) for key, f in request.files.items(multi=True))
        if form:
            errors["form"] = form
        if files:
            errors["files"] = files
    if request.is_json:
        found: dict[str, list[str]] = {}
        _walk_json(request.get_json(silent=True), "", found)
        if found:
            errors["json"] = found
    return errors


def _refuse_nul():
    errors = nul_errors()
    if not errors:
        return None
    if request.path.startswith("/api/"):
        return {"code": 422, "status": "Unprocessable Entity",
                "message": "请求中含有空字符（\\0），已拒绝", "errors": errors}, 422
    abort(400, description="请求中含有空字符（\\0），已拒绝。请检查输入的内容。")


def register_safe_input(app: Flask) -> None:
    """Before any route is added (rules bind their converter when added) and before any view."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["key"] = BusinessKeyConverter
    app.before_request(_refuse_nul)
