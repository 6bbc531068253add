"""What the database layer does for everyone (ARCHITECTURE.md, "Explicit transactions"):
the row batch (`rowbatch`), SQLite's pragmas and checkpoints (`sqlite`), the pooled
connections' liveness check, and the one way to commit, `transaction()`.

Nothing here listens globally: `init_app` puts the listeners on the app's own engine.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy.engine import make_url

from app.db import rowbatch, sqlite
from app.db.transaction import TransactionFailed, before_commit, in_transaction, request_unit, transaction

__all__ = ["TransactionFailed", "before_commit", "engine_options", "in_transaction", "init_app",
           "request_unit", "transaction"]


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS plus a liveness check of pooled PostgreSQL connections at
    checkout (SQLAlchemy's pool_pre_ping): a connection can die while idle (server restart, a
    firewall dropping quiet sockets), and the pool then replaces it before the request sees it.
    An operator's explicit setting wins."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    return options


def init_app(app: Flask) -> None:
    """After the SQLAlchemy extension is bound: the listeners on the app's engine."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    rowbatch.register(engine)
    if engine.dialect.name == "sqlite":
        sqlite.register(engine, checkpoint_thread=app.config["SQLITE_CHECKPOINT_THREAD"])
