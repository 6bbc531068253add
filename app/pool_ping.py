"""Liveness checks for pooled PostgreSQL connections, skipped for connections just returned.

A pooled connection can die while idle (server restart, a firewall dropping quiet sockets),
so a checkout pings it first. Pinging every checkout costs each transaction a round trip,
though, and a connection returned to the pool a moment ago is as alive as a ping would
show. So only connections idle for longer than `RECENT_SECONDS` are pinged (the window
connection pools such as HikariCP use). A failed ping makes the pool replace the connection
and try again; the request never sees it.
"""
from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

RECENT_SECONDS = 1.0
_RETURNED = "returned_at"


def _is_server_connection(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("psycopg")


@event.listens_for(Pool, "connect")
@event.listens_for(Pool, "checkin")
def _returned(dbapi_connection, record) -> None:  # a new connection is as fresh as a returned one
    if dbapi_connection is not None:
        record.info[_RETURNED] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    if not _is_server_connection(dbapi_connection):
        return  # an embedded SQLite file cannot be dropped
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
