"""Legal time (期间计算, SPEC §3): the working-day calendar and Civil Code periods.

Public API::

    from app.legaltime import due, get_calendar, record_deadline, recompute_provisional
"""
from app.legaltime.calendar import (
    DayInfo,
    ShiftedDay,
    WorkingDayCalendar,
    WorkingDayCount,
)
from app.legaltime.data import CalendarDataError
from app.legaltime.models import LegalDeadline
from app.legaltime.periods import Due, due
from app.legaltime.service import (
    get_calendar,
    load_year,
    missing_years,
    provisional_alerts,
)
from app.legaltime.tracking import (
    DeadlineChange,
    on_deadline_changed,
    on_year_loaded,
    recompute_provisional,
    record_deadline,
    remove_deadline_listener,
)

__all__ = [
    "CalendarDataError", "DayInfo", "DeadlineChange", "Due", "LegalDeadline", "ShiftedDay",
    "WorkingDayCalendar", "WorkingDayCount", "due", "get_calendar", "load_year", "missing_years",
    "on_deadline_changed", "on_year_loaded", "provisional_alerts", "recompute_provisional", "record_deadline",
    "remove_deadline_listener",
]
