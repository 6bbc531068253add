"""Time limits (app/limits.py): the database ends a slow statement, the watchdog ends a request
that overruns — in Python or waiting on the database — and either way the answer is a 503 in
Chinese, the transaction is rolled back and the next request on the pooled connection works.

The routes below exist only in these tests' apps. Their loops and statements are bounded (a few
seconds), so without the limits a test fails on its status and time instead of hanging.
"""
from __future__ import annotations

import contextlib
import threading
import time

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import text

from app import limits
from app.extensions import db

LIMIT = 0.3  # seconds: the request limit in these tests
SLACK = 1.5  # how late after its limit a stopped request may answer on a busy test machine
BOUND = 5.0  # how long the test routes would run if nothing stopped them


def _pg(app) -> bool:
    return app.config["BACKEND"] == "postgresql"


def _slow_statement(app):
    if _pg(app):
        return text(f"SELECT pg_sleep({BOUND})")
    # SQLite has no sleep: a recursive count that runs for seconds.
    return text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) "
                "SELECT count(*) FROM c")


def _routes(app) -> None:
    probe = Blueprint("limits_probe", __name__)

    def spin():
        db.session.execute(text("SELECT 1"))  # a transaction left open, as a stuck step's was
        end = time.monotonic() + BOUND
        while time.monotonic() < end:
            pass
        return "finished"

    def slow():
        db.session.execute(_slow_statement(app)).all()
        return "finished"

    def swallow():
        """A loop that catches everything it can: TimeLimitExceeded is not an Exception."""
        db.session.execute(text("SELECT 1"))
        end = time.monotonic() + BOUND
        while time.monotonic() < end:
            with contextlib.suppress(Exception):
                sum(range(1000))
        return "finished"

    def connection():
        out = {"ok": db.session.scalar(text("SELECT 1"))}
        if _pg(app):
            raw = db.session.connection().connection.dbapi_connection
            out.update(pid=db.session.scalar(text("SELECT pg_backend_pid()")),
                       statement_timeout=db.session.scalar(text("SHOW statement_timeout")),
                       lock_timeout=db.session.scalar(text("SHOW lock_timeout")),
                       idle=db.session.scalar(text("SHOW idle_in_transaction_session_timeout")),
                       # the row batch's raw DBAPI connection is the same session
                       raw=raw.execute("SHOW statement_timeout").fetchone()[0])
        return jsonify(out)

    for path, view in (("spin", spin), ("slow", slow), ("swallow", swallow),
                       ("connection", connection)):
        probe.add_url_rule(f"/api/probe/{path}", f"api_{path}", view)
        probe.add_url_rule(f"/probe/{path}", path, view)
    app.register_blueprint(probe)


@pytest.fixture()
def probed(limited_app):
    def make(**config):
        made = limited_app(**config)
        _routes(made)
        return made
    return make


def _timed(client, path):
    began = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - began


def _busy_json(response):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.json["message"] == "系统繁忙，请稍后重试。"
    assert response.headers["Retry-After"] == "1"


def _open_transactions(app) -> list:
    """Server sessions of this database left idle in a transaction (PostgreSQL)."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).all()
        db.session.remove()
    return rows


# ---- the PostgreSQL session settings

def test_every_connection_carries_the_configured_timeouts(probed):
    app = probed(DB_STATEMENT_TIMEOUT_MS=1234, DB_LOCK_TIMEOUT_MS=567,
                 DB_IDLE_IN_TRANSACTION_TIMEOUT_MS=8900)
    if not _pg(app):
        pytest.skip("PostgreSQL session settings")
    info = app.test_client().get("/api/probe/connection").json
    assert (info["statement_timeout"], info["lock_timeout"], info["idle"], info["raw"]) == \
        ("1234ms", "567ms", "8900ms", "1234ms")
    with app.app_context(), db.engine.connect() as conn:  # e.g. the scheduler's lock connection
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"


def test_engine_options_keep_what_the_operator_set():
    config = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@h/d?options=-c%20work_mem%3D8MB",
              "DB_STATEMENT_TIMEOUT_MS": 100, "DB_LOCK_TIMEOUT_MS": 0,
              "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": 200,
              "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3}}
    options = limits.engine_options(config)
    assert options["pool_size"] == 3
    assert options["connect_args"]["options"] == (
        "-c statement_timeout=100 -c idle_in_transaction_session_timeout=200 -c work_mem=8MB")
    assert "connect_args" not in limits.engine_options({**config, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


# ---- the database ends the statement

def test_a_statement_over_the_database_limit_is_a_503_and_the_connection_stays_usable(probed):
    app = probed(DB_STATEMENT_TIMEOUT_MS=300, REQUEST_TIME_LIMIT=30)
    if not _pg(app):
        pytest.skip("statement_timeout is PostgreSQL's")
    client = app.test_client()
    before = client.get("/api/probe/connection").json
    response, took = _timed(client, "/api/probe/slow")
    _busy_json(response)
    assert 0.3 <= took < 0.3 + SLACK
    after = client.get("/api/probe/connection").json
    assert after == before  # the same pooled connection, its settings intact
    assert _open_transactions(app) == []
    page, _ = _timed(client, "/probe/slow")
    assert page.status_code == 503 and "系统繁忙" in page.get_data(as_text=True)


def test_a_transaction_left_idle_is_ended_by_the_server(probed):
    app = probed(DB_IDLE_IN_TRANSACTION_TIMEOUT_MS=200, REQUEST_TIME_LIMIT=30)
    if not _pg(app):
        pytest.skip("idle_in_transaction_session_timeout is PostgreSQL's")

    @app.get("/api/probe/idle")
    def idle():
        db.session.execute(text("SELECT 1"))
        time.sleep(0.6)  # e.g. a call to another system while the transaction stays open
        db.session.execute(text("SELECT 2"))
        return "finished"

    client = app.test_client()
    _busy_json(client.get("/api/probe/idle"))
    assert client.get("/api/probe/connection").status_code == 200  # a new connection


# ---- the watchdog ends the request

@pytest.mark.parametrize("path", ["/api/probe/spin", "/api/probe/swallow"])
def test_a_request_looping_in_python_is_stopped_within_its_limit(probed, path):
    app = probed(REQUEST_TIME_LIMIT=LIMIT)
    client = app.test_client()
    before = client.get("/api/probe/connection").json
    response, took = _timed(client, path)
    _busy_json(response)
    assert LIMIT <= took < LIMIT + SLACK
    # The app keeps serving; the stopped request's connection was closed, not pooled again.
    after = client.get("/api/probe/connection")
    assert after.status_code == 200
    if _pg(app):
        assert after.json["pid"] != before["pid"]
        assert after.json["statement_timeout"] == before["statement_timeout"]
        assert _open_transactions(app) == []


def test_a_page_looping_in_python_gets_the_503_page(probed):
    app = probed(REQUEST_TIME_LIMIT=LIMIT)
    response, took = _timed(app.test_client(), "/probe/spin")
    assert response.status_code == 503 and took < LIMIT + SLACK
    html = response.get_data(as_text=True)
    assert "系统繁忙" in html and "<html" in html


def test_a_request_waiting_on_a_statement_is_cancelled_within_its_limit(probed):
    # The database's own limit is far away: the watchdog cancels the statement itself.
    app = probed(REQUEST_TIME_LIMIT=LIMIT, DB_STATEMENT_TIMEOUT_MS=60000)
    client = app.test_client()
    before = client.get("/api/probe/connection").json
    response, took = _timed(client, "/api/probe/slow")
    _busy_json(response)
    assert LIMIT <= took < LIMIT + SLACK
    after = client.get("/api/probe/connection").json
    assert after == before  # cancelled, rolled back, pooled again: same connection, same settings
    if _pg(app):
        assert _open_transactions(app) == []


def test_requests_within_their_limit_are_left_alone(probed):
    app = probed(REQUEST_TIME_LIMIT=LIMIT)
    client = app.test_client()
    for _ in range(20):
        assert client.get("/api/probe/connection").status_code == 200
    time.sleep(LIMIT + 0.1)  # nothing pending is delivered late, into the next request
    assert client.get("/api/probe/connection").status_code == 200


def test_a_thread_the_watchdog_cannot_stop_is_given_up(monkeypatch):
    # Blocked in C without the GIL (and not on the database): the exception cannot land until
    # the call returns. STUCK_AFTER past the deadline the watchdog gives the thread up — in a
    # gunicorn worker, on_stuck restarts the worker (gunicorn.conf.py).
    monkeypatch.setattr(limits, "STUCK_AFTER", 0.2)
    given_up = threading.Event()
    seen = []
    monkeypatch.setattr(limits, "on_stuck", lambda limit: (seen.append(limit.what), given_up.set()))

    def stuck():
        limit = limits.TimeLimit(0.1, "a stuck thread")
        try:
            with limit:
                time.sleep(1.0)
        except limits.TimeLimitExceeded:
            limit.stop()
            seen.append("stopped once awake")

    thread = threading.Thread(target=stuck)
    thread.start()
    assert given_up.wait(2)
    thread.join(3)
    assert seen == ["a stuck thread", "stopped once awake"]
