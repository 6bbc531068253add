"""Civil Code periods (民法典 arts. 201–203) on the calendar."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from app.clock import LOCAL_TZ
from app.legaltime.periods import add_months, due

UTC = timezone.utc


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_n_workdays_end_at_24_00_local(cal):
    result = due(local(2026, 9, 30, 10, 0), 1, "workday", calendar=cal)
    assert result.local_date == date(2026, 10, 8)
    assert result.at == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)  # 2026-10-09 00:00 +08:00
    assert result.at.tzinfo is UTC and not result.provisional


def test_makeup_saturday_counts(cal):
    # art. 201 + SPEC §3.2: 2026-10-10 (Saturday) is a make-up working day and is counted.
    assert due(local(2026, 9, 30, 10, 0), 3, "workday", calendar=cal).local_date == date(2026, 10, 10)


def test_event_on_a_holiday(cal):
    # Event on 2025-10-03 (National Day): counting starts next day; first working day is 10-09.
    assert due(local(2025, 10, 3, 15, 0), 1, "workday", calendar=cal).local_date == date(2025, 10, 9)
    # ...and 10-11 (make-up Saturday) is the 2nd.
    assert due(local(2025, 10, 3, 15, 0), 2, "workday", calendar=cal).local_date == date(2025, 10, 10)
    assert due(local(2025, 10, 3, 15, 0), 3, "workday", calendar=cal).local_date == date(2025, 10, 11)


def test_event_late_evening_local_uses_local_date(cal):
    # 23:30 local Monday 2024-03-04 = 15:30 UTC same date.
    event = datetime(2024, 3, 4, 15, 30, tzinfo=UTC)
    assert due(event, 1, "workday", calendar=cal).local_date == date(2024, 3, 5)


def test_event_just_after_midnight_local_uses_local_date(cal):
    # 00:30 local Tuesday 2024-03-05 is still Monday 16:30 in UTC: the local date decides.
    event = datetime(2024, 3, 4, 16, 30, tzinfo=UTC)
    assert event.date() == date(2024, 3, 4)
    assert due(event, 1, "workday", calendar=cal).local_date == date(2024, 3, 6)


def test_close_of_business(cal):
    result = due(local(2026, 9, 30, 10, 0), 1, "workday", time(17, 30), calendar=cal)
    assert result.local_at == local(2026, 10, 8, 17, 30)
    assert result.at == datetime(2026, 10, 8, 9, 30, tzinfo=UTC)


def test_months_corresponding_day_and_month_end():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # leap year
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 3, 31), 1) == date(2025, 4, 30)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)


def test_jan_31_plus_one_month(cal):
    # art. 202: 2025-01-31 + 1 month -> 2025-02-28 (Friday, working day).
    assert due(local(2025, 1, 31, 9, 0), 1, "month", calendar=cal).local_date == date(2025, 2, 28)
    # 2024-01-31 + 1 month -> 2024-02-29 (Thursday, working day).
    assert due(local(2024, 1, 31, 9, 0), 1, "month", calendar=cal).local_date == date(2024, 2, 29)


def test_month_deadline_on_a_holiday_rolls_forward(cal):
    # art. 203: 2025-09-01 + 1 month = 2025-10-01, holiday until 10-08 -> last day 10-09.
    assert due(local(2025, 9, 1, 9, 0), 1, "month", calendar=cal).local_date == date(2025, 10, 9)
    # weekend: 2026-02-07 (Sat) <- 2026-01-07 + 1 month -> Monday 2026-02-09
    assert due(local(2026, 1, 7, 9, 0), 1, "month", calendar=cal).local_date == date(2026, 2, 9)
    # a holiday whose next day is a make-up Saturday: 2026-02-23 (last holiday) -> 02-24 (Tue)
    assert due(local(2026, 1, 22, 9, 0), 1, "month", calendar=cal).local_date == date(2026, 2, 24)


def test_span_reaching_2027_is_provisional(cal):
    assert due(local(2026, 12, 28, 10, 0), 5, "workday", calendar=cal).provisional
    assert due(local(2026, 12, 15, 10, 0), 1, "month", calendar=cal).provisional
    assert not due(local(2026, 12, 1, 10, 0), 5, "workday", calendar=cal).provisional


@pytest.mark.parametrize(("args", "message"), [
    ((datetime(2026, 1, 5, 10, 0), 1, "workday"), "timezone-aware"),
    ((local(2026, 1, 5, 10, 0), 0, "workday"), "at least 1"),
    ((local(2026, 1, 5, 10, 0), 1.5, "workday"), "whole number"),
    ((local(2026, 1, 5, 10, 0), True, "workday"), "whole number"),
    ((local(2026, 1, 5, 10, 0), 1, "day"), "unit must be one of"),
    ((date(2026, 1, 5), 1, "workday"), "must be a datetime"),
])
def test_bad_input_is_refused(cal, args, message):
    with pytest.raises(ValueError, match=message):
        due(*args, calendar=cal)


def test_every_result_is_aware_utc(cal):
    event = local(2025, 6, 30, 23, 59)
    for n in range(1, 25):
        result = due(event, n, "workday", calendar=cal)
        assert result.at.utcoffset() == timedelta(0)
        assert result.local_at.date() == result.local_date + timedelta(days=1)  # 24:00 = next 00:00
