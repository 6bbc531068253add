"""PostgreSQL-only: real concurrent transactions (each thread its own app context/session)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.audit.log import verify_chain
from app.audit.models import AuditEntry
from app.db import transaction
from app.engine import Actor, Conflict, complete, deploy, fire_due_timers, register_form, start
from app.engine.models import HumanTask, ProcessInstance, TaskEvent, WorkflowTimer
from app.extensions import db
from tests.engine.conftest import T0, review_form
from tests.engine.helpers import count, ready_tasks
from tests.engine.test_runtime import DATA, REQUESTER
from tests.factories import commit


@pytest.fixture(autouse=True)
def postgres_only(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("concurrency needs PostgreSQL row locks")


def _run_threads(app, n, target):
    results: list = [None] * n
    errors: list = []

    def runner(i):
        with app.app_context():
            try:
                results[i] = target(i)
            except Exception as exc:
                errors.append(exc)
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_people_complete_same_task_one_wins(app, bpmn):
    deploy(bpmn("approval.bpmn"))
    inst = start("engine_approval", "RACE-1", DATA, REQUESTER)
    [task] = ready_tasks(inst.id)
    task_id, inst_id = task.id, inst.id
    commit()
    # Both threads get past "is the task still ready?" before either writes.
    barrier = threading.Barrier(2, timeout=30)

    def synchronised_form(data):
        barrier.wait()
        return review_form(data)

    register_form("review_form", synchronised_form)
    audit_before = count(AuditEntry)

    def attempt(i):
        try:
            complete(task_id, {"approved": True, "comment": f"by {i}"},
                     Actor(user_id=100 + i, department_id=20, roles=frozenset({"reviewer"})))
            return "ok"
        except Conflict:
            return "conflict"

    try:
        results = _run_threads(app, 2, attempt)
    finally:
        register_form("review_form", review_form)
    assert sorted(results) == ["conflict", "ok"], results
    db.session.expire_all()
    inst = db.session.get(ProcessInstance, inst_id)
    assert inst.status == "completed" and inst.version == 2
    row = db.session.get(HumanTask, task_id)
    winner = results.index("ok")
    assert row.state == "completed" and row.completed_by == 100 + winner
    assert count(TaskEvent, TaskEvent.event_type == "completed") == 1
    assert count(AuditEntry) == audit_before + 1
    assert count(AuditEntry, AuditEntry.action == "engine.task_completed") == 1


def test_parallel_workers_fire_each_timer_exactly_once(app, bpmn):
    n_instances, n_workers = 240, 4
    with time_machine.travel(T0, tick=False) as traveller:
        deploy(bpmn("timer_flow.bpmn"))
        with transaction():
            for i in range(n_instances):
                start("engine_timer_flow", f"TIMER-{i}",
                      {"fire_at": (T0 + timedelta(minutes=i % 7)).isoformat()}, None, commit=False)
        assert count(WorkflowTimer, WorkflowTimer.state == "waiting") == n_instances
        traveller.move_to(T0 + timedelta(hours=1))
        fired = _run_threads(app, n_workers, lambda i: fire_due_timers(worker_id=f"worker-{i}", limit=25))
    assert all(isinstance(f, int) for f in fired), fired
    assert sum(fired) == n_instances
    assert count(WorkflowTimer, WorkflowTimer.state == "fired") == n_instances
    assert count(TaskEvent, TaskEvent.event_type == "timer_fired") == n_instances
    assert count(AuditEntry, AuditEntry.action == "test.effect") == n_instances
    assert count(ProcessInstance, ProcessInstance.status == "completed") == n_instances
    workers = set(db.session.scalars(select(WorkflowTimer.claimed_by)))
    assert workers <= {f"worker-{i}" for i in range(n_workers)}
    print("timers fired per worker:", fired)
    checked, problems = verify_chain()
    assert problems == [] and checked >= 2 * n_instances
