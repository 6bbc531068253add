"""Reading what a task completion needs — the task, its instance, the open mirror rows and the
definition's content hash — in one statement, as the session's objects."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, or_, select

from app.db.rowbatch import persistent
from app.engine.errors import Conflict, NotFound
from app.engine.models import (
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskState,
    TimerState,
    WorkflowTimer,
)
from app.engine.rows import row_batch
from app.extensions import db


def get_instance(instance_id: int) -> ProcessInstance:
    inst = db.session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"流程实例 {instance_id} 不存在")
    return inst


def get_task(task_id: int) -> HumanTask:
    row = db.session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(f"待办任务 {task_id} 不存在")
    return row


def ready_task(task: int | HumanTask) -> HumanTask:
    row = task if isinstance(task, HumanTask) else get_task(task)
    if row.state != TaskState.READY:
        raise Conflict(f"任务「{row.name or row.task_spec}」已{_STATE_LABEL.get(row.state, row.state)}，不能再操作")
    return row


_STATE_LABEL = {TaskState.COMPLETED: "办结", TaskState.CANCELLED: "撤销"}


_TASK_COLUMNS = tuple(HumanTask.__table__.c)
_INSTANCE_COLUMNS = tuple(ProcessInstance.__table__.c)
_TIMER_COLUMNS = tuple(WorkflowTimer.__table__.c)


def _completion_query():
    task, inst, timer = HumanTask.__table__, ProcessInstance.__table__, WorkflowTimer.__table__
    version = ProcessDefinition.__table__
    task_id = bindparam("task_id")
    instance_of_task = select(task.c.instance_id).where(task.c.id == task_id).scalar_subquery()
    return (select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS, *_TIMER_COLUMNS, version.c.content_hash)
            .join_from(task, inst, inst.c.id == task.c.instance_id)
            .join(version, version.c.id == inst.c.definition_id)
            .outerjoin(timer, (timer.c.instance_id == inst.c.id)
                       & or_(timer.c.state == TimerState.WAITING,
                             timer.c.state == TimerState.CLAIMED))
            .where(task.c.instance_id == instance_of_task,
                   or_(task.c.id == task_id, task.c.state == TaskState.READY))
            .order_by(task.c.id, timer.c.id))


# Built once: building and cache-keying this statement costs more than running it.
_COMPLETION_QUERY = _completion_query()


def _objects(model, columns, rows, offset: int) -> dict[int, Any]:
    """The distinct rows of one table in a joined result, as the session's objects."""
    keys = [column.key for column in columns]
    found: dict[int, Any] = {}
    for row in rows:
        values = row[offset:offset + len(keys)]
        if values[0] is not None and values[0] not in found:
            found[values[0]] = persistent(db.session, model, dict(zip(keys, values, strict=True)))
    return found


@dataclass(frozen=True)
class LoadedTask:
    """What completing a task needs, read at once: a caller may check `task` (who may act,
    server-side form facts) and then hand the whole to `complete()`, with no read of its own."""

    task: HumanTask
    instance: ProcessInstance
    ready_tasks: list[HumanTask]      # the instance's open mirror rows
    timers: list[WorkflowTimer]       # its waiting or claimed timers
    content_hash: str                 # its definition version's


def load_for_completion(task_id: int) -> LoadedTask:
    """The task, its instance, the instance's open mirror rows and its definition's content
    hash in one read, sent with any queued writes (app/db/rowbatch.py) and turned into the
    session's objects directly: the ORM's loading machinery costs several times the query."""
    out = row_batch()
    result = out.select(_COMPLETION_QUERY, {"task_id": task_id})
    out.send()
    rows = result.rows
    tasks = _objects(HumanTask, _TASK_COLUMNS, rows, 0)
    if task_id not in tasks:
        raise NotFound(f"待办任务 {task_id} 不存在")
    [inst] = _objects(ProcessInstance, _INSTANCE_COLUMNS, rows[:1], len(_TASK_COLUMNS)).values()
    timers = _objects(WorkflowTimer, _TIMER_COLUMNS, rows, len(_TASK_COLUMNS) + len(_INSTANCE_COLUMNS))
    return LoadedTask(tasks[task_id], inst, list(tasks.values()), list(timers.values()), rows[0][-1])
