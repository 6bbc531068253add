"""Pooled PostgreSQL connections are checked on checkout (SQLAlchemy's pool_pre_ping): a
connection that died while idle is replaced without the request noticing."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.db import engine_options
from app.extensions import db
from tests.conftest import PG_ADMIN_URL


def test_only_postgresql_engines_ping_and_an_explicit_choice_wins():
    pg = "postgresql+psycopg://u@h/d"
    assert engine_options({"SQLALCHEMY_DATABASE_URI": pg})["pool_pre_ping"] is True
    assert engine_options({"SQLALCHEMY_DATABASE_URI": pg, "SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_pre_ping": False}})["pool_pre_ping"] is False
    assert "pool_pre_ping" not in engine_options({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_an_idle_connection_that_died_is_replaced_on_checkout(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("an embedded SQLite connection cannot be dropped")
    db.engine.dispose()  # a pool of one fresh connection for this test
    assert db.engine.pool._pre_ping
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.remove()  # back to the pool
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()
    assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid  # no error: replaced
