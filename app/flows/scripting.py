"""Legal-time functions BPMN expressions call: `deadline('provider_reply')`, `reminder('…')`.

Both answer an aware ISO-8601 instant for an event happening now (the moment the task or its
boundary timer is created), under the active jurisdiction profile (SPEC §3, §5).
"""
from __future__ import annotations

from app.clock import utcnow
from app.policy import deadline_for, reminder_for


def deadline(name: str) -> str:
    """End of the period `name` (e.g. formal_review: 1 wd, 南通 art. 21) counted from now."""
    return deadline_for(name, utcnow()).at.isoformat()


def reminder(name: str) -> str:
    """When to urge (催办) the assignees before deadline `name`."""
    return reminder_for(name, utcnow()).at.isoformat()


SCRIPT_FUNCTIONS = {"deadline": deadline, "reminder": reminder}
