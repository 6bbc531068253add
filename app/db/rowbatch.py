"""Batched row writes on the session's own database connection.

A workflow step writes about ten small rows (instance state, task and timer mirrors, history,
notifications, audit). Through SQLAlchemy each statement costs 30–110 µs of Python on top of
the database's own work, and on PostgreSQL each is a network round trip
(bench/engine_bench.py). So the hot paths queue plain INSERT / UPDATE statements here and send
them together: on PostgreSQL as one multi-statement query (one round trip for the lot), on
SQLite back to back on the connection.

Statements are built once per dialect, table and column set, and values go through the column
types' own bind processors, so the rows stored are exactly the rows SQLAlchemy would store.
Queued writes are sent before any other statement runs on the connection and with the
commit `app.db.transaction()` makes, so every reader in the transaction sees them; a rollback
drops them. The listeners doing so are put on the app's engine by `register()` (create_app).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

_KEY = "rowbatch"
# `attach()` and `persistent()` use SQLAlchemy internals (state._commit_all, the identity
# map's _add_unpresent, Session._autobegin_t) as of this release; tests/db/test_rowbatch.py
# fails when another version is installed, so each upgrade is checked against them first.
CHECKED_SQLALCHEMY = "2.1.9"


class _Statement:
    """SQL text for one dialect plus, per parameter, the column key and its bind processor."""

    def __init__(self, build: Callable[[Callable[[str], str]], str], dialect,
                 binds: list[tuple[str, str, Callable | None]]):
        self.sql = build(lambda name: _placeholder(dialect, name))
        self.binds = binds

    def params(self, values: Mapping[str, Any], where: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
        """Driver parameters: SET/VALUES columns from `values`, WHERE columns (w…) from `where`."""
        out = {}
        for name, key, process in self.binds:
            value = where[key] if name[0] == "w" else values[key]
            out[name] = process(value) if process is not None and value is not None else value
        return out


def _placeholder(dialect, name: str) -> str:
    return f"%({name})s" if dialect.paramstyle in ("pyformat", "format") else f":{name}"


def _processor(dialect, column) -> Callable | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


@cache
def _insert(dialect, table: Table, keys: tuple[str, ...], returning: bool) -> _Statement:
    quote = dialect.identifier_preparer.quote
    returned = f" RETURNING {quote(_pk(table).name)}" if returning else ""
    return statement(dialect, table, keys, (), lambda marks: (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
        f"VALUES ({', '.join(marks)}){returned}"))


@cache
def _update(dialect, table: Table, keys: tuple[str, ...], where: tuple[str, ...]) -> _Statement:
    quote = dialect.identifier_preparer.quote
    binds = [(f"s{i}", key, _processor(dialect, table.c[key])) for i, key in enumerate(keys)]
    conds = [(f"w{i}", key, _processor(dialect, table.c[key])) for i, key in enumerate(where)]

    def build(mark: Callable[[str], str]) -> str:
        sets = ", ".join(f"{quote(k)} = {mark(n)}" for n, k, _ in binds)
        cond = " AND ".join(f"{quote(k)} = {mark(n)}" for n, k, _ in conds)
        return f"UPDATE {quote(table.name)} SET {sets} WHERE {cond}"
    return _Statement(build, dialect, binds + conds)


def statement(dialect, table: Table, keys: tuple[str, ...], extra: tuple[str, ...],
              build: Callable[[list[str]], str]) -> _Statement:
    """A statement of the caller's own shape for `Batch.write()`: `build(marks)` gets one
    placeholder per column of `keys` (bound through the column's type) then per plain
    parameter of `extra`. Build it once per dialect."""
    binds = [(f"p{i}", key, _processor(dialect, table.c[key])) for i, key in enumerate(keys)]
    binds += [(f"x{i}", key, None) for i, key in enumerate(extra)]

    def sql(mark: Callable[[str], str]) -> str:
        return build([mark(name) for name, _, _ in binds])
    return _Statement(sql, dialect, binds)


def _pk(table: Table):
    return next(iter(table.primary_key.columns))


@cache
def _defaults(table: Table) -> tuple[tuple[str, Any], ...]:
    """Python-side column defaults, applied to omitted columns as a Core insert would."""
    out = []
    for column in table.columns:
        if column.primary_key or column.default is None:
            continue
        out.append((column.key, column.default))
    return tuple(out)


def with_defaults(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` plus the Python-side default of every column they omit."""
    row = dict(values)
    for key, default in _defaults(table):
        if key not in row:
            row[key] = default.arg(None) if default.is_callable else default.arg
    return row


class _Read:
    """A compiled SELECT for one dialect: its text, parameter order and result processors."""

    def __init__(self, dialect, stmt: Select):
        compiled = stmt.compile(dialect=dialect)  # no expanding IN (…) parameters, please
        self.sql = compiled.string
        self._compiled = compiled
        self._positional = compiled.positiontup
        self.processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                           for column in stmt.selected_columns]

    def params(self, values: Mapping[str, Any]) -> Any:
        params = self._compiled.construct_params(values)
        if self._positional is not None:
            return [params[name] for name in self._positional]
        return params


_READS: dict[tuple[Any, Select], _Read] = {}


class Result:
    """What a queued statement gave back, readable once the batch has been sent."""

    __slots__ = ("ids", "rowcount", "scalar", "rows")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rowcount = -1
        self.scalar: Any = None
        self.rows: list[tuple] = []


class _Op:
    __slots__ = ("statement", "params", "result", "check", "fetch")

    def __init__(self, statement: _Statement | str, params: Any, result: Result,
                 fetch: str | _Read | None, check: Callable[[int], None] | None):
        self.statement, self.params, self.result = statement, params, result
        self.fetch, self.check = fetch, check


class Batch:
    """Writes queued for one database connection's current transaction."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._dialect = connection.dialect
        self._ops: list[_Op] = []

    def __bool__(self) -> bool:
        return bool(self._ops)

    @property
    def dialect(self):
        return self._dialect

    def _queue(self, statement, params, fetch=None, check=None) -> Result:
        result = Result()
        self._ops.append(_Op(statement, params, result, fetch, check))
        return result

    def insert(self, table: Table, rows: Mapping[str, Any] | Iterable[Mapping[str, Any]], *,
               returning_ids: bool = False) -> Result:
        """INSERT rows (omitted columns get their Python defaults). With `returning_ids` the
        result's `ids` follow the rows' order."""
        rows = [rows] if isinstance(rows, Mapping) else list(rows)
        full = [with_defaults(table, row) for row in rows]
        result = Result()
        if returning_ids:
            # One statement per row keeps the ids in order on both drivers (sqlite3's
            # executemany returns no rows); on PostgreSQL they still share one round trip.
            for row in full:
                stmt = _insert(self._dialect, table, tuple(row), True)
                self._ops.append(_Op(stmt, stmt.params(row), result, "ids", None))
            return result
        groups: dict[tuple[str, ...], list[dict]] = {}
        for row in full:
            groups.setdefault(tuple(row), []).append(row)
        for keys, members in groups.items():
            stmt = _insert(self._dialect, table, keys, False)
            self._ops.append(_Op(stmt, [stmt.params(r) for r in members], result, "many", None))
        return result

    def write(self, stmt: _Statement, values: Mapping[str, Any]) -> Result:
        """Queue a statement made by `statement()` with its values."""
        return self._queue(stmt, stmt.params(values))

    def update(self, table: Table, values: Mapping[str, Any], where: Mapping[str, Any], *,
               check: Callable[[int], None] | None = None) -> Result:
        """UPDATE … SET values WHERE col = value AND …; `check(rowcount)` runs after sending."""
        stmt = _update(self._dialect, table, tuple(values), tuple(where))
        return self._queue(stmt, stmt.params(values, where), None, check)

    def update_many(self, table: Table, keys: tuple[str, ...], where: tuple[str, ...],
                    rows: list[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> Result:
        """One executemany UPDATE for (values, where) pairs sharing SET and WHERE columns."""
        stmt = _update(self._dialect, table, keys, where)
        return self._queue(stmt, [stmt.params(v, w) for v, w in rows], "many")

    def select(self, stmt: Select, params: Mapping[str, Any] | None = None) -> Result:
        """A Core SELECT sent with the queued writes (after them); `rows` get the column types'
        result processing. Parameters are plain values. Compiled once per dialect."""
        read = _READS.get((self._dialect, stmt))
        if read is None:
            read = _READS[(self._dialect, stmt)] = _Read(self._dialect, stmt)
        return self._queue(read, read.params(params or {}), read)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *,
                scalar: bool = False) -> Result:
        """A literal statement in the driver's parameter style (e.g. a lock, a small read)."""
        return self._queue(sql, dict(params or {}), "scalar" if scalar else None)

    def send(self, *, commit: bool = False) -> None:
        """Send everything queued, in order. On PostgreSQL the statements travel as one
        multi-statement query (one round trip), which with `commit` also carries the COMMIT
        (the driver's own commit then finds nothing left to do)."""
        ops, self._ops = self._ops, []
        if not ops:
            return
        raw = self._connection.connection.dbapi_connection
        try:
            if self._dialect.name == "postgresql" and (len(ops) > 1 or commit):
                _send_as_one_query(raw, ops, commit)
            else:
                for op in ops:
                    _send_alone(raw, op)
        except self._dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(_sql(ops[0]), None, exc, self._dialect.loaded_dbapi.Error,
                                      dialect=self._dialect) from exc
        for op in ops:
            if op.check is not None:
                op.check(op.result.rowcount)


def _sql(op: _Op) -> str:
    return op.statement if isinstance(op.statement, str) else op.statement.sql


def _send_alone(raw, op: _Op) -> None:
    cursor = raw.cursor()
    try:
        if op.fetch == "many":
            cursor.executemany(_sql(op), op.params)
        else:
            cursor.execute(_sql(op), op.params)
        _collect(op, cursor)
    finally:
        cursor.close()


def _send_as_one_query(raw, ops: list[_Op], commit: bool) -> None:
    """psycopg: all statements as one simple query, one round trip; results come back one set
    per statement. (psycopg's pipeline mode waits on the socket per statement, which on a busy
    host cost as much as separate round trips.)"""
    from psycopg import ClientCursor

    cursor = ClientCursor(raw)  # values bound client-side, with the driver's own quoting
    try:
        texts, owners = [], []
        for op in ops:
            for params in (op.params if op.fetch == "many" else [op.params]):
                texts.append(cursor.mogrify(_sql(op), params or None))
                owners.append(op)
        if commit:
            texts.append("COMMIT")
        cursor.execute(";\n".join(texts))
        for index, op in enumerate(owners):
            if index:
                cursor.nextset()
            _collect(op, cursor)
    finally:
        cursor.close()


def _collect(op: _Op, cursor) -> None:
    """Take one statement's result (an executemany's rowcounts add up)."""
    result = op.result
    if op.fetch == "ids":
        result.ids.append(cursor.fetchone()[0])
    elif op.fetch == "scalar":
        row = cursor.fetchone()
        result.scalar = row[0] if row else None
    elif isinstance(op.fetch, _Read):
        processors = op.fetch.processors
        result.rows = [tuple(value if process is None or value is None else process(value)
                             for process, value in zip(processors, row, strict=True))
                       for row in cursor.fetchall()]
    rowcount = cursor.rowcount
    result.rowcount = rowcount if result.rowcount < 0 else result.rowcount + max(rowcount, 0)


def persistent(session: Session, model: type, values: Mapping[str, Any]) -> Any:
    """The session's object for a row read through a batch: the one already in the identity
    map (its unloaded attributes filled in), else a new persistent object holding `values` —
    what an ORM query would give, without the ORM's per-query loading machinery."""
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key([values[mapper.primary_key[0].key]])
    obj = session.identity_map.get(key)
    if obj is not None:
        for name in inspect(obj).unloaded:
            if name in values:
                set_committed_value(obj, name, values[name])
        return obj
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    attach(session, obj, key)
    return obj


def attach(session: Session, obj: Any, key: tuple | None = None) -> None:
    """Make `obj` (transient, its row already written or read) a persistent member of the
    session, its current values counting as loaded — the three assignments the ORM's own row
    loader makes (orm/loading.py). Session.add() of a detached object would also walk the
    relationship cascades, which costs more than the rest of a mirror row's handling."""
    if isinstance(session, scoped_session):
        session = session()
    state = inspect(obj)
    if state.key is not None or state.session_id is not None:
        raise ValueError(f"{obj!r} is already persistent")
    if key is None:
        key = state.mapper.identity_key_from_primary_key(state.mapper.primary_key_from_instance(obj))
    if state.modified:
        state._commit_all(state.dict)  # constructor-set values are the row's values now
    session._autobegin_t()
    state.key, state.identity_token = key, key[2]
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    if session.dispatch.loaded_as_persistent:
        session.dispatch.loaded_as_persistent(session, state)


def batch(session: Session) -> Batch:
    """The batch of the session's current transaction (created on first use)."""
    connection = session.connection()
    found = connection.info.get(_KEY)
    if found is None or found._connection is not connection:
        found = connection.info[_KEY] = Batch(connection)
    return found


# Queued writes go out before anything else runs on the connection (so readers see them) and
# with the COMMIT that `app.db.transaction()` makes (`send_with_commit`); a rollback forgets
# them. A commit that bypasses transaction() while rows are queued is refused: they would
# otherwise go out as a round trip of their own, or — when nothing else runs — be lost.

def _pending(connection: Connection) -> Batch | None:
    pending = connection.info.get(_KEY)
    if pending is not None and pending._connection is not connection:
        # left by an earlier checkout that neither committed nor rolled back
        connection.info.pop(_KEY, None)
        return None
    return pending


def send_with_commit(session: Session) -> None:
    """Send the session's queued rows together with its COMMIT (one round trip on PostgreSQL;
    the driver's own commit then finds nothing left to do). Called by transaction() only."""
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        return
    pending = _pending(session.connection())
    if pending:
        pending.send(commit=True)


def _send_before_statement(connection, _cursor, _statement, _params, _context, _many) -> None:
    pending = _pending(connection)
    if pending:
        pending.send()


def _refuse_commit_with_queued_rows(connection) -> None:
    if _pending(connection):
        connection.info.pop(_KEY, None)
        raise RuntimeError("queued rows would be lost: commit through app.db.transaction()")


def _forget_on_rollback(connection) -> None:
    if not connection.invalidated:  # an invalidated one is dropped by the pool with its info
        connection.info.pop(_KEY, None)


def _forget_on_reset(_dbapi_connection, record, _reset_state) -> None:
    record.info.pop(_KEY, None)


def register(engine: Engine) -> None:
    """Put the batch's listeners on the app's engine (create_app, through app.db.init_app)."""
    event.listen(engine, "before_cursor_execute", _send_before_statement)
    event.listen(engine, "commit", _refuse_commit_with_queued_rows)
    event.listen(engine, "rollback", _forget_on_rollback)
    event.listen(engine.pool, "reset", _forget_on_reset)
