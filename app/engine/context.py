"""What a running step offers the code it calls: who acts, the step's instant, and work done
once per step (a legal deadline asked for by a task's due date, its reminder and its timer)."""
from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

from app.clock import utcnow
from app.engine.models import ProcessInstance


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


class RunningStep(Protocol):
    """What this module reads of the running step (app/engine/step.py's Step)."""

    instance: ProcessInstance
    now: datetime
    memo: dict[Hashable, Any]


T = TypeVar("T")
CURRENT_STEP: ContextVar[RunningStep | None] = ContextVar("engine_step", default=None)  # set by Step


def current_instance() -> ProcessInstance | None:
    """The instance whose step is running, for script functions that keep per-instance records
    (e.g. a provisional legal deadline to recompute later); None outside a step."""
    step = CURRENT_STEP.get()
    return step.instance if step is not None else None


def current_instant() -> datetime:
    """The running step's instant — its tasks' created_at, and the event every due date and
    timer it creates counts from — else now."""
    step = CURRENT_STEP.get()
    return step.now if step is not None else utcnow()


def once_per_step(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per running step and `key` (outside a step: every call). A step
    evaluates the same legal deadline for a task's due date, its reminder and its escalation
    timer; they are one answer for one instant."""
    step = CURRENT_STEP.get()
    if step is None:
        return compute()
    if key not in step.memo:
        step.memo[key] = compute()
    return step.memo[key]
