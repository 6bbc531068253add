"""Reading business records back — one model for every flow (a Case; an application is one,
app/flows/models.py): by key or instance, the lists a user may see, one record's state.

    by_key(business_key) / by_instance(instance_id) -> Case | None
    by_instances(instance_ids) -> {instance id: Case}
    listed(user, view, flows, status) -> Select          # unordered; narrowed to what user may see
    view(record) -> dict                                 # state, open tasks, timeline, grant

Web pages and the API call these for applications and cases alike.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select

from app.engine.models import HumanTask, ProcessInstance, TaskEvent, TaskState
from app.extensions import db
from app.flows.models import Application, Case
from app.flows.permissions import visible_records
from app.org.models import User


def by_key(business_key: str, kind: type[Case] | None = None) -> Case | None:
    """The record with this key; with `kind` (Application, or Case for the case flows' plain
    records) only a record of exactly that class."""
    record = db.session.scalar(select(Case).where(Case.business_key == business_key))
    return record if kind is None or type(record) is kind else None


def by_instance(instance_id: int) -> Case | None:
    return db.session.scalar(select(Case).where(Case.instance_id == instance_id))


def by_instances(instance_ids: Iterable[int]) -> dict[int, Case]:
    wanted = set(instance_ids)
    if not wanted:
        return {}
    return {r.instance_id: r for r in db.session.scalars(select(Case).where(Case.instance_id.in_(wanted)))}


def _assigned(user: User):
    return Case.department_id == user.department_id


# A list view narrows what the user may see to one party of the record; `all` (or none) keeps it
# all. An application's department that must act is its provider: `provided` is its `assigned`.
VIEWS = {
    "mine": lambda user: Case.applicant_user_id == user.id,
    "department": lambda user: Case.applicant_department_id == user.department_id,
    "assigned": _assigned,
    "provided": _assigned,
}


def listed(user: User, view: str | None = None, flows: Iterable[str] | None = None,
           status: str | None = None) -> Select:
    """The records of `flows` (every flow when None) that `user` may see in a list view,
    optionally of one status (unordered)."""
    stmt = visible_records(user, select(Case))
    if view in VIEWS:
        stmt = stmt.where(VIEWS[view](user))
    if flows is not None:
        stmt = stmt.where(Case.flow.in_(list(flows)))
    if status:
        stmt = stmt.where(Case.status == status)
    return stmt


def open_tasks(record: Case) -> list[HumanTask]:
    if record.instance_id is None:
        return []
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == record.instance_id, HumanTask.state == TaskState.READY)
        .order_by(HumanTask.id)))


def timeline(instance_id: int | None) -> list[TaskEvent]:
    """An instance's timeline (a record's or a task's); none before it starts."""
    if instance_id is None:
        return []
    return list(db.session.scalars(select(TaskEvent).where(TaskEvent.instance_id == instance_id)
                                   .order_by(TaskEvent.at, TaskEvent.id)))


def view(record: Case) -> dict[str, Any]:
    """State, open tasks, timeline and grant of one record (for the API and pages), the record
    under its kind's name (`application` or `case`)."""
    instance = db.session.get(ProcessInstance, record.instance_id) if record.instance_id else None
    return {"application" if isinstance(record, Application) else "case": record,
            "instance_status": instance.status if instance else None,
            "open_tasks": open_tasks(record), "timeline": timeline(record.instance_id), "grant": record.grant}
