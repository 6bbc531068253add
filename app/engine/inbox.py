"""Inbox queries as SQLAlchemy selects over the human-task mirror (never loads a workflow).

Each helper returns a `Select[HumanTask]` the caller may refine (`.where`, `.limit`,
pagination) and run with `db.session.scalars(...)`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, false, or_, select

from app.clock import as_utc, utcnow
from app.engine.models import HumanTask, SlaState, TaskState
from app.engine.registry import due_soon_horizon
from app.engine.step import sla_for


def group_condition(actor):
    """Unassigned ready tasks whose candidate group (department, role) includes the actor.

    A task names a department, a role or both; tasks naming neither belong to no group.
    """
    roles = list(actor.roles or ())
    dept_ok = or_(HumanTask.candidate_department_id.is_(None),
                  HumanTask.candidate_department_id == actor.department_id)
    role_ok = or_(HumanTask.candidate_role.is_(None),
                  HumanTask.candidate_role.in_(roles) if roles else false())
    named = or_(HumanTask.candidate_department_id.is_not(None), HumanTask.candidate_role.is_not(None))
    return and_(HumanTask.assignee_id.is_(None), dept_ok, role_ok, named)


def visible_condition(actor):
    """Ready tasks the actor may see: assigned to them or open to one of their groups."""
    return or_(HumanTask.assignee_id == actor.user_id, group_condition(actor))


def _ready() -> Select:
    return select(HumanTask).where(HumanTask.state == TaskState.READY)


def current_sla_state(task: HumanTask, now: datetime | None = None) -> str:
    """Where a ready task stands now (the stored state lags by up to one scheduler poll);
    a finished task keeps the state it ended in."""
    if task.state != TaskState.READY:
        return task.sla_state
    state = sla_for(as_utc(now) if now is not None else utcnow(), task.due_at, task.reminder_at)
    return SlaState.OVERDUE if task.sla_state == SlaState.OVERDUE else state


def mine(actor) -> Select:
    """Ready tasks assigned to the actor, oldest deadline first."""
    return (_ready().where(HumanTask.assignee_id == actor.user_id)
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at))


def my_groups(actor) -> Select:
    """Unassigned ready tasks offered to the actor's (department, role) groups."""
    return (_ready().where(group_condition(actor))
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at))


def due_soon(actor=None, now: datetime | None = None) -> Select:
    """Ready tasks due soon but not yet overdue (optionally the actor's): by the product's rule
    (`register_due_soon_rule`) computed at `now`, not by whether a reminder has fired; without a
    rule, those flagged due soon or (given `now`) past their reminder instant."""
    now_or_clock = as_utc(now) if now is not None else utcnow()
    horizon = due_soon_horizon(now_or_clock)
    if horizon is not None:
        cond = and_(HumanTask.due_at > now_or_clock, HumanTask.due_at <= horizon)
        q = _ready().where(cond).order_by(HumanTask.due_at)
        return q.where(visible_condition(actor)) if actor is not None else q
    cond = HumanTask.sla_state == SlaState.DUE_SOON
    if now is not None:
        cond = and_(or_(cond, and_(HumanTask.sla_state == SlaState.ON_TIME, HumanTask.reminder_at <= now)),
                    or_(HumanTask.due_at.is_(None), HumanTask.due_at > now))
    q = _ready().where(cond).order_by(HumanTask.due_at)
    return q.where(visible_condition(actor)) if actor is not None else q


def overdue(actor=None, now: datetime | None = None) -> Select:
    """Ready tasks flagged overdue, or whose due instant is past `now` if given."""
    cond = HumanTask.sla_state == SlaState.OVERDUE
    if now is not None:
        cond = or_(cond, HumanTask.due_at <= now)
    q = _ready().where(cond).order_by(HumanTask.due_at)
    return q.where(visible_condition(actor)) if actor is not None else q


def done(actor) -> Select:
    """Tasks the actor completed, most recent first."""
    return (select(HumanTask).where(HumanTask.state == TaskState.COMPLETED,
                                    HumanTask.completed_by == actor.user_id)
            .order_by(HumanTask.completed_at.desc()))


def for_instance(instance_id: int) -> Select:
    return select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
