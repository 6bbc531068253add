"""The restricted environment refuses at run time what deploy refuses statically."""
from __future__ import annotations

import pytest

from app.engine import ScriptError, deploy, start
from app.engine import definitions as definitions_module
from app.engine.models import ProcessInstance
from app.engine.scripting import ENVIRONMENT, evaluate
from tests.engine.helpers import count
from tests.engine.test_deploy import script_bpmn


@pytest.mark.parametrize("expression", [
    "open('/etc/passwd')", "__import__('os')", "eval('1')", "().__class__", "getattr(x, 'y')",
    "__builtins__", "print('x')",
])
def test_environment_refuses_unsafe_expressions(expression):
    with pytest.raises(ScriptError):
        evaluate(expression, {"x": 1})


def test_builtins_are_an_allow_list():
    # Even with the static check bypassed, nothing dangerous is reachable.
    ns = ENVIRONMENT._namespace({}, None)
    assert "open" not in ns["__builtins__"] and "__import__" not in ns["__builtins__"]
    with pytest.raises(NameError):
        eval(compile("open('/etc/passwd')", "<t>", "eval"), ns)


def test_safe_builtins_functions_and_data_work():
    data = {"items": [3, 1, 2], "name": "a"}
    assert evaluate("len(items) + max(items) + min(1, 2)", data) == 7
    assert evaluate("sorted(items)[0] == 1 and str(name) == 'a'", data) is True
    assert evaluate("{'k': [int('4'), bool(0)]}", data) == {"k": [4, False]}
    assert evaluate("deadline('reply')", {}).endswith("+00:00")


def test_script_runs_and_writes_back(app):
    task_data = {"items": [1, 2]}
    ENVIRONMENT.execute("total = sum(items)\ndel items", task_data)
    assert task_data == {"total": 3}


def test_runtime_refuses_script_that_slipped_past_deploy(app, monkeypatch):
    monkeypatch.setattr(definitions_module, "check_source", lambda *a, **k: None)
    deploy(script_bpmn("content = open('/etc/passwd').read()"))
    with pytest.raises(ScriptError) as err:
        start("engine_template", "EVIL-1", {}, None)
    assert "open" in str(err.value) and err.value.element_id == "node"
    assert count(ProcessInstance) == 0


def test_script_task_with_safe_code_runs(app):
    deploy(script_bpmn("total = len(items) * 2"))
    inst = start("engine_template", "OK-1", {"items": [1, 2, 3]}, None)
    assert inst.status == "completed"
    from app.engine import instance_state
    assert instance_state(inst.id).data["total"] == 6
