"""Saving and loading a workflow state: the engine's codec vs SpiffWorkflow's converters.

    .venv/bin/python bench/state_codec_bench.py [--rounds 100]

`persistence.dumps`/`loads` (app/engine/codec.py) against `persistence.spiff_dumps`/
`spiff_loads` (SpiffWorkflow 3.2's converters, the reference), on real states built in this
run (no database; a stub script engine answers the product's script functions and verbs):

  * minimal     — tests/engine/bpmn/approval.bpmn waiting at its first user task;
  * cs-start    — bpmn/conditional_share.bpmn waiting at the office's formal review (timers set);
  * cs-provider — the same after the review is accepted: the provider review (the engine
                  bench's product step);
  * cs-typed    — cs-provider with a datetime, a timedelta and a set in the task data: values
                  the codec hands to SpiffWorkflow's registry (the slower, general path).

µs per call, best of `--rounds` rounds (the machine is noisy), all measured in this run, with
the byte-identical outputs checked first. Loads get the spec from the parsed definition, as
the engine does; dumps save the workflow loads returned (the engine's load → step → save).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.util.task import TaskState

from app.engine import persistence
from app.engine.definitions import compile_bpmn
from app.engine.scripting import ExpressionEnvironment

ROOT = Path(__file__).resolve().parent.parent
FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)
START = {  # what app/flows/applications.py starts a conditional-share application with
    "application_id": 12, "entry_id": 3, "entry_name": "人口基础信息", "share_type": "conditional",
    "authorisation_mode": "provider", "sensitive": True, "applicant_department_id": 4,
    "provider_department_id": 5, "office_department_id": 1, "applicant_user_id": 9,
    "purpose": "业务办理需要", "requested_scope": "本市户籍人口", "items": ["姓名", "身份证号", "住址"],
    "legal_basis": "《政务信息资源共享管理办法》", "requested_valid_from": "2025-03-03",
    "requested_valid_until": "2026-03-03", "letter_attachment_id": 77, "policy_key": "nantong",
    "formal_review_required": True, "platform_authorisation_enabled": False, "three_party_required": False,
    "confidentiality_required": True, "office_arbitration_enabled": True,
    "requester_department_id": 10, "reviewer_department_id": 20,
}


class StubEngine(PythonScriptEngine):
    def __init__(self):
        functions = {"deadline": lambda name, since=None: (FUTURE + timedelta(days=10)).isoformat(),
                     "reminder": lambda name, since=None: (FUTURE + timedelta(days=5)).isoformat()}
        super().__init__(environment=ExpressionEnvironment(functions))

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        return json.dumps({"verb": operation_name, "params": params}, ensure_ascii=False)


def workflow(path: Path):
    definition = compile_bpmn(path.read_bytes(), path.name, check_registries=False)
    wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=StubEngine())
    wf.task_tree.data.update(START)
    wf.do_engine_steps()
    return definition, wf


def complete(wf, form: dict) -> None:
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(form)
    task.run()
    wf.do_engine_steps()


def states() -> list[tuple[str, object, str]]:
    """(name, definition, state) for each measured point."""
    out = []
    definition, wf = workflow(ROOT / "tests" / "engine" / "bpmn" / "approval.bpmn")
    out.append(("minimal", definition, persistence.spiff_dumps(wf)))
    definition, wf = workflow(ROOT / "bpmn" / "conditional_share.bpmn")
    out.append(("cs-start", definition, persistence.spiff_dumps(wf)))
    complete(wf, {"decision": "accept", "comment": "材料齐全，同意受理"})
    out.append(("cs-provider", definition, persistence.spiff_dumps(wf)))
    complete(wf, {"decision": "approve", "reasons": None, "decided_at": datetime.now(timezone.utc),
                  "period": timedelta(days=365), "fields": {"姓名", "住址"}})
    out.append(("cs-typed", definition, persistence.spiff_dumps(wf)))
    return out


def per_call(fn, calls: int = 20) -> float:
    """µs per call of fn(), averaged over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def measure(definition, state: str, rounds: int) -> dict[str, float]:
    spec, subs = definition.spec, definition.subprocess_specs
    loaded = persistence.loads(state, spec, subs, StubEngine())
    assert persistence.dumps(loaded) == persistence.spiff_dumps(loaded) == state
    assert persistence.dumps(persistence.spiff_loads(state, spec, subs, StubEngine())) == state
    engine = StubEngine()
    fns = {
        "ref_loads": lambda: persistence.spiff_loads(state, spec, subs, engine),
        "fast_loads": lambda: persistence.loads(state, spec, subs, engine),
        "ref_dumps": lambda: persistence.spiff_dumps(loaded),
        "fast_dumps": lambda: persistence.dumps(loaded),
    }
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):  # interleaved, so that noise hits all four alike
        for name, fn in fns.items():
            best[name] = min(best[name], per_call(fn))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    print(f"{'state':12} {'tasks':>5} {'bytes':>6} | {'loads µs ref':>12} {'fast':>7} {'×':>5} | "
          f"{'dumps µs ref':>12} {'fast':>7} {'×':>5}")
    for name, definition, state in states():
        r = measure(definition, state, args.rounds)
        tasks = len(json.loads(state)["tasks"])
        print(f"{name:12} {tasks:>5} {len(state.encode()):>6} | {r['ref_loads']:>12.0f} {r['fast_loads']:>7.0f} "
              f"{r['ref_loads'] / r['fast_loads']:>5.2f} | {r['ref_dumps']:>12.0f} {r['fast_dumps']:>7.0f} "
              f"{r['ref_dumps'] / r['fast_dumps']:>5.2f}")


if __name__ == "__main__":
    main()
