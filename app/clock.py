"""The one place the application asks for the current time.

Always an aware UTC instant. Tests freeze it with time-machine, which patches
datetime.now everywhere, so nothing else is needed here.
"""
from __future__ import annotations

from datetime import UTC, datetime
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
