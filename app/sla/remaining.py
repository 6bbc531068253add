"""How much time a task has left, in working days (SPEC §3, §6: "due date with remaining working days").

The deadline instant (`due_at`) is the end of the period's last day: 24:00 local, or the
jurisdiction's close of business (民法典 art. 203). Remaining days are counted like the period
itself (民法典 art. 201): today is not counted; every working day after today up to and including
the last day is — on the working-day calendar, so holidays do not count and make-up working days
(调休上班日) do. A task is *due soon* when that count is at most the profile's `due_soon_workdays`
— a stated rule, computed from the clock, the same for the lists, the pages and the stored state
(the engine asks `due_soon_horizon` through `register_due_soon_rule`), not set by a reminder timer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from app.clock import as_utc, to_local, utcnow
from app.engine.models import SlaState
from app.legaltime import get_calendar
from app.legaltime.periods import end_of_day, last_day
from app.policy import active_policy


@dataclass(frozen=True)
class Remaining:
    state: SlaState
    days: int             # working days left (on time, due soon) or past the last day (overdue)
    last_day: date        # the period's last day, local
    provisional: bool     # counted on a provisional calendar year (SPEC §3.6)

    @property
    def urgent(self) -> bool:
        return self.state in (SlaState.DUE_SOON, SlaState.DUE_TODAY)


def due_soon_horizon(now: datetime) -> datetime:
    """The latest deadline that is due soon at `now`: the end (24:00 local) of the working day
    `due_soon_workdays` working days after today."""
    today = to_local(as_utc(now)).date()
    calendar = get_calendar()
    return _horizon(today, active_policy().due_soon_workdays, id(calendar), calendar)


@lru_cache(maxsize=64)
def _horizon(today: date, workdays: int, _calendar_id: int, calendar) -> datetime:
    # asked for every task row a list shows: one calendar walk per day, figure and calendar
    return end_of_day(calendar.add_working_days(today, workdays).day, None)


def remaining(due_at: datetime | None, now: datetime | None = None) -> Remaining | None:
    """None when the task has no deadline."""
    if due_at is None:
        return None
    now = as_utc(now) if now else utcnow()
    today, final = to_local(now).date(), last_day(due_at)
    calendar = get_calendar()
    if as_utc(due_at) <= now:
        count = calendar.working_days_between(final, today)
        return Remaining(SlaState.OVERDUE, max(count.count, 0), final, count.provisional)
    count = calendar.working_days_between(today, final)
    if count.count <= 0:
        return Remaining(SlaState.DUE_TODAY, 0, final, count.provisional)
    soon = count.count <= active_policy().due_soon_workdays
    return Remaining(SlaState.DUE_SOON if soon else SlaState.ON_TIME, count.count, final, count.provisional)
