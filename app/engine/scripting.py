"""SpiffWorkflow's script engine, as this engine runs it: expressions through our own interpreter
(app/engine/expressions.py), service tasks through the verb registry, and no scripts at all.

SpiffWorkflow evaluates every condition, timer, parameter and payload through
`environment.evaluate` and runs scripts through `environment.execute`; both land here. Deploy
refuses script tasks and pre/post scripts (app/engine/definitions.py); `execute` refuses them
again, so a definition that never went through deploy (planted in the database) cannot run code.
"""
from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from app.engine import expressions
from app.engine.errors import ScriptError
from app.engine.registry import SCRIPT_FUNCTIONS, SERVICES
from app.extensions import db

NO_SCRIPTS = "BPMN 中不允许脚本（脚本任务、前置/后置脚本）：流程需要的动作请用服务任务调用已注册的服务动作"


class ExpressionEnvironment(BasePythonScriptEngineEnvironment):
    """Expressions over task data + registered functions; scripts refused."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__({})
        self.functions = SCRIPT_FUNCTIONS if functions is None else functions

    def evaluate(self, expression, context, external_context=None):
        return expressions.evaluate(expression, context, self.functions, external_context)

    def execute(self, script, context, external_context=None):
        raise ScriptError(NO_SCRIPTS)

    def call_service(self, context, **kwargs):  # pragma: no cover - EngineScriptEngine overrides
        raise NotImplementedError


ENVIRONMENT = ExpressionEnvironment()


def evaluate(expression: str, data: dict) -> Any:
    """Evaluate one expression against `data` outside a workflow (task properties, tests)."""
    return ENVIRONMENT.evaluate(expression, data)


@dataclass
class ServiceContext:
    """What a service verb sees: `verb(ctx, **params)`."""

    step: Any
    task: Any  # the SpiffWorkflow task running the verb

    @property
    def instance(self):
        return self.step.instance

    @property
    def business_key(self) -> str:
        return self.step.instance.business_key

    @property
    def actor(self):
        return self.step.actor

    @property
    def data(self) -> dict:
        """The task data (read it; put results in the verb's return value)."""
        return self.task.data

    @property
    def task_spec(self) -> str:
        return self.task.task_spec.name

    @property
    def now(self) -> datetime:
        return self.step.now

    @property
    def session(self):
        return db.session

    def at_step_end(self, fn: Callable[[], None]) -> None:
        """Run `fn()` once the step's engine run is over, before its rows are written: for an
        effect that depends on what later verbs of the same step did."""
        self.step.at_end.append(fn)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class EngineScriptEngine(PythonScriptEngine):
    """One per loaded workflow; carries the step so service verbs see instance and actor."""

    def __init__(self, step: Any = None):
        super().__init__(environment=ENVIRONMENT)
        # Weak: the step owns the workflow, which owns this engine; a strong link back would
        # make every step a reference cycle that outlives it until the garbage collector runs
        # (keeping its rows in the session's identity map meanwhile).
        self._step = weakref.ref(step) if step is not None else None

    @property
    def step(self) -> Any:
        return self._step() if self._step is not None else None

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        verb = SERVICES.get(operation_name)
        if verb is None:
            raise ScriptError(f"未注册的服务动作 {operation_name}", task.task_spec.name)
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        ctx = ServiceContext(step=self.step, task=task)
        try:
            result = verb(ctx, **params)
        except Exception as exc:
            if self.step is not None:
                self.step.verb_error = exc
            raise
        return json.dumps(_jsonable(result), ensure_ascii=False)
