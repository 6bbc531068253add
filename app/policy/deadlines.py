"""Policy + Civil Code periods: the deadlines BPMN timers ask for (ARCHITECTURE.md, legal time)."""
from __future__ import annotations

from datetime import datetime

from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.periods import Due, due, local_date_of, start_of_working_day
from app.policy.in_force import resolve_policy
from app.policy.profiles import REMINDER_TIME, Policy


def _calendar(calendar: WorkingDayCalendar | None) -> WorkingDayCalendar:
    if calendar is not None:
        return calendar
    from app.legaltime.service import get_calendar

    return get_calendar()


def deadline_for(name: str, event_at: datetime, policy: Policy | str | None = None,
                 *, calendar: WorkingDayCalendar | None = None) -> Due:
    """Deadline ``name`` (e.g. 'provider_review') for an event at ``event_at`` under ``policy``
    (default: the active profile), with the profile's close of business."""
    policy = resolve_policy(policy)
    rule = policy.deadline(name)
    return due(event_at, rule.amount, rule.unit, policy.close_of_business, calendar=_calendar(calendar))


def reminder_for(name: str, event_at: datetime, policy: Policy | str | None = None,
                 *, calendar: WorkingDayCalendar | None = None) -> Due:
    """When to urge (催办) the assignees of deadline ``name``: see `reminder_before`."""
    policy = resolve_policy(policy)
    calendar = _calendar(calendar)
    deadline = deadline_for(name, event_at, policy, calendar=calendar)
    return reminder_before(deadline, event_at, policy, calendar=calendar)


def reminder_before(deadline: Due, event_at: datetime, policy: Policy | str | None = None,
                    *, calendar: WorkingDayCalendar | None = None) -> Due:
    """When to urge (催办) the assignees of ``deadline`` (a policy deadline, or one an office set).

    09:00 local at the start of the working day that lies ``reminder_lead`` working days before
    the deadline's last day. If that moment is not after the event (short deadlines such as
    林州's 1 working day), 09:00 on the last day itself; if even that has passed, the event time.
    ``local_date`` is the reminder's local date; ``provisional`` as for the deadline.
    """
    policy = resolve_policy(policy)
    calendar = _calendar(calendar)
    provisional = deadline.provisional
    day = deadline.local_date
    if policy.reminder_lead:
        shifted = calendar.sub_working_days(deadline.local_date, policy.reminder_lead)
        day, provisional = shifted.day, provisional or shifted.provisional
    at = start_of_working_day(day, REMINDER_TIME)
    if at <= event_at:
        day = deadline.local_date
        at = start_of_working_day(day, REMINDER_TIME)
    if at <= event_at:
        day, at = local_date_of(event_at), event_at
    return Due(at, provisional, day)


def record_policy_deadline(name: str, event_at: datetime, owner_type: str, owner_id: str | int,
                           policy: Policy | str | None = None):
    """Compute deadline ``name`` and store it as a LegalDeadline (recomputed if provisional)."""
    from app.legaltime.tracking import record_deadline

    policy = resolve_policy(policy)
    rule = policy.deadline(name)
    return record_deadline(owner_type, owner_id, event_at, rule.amount, rule.unit,
                           policy_key=name, close_of_business=policy.close_of_business)
