"""What the database layer does for everyone (ARCHITECTURE.md, "Explicit transactions"):
the row batch (`rowbatch`), SQLite's pragmas and checkpoints (`sqlite`), the pooled
connections' liveness check, and the one way to commit, `transaction()`.

Nothing here listens globally: `init_app` puts the listeners on the app's own engine.
"""
from __future__ import annotations

from flask import Flask

from app.db import pool, rowbatch, sqlite
from app.db.transaction import TransactionFailed, before_commit, in_transaction, request_unit, transaction

__all__ = ["TransactionFailed", "before_commit", "engine_options", "in_transaction", "init_app",
           "request_unit", "transaction"]


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS as configured: pooled PostgreSQL connections are checked by
    `pool.register` (a ping once idle) unless the operator sets `pool_pre_ping`."""
    return dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})


def init_app(app: Flask) -> None:
    """After the SQLAlchemy extension is bound: the listeners on the app's engine."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    rowbatch.register(engine)
    pool.register(engine)
    if engine.dialect.name == "sqlite":
        sqlite.register(engine, checkpoint_thread=app.config["SQLITE_CHECKPOINT_THREAD"])
