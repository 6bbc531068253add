"""Running instances: the engine's verbs (start, complete, claim, release, delegate, cancel,
suspend, resume, move a timer, change a due date) and what reads an instance's state.

Each verb is one step (app/engine/step.py), one unit of work: load the instance, let
SpiffWorkflow run, persist, commit — or roll everything back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit.log import record
from app.clock import as_utc, utcnow
from app.engine import persistence
from app.engine.completion import LoadedTask, get_instance, load_for_completion, ready_task
from app.engine.context import Actor, current_instance, current_instant, once_per_step
from app.engine.definitions import (
    compiled,
    latest_definition,
)
from app.engine.errors import Conflict, NotFound
from app.engine.models import (
    INSTANCE_STATUS_LABELS,
    EventType,
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskEvent,
    TaskState,
    TimerState,
    WorkflowTimer,
)
from app.engine.registry import emit, response_workdays, validate_form
from app.engine.scripting import EngineScriptEngine
from app.engine.step import Step, instant, is_timer, sla_for, step_for, timeline_event, unit_of_work
from app.extensions import db

__all__ = ["Actor", "InstanceView", "cancel", "claim", "complete", "current_instance",
           "current_instant", "delegate", "instance_by_key", "instance_state", "move_timer",
           "once_per_step", "release", "resume", "start", "suspend", "update_task_due"]


def start(process_id: str, business_key: str, data: dict | None = None,
          actor: Actor | None = None, *, summary: dict | None = None,
          definition: ProcessDefinition | None = None, commit: bool = True) -> ProcessInstance:
    """Start the latest version of `process_id` (or the given definition) and run to the first wait."""
    with unit_of_work(commit):
        definition = definition or latest_definition(process_id)
        if definition is None:
            raise NotFound(f"流程 {process_id} 尚未部署")
        if db.session.scalar(select(ProcessInstance.id).where(
                ProcessInstance.business_key == business_key)) is not None:
            raise Conflict(f"业务编号 {business_key} 已有流程实例")
        now = utcnow()
        inst = ProcessInstance(
            definition_id=definition.id, definition=definition, process_id=definition.process_id,
            business_key=business_key, status=InstanceStatus.RUNNING, state="{}", version=1,
            summary=summary, started_by=actor.user_id if actor else None,
            started_at=now, updated_at=now)
        db.session.add(inst)
        try:
            db.session.flush()
        except IntegrityError:  # the unit rolls back as the Conflict passes
            raise Conflict(f"业务编号 {business_key} 已有流程实例") from None
        step = Step(inst, actor, compiled(definition))
        step.now = now
        step.is_new = True
        step.create(data or {})
        step.event(EventType.INSTANCE_STARTED, actor=actor, at=now,
               data={"process_id": definition.process_id, "version": definition.version})
        emit("instance_started", instance=inst, actor=actor)
        step.run_engine()
        step.persist()
        record("engine.instance_started", "process_instance", inst.id,
               after={"process_id": definition.process_id, "version": definition.version,
                      "business_key": business_key, "status": inst.status},
               actor=actor._audit() if actor else None)
        step.emit_pending()
    return inst


def complete(task: int | LoadedTask, data: dict | None, actor: Actor | None,
             expected_version: int | None = None, *, commit: bool = True) -> HumanTask:
    """Complete a ready human task (its id, or what `load_for_completion` read for it in the
    caller's open unit) with form `data`, validated by its registered form.

    Raises FormError (nothing changed), Conflict (already done / instance moved), NotFound.
    """
    with unit_of_work(commit):
        loaded = task if isinstance(task, LoadedTask) else load_for_completion(task)
        row, inst = loaded.task, loaded.instance
        ready_rows, timer_rows, content_hash = loaded.ready_tasks, loaded.timers, loaded.content_hash
        ready_task(row)
        if expected_version is not None and inst.version != expected_version:
            raise Conflict("流程已被其他操作更新，请刷新后重试")
        cleaned = validate_form(row.form, data or {}) if row.form else dict(data or {})
        step = step_for(inst, actor, content_hash)
        step.ready_rows, step.timer_rows = ready_rows, timer_rows
        task = step.workflow.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or task.state != SpiffState.READY:
            raise Conflict("任务在流程中已不是待办状态，请刷新后重试")
        task.data.update(cleaned)
        step.completed_task_ids.add(row.spiff_task_id)
        step.spiff(task.run)
        step.run_engine()
        step.rows.set(row, state=TaskState.COMPLETED, completed_at=step.now,
                      completed_by=actor.user_id if actor else None, completion_data=cleaned,
                      **completion_measures(row, step.now))
        step.persist()
        step.event(EventType.COMPLETED, task=row, actor=actor, at=step.now, data=cleaned)
        record("engine.task_completed", "human_task", row.id,
               before={"state": TaskState.READY, "instance_version": inst.version - 1},
               after={"state": TaskState.COMPLETED, "instance_id": inst.id,
                      "task_spec": row.task_spec, "data": cleaned},
               actor=actor._audit() if actor else None)
        step.emit_later("task_completed", task=row, instance=inst, actor=actor)
        step.emit_pending()
    return row


def _assign(task_id: int, actor: Actor | None, new_assignee: int | None, event_type: str,
            *, only_if_unassigned: bool, commit: bool, note: str | None = None) -> HumanTask:
    with unit_of_work(commit):
        row = ready_task(task_id)
        before = row.assignee_id
        cond = [HumanTask.id == row.id, HumanTask.state == TaskState.READY]
        if only_if_unassigned:
            cond.append((HumanTask.assignee_id.is_(None)) | (HumanTask.assignee_id == new_assignee))
        else:
            cond.append(HumanTask.assignee_id.is_(None) if before is None
                        else HumanTask.assignee_id == before)
        result = db.session.execute(update(HumanTask).where(*cond).values(assignee_id=new_assignee),
                                    execution_options={"synchronize_session": False})
        if result.rowcount != 1:
            raise Conflict(f"任务「{row.name or row.task_spec}」已被他人签收或已办结")
        db.session.refresh(row)
        data = {"from": before, "to": new_assignee}
        if note:
            data["note"] = note
        timeline_event(row.instance_id, event_type, task=row, actor=actor, data=data)
        record(f"engine.task_{event_type}", "human_task", row.id, before={"assignee_id": before},
               after={"assignee_id": new_assignee}, actor=actor._audit() if actor else None)
        emit(f"task_{event_type}", task=row, actor=actor, previous_assignee=before)
    return row


def claim(task_id: int, actor: Actor, *, commit: bool = True) -> HumanTask:
    """Take an unassigned task (Conflict if someone else holds it)."""
    return _assign(task_id, actor, actor.user_id, EventType.CLAIMED,
                   only_if_unassigned=True, commit=commit)


def release(task_id: int, actor: Actor, *, commit: bool = True) -> HumanTask:
    """Put a task back into its candidate group's queue."""
    return _assign(task_id, actor, None, EventType.RELEASED, only_if_unassigned=False, commit=commit)


def delegate(task_id: int, to_user_id: int, actor: Actor, *, note: str | None = None,
             commit: bool = True) -> HumanTask:
    """Hand a task to another user (the caller checked that this is allowed)."""
    return _assign(task_id, actor, to_user_id, EventType.DELEGATED, only_if_unassigned=False,
                   commit=commit, note=note)


def cancel(instance_id: int, actor: Actor | None, reason: str | None = None, *,
           commit: bool = True) -> ProcessInstance:
    """Stop an instance: open tasks cancelled, timers cancelled, status cancelled."""
    with unit_of_work(commit):
        inst = get_instance(instance_id)
        before = inst.status
        step = step_for(inst, actor, suspended_too=True)
        step.spiff(step.workflow.cancel)
        inst.status = InstanceStatus.CANCELLED
        inst.completed_at = step.now
        step.persist()
        step.event(EventType.INSTANCE_CANCELLED, actor=actor, at=step.now, data={"reason": reason})
        record("engine.instance_cancelled", "process_instance", inst.id,
               before={"status": before},
               after={"status": InstanceStatus.CANCELLED, "reason": reason},
               actor=actor._audit() if actor else None)
        step.emit_later("instance_cancelled", instance=inst, actor=actor, reason=reason)
        step.emit_pending()
    return inst


def suspend(instance_id: int, actor: Actor | None, reason: str, *, commit: bool = True) -> ProcessInstance:
    """Hold a running instance: its tasks cannot be worked and its timers do not fire (a timer
    that comes due meanwhile fires on resume). Due dates are not moved."""
    return _hold(instance_id, actor, reason, InstanceStatus.RUNNING, InstanceStatus.SUSPENDED,
                 EventType.INSTANCE_SUSPENDED, commit)


def resume(instance_id: int, actor: Actor | None, reason: str, *, commit: bool = True) -> ProcessInstance:
    """Let a suspended instance run again (timers due meanwhile fire at the scheduler's next poll)."""
    return _hold(instance_id, actor, reason, InstanceStatus.SUSPENDED, InstanceStatus.RUNNING,
                 EventType.INSTANCE_RESUMED, commit)


def _hold(instance_id: int, actor: Actor | None, reason: str, before: str, after: str, event_type: str,
          commit: bool) -> ProcessInstance:
    with unit_of_work(commit):
        inst = get_instance(instance_id)
        if inst.status != before:
            raise Conflict(f"办件 {inst.business_key} 当前{INSTANCE_STATUS_LABELS.get(inst.status, inst.status)}，"
                           f"不能{'挂起' if after == InstanceStatus.SUSPENDED else '恢复办理'}")
        now = utcnow()
        # the optimistic lock: a step committed meanwhile makes this a Conflict (nothing half-done)
        inst.status, inst.updated_at, inst.version = after, now, inst.version + 1
        timeline_event(inst.id, event_type, actor=actor, at=now, data={"reason": reason})
        record(f"engine.{event_type}", "process_instance", inst.id, before={"status": before},
               after={"status": after, "reason": reason}, actor=actor._audit() if actor else None)
    return inst


def move_timer(timer_id: int, due_at: datetime | str, actor: Actor | None = None, *,
               reason: str | None = None, commit: bool = True) -> WorkflowTimer:
    """Move a waiting timer (legal-time recompute, suspension of a period…) to a new instant.

    The SpiffWorkflow timer and its mirror row move together; if the new instant is already
    past, the timer fires at the scheduler's next poll.
    """
    with unit_of_work(commit):
        row = db.session.get(WorkflowTimer, timer_id)
        if row is None:
            raise NotFound(f"定时器 {timer_id} 不存在")
        if row.state != TimerState.WAITING:
            raise Conflict("定时器已触发或已取消")
        new_due = instant(due_at)
        inst = get_instance(row.instance_id)
        step = step_for(inst, actor)
        task = step.workflow.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or not is_timer(task) or task.state != SpiffState.WAITING:
            raise Conflict("定时器在流程中已不再等待")
        value = new_due.isoformat()
        if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
            current = dict(task.internal_data.get("event_value") or {})
            current["next"] = value
            value = current
        before = as_utc(row.due_at).isoformat()
        task._set_internal_data(event_value=value)
        step.persist()
        step.event(EventType.TIMER_MOVED, task_spec=row.task_spec, name=row.name, actor=actor,
               at=step.now, data={"from": before, "to": new_due.isoformat(), "reason": reason})
        record("engine.timer_moved", "workflow_timer", row.id, before={"due_at": before},
               after={"due_at": new_due.isoformat(), "reason": reason},
               actor=actor._audit() if actor else None)
        step.emit_pending()
    return row


def completion_measures(row: HumanTask, completed_at) -> dict:
    """What a completion records about its timeliness: on time (by `due_at`; None without a
    deadline) and the response time in working days (the product's rule)."""
    return {"on_time": None if row.due_at is None else as_utc(completed_at) <= as_utc(row.due_at),
            "response_workdays": response_workdays(row.created_at, completed_at)}


def update_task_due(task_id: int, due_at: datetime | None, reminder_at: datetime | None = None,
                    *, commit: bool = True) -> HumanTask:
    """Change a task's SLA instants on the mirror (pair with move_timer for its boundary timers)."""
    with unit_of_work(commit):
        row = ready_task(task_id)
        row.due_at = as_utc(due_at) if due_at else None
        row.reminder_at = as_utc(reminder_at) if reminder_at else None
        row.sla_state = sla_for(utcnow(), row.due_at, row.reminder_at)
    return row


# ---------------------------------------------------------------- reading

@dataclass
class InstanceView:
    instance: ProcessInstance
    open_tasks: list[HumanTask]
    timers: list[WorkflowTimer]
    history: list[TaskEvent]
    data: dict


def workflow_data(instance: ProcessInstance) -> dict:
    """The process data as the latest completed task sees it (loads the workflow)."""
    definition = compiled(instance.definition)
    wf = persistence.loads(instance.state, definition.spec, definition.subprocess_specs,
                           EngineScriptEngine(None))
    ready = wf.get_tasks(state=SpiffState.READY)
    source = wf.last_task or (ready[0] if ready else wf.task_tree)
    return dict(source.data)


def instance_state(instance_id: int) -> InstanceView:
    inst = get_instance(instance_id)
    tasks = list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == inst.id, HumanTask.state == TaskState.READY).order_by(HumanTask.id)))
    timers = list(db.session.scalars(select(WorkflowTimer).where(
        WorkflowTimer.instance_id == inst.id, WorkflowTimer.state == TimerState.WAITING)
        .order_by(WorkflowTimer.due_at)))
    history = list(db.session.scalars(select(TaskEvent).where(TaskEvent.instance_id == inst.id)
                                      .order_by(TaskEvent.at, TaskEvent.id)))
    return InstanceView(inst, tasks, timers, history, workflow_data(inst))


def instance_by_key(business_key: str) -> ProcessInstance | None:
    return db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
