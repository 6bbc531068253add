"""A BPMN cycle without a wait: SpiffWorkflow's do_engine_steps() would run it forever inside one
call; the step's cap on engine tasks ends it with an error naming the flow and element, and the
step's transaction leaves nothing behind."""
from __future__ import annotations

import time

import pytest

from app.audit.models import AuditEntry
from app.engine import StepLimitExceeded, deploy, start
from app.engine.models import ProcessInstance, TaskEvent
from tests.engine.helpers import count


def test_a_cycle_without_a_wait_is_stopped_and_nothing_is_stored(app, bpmn):
    deploy(bpmn("endless_loop.bpmn"))
    audit_before = count(AuditEntry)
    began = time.monotonic()
    with pytest.raises(StepLimitExceeded) as caught:
        start("engine_endless_loop", "LOOP-1", {"stop": False})
    took = time.monotonic() - began
    message = str(caught.value)
    cap = app.config["ENGINE_MAX_TASKS_PER_STEP"]
    assert "「无等待的循环」（engine_endless_loop）" in message
    assert f"超过 {cap} 个" in message and "本次操作未生效" in message
    assert caught.value.element_id in {"merge", "tick", "more"}
    assert count(ProcessInstance) == 0
    assert count(TaskEvent) == 0
    assert count(AuditEntry) == audit_before
    assert took < 5, f"the cap took {took:.1f}s to end the cycle"


def test_the_cap_is_configurable(app, bpmn, monkeypatch):
    monkeypatch.setitem(app.config, "ENGINE_MAX_TASKS_PER_STEP", 30)
    deploy(bpmn("endless_loop.bpmn"))
    with pytest.raises(StepLimitExceeded, match="超过 30 个"):
        start("engine_endless_loop", "LOOP-2", {"stop": False})
    assert count(ProcessInstance) == 0
