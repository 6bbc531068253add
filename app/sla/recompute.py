"""SPEC §3.6: when a year's holiday notice is loaded, provisional deadlines are recomputed
(app/legaltime/tracking.py); this listener carries each change into the running instance:
its escalation timers, its tasks' due dates, and the reminders that lead them."""
from __future__ import annotations

from sqlalchemy import select

from app.clock import as_utc
from app.engine import move_timer, update_task_due
from app.engine.models import HumanTask, TaskState, TimerState, WorkflowTimer
from app.extensions import db
from app.legaltime.tracking import DeadlineChange
from app.policy import reminder_for
from app.sla.deadlines import OWNER_TYPE

REASON = "节假日安排加载后按正式日历重新计算期限"


def _waiting_timers(instance_id: int, at) -> list[WorkflowTimer]:
    rows = db.session.scalars(select(WorkflowTimer).where(
        WorkflowTimer.instance_id == instance_id, WorkflowTimer.state == TimerState.WAITING)).all()
    return [row for row in rows if as_utc(row.due_at) == at]


def apply_deadline_change(change: DeadlineChange) -> None:
    row = change.deadline
    if row.owner_type != OWNER_TYPE or not change.moved:
        return
    instance_id = int(row.owner_id)
    new_reminder = reminder_for(row.policy_key, as_utc(row.event_at)).at
    tasks = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.state == TaskState.READY)).all()
    for task in tasks:
        if task.due_at is None or as_utc(task.due_at) != change.old_due_at:
            continue
        old_reminder = as_utc(task.reminder_at) if task.reminder_at else None
        update_task_due(task.id, change.new_due_at, new_reminder, commit=False)
        for timer in _waiting_timers(instance_id, old_reminder):
            if timer.attached_to == task.task_spec:
                move_timer(timer.id, new_reminder, reason=REASON, commit=False)
    for timer in _waiting_timers(instance_id, change.old_due_at):
        move_timer(timer.id, change.new_due_at, reason=REASON, commit=False)
