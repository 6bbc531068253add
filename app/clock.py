"""The one place the application asks for the current time.

Always an aware UTC instant. Tests freeze it with time-machine, which patches
datetime.now everywhere, so nothing else is needed here.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Stored datetimes come back naive from SQLite; they are UTC by convention."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_local(value: datetime) -> datetime:
    return as_utc(value).astimezone(LOCAL_TZ)


def start_of_day(day: date) -> datetime:
    """00:00 local of ``day``, in UTC (a period or a grant that runs from a date)."""
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)
