"""Scheduler jobs run within SCHEDULER_JOB_TIME_LIMIT, and a timer's step within the time a
request's step gets (REQUEST_TIME_LIMIT): what overruns is stopped, rolled back and logged, and
the scheduler goes on. The stuck work below is bounded (BOUND seconds), so without the limits
the tests fail on their times instead of hanging."""
from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from sqlalchemy import create_engine, select, text

from app.audit.log import record
from app.audit.models import AuditEntry
from app.engine import deploy, register_service, start
from app.engine.models import ProcessInstance, WorkflowTimer
from app.engine.scheduler import PERIODIC_JOBS, register_periodic, run_due_work, run_periodic
from app.extensions import db
from tests.engine.conftest import T0
from tests.engine.helpers import count
from tests.factories import commit

LIMIT = 0.3
SLACK = 1.5
BOUND = 5.0


def _spin() -> None:
    end = time.monotonic() + BOUND
    while time.monotonic() < end:
        pass


def _timed(fn, *args):
    began = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - began


def _spinning_effect(ctx, label):
    if ctx.business_key == "T-SPIN":
        _spin()
    return {"label": label}


def _two_timer_instances(bpmn, frozen):
    register_service("record_effect", _spinning_effect)
    deploy(bpmn("timer_flow.bpmn"))
    stuck = start("engine_timer_flow", "T-SPIN", {"fire_at": (T0 + timedelta(hours=1)).isoformat()})
    fine = start("engine_timer_flow", "T-OK", {"fire_at": (T0 + timedelta(hours=2)).isoformat()})
    commit()
    frozen.move_to(T0 + timedelta(hours=3))
    return stuck.id, fine.id


def _status(instance_id: int) -> str:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id).status


def test_a_timer_step_over_its_limit_parks_its_timer_and_the_poll_goes_on(app, bpmn, frozen,
                                                                          monkeypatch, caplog):
    monkeypatch.setitem(app.config, "REQUEST_TIME_LIMIT", LIMIT)
    stuck, fine = _two_timer_instances(bpmn, frozen)
    result, took = _timed(run_due_work, app)
    assert result == (1, 0)  # T-OK's timer fired after T-SPIN's step was stopped
    assert took < LIMIT + SLACK
    assert (_status(stuck), _status(fine)) == ("running", "completed")
    [parked] = db.session.scalars(select(WorkflowTimer).where(WorkflowTimer.instance_id == stuck))
    assert parked.state == "error" and "定时器步骤超过时限 0.3 秒" in parked.last_error
    assert "timers of instance" in caplog.text and "parked" in caplog.text
    # The parked timer is not tried again at every poll.
    result, took = _timed(run_due_work, app)
    assert result == (0, 0) and took < LIMIT


def test_a_poll_over_the_job_limit_is_stopped_without_parking(app, bpmn, frozen, monkeypatch, caplog):
    # The poll's own limit runs out (no step limit): the step it interrupted is not to blame.
    monkeypatch.setitem(app.config, "REQUEST_TIME_LIMIT", 0)
    monkeypatch.setitem(app.config, "SCHEDULER_JOB_TIME_LIMIT", LIMIT)
    stuck, fine = _two_timer_instances(bpmn, frozen)
    result, took = _timed(run_due_work, app)
    assert result == (0, 0) and LIMIT <= took < LIMIT + SLACK
    assert "scheduler job engine_timers stopped after its time limit of 0.3s" in caplog.text
    assert (_status(stuck), _status(fine)) == ("running", "running")
    assert count(WorkflowTimer, WorkflowTimer.state == "waiting") == 2


def test_a_periodic_job_over_its_limit_is_rolled_back_and_the_next_job_runs(app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "SCHEDULER_JOB_TIME_LIMIT", LIMIT)
    calls = []

    def stuck():
        record("test.stuck_job", "process_instance", 1, after={"half": "done"})
        db.session.flush()
        _spin()

    register_periodic("stuck_job", stuck, 60)
    register_periodic("next_job", lambda: calls.append(1), 60)
    try:
        ran, took = _timed(run_periodic, app, "stuck_job")
        assert ran is False and LIMIT <= took < LIMIT + SLACK
        assert "scheduler job periodic:stuck_job stopped after its time limit" in caplog.text
        assert count(AuditEntry, AuditEntry.action == "test.stuck_job") == 0  # rolled back
        assert run_periodic(app, "next_job") is True and calls == [1]
        if app.config["BACKEND"] == "postgresql":  # the job's lock was released with it
            key = int.from_bytes(hashlib.sha256(b"stuck_job").digest()[:8], "big", signed=True)
            other = create_engine(db.engine.url)
            try:
                with other.begin() as conn:
                    assert conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
            finally:
                other.dispose()
    finally:
        PERIODIC_JOBS.pop("stuck_job")
        PERIODIC_JOBS.pop("next_job")


def test_a_periodic_job_waiting_on_a_statement_is_cancelled(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_JOB_TIME_LIMIT", LIMIT)
    if app.config["BACKEND"] == "postgresql":
        slow = text(f"SELECT pg_sleep({BOUND})")
    else:
        slow = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) "
                    "SELECT count(*) FROM c")
    register_periodic("slow_job", lambda: db.session.execute(slow).all(), 60)
    try:
        ran, took = _timed(run_periodic, app, "slow_job")
        assert ran is False and LIMIT <= took < LIMIT + SLACK
        assert db.session.scalar(text("SELECT 1")) == 1
    finally:
        PERIODIC_JOBS.pop("slow_job")


def test_the_job_lock_connection_is_never_left_idle_in_a_transaction(app):
    # It holds a session-level lock for the whole job; a transaction left open on it would be
    # ended by idle_in_transaction_session_timeout mid-job, and the lock with it.
    if app.config["BACKEND"] != "postgresql":
        return
    seen = []

    def job():
        seen.extend(db.session.scalars(text(
            "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'SELECT pg_try_advisory_lock%'")))

    register_periodic("lock_probe", job, 60)
    try:
        assert run_periodic(app, "lock_probe") is True
    finally:
        PERIODIC_JOBS.pop("lock_probe")
    assert seen == ["idle"]
