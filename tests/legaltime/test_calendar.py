"""WorkingDayCalendar: answers, provisional years, agreement with a plain day-by-day walk."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from workalendar.asia import China

from app.legaltime.calendar import WorkingDayCalendar, statutory_festivals


def walk_add(cal, day, n):
    """Reference: step day by day (what workalendar does)."""
    step = 1 if n >= 0 else -1
    count = 0
    while count < abs(n):
        day += timedelta(days=step)
        if cal.is_working_day(day):
            count += 1
    return day


def test_is_a_workalendar_china(cal):
    assert isinstance(cal, China)
    assert cal.get_holiday_label(date(2025, 1, 28)) == "春节"
    assert cal.is_holiday(date(2024, 10, 1)) and not cal.is_holiday(date(2024, 10, 12))
    # beyond the stock class's 2023 limit, no CalendarError
    assert (date(2026, 10, 1), "国庆节") in cal.holidays(2026)


@pytest.mark.parametrize(("day", "kind", "name"), [
    (date(2024, 2, 9), "workday", ""),          # 除夕 2024 was a working day
    (date(2024, 2, 10), "holiday", "春节"),
    (date(2024, 2, 18), "workday", "春节"),      # make-up Sunday
    (date(2025, 1, 28), "holiday", "春节"),      # 2025+: 除夕 is statutory
    (date(2025, 5, 2), "holiday", "劳动节"),
    (date(2026, 10, 10), "workday", "国庆节"),   # make-up Saturday
    (date(2026, 10, 11), "restday", ""),
    (date(2020, 2, 1), "holiday", "春节延长假期"),  # make-up day cancelled by the extension
    (date(2019, 5, 4), "holiday", "劳动节"),     # 2019 Labour Day amendment
    (date(2018, 12, 29), "workday", "元旦"),     # 2019 notice, filed under 2018
])
def test_day_kind(cal, day, kind, name):
    info = cal.day_kind(day)
    assert (info.kind, info.name, info.provisional) == (kind, name, False)


def test_add_working_days_counts_makeup_saturday(cal):
    # 2026-09-30 (Wed) + 1: 10-01..07 holiday -> 10-08; +3 reaches the make-up Saturday 10-10.
    assert cal.add_working_days(date(2026, 9, 30), 1).day == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3).day == date(2026, 10, 10)
    assert cal.add_working_days(date(2026, 9, 30), 4).day == date(2026, 10, 12)


def test_add_from_a_holiday_and_from_a_weekend(cal):
    assert cal.add_working_days(date(2024, 2, 12), 1).day == date(2024, 2, 18)
    assert cal.add_working_days(date(2024, 3, 2), 1).day == date(2024, 3, 4)


def test_agrees_with_day_by_day_walk(cal):
    rng = random.Random(20261122)
    for _ in range(400):
        start = date(2018, 1, 1) + timedelta(days=rng.randrange(0, 3000))
        n = rng.randrange(1, 40)
        assert cal.add_working_days(start, n).day == walk_add(cal, start, n), (start, n)
        assert cal.sub_working_days(start, n).day == walk_add(cal, start, -n), (start, -n)
        end = start + timedelta(days=rng.randrange(0, 400))
        expected = sum(cal.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
        assert cal.working_days_between(start, end).count == expected
        assert cal.working_days_between(end, start).count == -expected
        assert cal.get_working_days_delta(start, end) == expected


def test_between_and_add_are_inverse(cal):
    day = date(2025, 12, 15)
    for n in range(1, 30):
        result = cal.add_working_days(day, n)
        assert cal.working_days_between(day, result.day).count == n


def test_working_days_per_year(cal):
    # 2024: 262 weekdays - 11 statutory days = 251; 2025: 261 - 13 (revised rules) = 248.
    assert cal.working_days_between(date(2023, 12, 31), date(2024, 12, 31)).count == 251
    assert cal.working_days_between(date(2024, 12, 31), date(2025, 12, 31)).count == 248


def test_provisional_2027(cal):
    assert cal.is_provisional_year(2027) and not cal.is_provisional_year(2026)
    info = cal.day_kind(date(2027, 2, 5))  # 除夕 2027 (lunar new year 2027-02-06)
    assert (info.kind, info.name, info.provisional) == ("holiday", "春节", True)
    result = cal.add_working_days(date(2026, 12, 28), 5)
    assert result.day == date(2027, 1, 5) and result.provisional  # 2027-01-01 元旦 skipped
    assert not cal.add_working_days(date(2026, 12, 1), 5).provisional
    assert cal.working_days_between(date(2026, 12, 1), date(2027, 1, 4)).provisional


def test_statutory_festivals_2027_follow_the_2024_revision():
    days = statutory_festivals(2027)
    spring = sorted(d for d, n in days.items() if n == "春节")
    assert spring == [date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)]
    assert days[date(2027, 5, 2)] == "劳动节"
    assert days[date(2027, 4, 5)] == "清明节"
    assert days[date(2027, 6, 9)] == "端午节" and days[date(2027, 9, 15)] == "中秋节"
    assert [d for d, n in days.items() if n == "国庆节"] == [date(2027, 10, d) for d in (1, 2, 3)]
    assert len(days) == 13  # 13 statutory days since 2025


def test_provisional_years_far_away_and_empty_calendar():
    empty = WorkingDayCalendar({})
    assert empty.add_working_days(date(2040, 12, 30), 3).provisional
    assert empty.is_working_day(date(2040, 1, 2))
    with pytest.raises(ValueError, match="provisional rules only cover"):
        empty.day_kind(date(2100, 1, 1))


def test_year_days_shape(cal):
    days = cal.year_days(2024)
    assert len(days) == 366 and days[0].day == date(2024, 1, 1)
    assert sum(d.kind == "workday" for d in days) == 251


def test_datetime_input_and_type_errors(cal):
    from datetime import datetime

    assert cal.is_working_day(datetime(2024, 2, 18, 12, 0))
    with pytest.raises(TypeError):
        cal.is_working_day("2024-02-18")
