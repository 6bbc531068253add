"""How a completed step is measured (SPEC §6; issue 15's definitions, stated once here):

- `on_time`: completed at or before its `due_at` (a step without a deadline has none);
- `response_workdays`: the working days after the local day the step arrived, up to and
  including the local day it was completed, on the legal calendar — arrived and completed the
  same day = 0, Friday → Monday = 1, a holiday does not count and a make-up working day does.

The engine records both when a step is completed (`register_response_rule`), so the figures
are read from the rows, never recomputed row by row at read time.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, select

from app.clock import as_utc, to_local
from app.engine.models import HumanTask, TaskState
from app.extensions import db
from app.legaltime import get_calendar
from app.legaltime.periods import start_of_day
from app.sla.rollup import forget

BATCH = 1000


def response_workdays(arrived: datetime, completed: datetime) -> int:
    start, end = to_local(as_utc(arrived)).date(), to_local(as_utc(completed)).date()
    return max(get_calendar().working_days_between(start, end).count, 0)


def measure_steps(*where: ColumnElement[bool]) -> int:
    """(Re)measure the completed steps `where` selects, in keyset batches of BATCH rows in the
    caller's transaction; returns how many. Used for steps completed before the engine measured
    them, and for those a newly loaded year's notice counts differently."""
    done, last_id = 0, 0
    while True:
        rows = db.session.scalars(select(HumanTask).where(
            HumanTask.id > last_id, HumanTask.state == TaskState.COMPLETED, HumanTask.completed_at.is_not(None),
            *where).order_by(HumanTask.id).limit(BATCH)).all()
        for row in rows:
            row.on_time = None if row.due_at is None else as_utc(row.completed_at) <= as_utc(row.due_at)
            row.response_workdays = response_workdays(row.created_at, row.completed_at)
        db.session.flush()
        done += len(rows)
        if rows:
            last_id = rows[-1].id
        for row in rows:
            db.session.expunge(row)  # flushed: memory stays flat over years of steps
        if len(rows) < BATCH:
            if done:  # last, in the same transaction: no reader sums a day from the old measures after it
                forget()
            return done


def remeasure_year(year: int) -> int:
    """SPEC §3.6: the steps whose working days were counted across `year` while it had no
    notice are counted again on the calendar now loaded (legaltime `on_year_loaded`)."""
    return measure_steps(HumanTask.created_at < start_of_day(date(year + 1, 1, 1)),
                         HumanTask.completed_at >= start_of_day(date(year, 1, 1)))
