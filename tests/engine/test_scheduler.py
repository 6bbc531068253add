"""Scheduler wiring (no sleeping: jobs are invoked directly)."""
from __future__ import annotations

from datetime import timedelta

from app.engine import deploy, start
from app.engine.models import ProcessInstance, WorkflowTimer
from app.engine.scheduler import JOB_ID, run_due_work, start_scheduler
from app.extensions import db
from tests.engine.conftest import T0
from tests.engine.helpers import count


def test_run_due_work_fires_and_completes(app, bpmn, frozen):
    deploy(bpmn("timer_flow.bpmn"))
    fire_at = (T0 + timedelta(hours=1)).isoformat()
    inst = start("engine_timer_flow", "T-1", {"fire_at": fire_at}, None)
    assert inst.status == "running"
    assert run_due_work(app) == (0, 0)
    frozen.move_to(T0 + timedelta(hours=1, seconds=1))
    assert run_due_work(app) == (1, 0)
    db.session.expire_all()
    inst = db.session.get(ProcessInstance, inst.id)
    assert inst.status == "completed"
    assert count(WorkflowTimer, WorkflowTimer.state == "fired") == 1


def test_cli_tick(app, runner, bpmn, frozen):
    deploy(bpmn("timer_flow.bpmn"))
    start("engine_timer_flow", "T-2", {"fire_at": (T0 + timedelta(minutes=5)).isoformat()}, None)
    frozen.move_to(T0 + timedelta(minutes=6))
    result = runner.invoke(args=["scheduler", "tick"])
    assert result.exit_code == 0 and "触发定时器 1 个" in result.output


def test_start_scheduler_is_idempotent(app):
    app.config["SCHEDULER_INTERVAL_SECONDS"] = 3600
    scheduler = start_scheduler(app)
    try:
        assert start_scheduler(app) is scheduler
        job = scheduler.get_job(JOB_ID)
        assert job.trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=True)
        app.extensions.pop("engine_scheduler", None)
