"""Engine test helpers: generic script functions, forms and verbs; BPMN fixtures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from app.audit.log import record
from app.clock import utcnow
from app.engine import (
    FormError,
    register_due_soon_rule,
    register_form,
    register_script_function,
    register_service,
    registry,
)
from app.engine.definitions import _SPEC_CACHE

BPMN = Path(__file__).parent / "bpmn"
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Shanghai

# Offsets the test `deadline()` / `reminder()` script functions hand out.
DEADLINES = {"reply": timedelta(days=3), "prepare": timedelta(days=1), "review": timedelta(days=2)}
REMINDERS = {"reply": timedelta(days=2)}


def _deadline(name: str) -> str:
    return (utcnow() + DEADLINES[name]).isoformat()


def _reminder(name: str) -> str:
    return (utcnow() + REMINDERS[name]).isoformat()


def review_form(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    if not isinstance(data.get("approved"), bool):
        errors["approved"] = ["请选择是否同意"]
    if data.get("approved") is False and not (data.get("comment") or "").strip():
        errors["comment"] = ["不同意时必须填写理由"]
    if errors:
        raise FormError(errors)
    return {"approved": data["approved"], "comment": (data.get("comment") or "").strip()}


def note_result(ctx, outcome, comment):
    return {"outcome": outcome, "comment": comment, "business_key": ctx.business_key}


def record_effect(ctx, label):
    # A domain effect written in the step's transaction.
    record("test.effect", "process_instance", ctx.instance.id, after={"label": label})
    return {"label": label}


def explode(ctx):
    raise RuntimeError("服务动作失败")


@pytest.fixture(autouse=True)
def engine_registrations():
    register_script_function("deadline", _deadline)
    register_script_function("reminder", _reminder)
    register_form("review_form", review_form)
    register_service("note_result", note_result)
    register_service("record_effect", record_effect)
    register_service("explode", explode)
    # the engine alone: due soon once the reminder instant has passed (the product's rule is
    # the profile's, tested with the flows)
    product_rule = list(registry._DUE_SOON_RULE)
    register_due_soon_rule(None)
    yield
    registry._DUE_SOON_RULE[:] = product_rule


@pytest.fixture()
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture()
def bpmn():
    return lambda name: BPMN / name


@pytest.fixture(autouse=True)
def _fresh_spec_cache():
    yield
    _SPEC_CACHE.clear()
