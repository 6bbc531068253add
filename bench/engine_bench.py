"""End-to-end cost of completing one user task through the engine vs raw SpiffWorkflow.

    .venv/bin/python bench/engine_bench.py [-n 300] [--backend sqlite|postgresql|both] [--profile]

Add --sqlite-wal to see the same on SQLite in WAL mode (commit without a full fsync).

"engine" = `app.engine.complete()`: load the instance row, validate the form, deserialize,
run, serialize, optimistic-lock UPDATE, human-task + timer mirrors, history, audit row,
commit. "raw" = the same step in SpiffWorkflow alone on the same stored states:
deserialize (spec re-attached from cache, as the engine does), run, do_engine_steps,
serialize. PostgreSQL: a throw-away database is created and dropped (TEST_PG_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, select, text

from app import create_app
from app.clock import utcnow
from app.engine import (
    Actor,
    complete,
    deploy,
    persistence,
    register_form,
    register_script_function,
    register_service,
    start,
)
from app.engine.definitions import compiled
from app.engine.models import HumanTask, ProcessInstance
from app.engine.scripting import EngineScriptEngine
from app.extensions import db

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

BENCH_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_bench" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench_review" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_reviewer" name="审核方">
        <bpmn:extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="candidate_role" value="reviewer" />
          <spiffworkflow:property name="candidate_department" value="reviewer_department_id" />
        </spiffworkflow:properties></bpmn:extensionElements>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_requester" name="申请方">
        <bpmn:extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="candidate_role" value="requester" />
          <spiffworkflow:property name="candidate_department" value="requester_department_id" />
        </spiffworkflow:properties></bpmn:extensionElements>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>confirm</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>decision</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>note</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="审核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="bench_form" />
        <spiffworkflow:property name="due" value="deadline('review')" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="review_escalation" cancelActivity="false" attachedToRef="review">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="sla_event" value="escalation" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:outgoing>f6</bpmn:outgoing>
      <bpmn:timerEventDefinition id="t1"><bpmn:timeDate>deadline('review')</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="escalated"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:exclusiveGateway id="decision" default="f4">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="note">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="bench_note" resultVariable="noted">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="outcome" type="str" value="'approved'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="confirm" name="确认">
      <bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="decision" />
    <bpmn:sequenceFlow id="f3" sourceRef="decision" targetRef="note">
      <bpmn:conditionExpression>approved == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="decision" targetRef="confirm" />
    <bpmn:sequenceFlow id="f5" sourceRef="note" targetRef="confirm" />
    <bpmn:sequenceFlow id="f6" sourceRef="review_escalation" targetRef="escalated" />
    <bpmn:sequenceFlow id="f7" sourceRef="confirm" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

DATA = {"requester_department_id": 10, "reviewer_department_id": 20,
        "purpose": "业务办理需要", "items": ["a", "b", "c"], "period_days": 365}
FORM = {"approved": True, "comment": "同意"}
ACTOR = Actor(user_id=7, department_id=20, roles=frozenset({"reviewer"}), name="bench")


def register() -> None:
    register_script_function("deadline", lambda name: (utcnow() + timedelta(days=10)).isoformat())
    register_form("bench_form", lambda d: {"approved": bool(d.get("approved")),
                                           "comment": str(d.get("comment", ""))})
    register_service("bench_note", lambda ctx, outcome: {"outcome": outcome})


def prepare(n: int) -> list[tuple[int, int]]:
    definition = deploy(BENCH_BPMN.encode(), file_name="bench.bpmn")
    for i in range(n):
        start("bench_review", f"BENCH-{uuid.uuid4().hex[:8]}-{i}", DATA, ACTOR, commit=False)
    db.session.commit()
    rows = db.session.execute(select(HumanTask.id, HumanTask.instance_id)
                              .where(HumanTask.state == "ready", HumanTask.task_spec == "review")).all()
    assert definition is not None
    return [(r[0], r[1]) for r in rows]


def raw_cost(states: list[tuple[str, str]], definition) -> float:
    """SpiffWorkflow alone: deserialize, complete the task, run engine steps, serialize."""
    spec, subs = definition.spec, definition.subprocess_specs
    t0 = time.perf_counter()
    for state, spiff_id in states:
        wf = persistence.loads(state, spec, subs, EngineScriptEngine(None))
        task = wf.get_task_from_id(UUID(spiff_id))
        task.data.update(FORM)
        task.run()
        wf.do_engine_steps()
        persistence.dumps(wf)
    return time.perf_counter() - t0


def engine_cost(task_ids: list[int]) -> float:
    t0 = time.perf_counter()
    for task_id in task_ids:
        complete(task_id, FORM, ACTOR)
    return time.perf_counter() - t0


def _sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def run_backend(name: str, url: str, n: int, profile: bool, wal: bool = False) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench",
                      "SCHEDULER_ENABLED": False})
    with app.app_context():
        if wal:
            event.listen(db.engine, "connect", _sqlite_wal)
            db.engine.dispose()
        db.create_all()
        register()
        pairs = prepare(n)
        ids = [p[0] for p in pairs]
        states = []
        for task_id, instance_id in pairs:
            states.append((db.session.get(ProcessInstance, instance_id).state,
                           db.session.get(HumanTask, task_id).spiff_task_id))
        definition = compiled(db.session.get(ProcessInstance, pairs[0][1]).definition)
        db.session.commit()
        db.session.expunge_all()
        raw_cost(states[: min(20, n)], definition)          # warm-up (imports, code caches)
        raw = raw_cost(states, definition)
        prof = cProfile.Profile() if profile else None
        if prof:
            prof.enable()
        eng = engine_cost(ids)
        if prof:
            prof.disable()
            print(f"\n--- {name}: top functions by cumulative time (engine) ---")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        state_kb = sum(len(s) for s, _ in states) / len(states) / 1024
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return {"backend": name + ("+wal" if wal else ""), "n": n, "raw_ms": raw / n * 1000, "engine_ms": eng / n * 1000,
            "ratio": eng / raw, "per_s": n / eng, "state_kb": state_kb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sqlite-wal", action="store_true",
                        help="also run SQLite with journal_mode=WAL, synchronous=NORMAL")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args.n, args.profile))
        if args.sqlite_wal:
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args.n,
                                           args.profile, wal=True))
    if args.backend in ("postgresql", "both"):
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"engine_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"PostgreSQL unavailable, skipped: {str(exc).splitlines()[0]}")
        else:
            try:
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
                results.append(run_backend("postgresql", url, args.n, args.profile))
            finally:
                with admin.connect() as conn:
                    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :n"), {"n": name})
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    print(f"\n{'backend':<11}{'n':>6}{'raw ms':>10}{'engine ms':>11}{'ratio':>8}{'compl/s':>10}{'state KB':>10}")
    for r in results:
        print(f"{r['backend']:<11}{r['n']:>6}{r['raw_ms']:>10.2f}{r['engine_ms']:>11.2f}"
              f"{r['ratio']:>8.2f}{r['per_s']:>10.0f}{r['state_kb']:>10.1f}")
    print("targets: ratio <= 2.0, >= 200 completions/s")


if __name__ == "__main__":
    main()
