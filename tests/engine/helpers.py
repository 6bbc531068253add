"""Small query helpers shared by the engine tests."""
from __future__ import annotations

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.engine.models import HumanTask, ProcessInstance, TaskEvent, WorkflowTimer
from app.extensions import db


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def ready_tasks(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.state == "ready").order_by(HumanTask.id)))


def events(instance_id: int) -> list[str]:
    return list(db.session.scalars(select(TaskEvent.event_type).where(
        TaskEvent.instance_id == instance_id).order_by(TaskEvent.id)))


def timers(instance_id: int) -> list[WorkflowTimer]:
    return list(db.session.scalars(select(WorkflowTimer).where(
        WorkflowTimer.instance_id == instance_id).order_by(WorkflowTimer.due_at)))


def snapshot(instance_id: int) -> dict:
    """Everything a failed step must leave untouched."""
    db.session.expire_all()
    inst = db.session.get(ProcessInstance, instance_id)
    return {
        "state": inst.state, "version": inst.version, "status": inst.status,
        "tasks": [(t.id, t.state, t.assignee_id, t.sla_state) for t in db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))],
        "timers": [(t.id, t.state, t.due_at) for t in timers(instance_id)],
        "events": count(TaskEvent),
        "audit": count(AuditEntry),
    }
