"""Acting on human tasks on behalf of a signed-in user: permission first, then the engine.

Permission rules live in app.org.permissions; the engine itself never checks them.
"""
from __future__ import annotations

from sqlalchemy import select

from app import engine
from app.db import transaction
from app.engine.models import HumanTask
from app.errors import Forbidden
from app.extensions import db
from app.flows.base import actor_for
from app.flows.models import Application
from app.flows.permissions import can_act_on_task, can_claim_task, can_delegate_task, can_release_task
from app.flows.registry import PERIOD_FORMS
from app.org.models import User
from app.validation import FieldErrors


def get_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise engine.NotFound(f"待办任务 {task_id} 不存在")
    return task


def _held_by_other(task: HumanTask, user: User) -> None:
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise engine.Conflict(f"任务「{task.name or task.task_spec}」已由他人签收，不能办理")


def claim_task(user: User, task_id: int) -> HumanTask:
    task = get_task(task_id)
    if not can_claim_task(user, task):
        raise Forbidden("您不在此任务的候选办理组中，不能签收")
    return engine.claim(task_id, actor_for(user))


def release_task(user: User, task_id: int) -> HumanTask:
    task = get_task(task_id)
    if not can_release_task(user, task):
        raise Forbidden("只有任务的签收人可以退回到组内待办")
    return engine.release(task_id, actor_for(user))


def delegate_task(user: User, task_id: int, to_user_id: int, note: str | None = None) -> HumanTask:
    task = get_task(task_id)
    if not can_act_on_task(user, task):
        raise Forbidden("您不能转办此任务")
    _held_by_other(task, user)
    target = db.session.get(User, to_user_id)
    if target is None or not can_delegate_task(user, task, target):
        from app.validation import FieldErrors

        raise FieldErrors({"to_user_id": ["只能转办给本部门具有相应角色的在岗人员"]})
    return engine.delegate(task_id, to_user_id, actor_for(user), note=note)


def _context(task: HumanTask) -> dict:
    """Server-side facts a form checks against (never taken from the client)."""
    if task.form not in PERIOD_FORMS:
        return {}
    application = db.session.scalar(select(Application).where(Application.instance_id == task.instance_id))
    if application is None:
        return {}
    return {"requested_valid_from": application.requested_valid_from.isoformat(),
            "requested_valid_until": application.requested_valid_until.isoformat(),
            "requested_items": list(application.items)}


def _checked(user: User, task: HumanTask, payload: dict) -> dict:
    """Who may act on the task just read, and the server-side facts its form checks against."""
    if not can_act_on_task(user, task):
        raise Forbidden("您不在此任务的候选办理组中，不能办理")
    if task.state == "ready":
        _held_by_other(task, user)
    if task.form in PERIOD_FORMS:
        payload = {k: v for k, v in payload.items() if not str(k).startswith("requested_")}
        payload.update(_context(task))
    return payload


def complete_task(user: User, task_id: int, data: dict | None) -> HumanTask:
    """Complete with form data: 403 outside the candidate group, 409 if done/held by another,
    FormError (422) when the form refuses the data."""

    try:
        with transaction():  # one unit: the engine's read, our checks on it, the step
            loaded = engine.load_for_completion(task_id)
            payload = _checked(user, loaded.task, dict(data or {}))
            return engine.complete(loaded, payload, actor_for(user), commit=False)
    except FieldErrors as exc:  # a service step refused the data (the step was rolled back)
        raise engine.FormError(exc.errors) from None
