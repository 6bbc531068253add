"""Real endpoints waiting on a row another transaction holds (PostgreSQL): the statement's time
limit ends the wait, the caller gets 503 "系统繁忙" within about that limit, nothing of the step
is stored, and the same pooled connection serves the retry once the lock is gone.

claim writes through the ORM; complete sends its writes and the COMMIT as one multi-statement
query on the raw DBAPI connection (app/db/rowbatch.py): both are covered by the connection's
startup settings."""
from __future__ import annotations

import time
from contextlib import contextmanager, suppress

import pytest
from sqlalchemy import create_engine, func, select, text

from app.audit.models import AuditEntry
from app.engine.models import HumanTask, ProcessInstance, TaskEvent
from app.extensions import db
from tests.flows.conftest import Flow

TIMEOUT_MS = 300
SLACK = 1.5


@pytest.fixture(params=["statement", "lock"])
def busy(request, app, limited_app, city, clock):
    """A Flow on an app whose statement (or lock wait) limit is 300 ms."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("row locks held by another session: PostgreSQL")
    config = ({"DB_STATEMENT_TIMEOUT_MS": TIMEOUT_MS, "DB_LOCK_TIMEOUT_MS": 0}
              if request.param == "statement" else
              {"DB_STATEMENT_TIMEOUT_MS": 30000, "DB_LOCK_TIMEOUT_MS": TIMEOUT_MS})
    served = limited_app(**config)
    return Flow(served.test_client(), city), served


@contextmanager
def row_locked(app, table: str, row_id: int):
    """Another session holding `table` row `row_id` FOR UPDATE — for 5 s at most: the server
    ends it then, so that without our limits the request waits 5 s instead of forever."""
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], connect_args={
        "options": "-c idle_in_transaction_session_timeout=5000"})
    conn = other.connect()
    try:
        conn.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id})
        yield
    finally:
        with suppress(Exception):  # already ended by the server, when the request waited it out
            conn.rollback()
        conn.close()
        other.dispose()


def _connection(served) -> tuple:
    """The served app's one pooled connection: backend pid, its limits, transaction state."""
    with served.app_context():
        row = db.session.execute(text(
            "SELECT pg_backend_pid(), current_setting('statement_timeout'), "
            "current_setting('lock_timeout')")).one()
        db.session.remove()
    return tuple(row)


def _stored(instance_id: int) -> tuple:
    db.session.expire_all()
    inst = db.session.get(ProcessInstance, instance_id)
    tasks = db.session.execute(select(HumanTask.id, HumanTask.state, HumanTask.assignee_id).where(
        HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
    return (inst.version, inst.state, tuple(tasks), db.session.scalar(select(func.count(TaskEvent.id))),
            db.session.scalar(select(func.count(AuditEntry.id))))


def _timed(call):
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


def _busy(response):
    assert response.status_code == 503, response.json
    assert response.json["message"] == "系统繁忙，请稍后重试。"
    assert response.headers["Retry-After"] == "1"


def _review_task(flow, entries, city):
    key = flow.apply(city.health_applicant, entries.conditional)
    task = flow.task(key, "formal_review")
    return key, task["id"], db.session.scalar(
        select(HumanTask.instance_id).where(HumanTask.id == task["id"]))


def test_claim_waiting_on_a_locked_task_gets_503_and_nothing_changes(busy, entries, city):
    flow, served = busy
    _key, task_id, instance_id = _review_task(flow, entries, city)
    connection = _connection(served)
    before = _stored(instance_id)
    with row_locked(served, "human_task", task_id):
        response, took = _timed(lambda: flow.post(city.reviewer, f"/api/tasks/{task_id}/claim"))
    _busy(response)
    assert TIMEOUT_MS / 1000 <= took < TIMEOUT_MS / 1000 + SLACK
    assert _stored(instance_id) == before
    assert _connection(served) == connection  # the same connection, clean, its settings intact
    claimed = flow.post(city.reviewer, f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.json["assignee_id"] == city.reviewer.id


def test_complete_waiting_on_a_locked_instance_gets_503_and_nothing_changes(busy, entries, city):
    flow, served = busy
    _key, task_id, instance_id = _review_task(flow, entries, city)
    connection = _connection(served)
    before = _stored(instance_id)
    with row_locked(served, "process_instance", instance_id):
        response, took = _timed(lambda: flow.complete(city.reviewer, task_id,
                                                      {"decision": "accept"}))
    _busy(response)
    assert TIMEOUT_MS / 1000 <= took < TIMEOUT_MS / 1000 + SLACK
    assert _stored(instance_id) == before  # no state, mirror, history or audit row half-written
    assert _connection(served) == connection
    done = flow.complete(city.reviewer, task_id, {"decision": "accept"})
    assert done.status_code == 200, done.json
    assert [t["task_spec"] for t in done.json["next_tasks"]] == ["provider_review"]


def test_the_task_page_waiting_on_a_lock_shows_the_503_page(busy, entries, city):
    flow, served = busy
    _key, task_id, _instance_id = _review_task(flow, entries, city)
    from tests import factories as f

    page = served.test_client()
    f.login(page, city.reviewer.username)
    with row_locked(served, "human_task", task_id):
        response = f.post_form(page, f"/tasks/{task_id}/claim", {"next": "/tasks/?view=mine"})
    assert response.status_code == 503
    html = f.page_text(response)
    assert "系统繁忙" in html and "请稍后重试" in html
