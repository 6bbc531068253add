"""What the product plugs into the engine: script functions, service verbs, forms, hooks.

Registries are process-wide dictionaries filled at import time by the product packages
(`app/flows/...`). Registering the same name twice replaces the earlier entry (handy in tests).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.engine.errors import FormError

log = logging.getLogger(__name__)

SCRIPT_FUNCTIONS: dict[str, Callable[..., Any]] = {}
SERVICES: dict[str, Callable[..., Any]] = {}
FORMS: dict[str, Callable[[dict], dict]] = {}
# The product's own rules for a deployable diagram: rule(document root) -> [(element id, message)].
# `flask bpmn deploy` and the studio check them; the engine's `deploy()` API does not.
DEPLOY_RULES: list[Callable[[Any], list[tuple[str | None, str]]]] = []

# Hook names the engine emits (all run inside the step's transaction, see __init__ docstring).
HOOK_NAMES = (
    "instance_started", "instance_completed", "instance_cancelled",
    "task_created", "task_completed", "task_cancelled",
    "task_claimed", "task_released", "task_delegated",
    "timer_fired", "sla_changed",
)
_HOOKS: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOK_NAMES}


def register_script_function(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Expose `fn` to BPMN expressions and scripts under `name` (e.g. `deadline`)."""
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"invalid script function name {name!r}")
    SCRIPT_FUNCTIONS[name] = fn
    return fn


# The product's "due soon" rule: now -> the latest deadline instant counted as due soon. Without
# one (engine-only use) a task is due soon once its reminder instant has passed.
_DUE_SOON_RULE: list[Callable[[Any], Any]] = []


def register_due_soon_rule(fn: Callable[[Any], Any] | None) -> None:
    """Set (or, with None, remove) the due-soon rule."""
    _DUE_SOON_RULE[:] = [fn] if fn is not None else []


def due_soon_horizon(now):
    """Deadlines at or before this instant are due soon (None: no rule registered)."""
    return _DUE_SOON_RULE[0](now) if _DUE_SOON_RULE else None


# The product's measure of a step's response time: (arrived, completed) -> working days. Without
# one (engine-only use) steps are completed without it.
_RESPONSE_RULE: list[Callable[[Any, Any], int]] = []


def register_response_rule(fn: Callable[[Any, Any], int] | None) -> None:
    _RESPONSE_RULE[:] = [fn] if fn is not None else []


def response_workdays(arrived, completed) -> int | None:
    return _RESPONSE_RULE[0](arrived, completed) if _RESPONSE_RULE else None


def register_service(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register a service-task verb: `fn(ctx: ServiceContext, **params) -> JSON-able result`."""
    SERVICES[name] = fn
    return fn


def register_deploy_rule(rule: Callable[[Any], list[tuple[str | None, str]]]) -> None:
    """Add a product rule every diagram deployed from the command line or the studio meets."""
    if rule not in DEPLOY_RULES:
        DEPLOY_RULES.append(rule)


def register_form(name: str, validate: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """Register a user-task form: `validate(data) -> cleaned dict`, raising FormError.

    A marshmallow `ValidationError` (anything with a `.messages` dict) is accepted too and
    turned into a FormError.
    """
    FORMS[name] = validate
    return validate


def validate_form(name: str, data: dict) -> dict:
    try:
        cleaned = FORMS[name](data)
    except FormError:
        raise
    except Exception as exc:
        messages = getattr(exc, "messages", None)
        if isinstance(messages, dict):
            raise FormError(messages) from exc
        raise
    return dict(cleaned or {})


def on(event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    """Subscribe to an engine event (one of HOOK_NAMES). Returns the callback (decorator-friendly)."""
    if event not in _HOOKS:
        raise ValueError(f"unknown engine event {event!r}; known: {', '.join(HOOK_NAMES)}")
    if callback not in _HOOKS[event]:
        _HOOKS[event].append(callback)
    return callback


def off(event: str, callback: Callable[..., Any]) -> None:
    if callback in _HOOKS.get(event, []):
        _HOOKS[event].remove(callback)


def emit(event: str, **kwargs: Any) -> None:
    """Call every subscriber; an exception aborts the step (and so rolls it back)."""
    for callback in list(_HOOKS[event]):
        callback(**kwargs)


def on_task_created(callback):
    """callback(task: HumanTask, instance: ProcessInstance)"""
    return on("task_created", callback)


def on_task_completed(callback):
    """callback(task: HumanTask, instance: ProcessInstance, actor: Actor | None)"""
    return on("task_completed", callback)


def on_timer_fired(callback):
    """callback(timer: WorkflowTimer, instance, kind: str | None, tasks: list[HumanTask])"""
    return on("timer_fired", callback)


def on_instance_completed(callback):
    """callback(instance: ProcessInstance)"""
    return on("instance_completed", callback)
