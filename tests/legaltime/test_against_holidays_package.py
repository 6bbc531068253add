"""Every day 2018-01-01..2026-12-31 agrees with the `holidays` package (0.108) China calendar."""
from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from app.legaltime.calendar import qingming

FIRST, LAST = date(2018, 1, 1), date(2026, 12, 31)


@pytest.fixture(scope="module")
def reference():
    return holidays.country_holidays("CN", years=range(FIRST.year, LAST.year + 1))


def _days():
    day = FIRST
    while day <= LAST:
        yield day
        day += timedelta(days=1)


def test_every_day_working_or_not_matches(cal, reference):
    differences = []
    for day in _days():
        # holidays' model: a working day is a weekday that is not a holiday, or a make-up day.
        expected = (day.weekday() < 5 and day not in reference) or day in reference.weekend_workdays
        if cal.is_working_day(day) != expected:
            differences.append((day, expected, reference.get(day)))
    assert differences == []


def test_makeup_working_days_match(cal, reference):
    ours = {d for y in cal.data.values() for d in (m.day for m in y.makeup_workdays)}
    theirs = {d for d in reference.weekend_workdays if FIRST <= d <= LAST}
    assert ours == theirs
    for day in ours:
        info = cal.day_kind(day)
        assert info.kind == "workday" and info.name  # make-up days carry their festival's name


def test_every_reference_holiday_is_a_holiday_here(cal, reference):
    for day in reference:
        if FIRST <= day <= LAST:
            assert cal.day_kind(day).kind == "holiday", day


def test_qingming_formula_matches_holidays_package():
    ref = holidays.country_holidays("CN", years=range(2008, 2100), language="zh_CN")
    for year in range(2008, 2100):
        assert "清明节" in (ref.get(qingming(year)) or "").split("; "), year
