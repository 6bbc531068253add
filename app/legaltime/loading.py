"""Loading a year's holiday notice (SPEC §3.6): what it would change, then installing it and
recomputing the provisional deadlines — one path for `flask calendar load` and the
administrator's calendar page, so both give the same result on the same data."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.audit.log import record
from app.db import transaction
from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.data import YearData, parse_year_text
from app.legaltime.service import get_calendar, install_year_text
from app.legaltime.tracking import DeadlineChange, pending_changes, recompute_provisional


@dataclass(frozen=True)
class DayChange:
    day: object        # datetime.date
    before: str        # workday | restday | holiday, on the calendar in use
    after: str
    name: str          # the festival's name after loading ('' for a plain day)


@dataclass(frozen=True)
class NoticePreview:
    data: YearData
    provisional_before: bool              # the year was counted provisionally until now
    days: list[DayChange]                 # days whose kind changes
    moves: list[DeadlineChange]           # stored deadlines whose due instant would change
    unarranged: list[str]                 # festivals the calendar in use has off that the notice leaves out

    @property
    def moved(self) -> list[DeadlineChange]:
        return [c for c in self.moves if c.moved]


def with_year(data: YearData) -> WorkingDayCalendar:
    """The calendar in use with ``data`` in place of its year."""
    return WorkingDayCalendar({**get_calendar().data, data.year: data})


def preview_notice(data: YearData) -> NoticePreview:
    """What loading ``data`` would change; writes nothing."""
    current, candidate = get_calendar(), with_year(data)
    days = [DayChange(old.day, old.kind, new.kind, new.name)
            for old, new in zip(current.year_days(data.year), candidate.year_days(data.year), strict=True)
            if old.kind != new.kind]
    arranged = " ".join(h.name for h in data.holidays)
    off = dict.fromkeys(d.name for d in current.year_days(data.year) if d.kind == "holiday" and d.name)
    return NoticePreview(data, current.is_provisional_year(data.year), days,
                         pending_changes(data.year, candidate), [name for name in off if name not in arranged])


def load_notice(text: str, source: str | Path, expected_year: int | None = None,
                actor=None) -> tuple[YearData, list[DeadlineChange]]:
    """Validate ``text``, install it as the year's file and recompute the provisional deadlines
    reaching into that year, with their instances' timers (app/sla/recompute.py), audited —
    in one transaction; if that fails, the previous file is put back."""
    data = parse_year_text(text, source, expected_year)
    undo = install_year_text(text, data)  # the listeners read the installed calendar
    try:
        with transaction():
            changes = recompute_provisional(data.year)
            record("calendar.loaded", "calendar_year", data.year, actor=actor, after={
                "source": str(source), "notices": [n.title for n in data.notices.values()],
                "holiday_ranges": len(data.holidays), "makeup_workdays": len(data.makeup_workdays),
                "deadlines_changed": len(changes)})
    except BaseException:
        undo()
        raise
    return data, changes
