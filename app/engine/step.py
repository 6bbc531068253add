"""The step: one load → run → persist cycle on an instance, one unit of work. SpiffWorkflow
runs the diagram; the step persists its state under the optimistic version check, brings the
human-task and timer mirrors in line, writes history and audit rows and runs the hooks."""
from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from flask import current_app
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from app.clock import as_utc, utcnow
from app.db.transaction import in_transaction, transaction
from app.engine import persistence
from app.engine.context import CURRENT_STEP, Actor
from app.engine.definitions import (
    PROP_ENDS_WITH_ESCALATED_STEP,
    CompiledDefinition,
    UserTaskMeta,
    compiled,
    compiled_version,
)
from app.engine.errors import Conflict, EngineError, FlowFault, ScriptError, StepLimitExceeded
from app.engine.models import (
    INSTANCE_STATUS_LABELS,
    EventType,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    SlaState,
    TaskEvent,
    TaskState,
    TimerState,
    WorkflowTimer,
)
from app.engine.registry import due_soon_horizon, emit
from app.engine.rows import RowWriter, row_batch
from app.engine.scripting import EngineScriptEngine
from app.extensions import db

log = logging.getLogger(__name__)

_MAX_ENGINE_ROUNDS = 50


def instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return TimerEventDefinition.get_datetime(str(value))


def _timer_due(task) -> datetime | None:
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
        value = value.get("next") if isinstance(value, dict) else None
    try:
        return instant(value)
    except (TypeError, ValueError):
        return None


def _database_error(exc: BaseException) -> DBAPIError | None:
    """A database error SpiffWorkflow or an expression wrapped (a script function's query
    over its time limit): it stays a database error, answered as such (503), not a flow error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DBAPIError):
            return exc
        seen.add(id(exc))
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    return None


def _escalated_step_finished(task, own_split) -> bool:
    """Has the step whose escalation led to `task` finished? The nearest boundary event above
    the task is that escalation; the main task of its split is the step (completed or cancelled —
    a cancelled 督办 thus ends the one above it too)."""
    ancestor = (own_split or task).parent
    while ancestor is not None and not isinstance(ancestor.task_spec, BoundaryEvent):
        ancestor = ancestor.parent
    split = ancestor.parent if ancestor is not None else None
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return False
    main = next((c for c in split.children if not isinstance(c.task_spec, BoundaryEvent)), None)
    return main is not None and main.state in (SpiffState.COMPLETED, SpiffState.CANCELLED)


def is_timer(task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def sla_for(now: datetime, due_at: datetime | None, reminder_at: datetime | None) -> str:
    """Where a task stands: overdue past its deadline; due soon by the product's rule
    (`register_due_soon_rule`), or without one once its reminder instant has passed."""
    if due_at is not None and as_utc(due_at) <= now:
        return SlaState.OVERDUE
    horizon = due_soon_horizon(now)
    if horizon is not None:
        return SlaState.DUE_SOON if due_at is not None and as_utc(due_at) <= horizon else SlaState.ON_TIME
    if reminder_at is not None and as_utc(reminder_at) <= now:
        return SlaState.DUE_SOON
    return SlaState.ON_TIME


def timeline_event(instance_id: int, event_type: str, **kwargs: Any) -> TaskEvent:
    """One history row outside a step (claim, release, SLA change…), through the session."""
    task, values = event_values(instance_id, event_type, **kwargs)
    row = TaskEvent(human_task=task, **values)
    db.session.add(row)
    return row


def event_values(instance_id: int, event_type: str, *, task: HumanTask | None = None,
                  task_spec: str | None = None, name: str | None = None, actor: Actor | None = None,
                  data: dict | None = None, at: datetime | None = None) -> tuple[HumanTask | None, dict]:
    """A history row as (mirror row whose id it needs, column values) for a batched insert."""
    return task, {
        "instance_id": instance_id, "event_type": event_type,
        "task_spec": task.task_spec if task is not None else task_spec,
        "name": task.name if task is not None else name,
        "actor_id": actor.user_id if actor is not None else None,
        "at": at or utcnow(), "data": data,
    }


@contextmanager
def unit_of_work(commit: bool) -> Iterator[None]:
    """One step = one unit of work, a `transaction()`: with `commit` its own (or the caller's
    open one, which it joins); without, the caller's open one, which it must join (flushed, so
    the caller sees the step's rows). Any exception rolls the unit back."""
    if not commit and not in_transaction():
        raise RuntimeError("commit=False joins the caller's transaction(): open one first")
    try:
        with transaction():
            yield
            if not commit:
                db.session.flush()
    except StaleDataError:
        raise Conflict("流程已被其他操作更新，请刷新后重试") from None


class Step:
    """One load → run → persist cycle on an instance (internal; verbs see it via ServiceContext)."""

    def __init__(self, instance: ProcessInstance, actor: Actor | None, definition: CompiledDefinition):
        self.instance = instance
        self.actor = actor
        self.definition = definition
        self.now = utcnow()
        self.memo: dict[Hashable, Any] = {}  # once_per_step()
        self.engine = EngineScriptEngine(self)
        self.verb_error: BaseException | None = None
        self.ran: list = []  # engine tasks SpiffWorkflow ran in this step (_task_ran)
        self.max_tasks: int = current_app.config.get("ENGINE_MAX_TASKS_PER_STEP") or 0
        self.completed_task_ids: set[str] = set()
        self.workflow: BpmnWorkflow | None = None
        self.is_new = False
        self._hooks: list[tuple[str, dict]] = []
        self._events: list[tuple[HumanTask | None, dict]] = []
        # READY + WAITING tasks as the last run_engine() left them (None: walk the tree again).
        self._active: list | None = None
        # Mirror rows loaded with the instance (complete()); None: select them in sync_mirrors.
        self.ready_rows: list[HumanTask] | None = None
        self.timer_rows: list[WorkflowTimer] | None = None
        # Mirror inserts/updates, written by emit_pending() through Core (app/engine/rows.py).
        self.rows = RowWriter()
        self.at_end: list[Callable[[], None]] = []  # ServiceContext.at_step_end()

    def event(self, event_type: str, **kwargs: Any) -> None:
        """Queue a history row of this instance; `emit_pending()` inserts them in one statement."""
        self._events.append(event_values(self.instance.id, event_type, **kwargs))

    def write_events(self) -> None:
        events, self._events = self._events, []
        if events:
            rows = []
            for task, values in events:
                values["human_task_id"] = task.id if task is not None else None
                rows.append(values)
            row_batch().insert(TaskEvent.__table__, rows)  # sent with the step's last writes

    def emit_later(self, event: str, **kwargs: Any) -> None:
        """Queue a hook; `emit_pending()` runs them once the step's rows have ids."""
        self._hooks.append((event, kwargs))

    def emit_pending(self) -> None:
        at_end, self.at_end = self.at_end, []
        for fn in at_end:
            fn()
        self.rows.flush()
        self.write_events()
        hooks, self._hooks = self._hooks, []
        for event, kwargs in hooks:
            emit(event, **kwargs)

    # -- workflow lifecycle
    def create(self, data: dict) -> None:
        self.workflow = BpmnWorkflow(self.definition.spec, self.definition.subprocess_specs,
                                     script_engine=self.engine)
        self.workflow.task_tree.data.update(data or {})

    def load(self) -> None:
        self.workflow = persistence.loads(self.instance.state, self.definition.spec,
                                          self.definition.subprocess_specs, self.engine)

    def spiff(self, fn, *args) -> Any:
        """Call into SpiffWorkflow, translating its errors into ours."""
        token = CURRENT_STEP.set(self)
        self._active = None
        try:
            return fn(*args)
        except EngineError:
            raise
        except Exception as exc:
            if self.verb_error is not None:
                raise self.verb_error from None
            db_error = _database_error(exc)
            if db_error is not None:  # e.g. a statement over its time limit: not a flow error
                raise db_error from None
            cause = getattr(exc, "exception", None) or exc.__cause__
            element = None
            task_spec = getattr(exc, "task_spec", None)
            if task_spec is not None:
                element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            if isinstance(cause, ScriptError):
                raise ScriptError(str(cause), element) from exc
            if isinstance(exc, SpiffWorkflowException):
                raise ScriptError(f"流程执行出错：{exc}", element) from exc
            raise
        finally:
            CURRENT_STEP.reset(token)

    def run_engine(self) -> None:
        wf = self.workflow
        for _ in range(_MAX_ENGINE_ROUNDS):
            self.spiff(wf.do_engine_steps, None, self._task_ran)
            # One walk serves this check and both mirror syncs (same traversal as two get_tasks).
            active = wf.get_tasks(state=SpiffState.READY | SpiffState.WAITING)
            if self._end_supervision_of_finished_steps(active):
                continue
            if not any(t.state == SpiffState.READY and not t.task_spec.manual for t in active):
                self._active = active
                return
        raise FlowFault("流程引擎在一个步骤内循环次数过多，可能存在死循环")

    def _end_supervision_of_finished_steps(self, active: list) -> bool:
        """Cancel each ready task marked `ends_with_escalated_step` (with its boundary timers)
        whose escalated step — or a step escalated on the way to it — has finished. True if any."""
        ended = False
        for task in active:
            if (task.state != SpiffState.READY or not task.task_spec.manual
                    or self._meta(task).properties.get(PROP_ENDS_WITH_ESCALATED_STEP) != "true"):
                continue
            own_split = task.parent if isinstance(task.parent.task_spec, BoundaryEventSplit) else None
            if _escalated_step_finished(task, own_split):
                (own_split or task).cancel()
                ended = True
        return ended

    def _task_ran(self, task) -> None:
        """SpiffWorkflow's did_complete_task callback. do_engine_steps() loops until no READY
        engine task is left, so a BPMN cycle without a wait would never return: the count of
        tasks run ends it (the step then rolls back). The cap also stays below the depth
        SpiffWorkflow's task iterator walks (1000), past which it stops seeing READY tasks and
        would leave the instance silently stuck."""
        self.ran.append(task)
        if self.max_tasks and len(self.ran) > self.max_tasks:
            spec = task.task_spec
            raise StepLimitExceeded(self.definition.process_id, self.definition.name,
                                    getattr(spec, "bpmn_id", None) or spec.name, self.max_tasks)

    def fire_timers(self, due_task_ids: list[str] | None = None) -> None:
        """Fire the waiting timers. `due_task_ids` are the timers the mirror found due
        (due_at <= now): SpiffWorkflow only fires when due < now, so at the exact instant
        it would wait for the next poll; marking them fired makes a timer fire *at* its instant."""
        for task_id in due_task_ids or ():
            task = self.workflow.get_task_from_id(UUID(task_id))
            if task is not None:
                task._set_internal_data(event_fired=True)
        self.spiff(self.workflow.refresh_timers)
        self.run_engine()

    # -- persistence
    def persist(self) -> None:
        """Write the workflow state under the optimistic lock, then bring the mirrors in step.

        UPDATE … WHERE version = :seen is the step's first write, so concurrent steps on one
        instance queue on this row, not on mirrors; 0 rows → Conflict."""
        inst = self.instance
        seen = inst.version
        values = {"state": persistence.dumps(self.workflow), "updated_at": self.now,
                  "version": seen if self.is_new else seen + 1,
                  "status": inst.status, "completed_at": inst.completed_at}
        finished = self.workflow.completed and inst.status == InstanceStatus.RUNNING
        if finished:
            values.update(status=InstanceStatus.COMPLETED, completed_at=self.now)
        self.rows.set_versioned(inst, "version", seen, values)
        self.sync_mirrors()
        if finished:
            self.event(EventType.INSTANCE_COMPLETED, at=self.now)
            self.emit_later("instance_completed", instance=inst)

    def sync_mirrors(self) -> None:
        with db.session.no_autoflush:
            new_tasks = self._sync_human_tasks()
            self._sync_timers()
        for row in new_tasks:
            self.emit_later("task_created", task=row, instance=self.instance)

    def _meta(self, spiff_task) -> UserTaskMeta:
        spec = spiff_task.task_spec
        meta = self.definition.user_tasks.get(spec.name)
        if meta is None:
            meta = UserTaskMeta(spec.name, getattr(spec, "bpmn_name", None), spec.lane,
                                None, None, None, None, None)
        return meta

    def _evaluate(self, expression: str | None, spiff_task, what: str) -> Any:
        if not expression:
            return None
        token = CURRENT_STEP.set(self)
        try:
            return self.engine.environment.evaluate(expression, spiff_task.data)
        except Exception as exc:
            db_error = _database_error(exc)
            if db_error is not None:
                raise db_error from None
            raise ScriptError(f"{what}表达式 {expression!r} 求值失败：{exc}",
                              spiff_task.task_spec.name) from exc
        finally:
            CURRENT_STEP.reset(token)

    def _active_tasks(self) -> list:
        if self._active is None:
            self._active = self.workflow.get_tasks(state=SpiffState.READY | SpiffState.WAITING)
        return self._active

    def _sync_human_tasks(self) -> list[HumanTask]:
        inst = self.instance
        ready = {str(t.id): t for t in self._active_tasks()
                 if t.state == SpiffState.READY and t.task_spec.manual}
        if self.ready_rows is not None:
            rows = [row for row in self.ready_rows if row.state == TaskState.READY]
        else:
            rows = db.session.scalars(select(HumanTask).where(
                HumanTask.instance_id == inst.id, HumanTask.state == TaskState.READY)).all()
        known = set()
        for row in rows:
            known.add(row.spiff_task_id)
            if row.spiff_task_id not in ready and row.spiff_task_id not in self.completed_task_ids:
                self.rows.set(row, state=TaskState.CANCELLED, completed_at=self.now)
                self.event(EventType.CANCELLED, task=row, at=self.now)
                self.emit_later("task_cancelled", task=row, instance=inst)
        created = []
        for tid, task in ready.items():
            if tid in known:
                continue
            meta = self._meta(task)
            dept = self._evaluate(meta.candidate_department, task, "候选部门")
            due_at = instant(self._evaluate(meta.due, task, "办理期限"))
            reminder_at = instant(self._evaluate(meta.reminder, task, "催办时间"))
            row = HumanTask(
                instance_id=inst.id, process_id=inst.process_id, spiff_task_id=tid, task_spec=task.task_spec.name,
                name=meta.label, lane=meta.lane, form=meta.form,
                candidate_department_id=int(dept) if dept not in (None, "") else None,
                candidate_role=meta.candidate_role, state=TaskState.READY, created_at=self.now,
                due_at=due_at, reminder_at=reminder_at,
                sla_state=sla_for(self.now, due_at, reminder_at),
            )
            self.rows.add(row)
            created.append(row)
            self.event(EventType.STARTED, task=row, at=self.now, data={
                "candidate_department_id": row.candidate_department_id,
                "candidate_role": row.candidate_role,
                "due_at": due_at.isoformat() if due_at else None})
        return created

    def _sync_timers(self) -> None:
        """Mirror the instance's timers: waiting ones get (or keep) a row with their due
        instant, rows whose timer is gone are cancelled, the ones that fired are marked fired."""
        waiting = {str(t.id): t for t in self._active_tasks()
                   if t.state == SpiffState.WAITING and is_timer(t)}
        fired = {str(t.id): t for t in self.ran if is_timer(t)}
        by_task = {row.spiff_task_id: row for row in self._open_timer_rows()}
        for tid, row in by_task.items():
            if tid in waiting:
                self._keep_waiting(row, waiting[tid])
            elif tid not in fired:
                self.rows.set(row, state=TimerState.CANCELLED)
        for tid, task in waiting.items():
            due = _timer_due(task)
            if tid not in by_task and due is not None:
                self.rows.add(self._timer_row(task, due, TimerState.WAITING))
        for tid, task in fired.items():
            row = by_task.get(tid)
            if row is None:  # was due the moment it was reached: record it anyway
                row = self._timer_row(task, _timer_due(task) or self.now, TimerState.WAITING)
                self.rows.add(row)
            self.rows.set(row, state=TimerState.FIRED, fired_at=self.now)
            self._timer_fired(row, task)

    def _open_timer_rows(self) -> list[WorkflowTimer]:
        open_states = (TimerState.WAITING, TimerState.CLAIMED)
        if self.timer_rows is not None:
            return [row for row in self.timer_rows if row.state in open_states]
        return list(db.session.scalars(select(WorkflowTimer).where(
            WorkflowTimer.instance_id == self.instance.id, WorkflowTimer.state.in_(open_states))))

    def _keep_waiting(self, row: WorkflowTimer, task) -> None:
        due = _timer_due(task)
        changes = {}
        if due is not None and (row.due_at is None or as_utc(row.due_at) != due):
            changes["due_at"] = due
        if row.state != TimerState.WAITING:
            changes["state"] = TimerState.WAITING
        if changes:
            self.rows.set(row, **changes)

    def _timer_row(self, task, due: datetime, state: str) -> WorkflowTimer:
        meta = self.definition.timers.get(task.task_spec.name)
        return WorkflowTimer(
            instance_id=self.instance.id, spiff_task_id=str(task.id), task_spec=task.task_spec.name,
            name=getattr(task.task_spec, "bpmn_name", None),
            kind=meta.kind if meta else None, attached_to=meta.attached_to if meta else None,
            due_at=due, state=state)

    def _timer_fired(self, row: WorkflowTimer, task) -> None:
        inst = self.instance
        targets: list[HumanTask] = []
        if row.attached_to:
            sibling_ids = [str(c.id) for c in (task.parent.children if task.parent else [])
                           if c.task_spec.name == row.attached_to]
            if sibling_ids:
                targets = list(db.session.scalars(select(HumanTask).where(
                    HumanTask.instance_id == inst.id, HumanTask.spiff_task_id.in_(sibling_ids),
                    HumanTask.state == TaskState.READY)))
        self.event(EventType.TIMER_FIRED, task_spec=row.task_spec, name=row.name, at=self.now,
               data={"kind": row.kind, "attached_to": row.attached_to,
                     "due_at": as_utc(row.due_at).isoformat()})
        for target in targets:
            if row.kind == "escalation":
                self.rows.set(target, sla_state=SlaState.OVERDUE)
                self.event(EventType.ESCALATED, task=target, at=self.now,
                       data={"timer": row.task_spec})
            elif row.kind == "reminder":
                if target.sla_state == SlaState.ON_TIME and due_soon_horizon(self.now) is None:
                    self.rows.set(target, sla_state=SlaState.DUE_SOON)
                self.event(EventType.REMINDED, task=target, at=self.now,
                       data={"timer": row.task_spec})
        self.emit_later("timer_fired", timer=row, instance=inst, kind=row.kind, tasks=targets)


def step_for(inst: ProcessInstance, actor: Actor | None, content_hash: str | None = None,
             *, suspended_too: bool = False) -> Step:
    """A step on a running instance (`suspended_too`: or a suspended one, to cancel it)."""
    if inst.status == InstanceStatus.SUSPENDED and not suspended_too:
        raise Conflict(f"办件 {inst.business_key} 已被管理员挂起，恢复办理前不能办理")
    if inst.status not in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
        raise Conflict(f"流程实例 {inst.business_key} 已不在运行中"
                       f"（{INSTANCE_STATUS_LABELS.get(inst.status, inst.status)}）")
    definition = (compiled_version(content_hash, lambda: inst.definition) if content_hash
                  else compiled(inst.definition))
    step = Step(inst, actor, definition)
    step.load()
    return step
