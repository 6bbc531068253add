"""Liveness checks for pooled PostgreSQL connections, skipped for connections just returned.

A pooled connection can die while idle (server restart, a firewall dropping quiet sockets), so
a checkout pings it first. SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round
trip per transaction, which bench/pre_ping_cost.py measured at more than the 5% of an engine
step the house allows. A connection returned to the pool a moment ago is as alive as a ping
would show, so only connections idle for longer than `RECENT_SECONDS` are pinged (the window
pools such as HikariCP use). A failed ping makes the pool replace the connection and try
again; the request never sees it. An operator who sets `pool_pre_ping` gets SQLAlchemy's.
"""
from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

RECENT_SECONDS = 1.0
_RETURNED = "returned_at"


def _returned(dbapi_connection, record) -> None:  # a new connection is as fresh as a returned one
    if dbapi_connection is not None:
        record.info[_RETURNED] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    returned = record.info.get(_RETURNED)
    if returned is not None and time.monotonic() - returned < RECENT_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # a bare SELECT 1, no transaction left open
        try:
            dbapi_connection.execute("SELECT 1")
        finally:
            dbapi_connection.autocommit = autocommit
    except Exception as exc:
        raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


def register(engine: Engine) -> None:
    """Ping `engine`'s pooled connections at checkout once idle (PostgreSQL engines only)."""
    if engine.dialect.name != "postgresql" or getattr(engine.pool, "_pre_ping", False):
        return
    for name in ("connect", "checkin"):
        event.listen(engine, name, _returned)
    event.listen(engine, "checkout", _ping_if_idle)
