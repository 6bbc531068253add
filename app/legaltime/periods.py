"""Civil Code periods (民法典 arts. 201–203; SPEC §3) on the working-day calendar.

* art. 201: the day of the event is not counted; counting starts the next day.
* art. 202: a period of months ends on the corresponding day of the last month, or on that
  month's last day if it has no such day.
* art. 203: if the last day is a statutory rest day, the period ends on the next working day;
  the last day ends at 24:00, or at close of business where business hours apply.

All counting uses the event's LOCAL (Asia/Shanghai) date; results are aware UTC instants.
"""
from __future__ import annotations

import calendar as _stdlib_calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from app.clock import LOCAL_TZ, as_utc, start_of_day  # noqa: F401 - start_of_day: legal time's own name for it
from app.legaltime.calendar import WorkingDayCalendar

Unit = Literal["workday", "month"]
UNITS: tuple[str, ...] = ("workday", "month")


@dataclass(frozen=True)
class Due:
    """A deadline: ``at`` (aware UTC), the local date of its last day, and whether any year
    it touched had no loaded notice (SPEC §3.6)."""

    at: datetime
    provisional: bool
    local_date: date

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(LOCAL_TZ)


def local_date_of(event_at: datetime) -> date:
    """The event's local (Asia/Shanghai) calendar date; naive datetimes are refused."""
    if not isinstance(event_at, datetime):
        raise ValueError(f"event_at must be a datetime, got {type(event_at).__name__}")
    if event_at.tzinfo is None or event_at.utcoffset() is None:
        raise ValueError("event_at must be timezone-aware (a naive datetime has no legal local date)")
    return event_at.astimezone(LOCAL_TZ).date()


def add_months(day: date, months: int) -> date:
    """The corresponding day ``months`` later, or that month's last day (民法典 art. 202)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = _stdlib_calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def end_of_day(day: date, close_of_business: time | None) -> datetime:
    """The instant a last day ends, in UTC: 24:00 local (= next day 00:00 local), or the
    close of business local (民法典 art. 203 para. 2)."""
    if close_of_business is None:
        local = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=LOCAL_TZ)
    else:
        if close_of_business.tzinfo is not None:
            raise ValueError("close_of_business is a local wall-clock time; give it without tzinfo")
        local = datetime.combine(day, close_of_business, tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def last_day(due_at: datetime) -> date:
    """The local date whose end is `due_at` (24:00 → the day before; 17:30 → that day)."""
    return (as_utc(due_at).astimezone(LOCAL_TZ) - timedelta(microseconds=1)).date()


def deadline_text(due_at: datetime, *, english: bool = False) -> str:
    """A deadline as the Civil Code reads it — the one way pages and notices show one: a period's
    last day ends at 24:00 of that day (民法典 art. 203), not 00:00 of the next; a close of
    business shows as its own time. "2026年12月3日 24:00" (English pages: "2026-12-03 24:00")."""
    day, local = last_day(due_at), as_utc(due_at).astimezone(LOCAL_TZ)
    clock = "24:00" if local.time() == time(0, 0) else local.strftime("%H:%M")
    return f"{day.isoformat()} {clock}" if english else f"{day.year}年{day.month}月{day.day}日 {clock}"


def _check_amount(amount) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount must be a whole number, got {amount!r}")
    if amount < 1:
        raise ValueError(f"amount must be at least 1, got {amount}")
    return amount


def due(event_at: datetime, amount: int, unit: Unit, close_of_business: time | None = None,
        *, calendar: WorkingDayCalendar | None = None) -> Due:
    """The deadline of a period of ``amount`` ``unit`` ('workday' | 'month') after ``event_at``."""
    event_day = local_date_of(event_at)
    amount = _check_amount(amount)
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if calendar is None:
        from app.legaltime.service import get_calendar

        calendar = get_calendar()

    if unit == "workday":
        # art. 201: the event day is not counted; the N-th working day after it is the last day.
        # A make-up working day (调休上班) counts; holidays and ordinary weekends do not (SPEC §3.2).
        last = calendar.add_working_days(event_day, amount)
        last_day, provisional = last.day, last.provisional
    else:
        corresponding = add_months(event_day, amount)  # art. 202
        last = calendar.next_working_day_on_or_after(corresponding)  # art. 203
        last_day = last.day
        provisional = last.provisional or calendar.provisional_between(corresponding, last_day)
    return Due(end_of_day(last_day, close_of_business), provisional, last_day)


def start_of_working_day(day: date, at: time = time(9, 0)) -> datetime:
    """09:00 local of ``day``, in UTC (used for reminders)."""
    return datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)
