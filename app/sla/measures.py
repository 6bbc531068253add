"""How a completed step is measured (SPEC §6; issue 15's definitions, stated once here):

- `on_time`: completed at or before its `due_at` (a step without a deadline has none);
- `response_workdays`: the working days after the local day the step arrived, up to and
  including the local day it was completed, on the legal calendar — arrived and completed the
  same day = 0, Friday → Monday = 1, a holiday does not count and a make-up working day does.

The engine records both when a step is completed (`register_response_rule`), so the figures
are read from the rows, never recomputed row by row at read time.
"""
from __future__ import annotations

from datetime import datetime

from app.clock import as_utc, to_local
from app.legaltime import get_calendar


def response_workdays(arrived: datetime, completed: datetime) -> int:
    start, end = to_local(as_utc(arrived)).date(), to_local(as_utc(completed)).date()
    return max(get_calendar().working_days_between(start, end).count, 0)
