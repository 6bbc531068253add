"""The step's row writes, without the ORM unit of work.

A completion touches a handful of rows (instance, two or three mirror rows, history, audit),
and the ORM unit of work costs several times what those statements cost
(bench/engine_bench.py). So the engine queues them on the session's row batch
(app/db/rowbatch.py): the optimistic-lock UPDATE of the instance first, then inserts (ids
returned) and updates, all sent together. The session's objects are kept in step with what
was written (committed values, persistent identities), so the ORM has nothing left to flush
and readers in the same transaction see the same rows.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from app.db.rowbatch import Batch, attach, batch, with_defaults
from app.engine.errors import Conflict
from app.extensions import db


def row_batch() -> Batch:
    """The batch of the session's transaction (sent before other statements and at commit)."""
    return batch(db.session)


def _column_defaults(obj: Any) -> dict[str, Any]:
    """Every column value of a new object, Python-side defaults filled in (as the ORM would),
    so the object is complete once attached and no attribute needs loading later."""
    table = type(obj).__table__
    given = {c.key: obj.__dict__[c.key] for c in table.columns if c.key in obj.__dict__}
    values = with_defaults(table, given)
    for column in table.columns:
        if column.key not in values and not column.primary_key:
            values[column.key] = None
    for key, value in values.items():
        if key not in obj.__dict__:
            setattr(obj, key, value)
    return values


def _conflict(rowcount: int) -> None:
    if rowcount != 1:
        raise Conflict("流程已被其他操作更新，请刷新后重试")


def _pk_value(obj: Any) -> Any:
    return inspect(obj).identity[0]


def _pk_key(model: type) -> str:
    return inspect(model).primary_key[0].key


class RowWriter:
    """Collects a step's inserts and updates; `flush()` sends them and attaches the objects."""

    def __init__(self) -> None:
        self._versioned: list[tuple[Any, str, int, dict[str, Any]]] = []
        self._new: list[Any] = []
        self._changed: dict[int, tuple[Any, dict[str, Any]]] = {}

    def add(self, obj: Any) -> Any:
        self._new.append(obj)
        return obj

    def set(self, obj: Any, **values: Any) -> None:
        """Change a persistent row: the object shows the values at once, the row on flush()."""
        if any(obj is new for new in self._new):
            for key, value in values.items():
                setattr(obj, key, value)
            return
        _, pending = self._changed.setdefault(id(obj), (obj, {}))
        pending.update(values)
        for key, value in values.items():
            set_committed_value(obj, key, value)

    def set_versioned(self, obj: Any, version_key: str, seen: int, values: dict[str, Any]) -> None:
        """UPDATE … WHERE version = :seen, the optimistic lock, sent first on flush(); no row →
        Conflict (another step moved the instance first). The object shows the values at once."""
        self._versioned.append((obj, version_key, seen, values))
        for key, value in values.items():
            set_committed_value(obj, key, value)

    def flush(self) -> None:
        """Queue the writes (instance first: concurrent steps queue on its row lock, not on
        mirrors) and send the batch, so new rows have their ids."""
        out = row_batch()
        versioned, self._versioned = self._versioned, []
        new, self._new = self._new, []
        changed, self._changed = self._changed, {}
        for obj, version_key, seen, values in versioned:
            out.update(type(obj).__table__, values,
                       {_pk_key(type(obj)): _pk_value(obj), version_key: seen}, check=_conflict)
        make_persistent = _queue_inserts(out, new)
        _queue_updates(out, changed.values())
        out.send()
        make_persistent()


def _queue_inserts(out: Batch, objs: list[Any]) -> Callable[[], None]:
    """Queue INSERTs of transient ORM objects; the returned function, called once the batch
    is sent, gives them their ids and makes them persistent members of the session."""
    pending = []
    for obj in objs:
        model = type(obj)
        result = out.insert(model.__table__, _column_defaults(obj), returning_ids=True)
        pending.append((obj, result))

    def make_persistent() -> None:
        for obj, result in pending:
            setattr(obj, _pk_key(type(obj)), result.ids[0])
            attach(db.session, obj)
    return make_persistent


def _queue_updates(out: Batch, changes) -> None:
    groups: dict[tuple, list[dict]] = {}
    for obj, values in changes:
        where = {_pk_key(type(obj)): _pk_value(obj)}
        groups.setdefault((type(obj), tuple(values)), []).append((values, where))
    for (model, keys), rows in groups.items():
        out.update_many(model.__table__, keys, (_pk_key(model),), rows)
