"""Legal-time functions BPMN expressions call: `deadline('provider_review')`, `reminder('…')`.

Both answer an aware ISO-8601 instant for an event happening now (the instant of the step
that creates the task or its boundary timer; one answer per step and name), under the
active jurisdiction profile (SPEC §3, §5). An answer that used a provisional year (SPEC §3.6:
no holiday notice loaded yet) is stored against the running instance, so loading that year's
notice moves the instance's timers and due dates (see app/sla/recompute.py).
"""
from __future__ import annotations

from datetime import datetime

from app.clock import as_utc
from app.engine import current_instance, current_instant, once_per_step
from app.legaltime.periods import Due
from app.policy import active_policy, deadline_for, record_policy_deadline, reminder_before

OWNER_TYPE = "process_instance"


def _event_at(since: str | None) -> datetime:
    return as_utc(datetime.fromisoformat(since)) if since else current_instant()


def _due(name: str, since: str | None) -> Due:
    return once_per_step(("due", name, since), lambda: deadline_for(name, _event_at(since)))


def deadline(name: str, since: str | None = None) -> str:
    """End of the period `name` (e.g. formal_review: 1 wd, 南通 art. 21) counted from the
    step's instant, or from `since` (an ISO instant in the instance data) when the period runs
    from an earlier event, e.g. a demand's receipt (南通 art. 25) or a changed law's
    publication (南通 art. 11)."""
    return once_per_step(("deadline", name, since), lambda: _deadline(name, since))


def _deadline(name: str, since: str | None) -> str:
    due = _due(name, since)
    instance = current_instance()
    if due.provisional and instance is not None:
        record_policy_deadline(name, _event_at(since), OWNER_TYPE, instance.id)
    return due.at.isoformat()


def reminder(name: str, since: str | None = None) -> str:
    """When to urge (催办) the assignees before deadline `name` (moved with its deadline)."""
    return once_per_step(("reminder", name, since),
                         lambda: reminder_before(_due(name, since), _event_at(since)).at.isoformat())


def known_deadline(name) -> None:
    """Deploy-time check of `deadline(name)` / `reminder(name)`: the active profile has it."""
    policy = active_policy()
    if name not in policy.deadlines:
        raise ValueError(f"辖区规定（{policy.key}）中没有名为 {name!r} 的期限（已有：{'、'.join(policy.deadlines)}）")


deadline.check_arguments = known_deadline
reminder.check_arguments = known_deadline
SCRIPT_FUNCTIONS = {"deadline": deadline, "reminder": reminder}
