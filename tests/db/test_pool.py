"""Pooled PostgreSQL connections are pinged on checkout once idle for a while (app/db/pool.py):
a connection that died meanwhile is replaced without the request noticing, while one used a
moment ago costs no round trip."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.db import engine_options, pool
from app.extensions import db
from tests.conftest import PG_ADMIN_URL


def _kill_pooled_backend() -> None:
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.remove()  # back to the pool
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


@pytest.fixture()
def pg_app(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("an embedded SQLite connection cannot be dropped")
    db.engine.dispose()  # a pool of one fresh connection for this test
    return app


def test_the_operators_choice_is_kept():
    pg = "postgresql+psycopg://u@h/d"
    assert "pool_pre_ping" not in engine_options({"SQLALCHEMY_DATABASE_URI": pg})
    assert engine_options({"SQLALCHEMY_DATABASE_URI": pg, "SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_pre_ping": True}})["pool_pre_ping"] is True


def test_an_idle_connection_that_died_is_replaced_on_checkout(pg_app, monkeypatch):
    _kill_pooled_backend()
    monkeypatch.setattr(pool, "RECENT_SECONDS", 0.0)  # every pooled connection counts as idle
    assert db.session.scalar(text("SELECT 1")) == 1


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_app, monkeypatch):
    monkeypatch.setattr(pool, "RECENT_SECONDS", 3600.0)
    _kill_pooled_backend()
    # Within the window the pool trusts the connection: this statement meets the dead socket,
    # SQLAlchemy invalidates the pool, and the next transaction gets a new connection.
    with pytest.raises(OperationalError):
        db.session.scalar(text("SELECT 1"))
    db.session.rollback()
    assert db.session.scalar(text("SELECT 1")) == 1


def test_a_new_connection_is_not_pinged(pg_app, monkeypatch):
    import psycopg

    pings = []
    real = psycopg.Connection.execute
    monkeypatch.setattr(psycopg.Connection, "execute",
                        lambda self, query, *a, **k: pings.append(query) or real(self, query, *a, **k))
    assert db.session.scalar(text("SELECT 2")) == 2  # the pool's first connection, just made
    assert "SELECT 1" not in pings
