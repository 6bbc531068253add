"""Jurisdiction policy (SPEC §5): profiles as data, and the deadlines they define.

Public API::

    from app.policy import active_policy, deadline_for, reminder_for
"""
from app.policy.deadlines import deadline_for, record_policy_deadline, reminder_before, reminder_for
from app.policy.in_force import active_policy, resolve_policy
from app.policy.profiles import (
    DEADLINE_NAMES,
    SWITCH_NAMES,
    Policy,
    PolicyError,
    UnknownDeadline,
    article_text,
    load_profile,
    profile_keys,
    validate_profiles,
)

__all__ = [
    "DEADLINE_NAMES", "SWITCH_NAMES", "Policy", "PolicyError", "UnknownDeadline", "active_policy", "article_text",
    "deadline_for", "load_profile", "profile_keys", "record_policy_deadline", "reminder_before", "reminder_for",
    "resolve_policy", "validate_profiles",
]
