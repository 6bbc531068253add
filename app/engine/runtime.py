"""Running instances: one transaction per step.

Each public function is a unit of work: load the instance, let SpiffWorkflow run, persist the
state with an optimistic version check, bring the human-task and timer mirrors in step, write
history + audit rows, run the product's hooks, then commit (or roll everything back).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

from flask import current_app
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit.log import record
from app.clock import as_utc, utcnow
from app.db.rowbatch import persistent
from app.db.transaction import in_transaction, transaction
from app.engine import persistence
from app.engine.definitions import (
    CompiledDefinition,
    UserTaskMeta,
    compiled,
    compiled_version,
    latest_definition,
)
from app.engine.errors import Conflict, EngineError, NotFound, ScriptError, StepLimitExceeded
from app.engine.models import (
    EventType,
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    SlaState,
    TaskEvent,
    TaskState,
    TimerState,
    WorkflowTimer,
)
from app.engine.registry import emit, validate_form
from app.engine.rows import RowWriter, row_batch
from app.engine.scripting import EngineScriptEngine
from app.extensions import db

log = logging.getLogger(__name__)

_MAX_ENGINE_ROUNDS = 50


@dataclass(frozen=True)
class Actor:
    """Who acts. The engine records it; the caller has already decided it may act."""

    user_id: int | None
    department_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, name="system")

    def _audit(self) -> Any:
        if self.user_id is None:
            return None
        return SimpleNamespace(id=self.user_id, username=self.name, department_id=self.department_id)


# ---------------------------------------------------------------- helpers

def _instant(value: Any) -> datetime | None:
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
        return _instant(value)
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


def _is_timer(task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _sla_for(now: datetime, due_at: datetime | None, reminder_at: datetime | None) -> str:
    if due_at is not None and as_utc(due_at) <= now:
        return SlaState.OVERDUE
    if reminder_at is not None and as_utc(reminder_at) <= now:
        return SlaState.DUE_SOON
    return SlaState.ON_TIME


def _event(instance_id: int, event_type: str, **kwargs: Any) -> TaskEvent:
    """One history row outside a step (claim, release, SLA change…), through the session."""
    task, values = _event_values(instance_id, event_type, **kwargs)
    row = TaskEvent(human_task=task, **values)
    db.session.add(row)
    return row


def _event_values(instance_id: int, event_type: str, *, task: HumanTask | None = None,
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
def _unit(commit: bool) -> Iterator[None]:
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


# ---------------------------------------------------------------- the step

T = TypeVar("T")
_CURRENT_STEP: ContextVar[Step | None] = ContextVar("engine_step", default=None)


def current_instance() -> ProcessInstance | None:
    """The instance whose step is running, for script functions that keep per-instance records
    (e.g. a provisional legal deadline to recompute later); None outside a step."""
    step = _CURRENT_STEP.get()
    return step.instance if step is not None else None


def current_instant() -> datetime:
    """The running step's instant — its tasks' created_at, and the event every due date and
    timer it creates counts from — else now."""
    step = _CURRENT_STEP.get()
    return step.now if step is not None else utcnow()


def once_per_step(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per running step and `key` (outside a step: every call). A step
    evaluates the same legal deadline for a task's due date, its reminder and its escalation
    timer; they are one answer for one instant."""
    step = _CURRENT_STEP.get()
    if step is None:
        return compute()
    if key not in step.memo:
        step.memo[key] = compute()
    return step.memo[key]


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
        self._events.append(_event_values(self.instance.id, event_type, **kwargs))

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
        token = _CURRENT_STEP.set(self)
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
            _CURRENT_STEP.reset(token)

    def run_engine(self) -> None:
        wf = self.workflow
        for _ in range(_MAX_ENGINE_ROUNDS):
            self.spiff(wf.do_engine_steps, None, self._task_ran)
            # One walk serves this check and both mirror syncs (same traversal as two get_tasks).
            active = wf.get_tasks(state=SpiffState.READY | SpiffState.WAITING)
            if not any(t.state == SpiffState.READY and not t.task_spec.manual for t in active):
                self._active = active
                return
        raise EngineError("流程引擎在一个步骤内循环次数过多，可能存在死循环")

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
        token = _CURRENT_STEP.set(self)
        try:
            return self.engine.environment.evaluate(expression, spiff_task.data)
        except Exception as exc:
            db_error = _database_error(exc)
            if db_error is not None:
                raise db_error from None
            raise ScriptError(f"{what}表达式 {expression!r} 求值失败：{exc}",
                              spiff_task.task_spec.name) from exc
        finally:
            _CURRENT_STEP.reset(token)

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
            due_at = _instant(self._evaluate(meta.due, task, "办理期限"))
            reminder_at = _instant(self._evaluate(meta.reminder, task, "催办时间"))
            row = HumanTask(
                instance_id=inst.id, spiff_task_id=tid, task_spec=task.task_spec.name,
                name=meta.label, lane=meta.lane, form=meta.form,
                candidate_department_id=int(dept) if dept not in (None, "") else None,
                candidate_role=meta.candidate_role, state=TaskState.READY, created_at=self.now,
                due_at=due_at, reminder_at=reminder_at,
                sla_state=_sla_for(self.now, due_at, reminder_at),
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
                   if t.state == SpiffState.WAITING and _is_timer(t)}
        fired = {str(t.id): t for t in self.ran if _is_timer(t)}
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
                if target.sla_state == SlaState.ON_TIME:
                    self.rows.set(target, sla_state=SlaState.DUE_SOON)
                self.event(EventType.REMINDED, task=target, at=self.now,
                       data={"timer": row.task_spec})
        self.emit_later("timer_fired", timer=row, instance=inst, kind=row.kind, tasks=targets)


# ---------------------------------------------------------------- loading

def _get_instance(instance_id: int) -> ProcessInstance:
    inst = db.session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"流程实例 {instance_id} 不存在")
    return inst


def _get_task(task_id: int) -> HumanTask:
    row = db.session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(f"待办任务 {task_id} 不存在")
    return row


def _ready_task(task: int | HumanTask) -> HumanTask:
    row = task if isinstance(task, HumanTask) else _get_task(task)
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


def _load_for_completion(task_id: int) -> tuple[HumanTask, ProcessInstance, list[HumanTask],
                                                 list[WorkflowTimer], str]:
    """The task, its instance, the instance's open mirror rows (ready tasks, waiting or
    claimed timers) and its definition's content hash in one read, sent with any queued writes (app/db/rowbatch.py) and turned into
    the session's objects directly: the ORM's loading machinery costs several times the query."""
    out = row_batch()
    result = out.select(_COMPLETION_QUERY, {"task_id": task_id})
    out.send()
    rows = result.rows
    tasks = _objects(HumanTask, _TASK_COLUMNS, rows, 0)
    if task_id not in tasks:
        raise NotFound(f"待办任务 {task_id} 不存在")
    [inst] = _objects(ProcessInstance, _INSTANCE_COLUMNS, rows[:1], len(_TASK_COLUMNS)).values()
    timers = _objects(WorkflowTimer, _TIMER_COLUMNS, rows, len(_TASK_COLUMNS) + len(_INSTANCE_COLUMNS))
    return tasks[task_id], inst, list(tasks.values()), list(timers.values()), rows[0][-1]


def _step_for(inst: ProcessInstance, actor: Actor | None, content_hash: str | None = None) -> Step:
    if inst.status != InstanceStatus.RUNNING:
        raise Conflict(f"流程实例 {inst.business_key} 已不在运行中（{inst.status}）")
    definition = (compiled_version(content_hash, lambda: inst.definition) if content_hash
                  else compiled(inst.definition))
    step = Step(inst, actor, definition)
    step.load()
    return step


# ---------------------------------------------------------------- public API

def start(process_id: str, business_key: str, data: dict | None = None,
          actor: Actor | None = None, *, summary: dict | None = None,
          definition: ProcessDefinition | None = None, commit: bool = True) -> ProcessInstance:
    """Start the latest version of `process_id` (or the given definition) and run to the first wait."""
    with _unit(commit):
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


def complete(task_id: int, data: dict | None, actor: Actor | None,
             expected_version: int | None = None, *, commit: bool = True,
             prepare: Callable[[HumanTask, dict], dict] | None = None) -> HumanTask:
    """Complete a ready human task with form `data` (validated by its registered form).

    `prepare(task, data) -> data` runs on the loaded task before anything changes: the
    caller's permission checks and server-side form facts, without a read of its own.
    Raises FormError (nothing changed), Conflict (already done / instance moved), NotFound.
    """
    with _unit(commit):
        row, inst, ready_rows, timer_rows, content_hash = _load_for_completion(task_id)
        if prepare is not None:
            data = prepare(row, dict(data or {}))
        _ready_task(row)
        if expected_version is not None and inst.version != expected_version:
            raise Conflict("流程已被其他操作更新，请刷新后重试")
        cleaned = validate_form(row.form, data or {}) if row.form else dict(data or {})
        step = _step_for(inst, actor, content_hash)
        step.ready_rows, step.timer_rows = ready_rows, timer_rows
        task = step.workflow.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or task.state != SpiffState.READY:
            raise Conflict("任务在流程中已不是待办状态，请刷新后重试")
        task.data.update(cleaned)
        step.completed_task_ids.add(row.spiff_task_id)
        step.spiff(task.run)
        step.run_engine()
        step.rows.set(row, state=TaskState.COMPLETED, completed_at=step.now,
                      completed_by=actor.user_id if actor else None, completion_data=cleaned)
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
    with _unit(commit):
        row = _ready_task(task_id)
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
        _event(row.instance_id, event_type, task=row, actor=actor, data=data)
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
    with _unit(commit):
        inst = _get_instance(instance_id)
        step = _step_for(inst, actor)
        step.spiff(step.workflow.cancel)
        inst.status = InstanceStatus.CANCELLED
        inst.completed_at = step.now
        step.persist()
        step.event(EventType.INSTANCE_CANCELLED, actor=actor, at=step.now, data={"reason": reason})
        record("engine.instance_cancelled", "process_instance", inst.id,
               before={"status": InstanceStatus.RUNNING},
               after={"status": InstanceStatus.CANCELLED, "reason": reason},
               actor=actor._audit() if actor else None)
        step.emit_later("instance_cancelled", instance=inst, actor=actor, reason=reason)
        step.emit_pending()
    return inst


def move_timer(timer_id: int, due_at: datetime | str, actor: Actor | None = None, *,
               reason: str | None = None, commit: bool = True) -> WorkflowTimer:
    """Move a waiting timer (legal-time recompute, suspension of a period…) to a new instant.

    The SpiffWorkflow timer and its mirror row move together; if the new instant is already
    past, the timer fires at the scheduler's next poll.
    """
    with _unit(commit):
        row = db.session.get(WorkflowTimer, timer_id)
        if row is None:
            raise NotFound(f"定时器 {timer_id} 不存在")
        if row.state != TimerState.WAITING:
            raise Conflict("定时器已触发或已取消")
        new_due = _instant(due_at)
        inst = _get_instance(row.instance_id)
        step = _step_for(inst, actor)
        task = step.workflow.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or not _is_timer(task) or task.state != SpiffState.WAITING:
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


def update_task_due(task_id: int, due_at: datetime | None, reminder_at: datetime | None = None,
                    *, commit: bool = True) -> HumanTask:
    """Change a task's SLA instants on the mirror (pair with move_timer for its boundary timers)."""
    with _unit(commit):
        row = _ready_task(task_id)
        row.due_at = as_utc(due_at) if due_at else None
        row.reminder_at = as_utc(reminder_at) if reminder_at else None
        row.sla_state = _sla_for(utcnow(), row.due_at, row.reminder_at)
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
    inst = _get_instance(instance_id)
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
