"""Create requests answered honestly and at most once.

A handler that creates something passes a function that does the work and returns the answer,
serialised from what the transaction wrote (`prepared`); `idempotent` runs it in one
transaction and commits. After the COMMIT nothing is left but returning the prepared body, so
no failure there can report a created record as an error.

With an `Idempotency-Key` header (1–255 printable ASCII characters, chosen by the client, one
per intended creation) the first successful answer is stored with the key in that same
transaction. A repeat with the same key and the same request (method, path, body) gets the
stored answer back — same status, body and Location, plus `Idempotent-Replayed: true` — and
creates nothing; the same key with another request is refused (422). A duplicate sent while
the first is still running waits for it on the key's primary key and then gets its answer
(409 if it cannot). Failed requests store nothing: they changed nothing, so they may simply
be retried. Keys are kept IDEMPOTENCY_KEY_HOURS (24 by default), then deleted by a periodic
job — and ignored by lookups once expired.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, jsonify, request
from flask_login import current_user
from flask_smorest import abort
from marshmallow import Schema
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.api.models import IdempotencyKey
from app.clock import utcnow
from app.db import transaction
from app.extensions import db

HEADER = "Idempotency-Key"
_VALID = re.compile(r"[\x20-\x7e]{1,255}")
_CHUNK = 64 * 1024

# The header on the operations that create things, for the OpenAPI document.
HEADER_PARAMETER = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x20-\x7e]+$"},
    "description": (
        "幂等键：客户端为每次创建操作生成的唯一值（1–255 个可打印 ASCII 字符，如 UUID）。"
        "同一用户以相同的键重发相同请求时，返回首次成功的结果（状态码、响应体、Location 相同，"
        "并带 `Idempotent-Replayed: true`），不再重复创建；相同的键用于不同请求返回 422；"
        "首次请求仍在处理时重发，等待其完成后返回其结果，无法等待时返回 409。"
        "键保留 24 小时（IDEMPOTENCY_KEY_HOURS）。"
        " / Idempotency key: a repeat returns the first result and creates nothing."),
}


# The headers of a create operation's 201, for the OpenAPI document.
CREATED_HEADERS = {
    "Location": {"description": "新建记录的地址 / the created record", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true`：这是首次请求的结果（相同 Idempotency-Key 的重发）",
                            "schema": {"type": "string", "enum": ["true"]}},
}


def idempotency_doc(blp):
    """Document the header on a create operation."""
    return blp.doc(parameters=[HEADER_PARAMETER])


class _KeyTaken(Exception):
    """Another request holds (or held) this user's key."""


def prepared(schema: Schema, obj, status: int = 201, location: str | None = None) -> Response:
    """The answer, serialised now — inside the transaction that wrote `obj` — so that after
    the COMMIT nothing is left to read from the database."""
    response = jsonify(schema.dump(obj))
    response.status_code = status
    if location is not None:
        response.headers["Location"] = location
    return response


def idempotent(create: Callable[[], Response]) -> Response:
    """Run `create` in one transaction and return its answer; with an `Idempotency-Key`, at
    most once per user and key (see the module docstring)."""
    key = request.headers.get(HEADER)
    if key is None:
        with transaction():
            return create()
    if not _VALID.fullmatch(key):
        _refuse("Idempotency-Key 须为 1–255 个可打印 ASCII 字符")
    fingerprint = request_fingerprint()
    stored = _stored(key)
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction():
            claim = _claim(key, fingerprint)
            response = create()
            claim.status_code, claim.body = response.status_code, response.get_data(as_text=True)
            claim.location = response.headers.get("Location")
    except _KeyTaken:
        # The other request has committed by now (a unique violation waits for it) — or the
        # database gave up waiting for it.
        stored = _stored(key)
        if stored is None:
            abort(409, message="使用该 Idempotency-Key 的请求正在处理，请稍后重试")
        return _replay(stored, fingerprint)
    return response


def request_fingerprint() -> str:
    """sha256 of method, path and body; a form's fields and files hash alike whatever the
    multipart boundary, a JSON body whatever its key order and spacing."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in sorted(request.form.items(multi=True), key=lambda item: (str(item[0]), str(item[1]))):
            digest.update(json.dumps(["field", name, value]).encode())
        for name, file in sorted(request.files.items(multi=True), key=lambda item: (str(item[0]), item[1].filename or "")):
            digest.update(json.dumps(["file", name, file.filename]).encode())
            for chunk in iter(lambda f=file: f.stream.read(_CHUNK), b""):
                digest.update(chunk)
            file.stream.seek(0)  # the handler stores it
    else:
        body = request.get_json(silent=True)
        digest.update(json.dumps(body, sort_keys=True).encode() if body is not None else request.get_data())
    return digest.hexdigest()


def _cutoff():
    return utcnow() - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])


def _stored(key: str) -> IdempotencyKey | None:
    return db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.user_id == current_user.id, IdempotencyKey.key == key,
        IdempotencyKey.created_at >= _cutoff()))


def _claim(key: str, fingerprint: str) -> IdempotencyKey:
    """Insert the key first, so a concurrent duplicate blocks here, before doing any work."""
    db.session.execute(delete(IdempotencyKey).where(  # an expired key is free again
        IdempotencyKey.user_id == current_user.id, IdempotencyKey.key == key,
        IdempotencyKey.created_at < _cutoff()))
    claim = IdempotencyKey(user_id=current_user.id, key=key, fingerprint=fingerprint, created_at=utcnow())
    db.session.add(claim)
    try:
        db.session.flush()
    except (IntegrityError, OperationalError):  # taken; or waiting for it timed out (locked)
        raise _KeyTaken() from None
    return claim


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        _refuse("该 Idempotency-Key 已用于另一个请求，请为新的请求使用新的键")
    if stored.status_code is None:  # not committed yet: no other transaction can see such a row
        abort(409, message="使用该 Idempotency-Key 的请求正在处理，请稍后重试")
    response = current_app.response_class(stored.body, status=stored.status_code, mimetype="application/json")
    if stored.location:
        response.headers["Location"] = stored.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _refuse(message: str):
    abort(422, message=message, errors={"headers": {HEADER: [message]}})


def expire_idempotency_keys() -> int:
    """Delete the keys past their retention (a periodic job)."""
    with transaction():
        return db.session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.created_at < _cutoff())).rowcount
