"""`flask demo history`: a month of work through the real flow on a moving clock — finished
steps on time and late, reminders and 督办 fired by the engine, the newest steps left open —
once per database, the same for the same seed."""
from pathlib import Path

from sqlalchemy import func, select

from app.engine import deploy
from app.engine.models import EventType, HumanTask, TaskEvent, TaskState
from app.extensions import db
from app.flows.models import Application

BPMN = Path(__file__).resolve().parents[2] / "bpmn" / "conditional_share.bpmn"


def _count(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(HumanTask).where(*where))


def test_a_month_of_history_has_finished_late_escalated_and_open_work(app, runner):
    deploy(BPMN)
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    made = runner.invoke(args=["demo", "history", "--months", "1", "--seed", "7", "--per-day", "2"])
    assert made.exit_code == 0, made.output
    assert "已生成 1 个月的演示历史" in made.output
    applications = db.session.scalar(select(func.count(Application.id)))
    assert applications >= 10
    assert _count(HumanTask.state == TaskState.COMPLETED, HumanTask.on_time.is_(True)) > 0
    assert _count(HumanTask.state == TaskState.COMPLETED, HumanTask.on_time.is_(False)) > 0
    assert _count(HumanTask.state == TaskState.READY) > 0  # the newest work is still open
    escalated = db.session.scalar(select(func.count()).select_from(TaskEvent).where(
        TaskEvent.event_type == EventType.ESCALATED))
    assert escalated > 0  # the engine's own timers, fired on the moving clock
    again = runner.invoke(args=["demo", "history", "--months", "1", "--seed", "7"])
    assert again.exit_code == 0 and "未重复生成" in again.output
    assert db.session.scalar(select(func.count(Application.id))) == applications


def test_history_needs_the_demo_city(app, runner):
    refused = runner.invoke(args=["demo", "history", "--months", "1"])
    assert refused.exit_code == 1 and "flask demo seed" in refused.output
