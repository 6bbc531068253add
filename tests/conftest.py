"""Shared fixtures: a real database per backend, created and dropped by the tests.

Every test that uses `app` runs once on SQLite (a temporary file) and once on PostgreSQL
(127.0.0.1:5432 by default; TEST_PG_URL overrides). Under CI=true a missing PostgreSQL fails
the run instead of skipping it.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.policy import in_force as policy_in_force

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CI = os.environ.get("CI", "").lower() == "true"


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Create a throw-away PostgreSQL database for the session; drop it afterwards."""
    problem = _pg_available()
    if problem:
        if CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"dsp_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@contextlib.contextmanager
def scratch_pg_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (for a migration from empty), dropped after.
    Use beside the `pg_database` fixture, which skips — or fails under CI — without PostgreSQL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


class IsolatedClient(FlaskClient):
    """Each request gets its own app context — its own `g` and database session — as in
    production, even though the test itself holds an app context open."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(url: str, tmp_path_factory, **overrides):
    base = tmp_path_factory.mktemp("inst")
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "ATTACHMENT_DIR": str(base / "attachments"),
        "SCHEDULER_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(overrides)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    return application


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_app(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    application = make_app(url, tmp_path_factory)
    with application.app_context():
        db.create_all()
    application.config["BACKEND"] = request.param
    return application


@pytest.fixture()
def app(backend_app):
    """An application with an empty schema; every table is emptied after the test."""
    with backend_app.app_context():
        yield backend_app
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        policy_in_force.forget()  # the profile changes a test saved are gone with its rows


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture()
def city(app):
    from tests.factories import City

    return City()


@pytest.fixture()
def limited_app(app, tmp_path_factory):
    """`limited_app(**config)`: another app on the test's database with its own (small) time
    limits, and a pool of one connection, so the request after a stopped one gets the very
    connection the stopped one had (or a new one, if it was invalidated)."""
    made = []

    def make(**config):
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          {"pool_size": 1, "max_overflow": 0, "pool_timeout": 5})
        other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path_factory, **config)
        other.config["BACKEND"] = app.config["BACKEND"]
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
