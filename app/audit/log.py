"""Writing and verifying the audit chain.

Each row's hash covers its content and the previous row's hash, so editing, deleting or
reordering any row breaks every hash after it. `record()` queues the row on the caller's
transaction; just before its commit `app.db.transaction()` calls `chain_pending`, which chains
the queued rows and inserts them in one go, so they commit (or roll back) together with the
change they describe, and the chain lock is held only for the commit itself instead of for the
whole transaction. On PostgreSQL the server chains them:
Python sends each row's canonical text around the gap where the previous hash goes, and the
INSERT hashes it with the last row's hash, so lock, rows and COMMIT are one message.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from app.audit.models import AuditAnchor, AuditEntry
from app.clock import as_utc, utcnow
from app.db.rowbatch import batch, statement
from app.extensions import db

GENESIS = "0" * 64
# Arbitrary constant: serialises chain appends across connections on PostgreSQL.
_PG_CHAIN_LOCK = 7_301_2016


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    return value


_HASHED = ("actor_id", "actor_name", "department_id", "action", "object_type", "object_id",
           "before", "after", "remote_addr", "prev_hash")


def _canonical(row: Mapping[str, Any]) -> str:
    payload = {key: row[key] for key in _HASHED}
    payload["at"] = as_utc(row["at"]).isoformat(timespec="microseconds")
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digest(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(row).encode("utf-8")).hexdigest()


# Rows recorded but not yet chained, per root transaction: a rolled-back transaction takes its
# rows with it (a new one starts empty) without anyone having to listen for the rollback.
_PENDING: WeakKeyDictionary[SessionTransaction, list[dict]] = WeakKeyDictionary()
_LOCK = "SELECT pg_advisory_xact_lock(%(k)s)"
_LAST_HASH = "SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1"
# Stands in for the previous row's hash while the canonical text is built in Python; the
# text on either side of it travels to the server, which puts the real hash in between.
_PREV_MARK = "prev-hash-" + uuid.uuid4().hex


def _canonical_around_prev(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """The row's canonical text split where the previous hash goes (None if the mark turns
    up twice, which only content quoting the mark could cause)."""
    parts = _canonical({**row, "prev_hash": _PREV_MARK}).split(_PREV_MARK)
    return (parts[0], parts[1]) if len(parts) == 2 else None


@cache
def _chained_insert(dialect):
    """INSERT of one audit row whose prev_hash and hash the server fills in from the last row
    (PostgreSQL's sha256 over the same canonical text `_digest()` hashes)."""
    table = AuditEntry.__table__
    keys = tuple(c.key for c in table.columns if c.key not in ("id", "prev_hash", "hash"))

    quote = dialect.identifier_preparer.quote

    def build(marks: list[str]) -> str:
        given, (before, after) = marks[:len(keys)], marks[len(keys):]
        return (f"INSERT INTO audit_entry ({', '.join(quote(k) for k in keys)}, prev_hash, hash) "
                f"SELECT {', '.join(given)}, chain.hash, encode(sha256(convert_to("
                f"{before} || chain.hash || {after}, 'UTF8')), 'hex') "
                f"FROM (SELECT coalesce(({_LAST_HASH}), '{GENESIS}') AS hash) AS chain")
    return statement(dialect, table, keys, ("_before", "_after"), build)


def _pending(session: Session | scoped_session, *, create: bool) -> list[dict] | None:
    if isinstance(session, scoped_session):
        session = session()
    root = session.get_transaction()
    if root is None:
        if not create:
            return None
        root = session.begin()  # what the first statement would do anyway
    if create:
        return _PENDING.setdefault(root, [])
    return _PENDING.pop(root, None)


def chain_pending(session: Session | scoped_session) -> None:
    """Chain the transaction's recorded rows onto the log and queue their INSERT (sent with
    the COMMIT). A step of every unit of work (create_app: app.db.before_commit)."""
    pending = _pending(session, create=False)
    if not pending:
        return
    out = batch(session)
    if out.dialect.name == "postgresql" and _chain_on_server(out, pending):
        return
    # The last hash is read with the transaction's queued writes (one round trip); on
    # PostgreSQL under the chain lock, and being a separate statement, the read sees what
    # the lock waited for.
    if out.dialect.name == "postgresql":
        out.execute(_LOCK, {"k": _PG_CHAIN_LOCK})
    last = out.execute(_LAST_HASH, scalar=True)
    out.send()
    prev = last.scalar or GENESIS
    for row in pending:
        row["prev_hash"] = prev
        row["hash"] = prev = _digest(row)
    # The rows are final and nothing reads them back: the commit sends them.
    out.insert(AuditEntry.__table__, pending)


def _chain_on_server(out, pending: list[dict]) -> bool:
    """Queue the chain lock and rows whose hashes the server computes, so lock, rows and
    COMMIT travel together: the lock is held for that one message only, and no read of the
    last hash costs a round trip of its own."""
    parts = [_canonical_around_prev(row) for row in pending]
    if None in parts:
        return False
    out.execute(_LOCK, {"k": _PG_CHAIN_LOCK})
    stmt = _chained_insert(out.dialect)
    for row, (before, after) in zip(pending, parts, strict=True):
        out.write(stmt, {**row, "_before": before, "_after": after})
    return True


def refuse_unchained_commit(session: Session) -> None:
    """A commit with recorded rows that did not go through `app.db.transaction()` would drop
    them from the log: refused (Session `before_commit`, put there by create_app)."""
    root = session.get_transaction()
    if root is not None and _PENDING.get(root):
        raise RuntimeError("audit rows would be lost: commit through app.db.transaction()")


def _request_actor() -> tuple[int | None, str | None, int | None, str | None]:
    if not has_request_context():
        return None, "system", None, None
    addr = request.remote_addr
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.id, current_user.username, current_user.department_id, addr
    return None, None, None, addr


def record(
    action: str,
    object_type: str | None = None,
    object_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    actor: Any = None,
    actor_name: str | None = None,
) -> None:
    """Append one audit row to the current transaction (written when it commits).

    `actor` is a User; by default the signed-in user of the request, else "system".
    """
    actor_id, name, dept_id, addr = _request_actor()
    if actor is not None:
        actor_id, name, dept_id = actor.id, actor.username, actor.department_id
    row = {
        "at": utcnow(), "actor_id": actor_id, "actor_name": actor_name or name,
        "department_id": dept_id, "action": action, "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "before": _jsonable(before), "after": _jsonable(after), "remote_addr": addr,
    }
    _pending(db.session, create=True).append(row)


def recorded_in_transaction(object_type: str, object_id: Any, actions: tuple[str, ...]) -> list[dict]:
    """The rows this transaction has recorded for one object and not yet written (they go in
    at its commit): what a response built inside the transaction must see too."""
    session = db.session()
    root = session.get_transaction()
    rows = _PENDING.get(root, []) if root is not None else []
    return [row for row in rows if row["object_type"] == object_type
            and row["object_id"] == str(object_id) and row["action"] in actions]


@dataclass
class ChainProblem:
    entry_id: int
    reason: str


def lock_chain() -> None:
    """Hold the chain lock for the rest of the transaction (PostgreSQL; SQLite has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})


def chain_start() -> tuple[int, str, AuditAnchor | None]:
    """Where the chain begins: after the latest prune's anchor (its last id and hash), or at
    the genesis."""
    anchor = db.session.scalar(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1))
    return (anchor.last_id, anchor.last_hash, anchor) if anchor else (0, GENESIS, None)


def _anchor_problem(anchor: AuditAnchor | None) -> ChainProblem | None:
    """An anchor counts only when a chained `audit.pruned` entry records the same cut: a row
    written straight into the table (to hide a deleted stretch) vouches for nothing."""
    if anchor is None:
        return None
    vouched = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "audit.pruned", AuditEntry.object_id == str(anchor.last_id)))
    if any((e.after or {}).get("last_hash") == anchor.last_hash for e in vouched):
        return None
    return ChainProblem(anchor.last_id, "清理锚点没有对应的审计记录：日志开头的记录可能被删除")


def verify_chain(batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Walk the log in id order from its start (`chain_start`); return (rows checked, problems)."""
    last_id, expected_prev, anchor = chain_start()
    problems: list[ChainProblem] = [p for p in [_anchor_problem(anchor)] if p]
    checked = 0
    while True:
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != expected_prev:
                problems.append(ChainProblem(row.id, "链接断开：前一条记录被删除、插入或修改"))
            if _digest(vars(row)) != row.hash:
                problems.append(ChainProblem(row.id, "内容与哈希不符：记录被篡改"))
            expected_prev = row.hash
            last_id = row.id
            checked += 1
            db.session.expunge(row)  # memory stays flat; the caller's own objects stay attached
    return checked, problems
