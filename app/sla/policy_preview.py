"""What a change to the profile's deadlines means for the steps already running: each open step
counting a changed deadline, its due date now (it keeps it: a due date is fixed when the step
starts) and the one the changed rule would give a step starting the same moment."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.clock import as_utc
from app.engine.definitions import compiled
from app.engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskState
from app.extensions import db
from app.policy import Policy, deadline_for

# deadline('name') counted from the step's start; deadline('name', since) from an earlier event
DEADLINE_CALL = re.compile(r"^deadline\('([a-z_]+)'(\s*\))?")
MAX_LISTED = 500


@dataclass(frozen=True)
class RunningStep:
    task: HumanTask
    business_key: str
    deadline: str
    due_at: datetime | None
    under_new_rule: datetime | None  # None: counted from an earlier event, not the step's start


def _counting(names: set[str]) -> dict[tuple[int, str], tuple[str, bool]]:
    """(definition id, task spec) → (deadline name, counted from the step's start) for every
    deployed version's user task bounded by one of `names`."""
    found = {}
    for definition in db.session.scalars(select(ProcessDefinition)):
        for spec, meta in compiled(definition).user_tasks.items():
            match = DEADLINE_CALL.match(meta.due or "")
            if match and match.group(1) in names:
                found[definition.id, spec] = (match.group(1), bool(match.group(2)))
    return found


def steps_counting(names: set[str], policy: Policy) -> tuple[int, list[RunningStep]]:
    """How many open steps count one of the deadlines `names`, and the first MAX_LISTED of them
    (soonest due first)."""
    counting = _counting(names) if names else {}
    if not counting:
        return 0, []
    where = (HumanTask.state == TaskState.READY,
             ProcessInstance.definition_id.in_({d for d, _spec in counting}),
             HumanTask.task_spec.in_({spec for _d, spec in counting}))
    rows = db.session.execute(select(HumanTask, ProcessInstance.definition_id, ProcessInstance.business_key)
                              .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                              .where(*where).order_by(HumanTask.due_at, HumanTask.id))
    steps, total = [], 0
    for task, definition_id, business_key in rows:
        if (definition_id, task.task_spec) not in counting:
            continue
        total += 1
        if len(steps) < MAX_LISTED:
            name, from_start = counting[definition_id, task.task_spec]
            new = deadline_for(name, as_utc(task.created_at), policy).at if from_start else None
            steps.append(RunningStep(task, business_key, name, task.due_at, new))
    return total, steps
