"""The engine's state codec writes and reads exactly what SpiffWorkflow's converters do.

`persistence.dumps`/`loads` (app/engine/codec.py) against the reference
`persistence.spiff_dumps`/`spiff_loads` (SpiffWorkflow 3.2's own converters), byte for byte, on
real workflows: every deployable BPMN of the product (bpmn/) and of the engine tests, run with a
stub script engine (no database) through user tasks, timers and to the end.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import pytest
import time_machine
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from app.engine import codec, persistence
from app.engine.definitions import compile_bpmn
from app.engine.errors import DeployError
from app.engine.scripting import ExpressionEnvironment
from tests.engine.conftest import BPMN as ENGINE_BPMN
from tests.engine.conftest import T0

ROOT = Path(__file__).resolve().parents[2]
# The engine tests' BPMN that no parse accepts (deploy-error tests), checked below.
UNDEPLOYABLE = {"bad_script.bpmn", "malformed.bpmn"}
# … and the one that never ends (a cycle without a wait, for the step cap: test_step_limit.py).
NEVER_ENDS = {"endless_loop.bpmn"}
BPMN_FILES = [p for p in sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted(ENGINE_BPMN.glob("*.bpmn"))
              if p.name not in UNDEPLOYABLE | NEVER_ENDS]
FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)


# ---- a stub script engine: the product's script functions and verbs, without the database

def _deadline(name, since=None):
    return (FUTURE + timedelta(days=10)).isoformat()


def _reminder(name, since=None):
    return (FUTURE + timedelta(days=5)).isoformat()


class StubEngine(PythonScriptEngine):
    def __init__(self):
        super().__init__(environment=ExpressionEnvironment({"deadline": _deadline, "reminder": _reminder}))

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        return json.dumps({"verb": operation_name, "params": params, "grant_id": 41, "entry_id": 3,
                           "valid_until": FUTURE.isoformat(), "received_at": T0.isoformat(),
                           "changes": {"名称": "人口基础信息（新）", "fields": ["姓名", "住址"]}},
                          ensure_ascii=False, default=str)


# Start data: every name the BPMN expressions read, routed through long paths.
START = {
    "application_id": 12, "entry_id": 3, "entry_name": "人口基础信息", "share_type": "conditional",
    "authorisation_mode": "provider", "sensitive": True, "applicant_department_id": 4,
    "provider_department_id": 5, "office_department_id": 1, "applicant_user_id": 9,
    "purpose": "业务办理需要", "requested_scope": "本市户籍人口", "items": ["姓名", "身份证号", "住址"],
    "legal_basis": "《政务信息资源共享管理办法》", "requested_valid_from": "2025-03-03",
    "requested_valid_until": "2026-03-03", "letter_attachment_id": 77, "policy_key": "nantong",
    "formal_review_required": True, "platform_authorisation_enabled": False, "three_party_required": True,
    "confidentiality_required": True, "office_arbitration_enabled": True,
    "decision": None, "reasons": "资源已停止维护", "scope": None, "valid_from": None, "valid_until": None,
    "return_reasons": None, "withdraw_reason": None, "negotiation_note": None, "last_decision": None,
    "changes": {"名称": "人口基础信息（新）", "fields": ["姓名", "住址"]}, "changed_at": T0.isoformat(),
    "review_kind": "mandate_change", "change_note": None, "description": "数据有误：地址字段缺失",
    "verification_note": None, "rectified_department_id": 6,
    "rectified_department_name": "某某局", "violation_label": "超范围使用",
    "rectification_due": (FUTURE + timedelta(days=30)).isoformat(),
    "rectification_reminder": (FUTURE + timedelta(days=20)).isoformat(),
    "suspension_on_missed_rectification": True, "opinion": None, "report": None,
    "effective_at": (FUTURE + timedelta(days=1)).isoformat(), "effective_date": "2099-01-02",
    "resource_code": "RC-001", "revocation_needs_approval": True, "published_entry_id": 9,
    "route_note": None, "requester_department_id": 10, "reviewer_department_id": 20,
    "replier_department_id": 20, "fire_at": (FUTURE + timedelta(days=2)).isoformat(),
}

# rectification.bpmn reads a `deadline` variable, where the others call deadline().
START_BY_PROCESS = {"rectification": {"deadline": "2099-02-01"},
                    "annual_report": {"year": 2098, "year_ended": "2098-12-31T00:00:00+08:00"}}

# Form answers by user task, one per visit (the last one repeats).
ANSWERS = {
    "formal_review": [{"decision": "return", "return_reasons": "材料不全"},
                      {"decision": "accept"}],
    "amend_application": [{"decision": "resubmit"}],
    "provider_review": [{"decision": "refuse", "reasons": "不符合共享条件"}],
    "negotiation": [{"decision": "fail", "negotiation_note": "未达成一致"}],
    "office_arbitration": [{"decision": "approve", "scope": "全部字段", "valid_from": "2025-03-03",
                            "valid_until": FUTURE.isoformat()}],
    "review_entry": [{"decision": "return", "return_reasons": "描述不规范"},
                     {"decision": "approve"}],
    "revise_entry": [{"decision": "resubmit", "change_note": "已修改"}],
    "objection_verification": [{"decision": "correct", "verification_note": "已更正"}],
    "idle_grant_decision": [{"decision": "withdraw", "reasons": "长期未使用"}],
    "rectification_report": [{"report": "已整改完毕"}],
    "rectification_verification": [{"decision": "reject", "opinion": "整改不到位"},
                                   {"decision": "accept", "opinion": "整改到位"}],
    "office_approval": [{"decision": "approve", "reasons": "同意撤销"}],
    "route_demand": [{"route_note": "转提供部门"}],
    "demand_answer": [{"decision": "not_in_remit", "reasons": "不属于本部门职责"},
                      {"decision": "will_publish", "reasons": "将于下月发布"}],
    "reroute_demand": [{"decision": "reroute", "provider_department_id": 7}],
    "compile_annual_report": [{"report_summary": "已汇总全部部门报告"}],
    "review": [{"approved": False, "comment": "不同意：缺少附件"}, {"approved": True, "comment": "同意"}],
}

# Values of every kind a form or verb may leave in task data, added with the first answer.
EXTRA = {
    "备注": '同意，"引号"、反斜杠\\、换行\n、制表\t、控制符\x01、表情😀',
    "attachments": [{"name": "附件一.pdf", "size": 1024, "pages": [1, 2, 3]}],
    "meta": {"reviewers": ["张三", "李四"], "nested": {"level": [1, 2, {"deep": "值", "empty": []}]}},
    "decided_at": datetime(2025, 3, 3, 9, 30, tzinfo=timezone(timedelta(hours=8))),
    "wait": timedelta(days=2, seconds=30),
    "ref": UUID("12345678-1234-5678-1234-567812345678"),
    "tags": {"甲", "乙"},
    "pair": (1, "二"),
    "ratio": 0.25, "big": 10**30, "none": None, "flag": False, "empty": {},
}


def compile_file(path: Path):
    return compile_bpmn(path.read_bytes(), path.name, check_registries=False)


def new_workflow(definition) -> BpmnWorkflow:
    wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=StubEngine())
    wf.task_tree.data.update(START)  # as runtime.create does
    wf.task_tree.data.update(START_BY_PROCESS.get(definition.process_id, {}))
    wf.do_engine_steps()
    return wf


def fire(tasks) -> None:
    # As runtime.fire_timers: mark the timers due, then let SpiffWorkflow fire them.
    for task in tasks:
        task._set_internal_data(event_fired=True)


def waiting_timers(wf):
    return [t for t in wf.get_tasks(state=TaskState.WAITING) if "event_value" in t.internal_data]


def run(wf: BpmnWorkflow, between=None, max_steps: int = 25):
    """Drive `wf`, yielding (label, workflow) after each step: user tasks answered, timers
    waiting, the first boundary timer fired, all timers fired, completion. `between(wf)` may
    replace the workflow after each step (a save and load, as the engine does)."""
    visits: dict[str, int] = {}
    fired_one = False
    yield "started", wf
    if wf.is_completed():
        yield "completed", wf
        return
    for _ in range(max_steps):
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if ready:
            task = ready[0]
            name = task.task_spec.name
            answers = ANSWERS.get(name, [{}])
            task.data.update(answers[min(visits.get(name, 0), len(answers) - 1)])
            if not visits:
                task.data.update(EXTRA)
            visits[name] = visits.get(name, 0) + 1
            task.run()
            label = f"completed {name}"
        elif waiting_timers(wf):
            fire(waiting_timers(wf))
            label = "fired all timers"
        else:
            break
        wf.refresh_timers()
        wf.do_engine_steps()
        yield label, wf
        timers = waiting_timers(wf)
        if timers and not fired_one and any(t.task_spec.__class__.__name__ == "BoundaryEvent" for t in timers):
            fired_one = True
            fire([next(t for t in timers if t.task_spec.__class__.__name__ == "BoundaryEvent")])
            wf.refresh_timers()
            wf.do_engine_steps()
            yield "fired a boundary timer", wf
        if wf.is_completed():
            yield "completed", wf
            return
        if between is not None:
            wf = between(wf)


# ---- what "the same workflow" means

def describe(wf: BpmnWorkflow) -> dict:
    tasks = []
    for key, t in wf.tasks.items():
        assert key == t.id and isinstance(t.id, UUID) and t.workflow is wf
        tasks.append((t.id, t._parent, list(t._children), t.state, t.task_spec, t.last_state_change,
                      t.triggered, t.thread_id, t.internal_data, t.data))
    return {
        "tasks": tasks, "root": wf.task_tree.id, "data": wf.data, "correlations": wf.correlations,
        "last_task": wf.last_task.id if wf.last_task else None, "success": wf.success,
        "completed": wf.completed, "subprocesses": sorted(wf.subprocesses),
        "bpmn_events": persistence._encode(wf.bpmn_events),
        "waiting": sorted(wf.event_manager.tasks), "spec": wf.spec, "subprocess_specs": wf.subprocess_specs,
    }


def containers(value, path=()):
    """(path, container) of every dict/list/set in `value`."""
    if isinstance(value, (dict, list, set)):
        yield path, value
        if not isinstance(value, set):
            for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
                yield from containers(item, (*path, key))


def shared_with_parent(wf: BpmnWorkflow) -> list[tuple]:
    """(task, path) of every container in a task's data that is also in its parent's data."""
    shared = []
    for t in wf.tasks.values():
        if t.parent is not None:
            theirs = {id(c) for _path, c in containers(t.parent.data)}
            shared += [(t.id, path) for path, c in containers(t.data) if id(c) in theirs]
    return shared


def assert_round_trips(wf: BpmnWorkflow, definition, fast_path: bool = True) -> str:
    engine = StubEngine()
    state = persistence.spiff_dumps(wf)
    assert persistence.dumps(wf) == state
    if fast_path:  # the codec itself answered, not the fallback
        assert codec.workflow_json(wf, persistence._encode, persistence._TAIL) == state
        dct = json.loads(state)
        restore = persistence._restorer(state, dct)
        assert codec.workflow_from_dict(dct, definition.spec, definition.subprocess_specs, None, restore)
    by_codec = persistence.loads(state, definition.spec, definition.subprocess_specs, engine)
    by_spiff = persistence.spiff_loads(state, definition.spec, definition.subprocess_specs, engine)
    assert persistence.spiff_dumps(by_codec) == state
    assert persistence.dumps(by_codec) == state
    assert persistence.dumps(by_spiff) == state
    assert describe(by_codec) == describe(by_spiff)
    assert by_codec.script_engine is engine
    # DeepMerge.merge copies each dict/list/set value of the parent's data, one level deep:
    # the same values are shared as after SpiffWorkflow's loader, none at the top level.
    shared = shared_with_parent(by_codec)
    assert shared == shared_with_parent(by_spiff)
    assert all(len(path) > 1 for _task, path in shared)
    return state


# ---- the product's and the engine tests' BPMN, at every step

@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_bpmn_round_trips_byte_for_byte_at_every_step(path):
    definition = compile_file(path)
    labels = []
    for label, wf in run(new_workflow(definition)):
        labels.append(label)
        assert_round_trips(wf, definition)
    assert labels[-1] == "completed", labels  # every run goes to the end


@pytest.mark.parametrize("name", sorted(UNDEPLOYABLE))
def test_the_files_left_out_are_not_deployable(name):
    with pytest.raises(DeployError):
        compile_file(ENGINE_BPMN / name)


def test_runs_reach_the_interesting_points():
    # The paths above cover what the codec must handle (a guard against a silently short run).
    definition = compile_file(ROOT / "bpmn" / "conditional_share.bpmn")
    labels, waiting, shapes = [], False, set()
    for label, wf in run(new_workflow(definition)):
        labels.append(label)
        waiting = waiting or bool(waiting_timers(wf))
        state = json.loads(persistence.dumps(wf))
        shapes |= {k for t in state["tasks"].values() for k in t["internal_data"]}
        shapes |= {"updates" for t in state["tasks"].values() if t["delta"] and t["delta"]["updates"]}
        shapes |= {"deletions" for t in state["tasks"].values() if t["delta"] and t["delta"]["deletions"]}
    assert waiting and {"fired a boundary timer", "fired all timers", "completed"} <= set(labels)
    assert {"event_value", "event_fired", "updates", "deletions"} <= shapes
    state = persistence.dumps(wf)
    assert '"typename":"datetime"' in state and '"typename":"timedelta"' in state and "😀" in state


@pytest.mark.parametrize("path", [ROOT / "bpmn" / "conditional_share.bpmn", ROOT / "bpmn" / "unpublished_demand.bpmn",
                                  ENGINE_BPMN / "approval.bpmn"], ids=lambda p: p.name)
def test_runs_saved_and_loaded_between_steps_end_the_same(path, monkeypatch):
    """As the engine does: save and load between steps, once with the codec and once with
    SpiffWorkflow's converters; same clock and task ids → the same bytes at every step."""
    definition = compile_file(path)

    def states(dumps, loads):
        counter = iter(range(1, 10**6))
        monkeypatch.setattr("SpiffWorkflow.task.uuid4", lambda: UUID(int=next(counter)))
        between = lambda wf: loads(dumps(wf), definition.spec, definition.subprocess_specs, StubEngine())  # noqa: E731
        with time_machine.travel(T0, tick=False):
            return [(label, persistence.spiff_dumps(wf)) for label, wf in run(new_workflow(definition), between)]

    by_codec = states(persistence.dumps, persistence.loads)
    by_spiff = states(persistence.spiff_dumps, persistence.spiff_loads)
    assert len(by_codec) > 3 and by_codec == by_spiff


def test_loaded_tasks_share_with_their_parent_what_spiffworkflow_shares():
    definition = compile_file(ROOT / "bpmn" / "conditional_share.bpmn")
    *_, (_label, wf) = run(new_workflow(definition))
    state = persistence.dumps(wf)
    spec, subs = definition.spec, definition.subprocess_specs
    by_spiff = persistence.spiff_loads(state, spec, subs, None)
    loaded = persistence.loads(state, spec, subs, None)
    assert shared_with_parent(loaded) == shared_with_parent(by_spiff) != []
    child = next(t for t in loaded.tasks.values()
                 if t.parent is not None and "attachments" in t.data and "attachments" in t.parent.data)
    parent = child.parent
    # Each data value is the task's own: mutating a child's list leaves its parent's alone …
    child.data["items"].append("电话")
    child.data["attachments"].append({"name": "附件二.pdf"})
    child.data["meta"]["reviewers"] = ["王五"]
    assert parent.data["items"] == START["items"]
    assert len(parent.data["attachments"]) == 1 and parent.data["meta"]["reviewers"] == ["张三", "李四"]
    # … while values nested deeper are shared, as SpiffWorkflow's DeepMerge leaves them (in
    # memory too: Task._inherit_data merges the same way).
    assert child.data["attachments"][0] is parent.data["attachments"][0]
    assert child.data["meta"]["nested"] is parent.data["meta"]["nested"]


# ---- values, one by one

ODD_VALUES = {
    "nan": float("nan"), "inf": float("inf"), "minus_inf": float("-inf"), "negative_zero": -0.0,
    "float_1e16": 1e16, "int_keys": {1: "一", 2: "二"}, "bool_key": {True: 1},
    "nested_nan": [float("nan"), {"x": float("nan")}], "nested_callable": {"f": len},
    "list_of_sets": [{1}, {2}], "tuple_in_list": [(1, 2)], "unicode_key": {"键\"\\": "值\n"},
    "escapes": "\x00\x1f\u2028\u2029\ud7ff", "long": "长" * 5000, "callable": len,
}


@pytest.mark.parametrize("name", sorted(ODD_VALUES))
def test_odd_values_are_written_and_read_as_spiffworkflow_does(name):
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.data[name] = ODD_VALUES[name]
    task.data.update(approved=True, comment="同意")
    wf.task_tree.data[f"root_{name}"] = ODD_VALUES[name]
    wf.data[f"workflow_{name}"] = ODD_VALUES[name]
    task.internal_data[f"internal_{name}"] = ODD_VALUES[name]
    state = persistence.spiff_dumps(wf)
    assert persistence.dumps(wf) == state
    spec, subs = definition.spec, definition.subprocess_specs
    loaded = persistence.loads(state, spec, subs, None)
    assert persistence.spiff_dumps(loaded) == state
    assert persistence.dumps(persistence.spiff_loads(state, spec, subs, None)) == state
    task.run()  # and after the task completed, its child now inherits the value
    wf.do_engine_steps()
    assert persistence.dumps(wf) == persistence.spiff_dumps(wf)


def test_unusual_task_attributes_and_keys_are_written_as_spiffworkflow_does():
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.triggered = True
    task.last_state_change = 1700000000  # an int
    task.parent.last_state_change = float("inf")
    wf.correlations = {"application": {"id": 12, "键": "值"}}
    # Predicted tasks (no data yet) delete all their parent's keys; 1 and True are equal keys
    # but are written differently.
    predicted = [t for t in wf.tasks.values() if not t.data and t.children and not t.children[0].data]
    assert len(predicted) >= 2
    predicted[0].data, predicted[1].data = {1: "一"}, {True: "真"}
    state = persistence.spiff_dumps(wf)
    assert persistence.dumps(wf) == state
    assert '"deletions":[1]' in state and '"deletions":[true]' in state
    spec, subs = definition.spec, definition.subprocess_specs
    loaded = persistence.loads(state, spec, subs, None)
    assert describe(loaded) == describe(persistence.spiff_loads(state, spec, subs, None))
    assert loaded.get_task_from_id(task.id).triggered is True
    # JSON keys are strings: 1 and True come back as "1" and "true", for both loaders
    assert persistence.dumps(loaded) == persistence.spiff_dumps(loaded) != state


class AlwaysDifferent(str):
    def __ne__(self, other):
        return True


# DeepMerge compares with `!=`: the same NaN object is "changed" (`dict ==` would say equal),
# and so is a value whose inequality is its own.
@pytest.mark.parametrize("value, stored", [
    (float("nan"), pytest.approx(math.nan, nan_ok=True)),
    (AlwaysDifferent("同"), "同"),
], ids=["nan", "own_inequality"])
def test_a_value_shared_by_parent_and_child_is_an_update_when_deep_merge_says_so(value, stored):
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.parent.data["x"] = value
    task.data["x"] = value
    state = persistence.dumps(wf)
    assert state == persistence.spiff_dumps(wf)
    assert json.loads(state)["tasks"][str(task.id)]["delta"]["updates"] == {"x": stored}


def test_values_json_cannot_hold_fail_alike():
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.data["amount"] = Decimal("1.10")
    with pytest.raises(TypeError) as reference:
        persistence.spiff_dumps(wf)
    with pytest.raises(TypeError) as ours:
        persistence.dumps(wf)
    assert str(ours.value) == str(reference.value)


def test_a_data_dict_with_an_unknown_typename_fails_to_load_alike():
    # The registry takes any dict with a "typename" key for a typed object.
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.data["record"] = {"typename": "发票", "value": 1}
    state = persistence.dumps(wf)
    assert state == persistence.spiff_dumps(wf)
    spec, subs = definition.spec, definition.subprocess_specs
    with pytest.raises(TypeError) as reference:
        persistence.spiff_loads(state, spec, subs, None)
    with pytest.raises(TypeError) as ours:
        persistence.loads(state, spec, subs, None)
    assert str(ours.value) == str(reference.value)


def test_unicode_escapes_in_a_state_are_read_through_the_registry():
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    wf = new_workflow(definition)
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    task.data["when"] = datetime(2025, 1, 2, tzinfo=timezone.utc)
    state = persistence.dumps(wf)
    escaped = state.replace('"typename":"datetime"', '"type\\u006eame":"datetime"')  # same JSON
    spec, subs = definition.spec, definition.subprocess_specs
    loaded = persistence.loads(escaped, spec, subs, None)
    assert loaded.get_task_from_id(task.id).data["when"] == datetime(2025, 1, 2, tzinfo=timezone.utc)
    assert persistence.dumps(loaded) == state


# ---- SpiffWorkflow objects in the state: events

EVENTS_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_events"
                  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:signal id="sig_outside" name="outside" />
  <bpmn:signal id="sig_reply" name="reply" />
  <bpmn:process id="codec_events" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="prepare"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:intermediateThrowEvent id="tell">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig_outside" />
    </bpmn:intermediateThrowEvent>
    <bpmn:intermediateCatchEvent id="wait_reply">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig_reply" />
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="done"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare" />
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="tell" />
    <bpmn:sequenceFlow id="f3" sourceRef="tell" targetRef="wait_reply" />
    <bpmn:sequenceFlow id="f4" sourceRef="wait_reply" targetRef="done" />
    <bpmn:sequenceFlow id="f5" sourceRef="done" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_thrown_events_and_caught_payloads_go_through_the_registry():
    definition = compile_bpmn(EVENTS_BPMN.encode(), check_registries=False)
    wf = new_workflow(definition)
    [prepare] = wf.get_tasks(state=TaskState.READY, manual=True)
    prepare.run()
    wf.do_engine_steps()
    assert len(wf.bpmn_events) == 1                      # "outside": nobody here catches it
    [waiting] = wf.get_tasks(state=TaskState.WAITING)   # and the catch event waits
    state = assert_round_trips(wf, definition)
    assert state.count('"typename"') > len(wf.tasks) + 1
    loaded = persistence.loads(state, definition.spec, definition.subprocess_specs, None)
    assert list(loaded.event_manager.tasks) == [waiting.id]
    assert loaded.event_manager.tasks[waiting.id] is loaded.tasks[waiting.id]

    payload = {"at": datetime(2025, 3, 3, tzinfo=timezone.utc), "n": [1, 2], "who": "办公室"}
    wf.send_event(BpmnEvent(waiting.task_spec.event_definition, payload))
    assert waiting.internal_data["reply"] == payload   # the payload sits in internal_data
    assert_round_trips(wf, definition)
    wf.do_engine_steps()
    assert_round_trips(wf, definition)


# ---- subprocesses: not covered by the codec, SpiffWorkflow's converters take over

SUBPROCESS_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_sub"
                  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="codec_parent" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="before"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:subProcess id="embedded">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="inner"><bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner" />
      <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end" />
    </bpmn:subProcess>
    <bpmn:callActivity id="call" calledElement="codec_called">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:userTask id="after"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="before" />
    <bpmn:sequenceFlow id="f2" sourceRef="before" targetRef="embedded" />
    <bpmn:sequenceFlow id="f3" sourceRef="embedded" targetRef="call" />
    <bpmn:sequenceFlow id="f4" sourceRef="call" targetRef="after" />
    <bpmn:sequenceFlow id="f5" sourceRef="after" targetRef="end" />
  </bpmn:process>
  <bpmn:process id="codec_called" isExecutable="true">
    <bpmn:startEvent id="c_start"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="called_task"><bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="c_end"><bpmn:incoming>c2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="called_task" />
    <bpmn:sequenceFlow id="c2" sourceRef="called_task" targetRef="c_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_workflows_with_subprocesses_fall_back_and_round_trip():
    # Two executable processes (the engine deploys one per file): SpiffWorkflow's parser directly.
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(SUBPROCESS_BPMN.encode())
    definition = SimpleNamespace(process_id="codec_parent", spec=parser.get_spec("codec_parent"),
                                 subprocess_specs=parser.get_subprocess_specs("codec_parent"))
    spec, subs = definition.spec, definition.subprocess_specs
    wf = new_workflow(definition)
    assert_round_trips(wf, definition)  # no subprocess running yet: the codec's own path
    reached = []
    while ready := wf.get_tasks(state=TaskState.READY, manual=True):
        ready[0].data.update({"step": ready[0].task_spec.name, "细节": [1, {"a": "乙"}]})
        ready[0].run()
        wf.do_engine_steps()
        reached.append([t.task_spec.name for t in wf.get_tasks(state=TaskState.READY, manual=True)])
        if wf.subprocesses:  # kept once they complete
            state = assert_round_trips(wf, definition, fast_path=False)
            assert codec.workflow_json(wf, persistence._encode, persistence._TAIL) is None
            assert codec.workflow_from_dict(json.loads(state), spec, subs, None, persistence._identity) is None
            loaded = persistence.loads(state, spec, subs, None)
            assert sorted(loaded.subprocesses) == sorted(wf.subprocesses)
    assert reached == [["inner"], ["called_task"], ["after"], []] and wf.is_completed()


# ---- states the codec leaves to the reference loader

def _approval_state():
    definition = compile_file(ENGINE_BPMN / "approval.bpmn")
    return definition, persistence.dumps(new_workflow(definition))


@pytest.mark.parametrize("change", ["no format", "other format", "other serializer version"])
def test_unknown_state_formats_are_read_by_the_reference_loader(change, monkeypatch):
    definition, state = _approval_state()
    dct = json.loads(state)
    if change == "no format":
        del dct["format"]
    else:
        dct["format" if change == "other format" else "serializer_version"] = "older"
    odd = json.dumps(dct, ensure_ascii=False, separators=(",", ":"))
    monkeypatch.setattr(codec, "workflow_from_dict", lambda *a, **k: pytest.fail("codec used"))
    loaded = persistence.loads(odd, definition.spec, definition.subprocess_specs, None)
    assert persistence.dumps(loaded) == state


def test_codec_is_used_for_engine_states(monkeypatch):
    definition, state = _approval_state()
    monkeypatch.setattr(persistence, "_spiff_from_dict", lambda *a, **k: pytest.fail("fallback used"))
    monkeypatch.setattr(persistence, "spiff_dumps", lambda *a, **k: pytest.fail("fallback used"))
    loaded = persistence.loads(state, definition.spec, definition.subprocess_specs, None)
    assert persistence.dumps(loaded) == state


# ---- through the engine itself, on both databases

def test_engine_stored_states_are_the_reference_states(app, bpmn, frozen):
    from app.engine import Actor, complete, deploy, start
    from app.engine.definitions import compiled
    from tests.engine.helpers import ready_tasks

    definition = deploy(bpmn("approval.bpmn"))
    requester = Actor(user_id=3, department_id=10, roles=frozenset({"requester"}), name="r")
    reviewer = Actor(user_id=7, department_id=20, roles=frozenset({"reviewer"}), name="v")
    inst = start("engine_approval", "CODEC-1", {"requester_department_id": 10, "reviewer_department_id": 20,
                                                 "备注": "中文"}, requester)
    [task] = ready_tasks(inst.id)
    complete(task.id, {"approved": False, "comment": "请补充材料"}, reviewer)
    parsed = compiled(definition)
    state = inst.state
    by_spiff = persistence.spiff_loads(state, parsed.spec, parsed.subprocess_specs, None)
    assert persistence.spiff_dumps(by_spiff) == state == persistence.dumps(by_spiff)
    by_codec = persistence.loads(state, parsed.spec, parsed.subprocess_specs, None)
    assert persistence.spiff_dumps(by_codec) == state


def test_the_codec_bench_runs():
    # The bench checks the outputs are identical before it times anything.
    out = subprocess.run([sys.executable, "bench/state_codec_bench.py", "--rounds", "2"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert set(rows) == {"minimal", "cs-start", "cs-provider", "cs-typed"}
    assert all(float(v) > 0 for row in rows.values() for v in row[4:7] + row[8:11])
