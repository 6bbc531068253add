"""The restricted Python environment BPMN expressions and scripts run in.

Two layers:
1. `check_source()` — a static `ast` check used at deploy time (naming the element) and again,
   cached, before anything is evaluated at run time: no imports, no dunder names or
   underscore attributes, no `open`/`eval`/`exec`/`__import__`/`getattr`/…;
2. `RestrictedEnvironment` — evaluates with `__builtins__` replaced by a small allow-list, so
   even code that slipped past (1) has nothing dangerous to call. The only other names are
   the task data and the functions registered with `register_script_function`.
"""
from __future__ import annotations

import ast
import builtins
import json
import weakref
from functools import lru_cache
from types import CodeType, ModuleType
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from app.engine.errors import ScriptError
from app.engine.registry import SCRIPT_FUNCTIONS, SERVICES

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "range", "reversed", "round",
    "set", "sorted", "str", "sum", "tuple", "zip", "True", "False", "None",
    "ValueError", "KeyError", "TypeError", "Exception",
)
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}

FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "dir",
    "getattr", "setattr", "delattr", "hasattr", "input", "breakpoint", "exit", "quit", "help",
    "memoryview", "type", "object", "super", "classmethod", "staticmethod", "property",
    "__builtins__", "print",
})
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro", "gi_frame", "f_globals"})


def check_source(source: str, mode: str = "eval") -> None:
    """Raise ScriptError if `source` is not valid, safe Python for the restricted environment."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise ScriptError(f"表达式/脚本语法错误（第 {exc.lineno} 行）：{exc.msg}：{source!r}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptError(f"脚本中不允许 import：{source!r}")
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise ScriptError(f"脚本中不允许 global/nonlocal：{source!r}")
        if isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            raise ScriptError(f"脚本中不允许生成器或异步代码：{source!r}")
        if isinstance(node, ast.Attribute) and (
                node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES):
            raise ScriptError(f"脚本中不允许访问属性 {node.attr}：{source!r}")
        if isinstance(node, ast.Name) and (node.id.startswith("__") or node.id in FORBIDDEN_NAMES):
            raise ScriptError(f"脚本中不允许使用 {node.id}：{source!r}")
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("__"):
            raise ScriptError(f"脚本中不允许定义 {node.name}：{source!r}")
        if isinstance(node, ast.arg) and node.arg.startswith("__"):
            raise ScriptError(f"脚本中不允许使用参数名 {node.arg}：{source!r}")


@lru_cache(maxsize=4096)
def _compiled(source: str, mode: str) -> CodeType:
    check_source(source, mode)
    return compile(source.strip() if mode == "eval" else source, "<bpmn>", mode)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment exposing only task data + registered functions."""

    def __init__(self, functions: dict[str, Any] | None = None):
        super().__init__({})
        self.functions = SCRIPT_FUNCTIONS if functions is None else functions

    def _namespace(self, context: dict, external_context: dict | None) -> dict:
        ns: dict[str, Any] = dict(self.functions)
        if external_context:
            ns.update(external_context)
        for key, value in context.items():
            if not key.startswith("__"):
                ns[key] = value
        ns["__builtins__"] = SAFE_BUILTINS
        return ns

    def evaluate(self, expression, context, external_context=None):
        return eval(_compiled(expression, "eval"), self._namespace(context, external_context))

    def execute(self, script, context, external_context=None):
        clash = set(self.functions).intersection(context)
        if clash:
            raise ScriptError(f"流程数据中的变量名与内置函数重名，请改名：{sorted(clash)}")
        ns = self._namespace(context, external_context)
        exec(_compiled(script, "exec"), ns)
        hidden = set(self.functions) | set(external_context or ()) | {"__builtins__"}
        result = {k: v for k, v in ns.items()
                  if k not in hidden and not callable(v) and not isinstance(v, ModuleType)}
        context.clear()
        context.update(result)
        return True

    def call_service(self, context, **kwargs):  # pragma: no cover - engine overrides
        raise NotImplementedError


ENVIRONMENT = RestrictedEnvironment()


def evaluate(expression: str, data: dict) -> Any:
    """Evaluate one expression against `data` outside a workflow (task properties, tests)."""
    return ENVIRONMENT.evaluate(expression, dict(data))


def _jsonable(value: Any) -> Any:
    from datetime import date, datetime
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
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
        from app.engine.runtime import ServiceContext  # avoid import cycle

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
