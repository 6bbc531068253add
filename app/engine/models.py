"""Engine tables: definitions, instances, the human-task and timer mirrors, task history."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db


class ProcessDefinition(db.Model):
    """One immutable deployed version of a BPMN process."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_id", "version", name="uq_process_definition_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # only read on a spec-cache miss
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deployed_by: Mapped[int | None] = mapped_column(Integer)
    change_note: Mapped[str | None] = mapped_column(Text)  # the administrator's, when deployed in the studio


class ProcessDraft(db.Model):
    """An administrator's unsaved work on one flow's diagram (one per flow and administrator):
    kept on the server until deployed or discarded, never run."""

    __tablename__ = "process_draft"
    __table_args__ = (UniqueConstraint("process_id", "owner_id", name="uq_process_draft_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128))
    owner_id: Mapped[int] = mapped_column(Integer)
    # the version the draft was started from: deploying warns when a newer one appeared meanwhile
    base_version: Mapped[int | None] = mapped_column(Integer)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InstanceStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"
    SUSPENDED = "suspended"  # held by an administrator: no task is worked, no timer fires


INSTANCE_STATUS_LABELS = {"running": "运行中", "completed": "已办结", "cancelled": "已终止", "error": "出错",
                          "suspended": "已挂起"}


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    business_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING, index=True)
    # SpiffWorkflow serialization without the spec (the spec comes from the definition).
    state: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optimistic lock: every step does UPDATE … WHERE version = :seen.
    version: Mapped[int] = mapped_column(Integer, default=1)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")

    # The ORM adds "WHERE version = :loaded" to every UPDATE (0 rows → StaleDataError → Conflict);
    # each step bumps the number itself (runtime.Step.persist), so a fresh instance is version 1.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


# PostgreSQL compresses the ~5 KB state on every step's UPDATE; lz4 does it faster than the
# default pglz (UPDATE 87 vs 123 µs measured on this kind of machine). A server built
# without lz4 keeps its default.
LZ4_AVAILABLE = ("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                 "WHERE name = 'default_toast_compression'")


def _lz4_available(_ddl, _target, bind, **_kw) -> bool:
    return bind.dialect.name == "postgresql" and bool(bind.exec_driver_sql(LZ4_AVAILABLE).scalar())


event.listen(ProcessInstance.__table__, "after_create",
             DDL("ALTER TABLE process_instance ALTER COLUMN state SET COMPRESSION lz4")
             .execute_if(callable_=_lz4_available))


class TaskState:
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SlaState(StrEnum):
    """Where a task stands against its deadline: the engine mirror stores on_time, due_soon
    (its reminder passed) and overdue; pages also show due_today (the period's last day,
    app/sla/remaining.py), which is never stored."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"


class HumanTask(db.Model):
    """Mirror of one READY (or once-ready) user/manual task, for indexed inbox queries."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_assignee", "state", "assignee_id"),
        Index("ix_human_task_group", "state", "candidate_department_id", "candidate_role"),
        Index("ix_human_task_sla", "state", "sla_state", "due_at"),
        Index("ix_human_task_done", "completed_by", "completed_at"),
        Index("ix_human_task_completed", "state", "completed_at"),  # the SLA figures of a period
        # the open work now (the desk's counts): read from the index alone, however long the history
        Index("ix_human_task_open", "candidate_department_id", "due_at", postgresql_include=["id", "process_id"],
              postgresql_where=text("state = 'ready'"), sqlite_where=text("state = 'ready'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    # the instance's BPMN process id, copied: open work is counted per flow from an index alone
    process_id: Mapped[str | None] = mapped_column(String(128))
    # Looked up only together with instance_id (its index serves); no index of its own:
    # every index is one more page a step writes (bench/engine_bench.py).
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    task_spec: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(128))
    form: Mapped[str | None] = mapped_column(String(128))
    candidate_department_id: Mapped[int | None] = mapped_column(Integer)
    candidate_role: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=TaskState.READY)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_state: Mapped[str] = mapped_column(String(16), default=SlaState.ON_TIME)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[int | None] = mapped_column(Integer)
    completion_data: Mapped[dict | None] = mapped_column(JSON)
    # Measured once, when the step is completed (the SLA figures read them, never recompute):
    # completed by its deadline (None without one), and working days from arrival to completion.
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    response_workdays: Mapped[int | None] = mapped_column(Integer)

    instance: Mapped[ProcessInstance] = relationship(lazy="select")


class TimerState:
    WAITING = "waiting"
    CLAIMED = "claimed"
    FIRED = "fired"
    CANCELLED = "cancelled"
    ERROR = "error"


class WorkflowTimer(db.Model):
    """Mirror of one waiting timer event (boundary, intermediate or start)."""

    __tablename__ = "workflow_timer"
    __table_args__ = (Index("ix_workflow_timer_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))  # read per instance, never searched
    task_spec: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    # 'reminder' / 'escalation' from the boundary event's `sla_event` property, else None.
    kind: Mapped[str | None] = mapped_column(String(32))
    attached_to: Mapped[str | None] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default=TimerState.WAITING)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)


class TaskEvent(db.Model):
    """History row for an instance's timeline."""

    __tablename__ = "task_event"
    __table_args__ = (Index("ix_task_event_instance_at", "instance_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    task_spec: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(32))  # read per instance, never searched
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    data: Mapped[dict | None] = mapped_column(JSON)

    human_task: Mapped[HumanTask | None] = relationship(lazy="select")


class EventType:
    INSTANCE_STARTED = "instance_started"
    INSTANCE_COMPLETED = "instance_completed"
    INSTANCE_CANCELLED = "instance_cancelled"
    INSTANCE_SUSPENDED = "instance_suspended"
    INSTANCE_RESUMED = "instance_resumed"
    STARTED = "started"            # a human task became ready
    COMPLETED = "completed"
    CANCELLED = "cancelled"        # a human task was withdrawn (interrupting event, cancel…)
    CLAIMED = "claimed"
    RELEASED = "released"
    DELEGATED = "delegated"
    TIMER_FIRED = "timer_fired"
    TIMER_MOVED = "timer_moved"
    TIMER_ERROR = "timer_error"
    REMINDED = "reminded"          # reminder (催办) boundary timer fired
    ESCALATED = "escalated"        # escalation (督办) boundary timer fired
    SERVICE = "service"            # a service verb ran
    SLA_CHANGED = "sla_changed"
