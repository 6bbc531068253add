"""The mainland-China working-day calendar (SPEC §3).

`WorkingDayCalendar` subclasses workalendar's `China` (the stock class only knows 2018–2023 and
raises after) and is fed by the yearly State Council notices in ``calendars/`` (see data.py).

Speed: instead of walking day by day, the calendar keeps, for a contiguous span of years, one
byte per day (working or not) and a running count of working days (`cum[i]` = working days
from the span's first day up to and including day i). Then

* is_working_day         — one array read, O(1);
* working_days_between   — a subtraction, O(1);
* add/sub_working_days   — one `bisect` on the running count, O(log n).

Years without a loaded notice (SPEC §3.6 — today 2027) get a *provisional* calendar: weekends
plus that year's statutory festival days computed from the lunar calendar; every answer that
touched such a year carries ``provisional=True``.
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from lunardate import LunarDate
from workalendar.asia import China

from app.legaltime.data import YearData

DayKindName = Literal["workday", "restday", "holiday"]

WORKDAY: DayKindName = "workday"
RESTDAY: DayKindName = "restday"
HOLIDAY: DayKindName = "holiday"

# lunardate covers lunar years 1900..2099; the provisional rules below start with the 2013 revision.
PROVISIONAL_MIN_YEAR = 2014
PROVISIONAL_MAX_YEAR = 2099


class DayInfo(NamedTuple):
    """What one day is: ``kind`` workday|restday|holiday, ``name`` the festival ('' if none).

    A make-up working day (调休上班) is a ``workday`` carrying the festival's name.
    (Result types are NamedTuples: immutable and cheap to create on the hot path.)
    """

    day: date
    kind: DayKindName
    name: str
    provisional: bool

    @property
    def is_working_day(self) -> bool:
        return self.kind == WORKDAY


class ShiftedDay(NamedTuple):
    """Result of add/sub_working_days."""

    day: date
    provisional: bool


class WorkingDayCount(NamedTuple):
    """Result of working_days_between."""

    count: int
    provisional: bool


def qingming(year: int) -> date:
    """清明 (sun at 15° longitude), 4 or 5 April, by the standard 21st-century formula
    day = int(Y*0.2422 + 4.81) - int(Y/4) with Y = year % 100 (checked against the `holidays`
    package for 2001–2099 in the tests)."""
    if not 2001 <= year <= 2099:
        raise ValueError(f"清明 formula only covers 2001..2099, not {year}")
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def statutory_festivals(year: int) -> dict[date, str]:
    """The statutory festival days (法定节假日) of ``year``, without any 调休 shifting.

    From 2025: 《全国年节及纪念日放假办法》 as revised by 国务院令第795号 (2024-11-10), art. 2 —
    元旦 1 day; 春节 4 days (农历除夕、正月初一至初三); 清明节 1; 劳动节 2 (5月1日、2日);
    端午节 1; 中秋节 1; 国庆节 3 (10月1日至3日).
    2014–2024: the 2013 revision (国务院令第644号) — 春节 正月初一至初三, 劳动节 5月1日 only.
    """
    if not PROVISIONAL_MIN_YEAR <= year <= PROVISIONAL_MAX_YEAR:
        raise ValueError(f"no calendar data for {year}, and provisional rules only cover "
                         f"{PROVISIONAL_MIN_YEAR}..{PROVISIONAL_MAX_YEAR}")
    days: dict[date, str] = {}

    def add(day: date, name: str) -> None:
        # Two festivals on one day (e.g. 中秋 on 1 October) keep both names.
        days[day] = f"{days[day]}、{name}" if day in days else name

    add(date(year, 1, 1), "元旦")
    new_year = LunarDate(year, 1, 1).to_solar_date()
    spring = range(-1, 3) if year >= 2025 else range(3)  # 2025+: 除夕 is a holiday
    for offset in spring:
        add(new_year + timedelta(days=offset), "春节")
    add(qingming(year), "清明节")
    add(date(year, 5, 1), "劳动节")
    if year >= 2025:
        add(date(year, 5, 2), "劳动节")
    add(LunarDate(year, 5, 5).to_solar_date(), "端午节")
    add(LunarDate(year, 8, 15).to_solar_date(), "中秋节")
    for day in (1, 2, 3):
        add(date(year, 10, day), "国庆节")
    return days


@dataclass(frozen=True)
class _YearTable:
    year: int
    provisional: bool
    work: bytes  # one byte per day of the year: 1 = working day
    names: dict[date, tuple[DayKindName, str]]  # holidays and named make-up days only


@dataclass(frozen=True)
class _Index:
    first_year: int
    last_year: int
    base: int  # ordinal of first_year-01-01
    work: bytes
    cum: list[int]  # cum[i] = working days in [base, base+i]


_shifted = tuple.__new__  # builds a ShiftedDay without the Python-level NamedTuple constructor


def _as_date(day) -> date:
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, date):
        return day
    raise TypeError(f"expected a date, got {type(day).__name__}")


class WorkingDayCalendar(China):
    """China's working-day calendar from the State Council notices, with provisional years.

    Differs from workalendar on purpose: `add_working_days` / `sub_working_days` return a
    `ShiftedDay` (date + provisional flag), not a bare date.
    """

    def __init__(self, years: dict[int, YearData] | None = None):
        # China.__init__ fills extra_working_days from workalendar's own 2018–2023 tables;
        # they are replaced by the notices' make-up days right below.
        super().__init__()
        self.data: dict[int, YearData] = dict(sorted((years or {}).items()))
        self.extra_working_days = tuple(m.day for y in self.data.values() for m in y.makeup_workdays)
        self._tables: dict[int, _YearTable] = {}
        self._lock = threading.Lock()
        today = date.today().year
        first = min([*self.data, today])
        last = max([*self.data, today])
        self._index = self._build_index(first, last)

    # ---- which years are official -------------------------------------------------------
    @property
    def loaded_years(self) -> list[int]:
        return list(self.data)

    def is_provisional_year(self, year: int) -> bool:
        return year not in self.data

    def provisional_between(self, first: date, last: date) -> bool:
        """Whether any year from ``first`` to ``last`` has no loaded notice."""
        if first.year == last.year:
            return first.year not in self.data
        return any(y not in self.data for y in range(first.year, last.year + 1))

    # ---- tables ---------------------------------------------------------------------------
    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is not None:
            return table
        start = date(year, 1, 1)
        length = (date(year + 1, 1, 1) - start).days
        work = bytearray(1 if (start + timedelta(days=i)).weekday() < 5 else 0 for i in range(length))
        names: dict[date, tuple[DayKindName, str]] = {}
        data = self.data.get(year)
        if data is not None:
            for rng in data.holidays:
                for day in rng.days():
                    work[(day - start).days] = 0
                    names[day] = (HOLIDAY, rng.name)
            for makeup in data.makeup_workdays:  # 调休上班: a Saturday/Sunday that is worked
                work[(makeup.day - start).days] = 1
                names[makeup.day] = (WORKDAY, makeup.name)
        else:
            # SPEC §3.6: provisional = weekends + statutory festival days; never a guessed 调休.
            for day, name in statutory_festivals(year).items():
                work[(day - start).days] = 0
                names[day] = (HOLIDAY, name)
        table = _YearTable(year, data is None, bytes(work), names)
        self._tables[year] = table
        return table

    def _build_index(self, first_year: int, last_year: int) -> _Index:
        work = b"".join(self._table(y).work for y in range(first_year, last_year + 1))
        cum, running = [], 0
        for flag in work:
            running += flag
            cum.append(running)
        return _Index(first_year, last_year, date(first_year, 1, 1).toordinal(), work, cum)

    def _index_covering(self, first_year: int, last_year: int) -> _Index:
        index = self._index
        if index.first_year <= first_year and last_year <= index.last_year:
            return index
        with self._lock:
            index = self._index
            lo, hi = min(index.first_year, first_year), max(index.last_year, last_year)
            if (lo, hi) != (index.first_year, index.last_year):
                index = self._index = self._build_index(lo, hi)
        return index

    # ---- answers --------------------------------------------------------------------------
    def day_kind(self, day) -> DayInfo:
        day = _as_date(day)
        table = self._table(day.year)
        named = table.names.get(day)
        if named is not None:
            kind, name = named
        else:
            kind, name = (WORKDAY if day.weekday() < 5 else RESTDAY), ""
        return DayInfo(day, kind, name, table.provisional)

    def year_days(self, year: int) -> list[DayInfo]:
        start = date(year, 1, 1)
        return [self.day_kind(start + timedelta(days=i))
                for i in range((date(year + 1, 1, 1) - start).days)]

    def is_working_day(self, day, extra_working_days=None, extra_holidays=None) -> bool:
        day = _as_date(day)
        # workalendar semantics for the optional exception lists (working days win).
        if extra_working_days and day in {_as_date(d) for d in extra_working_days}:
            return True
        if extra_holidays and day in {_as_date(d) for d in extra_holidays}:
            return False
        index = self._index
        i = day.toordinal() - index.base
        if not 0 <= i < len(index.work):
            index = self._index_covering(day.year, day.year)
            i = day.toordinal() - index.base
        return index.work[i] == 1

    def is_holiday(self, day, extra_holidays=None) -> bool:
        day = _as_date(day)
        if extra_holidays and day in {_as_date(d) for d in extra_holidays}:
            return True
        return self.day_kind(day).kind == HOLIDAY

    def get_calendar_holidays(self, year):
        """workalendar hook: (date, name) of every holiday day of ``year`` (provisional if unloaded)."""
        table = self._table(year)
        return [(day, name) for day, (kind, name) in sorted(table.names.items()) if kind == HOLIDAY]

    def add_working_days(self, day, delta, extra_working_days=None, extra_holidays=None,
                         keep_datetime=False) -> ShiftedDay:
        """The ``delta``-th working day after ``day`` (``day`` itself not counted — 民法典 art. 201)."""
        if extra_working_days or extra_holidays or keep_datetime:
            raise NotImplementedError("extra_* lists and keep_datetime are not supported")
        if type(day) is not date:
            day = _as_date(day)
        if delta < 0:
            return self.sub_working_days(day, -delta)
        if delta == 0:
            return ShiftedDay(day, self.is_provisional_year(day.year))
        index = self._index
        i = day.toordinal() - index.base
        if not 0 <= i < len(index.work):
            index = self._index_covering(day.year, day.year)
            i = day.toordinal() - index.base
        target = index.cum[i] + delta
        while index.cum[-1] < target:  # the answer lies beyond the span: extend one year at a time
            if index.last_year >= PROVISIONAL_MAX_YEAR:
                raise ValueError(f"{delta} working days after {day} is beyond {PROVISIONAL_MAX_YEAR}")
            index = self._index_covering(index.first_year, index.last_year + 1)
        # The first position where the running count reaches `target` is that working day.
        result = date.fromordinal(index.base + bisect_left(index.cum, target))
        if result.year == day.year:  # hot path: no range walk, no NamedTuple.__new__ in Python
            return _shifted(ShiftedDay, (result, day.year not in self.data))
        return ShiftedDay(result, self.provisional_between(day, result))

    def sub_working_days(self, day, delta, extra_working_days=None, extra_holidays=None,
                         keep_datetime=False) -> ShiftedDay:
        """The ``delta``-th working day before ``day`` (``day`` itself not counted)."""
        if extra_working_days or extra_holidays or keep_datetime:
            raise NotImplementedError("extra_* lists and keep_datetime are not supported")
        day = _as_date(day)
        delta = abs(delta)
        if delta == 0:
            return ShiftedDay(day, self.is_provisional_year(day.year))
        index = self._index_covering(day.year, day.year)
        while True:
            i = day.toordinal() - index.base
            target = index.cum[i] - index.work[i] - delta + 1  # working days strictly before, minus delta
            if target >= 1:
                break
            if index.first_year <= PROVISIONAL_MIN_YEAR:
                raise ValueError(f"{delta} working days before {day} is before {PROVISIONAL_MIN_YEAR}")
            index = self._index_covering(index.first_year - 1, index.last_year)
        result = date.fromordinal(index.base + bisect_left(index.cum, target))
        return ShiftedDay(result, self.provisional_between(result, day))

    def working_days_between(self, start, end) -> WorkingDayCount:
        """Working days d with start < d <= end (negative when end < start)."""
        start, end = _as_date(start), _as_date(end)
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        index = self._index
        i, j = start.toordinal() - index.base, end.toordinal() - index.base
        if i < 0 or j >= len(index.work):
            index = self._index_covering(start.year, end.year)
            i, j = start.toordinal() - index.base, end.toordinal() - index.base
        count = index.cum[j] - index.cum[i]
        return WorkingDayCount(sign * count, self.provisional_between(start, end))

    def get_working_days_delta(self, start, end, include_start=False,
                               extra_working_days=None, extra_holidays=None) -> int:
        """workalendar-compatible count, answered from the running count."""
        if extra_working_days or extra_holidays:
            return super().get_working_days_delta(start, end, include_start,
                                                  extra_working_days, extra_holidays)
        start, end = _as_date(start), _as_date(end)
        if start == end:
            return 0
        if start > end:
            start, end = end, start
        count = self.working_days_between(start, end).count
        return count + (1 if include_start and self.is_working_day(start) else 0)

    def next_working_day_on_or_after(self, day) -> ShiftedDay:
        """``day`` if it is a working day, else the next one (民法典 art. 203)."""
        day = _as_date(day)
        if self.is_working_day(day):
            return ShiftedDay(day, self.is_provisional_year(day.year))
        shifted = self.add_working_days(day, 1)
        return ShiftedDay(shifted.day, shifted.provisional)
