"""The step's row writes, through SQLAlchemy Core.

A completion touches a handful of rows (instance, two or three mirror rows, history, audit),
and the ORM unit of work costs several times what those statements cost
(bench/engine_bench.py). So the engine writes them itself: inserts in one statement per
table (RETURNING the ids), updates as one executemany per table and column set. The
session's objects are kept in step with what was written (committed values, persistent
identities), so the ORM has nothing left to flush and readers in the same transaction see
the same rows.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, inspect, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.engine.errors import Conflict
from app.extensions import db

_NO_DEFAULT = object()


def connection():
    """The session's connection (joins the session's transaction; no autoflush)."""
    return db.session.connection()


def _column_defaults(obj: Any) -> dict[str, Any]:
    """Every column value of a new object, Python-side defaults filled in (as the ORM would),
    so the object is complete once attached and no attribute needs loading later."""
    values = {}
    for attr in inspect(type(obj)).column_attrs:
        if attr.key in obj.__dict__:
            values[attr.key] = obj.__dict__[attr.key]
            continue
        column = attr.columns[0]
        if column.primary_key:
            continue
        default = column.default
        value = None
        if default is not None and default.is_scalar:
            value = default.arg
        elif default is not None and default.is_callable:
            value = default.arg(None)
        setattr(obj, attr.key, value)
        values[attr.key] = value
    return values


class RowWriter:
    """Collects a step's inserts and updates; `flush()` writes them and attaches the objects."""

    def __init__(self) -> None:
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

    def flush(self) -> None:
        new, self._new = self._new, []
        changed, self._changed = self._changed, {}
        if new:
            insert_objects(new)
        if changed:
            _write_updates(changed.values())


def insert_objects(objs: list[Any]) -> None:
    """INSERT transient ORM objects (one statement per table and column set, ids RETURNed in
    order) and make them persistent members of the session without an ORM flush."""
    groups: dict[tuple, list[tuple[Any, dict]]] = {}
    for obj in objs:
        values = _column_defaults(obj)
        groups.setdefault((type(obj), tuple(values)), []).append((obj, values))
    conn = connection()
    for (model, _keys), members in groups.items():
        stmt = _insert_returning_id(model, len(members) > 1)
        params = [values for _, values in members]
        ids = conn.execute(stmt, params if len(params) > 1 else params[0]).scalars().all()
        pk_key = inspect(model).primary_key[0].key
        for (obj, _), new_id in zip(members, ids, strict=True):
            setattr(obj, pk_key, new_id)
            make_transient_to_detached(obj)
            db.session.add(obj)


# Statements are built once per table and column set: building and cache-keying a statement
# costs several times executing it.

@cache
def _insert_returning_id(model: type, many: bool) -> Any:
    table = model.__table__
    pk = inspect(model).primary_key[0]
    # Several rows: one INSERT whose RETURNING follows the parameter order (SQLAlchemy's
    # insertmanyvalues). One row, the usual case: a plain INSERT … RETURNING, which is cheaper.
    return insert(table).returning(table.c[pk.name], sort_by_parameter_order=many)


@cache
def _update_by_pk(model: type, keys: tuple[str, ...], version_key: str | None = None) -> Any:
    table = model.__table__
    pk = inspect(model).primary_key[0]
    stmt = update(table).where(table.c[pk.name] == bindparam("_pk"))
    if version_key is not None:
        stmt = stmt.where(table.c[version_key] == bindparam("_seen"))
    return stmt.values({key: bindparam(f"_{key}") for key in keys})


def _params(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    params = {f"_{key}": value for key, value in values.items()}
    params["_pk"] = inspect(obj).identity[0]
    return params


def _write_updates(changes) -> None:
    groups: dict[tuple, list[dict]] = {}
    for obj, values in changes:
        groups.setdefault((type(obj), tuple(values)), []).append(_params(obj, values))
    conn = connection()
    for (model, keys), params in groups.items():
        conn.execute(_update_by_pk(model, keys), params)


def update_versioned(obj: Any, version_key: str, seen: int, values: dict[str, Any]) -> None:
    """UPDATE … WHERE version = :seen, the optimistic lock; no row → Conflict (another step
    moved the instance first). On success the object holds the written values."""
    params = _params(obj, values)
    params["_seen"] = seen
    stmt = _update_by_pk(type(obj), tuple(values), version_key)
    if connection().execute(stmt, params).rowcount != 1:
        raise Conflict("流程已被其他操作更新，请刷新后重试")
    for key, value in values.items():
        set_committed_value(obj, key, value)
