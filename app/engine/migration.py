"""Moving running instances from one version of their flow to another (the studio's migration),
with SpiffWorkflow's own diff (`SpiffWorkflow.bpmn.util.diff`).

An instance is safe to move when nothing it has done or is doing changes meaning: every task it
has reached (ready, waiting or completed) still exists and is unchanged in the new version —
unchanged for SpiffWorkflow's spec diff *and* for what the engine reads beside the spec (the
lane's candidate role and department, form, deadline). Only what it has not reached yet may
differ: that is what a migration is for. Each instance moves in its own transaction.

A moved instance keeps its current tasks and waiting timers as they are — SpiffWorkflow would
reset them by default, which would count a timer's legal period again from the day of the
migration — and only the tasks predicted after them are predicted again from the new version.
"""
from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from app.audit.log import record
from app.engine import persistence
from app.engine.completion import get_instance
from app.engine.context import Actor
from app.engine.definitions import CompiledDefinition, compiled
from app.engine.elements import describe
from app.engine.errors import Conflict
from app.engine.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.engine.step import step_for, unit_of_work
from app.extensions import db

_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED | TaskState.ERROR
_CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass(frozen=True)
class Verdict:
    instance_id: int
    business_key: str
    current: list[str]          # the names of its open user tasks
    safe: bool
    reasons: list[str]


@dataclass
class VersionPair:
    """Two versions of one flow, parsed and compared once for all their instances."""

    old: ProcessDefinition
    new: ProcessDefinition
    old_spec: CompiledDefinition
    new_spec: CompiledDefinition
    spec_diff: SpecDiff
    changed_ids: set[str]       # elements whose engine-read settings differ (lanes included)

    @classmethod
    def of(cls, old: ProcessDefinition, new: ProcessDefinition) -> VersionPair:
        if old.process_id != new.process_id:
            raise Conflict("只能在同一流程的两个版本之间迁移")
        old_spec, new_spec = compiled(old), compiled(new)
        before, after = describe(old.bpmn_xml), describe(new.bpmn_xml)
        changed = {eid for eid, el in before.items()
                   if eid in after and (el.settings, el.kind) != (after[eid].settings, after[eid].kind)}
        return cls(old, new, old_spec, new_spec,
                   SpecDiff(persistence._REGISTRY, old_spec.spec, new_spec.spec), changed)

    def label(self, task_spec) -> str:
        name = getattr(task_spec, "bpmn_name", None)
        eid = getattr(task_spec, "bpmn_id", None) or task_spec.name
        return f"「{name}」（{eid}）" if name else f" {eid} "

    def problems(self, workflow) -> list[str]:
        if workflow.subprocesses:
            return ["含子流程的实例暂不支持迁移"]
        reasons = []
        removed = set(self.spec_diff.removed)
        changed = set(self.spec_diff.changed)
        for task in workflow.get_tasks(state=_REACHED):
            spec = task.task_spec
            where = "当前环节" if task.state & _CURRENT else "已完成的环节"
            if task.state == TaskState.ERROR:
                reasons.append(f"环节{self.label(spec)}处于出错状态")
            elif spec in removed:
                reasons.append(f"{where}{self.label(spec)}在新版本中已删除")
            elif spec in changed or (getattr(spec, "bpmn_id", None) or spec.name) in self.changed_ids:
                reasons.append(f"{where}{self.label(spec)}在新版本中有改动")
        return list(dict.fromkeys(reasons))


def running_instances(definition: ProcessDefinition) -> list[ProcessInstance]:
    return list(db.session.scalars(select(ProcessInstance).where(
        ProcessInstance.definition_id == definition.id,
        ProcessInstance.status == InstanceStatus.RUNNING).order_by(ProcessInstance.id)))


def dry_run(old: ProcessDefinition, new: ProcessDefinition) -> list[Verdict]:
    """Each running instance of `old`: safe to move to `new` or not, and why. Changes nothing."""
    pair = VersionPair.of(old, new)
    verdicts = []
    for inst in running_instances(old):
        step = step_for(inst, None)
        reasons = pair.problems(step.workflow)
        current = [t.task_spec.bpmn_name or t.task_spec.name
                   for t in step.workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]
        verdicts.append(Verdict(inst.id, inst.business_key, current, not reasons, reasons))
    return verdicts


def _move(step, pair: VersionPair) -> None:
    workflow = step.workflow
    top_diff, _ = diff_workflow(persistence._REGISTRY, workflow, pair.new_spec.spec,
                                pair.new_spec.subprocess_specs)
    # reset nothing (no task of a safe instance is in ERROR): current tasks and timers keep their state
    migrate_workflow(top_diff, workflow, pair.new_spec.spec, reset_mask=TaskState.ERROR)
    workflow.subprocess_specs = pair.new_spec.subprocess_specs
    for task in workflow.get_tasks(state=_CURRENT):
        task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | _CURRENT)
    step.definition = pair.new_spec


def migrate_instance(instance_id: int, pair: VersionPair, actor: Actor | None) -> ProcessInstance:
    """Move one instance (its own transaction); Conflict, and nothing changed, if not safe."""
    with unit_of_work(True):
        inst = get_instance(instance_id)
        if inst.definition_id != pair.old.id:
            raise Conflict(f"流程实例 {inst.business_key} 已不在第 {pair.old.version} 版上")
        step = step_for(inst, actor)
        reasons = pair.problems(step.workflow)
        if reasons:
            raise Conflict(f"流程实例 {inst.business_key} 不能迁移：{'；'.join(reasons)}")
        step.spiff(_move, step, pair)
        step.run_engine()
        step.persist()
        step.rows.set(inst, definition_id=pair.new.id)
        record("engine.instance_migrated", "process_instance", inst.id,
               before={"version": pair.old.version, "definition_id": pair.old.id},
               after={"version": pair.new.version, "definition_id": pair.new.id},
               actor=actor._audit() if actor else None)
        step.emit_pending()
    return inst


def migrate_safe(old: ProcessDefinition, new: ProcessDefinition, actor: Actor | None
                 ) -> tuple[list[str], list[tuple[str, str]]]:
    """Move every safe running instance of `old` to `new`, one transaction each:
    (moved business keys, [(business key, why not)] for those left alone)."""
    pair = VersionPair.of(old, new)
    moved, left = [], []
    for verdict in dry_run(old, new):
        if not verdict.safe:
            left.append((verdict.business_key, "；".join(verdict.reasons)))
            continue
        try:
            migrate_instance(verdict.instance_id, pair, actor)
            moved.append(verdict.business_key)
        except Conflict as exc:  # moved or changed since the dry run
            left.append((verdict.business_key, str(exc)))
    return moved, left
