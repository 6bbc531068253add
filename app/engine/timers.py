"""Firing due timers and refreshing SLA states (called by the scheduler job).

Claiming: on PostgreSQL a worker locks the instance row with `FOR UPDATE SKIP LOCKED` (and its
due timer rows `FOR UPDATE`), so every other worker skips that instance until it commits; on
SQLite a conditional `UPDATE … SET state='claimed' WHERE state='waiting'` does the same job
(SQLite serialises writers). Firing, persisting, mirrors and audit are one transaction per
instance; the optimistic version check is the last guard. Any number of workers may run.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.audit.log import record
from app.clock import as_utc, utcnow
from app.db import transaction
from app.engine.errors import Conflict
from app.engine.models import (
    EventType,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    SlaState,
    TaskState,
    TimerState,
    WorkflowTimer,
)
from app.engine.registry import due_soon_horizon, emit
from app.engine.step import sla_for, step_for, timeline_event, unit_of_work
from app.extensions import db
from app.limits import TimeLimit, TimeLimitExceeded, discard_session

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _claim(instance_id: int, now: datetime, worker_id: str) -> tuple[ProcessInstance | None, list[WorkflowTimer]]:
    due = (WorkflowTimer.instance_id == instance_id, WorkflowTimer.state == TimerState.WAITING,
           WorkflowTimer.due_at <= now)
    if _is_postgres():
        inst = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.id == instance_id,
                                          ProcessInstance.status == InstanceStatus.RUNNING)
            .with_for_update(skip_locked=True, of=ProcessInstance))
        if inst is None:
            return None, []
        # Locked rows are this worker's until commit; the claim is written by the step's own
        # UPDATE of each row (_fire_instance), not by one of its own.
        rows = list(db.session.scalars(select(WorkflowTimer).where(*due)
                                       .with_for_update(skip_locked=True)
                                       .execution_options(populate_existing=True)))
        return inst, rows
    result = db.session.execute(
        update(WorkflowTimer).where(*due).values(state=TimerState.CLAIMED, claimed_by=worker_id),
        execution_options={"synchronize_session": False})
    if result.rowcount == 0:
        return None, []
    inst = db.session.get(ProcessInstance, instance_id, populate_existing=True)
    rows = list(db.session.scalars(select(WorkflowTimer).where(
        WorkflowTimer.instance_id == instance_id, WorkflowTimer.state == TimerState.CLAIMED,
        WorkflowTimer.claimed_by == worker_id).execution_options(populate_existing=True)))
    if inst is None or inst.status != InstanceStatus.RUNNING:
        for row in rows:  # a suspended instance's timers wait for its resumption
            if inst is not None and inst.status == InstanceStatus.SUSPENDED:
                row.state, row.claimed_by = TimerState.WAITING, None
            else:
                row.state = TimerState.CANCELLED
        return None, []
    return inst, rows


def _fire_instance(instance_id: int, now: datetime, worker_id: str) -> int:
    """Fire one instance's due timers in one step. The step gets the time a request's step
    gets (REQUEST_TIME_LIMIT): one that overruns it parks its timers, so that one instance
    cannot use up every later poll (it would come first again: its timer is the earliest)."""
    claimed_ids: list[int] = []
    limit = TimeLimit(current_app.config.get("REQUEST_TIME_LIMIT") or 0,
                      f"timer step of instance {instance_id}")
    try:
        with limit, unit_of_work(commit=True):
            inst, rows = _claim(instance_id, now, worker_id)
            if inst is None or not rows:
                return 0
            claimed_ids = [r.id for r in rows]
            step = step_for(inst, None)
            if _is_postgres():  # merged with the fired state into one UPDATE per row
                for row in rows:
                    step.rows.set(row, state=TimerState.CLAIMED, claimed_by=worker_id)
            step.fire_timers([r.spiff_task_id for r in rows])
            step.persist()
            fired = [r for r in rows if r.state == TimerState.FIRED]
            if fired:
                record("engine.timers_fired", "process_instance", inst.id, after={
                    "timers": [r.task_spec for r in fired], "worker": worker_id},
                    actor_name="scheduler")
            step.emit_pending()
            return len(fired)
    except TimeLimitExceeded:
        limit.stop()
        if not limit.expired:
            raise  # the poll's own limit ran out: not this instance's doing
        log.error("timers of instance %s: the step ran over its time limit of %gs; parked",
                  instance_id, limit.seconds, exc_info=True)
        discard_session()
        _park(claimed_ids, instance_id, TimeLimitExceeded(f"定时器步骤超过时限 {limit.seconds:g} 秒"))
        return 0
    except Conflict:
        return 0  # the instance moved meanwhile; the next poll sees the fresh state
    except SQLAlchemyError as exc:
        log.warning("timer claim for instance %s failed (%s); will retry", instance_id, exc)
        db.session.rollback()
        return 0
    except Exception as exc:  # a flow error: park the timers so they do not fire every poll
        log.exception("timers of instance %s failed", instance_id)
        _park(claimed_ids, instance_id, exc)
        return 0


def _park(timer_ids: list[int], instance_id: int, exc: BaseException) -> None:
    if not timer_ids:
        return
    try:
        with transaction():
            for row in db.session.scalars(select(WorkflowTimer).where(
                    WorkflowTimer.id.in_(timer_ids))):
                if row.state == TimerState.WAITING:
                    row.state = TimerState.ERROR
                    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    timeline_event(instance_id, EventType.TIMER_ERROR, task_spec=row.task_spec,
                           name=row.name, data={"error": row.last_error})
    except SQLAlchemyError:  # the next poll claims them again and parks them then
        log.warning("parking the timers of instance %s failed", instance_id, exc_info=True)


def fire_due_timers(now: datetime | None = None, worker_id: str | None = None,
                    limit: int = 100) -> int:
    """Fire every timer due at `now` (default: the clock); return how many fired.

    SpiffWorkflow itself compares against the clock, so `now` only narrows which rows are
    picked; tests freeze the clock with time-machine instead of passing `now`.
    """
    now = as_utc(now) if now else utcnow()
    worker_id = worker_id or default_worker_id()
    fired = 0
    tried: set[int] = set()
    while True:
        query = (select(WorkflowTimer.instance_id)
                 .join(ProcessInstance, ProcessInstance.id == WorkflowTimer.instance_id)
                 .where(WorkflowTimer.state == TimerState.WAITING, WorkflowTimer.due_at <= now,
                        ProcessInstance.status != InstanceStatus.SUSPENDED)  # held: fire on resume
                 .group_by(WorkflowTimer.instance_id)
                 .order_by(func.min(WorkflowTimer.due_at)).limit(limit + len(tried)))
        candidates = [i for i in db.session.scalars(query) if i not in tried]
        db.session.rollback()  # end the read transaction before claiming
        if not candidates:
            return fired
        for instance_id in candidates[:limit]:
            tried.add(instance_id)
            fired += _fire_instance(instance_id, now, worker_id)


def retry_timer(timer_id: int) -> None:
    """Put a timer parked in `error` back to `waiting` (after the flow or data was fixed)."""
    with unit_of_work(commit=True):
        row = db.session.get(WorkflowTimer, timer_id)
        if row is not None and row.state == TimerState.ERROR:
            row.state = TimerState.WAITING
            row.last_error = None


def refresh_sla_states(now: datetime | None = None) -> int:
    """Mark ready tasks due_soon (by `sla_for`'s rule) / overdue (due passed); return rows changed."""
    now = as_utc(now) if now else utcnow()
    changes: list[tuple[int, str, str]] = []
    horizon = due_soon_horizon(now)
    soon = (HumanTask.due_at <= horizon if horizon is not None
            else (HumanTask.reminder_at.is_not(None)) & (HumanTask.reminder_at <= now))
    rows = db.session.execute(select(HumanTask.id, HumanTask.sla_state, HumanTask.due_at,
                                     HumanTask.reminder_at).where(
        HumanTask.state == TaskState.READY,
        HumanTask.sla_state != SlaState.OVERDUE,
        ((HumanTask.due_at.is_not(None)) & (HumanTask.due_at <= now))
        | (soon & (HumanTask.sla_state == SlaState.ON_TIME)))).all()
    for task_id, old, due_at, reminder_at in rows:
        new = sla_for(now, due_at, reminder_at)
        if new != old:
            changes.append((task_id, old, new))
    db.session.rollback()
    changed = 0
    for task_id, old, new in changes:
        with unit_of_work(commit=True):
            result = db.session.execute(
                update(HumanTask).where(HumanTask.id == task_id, HumanTask.sla_state == old,
                                        HumanTask.state == TaskState.READY)
                .values(sla_state=new), execution_options={"synchronize_session": False})
            if result.rowcount != 1:
                continue
            task = db.session.get(HumanTask, task_id)
            db.session.refresh(task)
            timeline_event(task.instance_id, EventType.SLA_CHANGED, task=task, at=now,
                   data={"from": old, "to": new})
            emit("sla_changed", task=task, previous=old, current=new)
            changed += 1
    return changed
