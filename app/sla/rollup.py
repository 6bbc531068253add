"""Daily sums of the finished days, so the desk's cost does not grow with history (issue 15).

A completed step does not change once its day is over: it was completed then, and its measures
were recorded at completion. So each finished local day's counts — per department, flow and
response time in working days — are summed once into `sla_day` (the first read that needs the
day does it, `ensure_summed`, or the scheduler's hourly job first) and read from there; the day
in progress is counted from the steps themselves (and, for the hour after midnight, the day
before: `GRACE`). Re-measuring steps (a loaded holiday notice, `flask sla measure`) forgets the
sums at its end, in its own transaction (`forget`), and the next read sums those days again.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import Date, Integer, String, and_, case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import start_of_day, to_local, utcnow
from app.db import transaction
from app.engine.models import HumanTask, TaskState
from app.extensions import db
from app.period_input import MAX_DAYS, Period

NO_DEPARTMENT, NO_MEASURE = 0, -1  # key columns cannot be NULL
GRACE = timedelta(hours=1)  # a day is summed once it ended this long ago (commit lag, clock skew)


class SlaDay(db.Model):
    """One finished day's completed steps of one department, flow, step and response time."""

    __tablename__ = "sla_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(String(128), primary_key=True)
    step: Mapped[str] = mapped_column(String(128), primary_key=True)  # the user task's id (task_spec)
    response_workdays: Mapped[int] = mapped_column(Integer, primary_key=True)
    completed: Mapped[int] = mapped_column(Integer)
    with_deadline: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)


class SlaDaySummed(db.Model):
    """A day whose sums are in `sla_day` (a day without completions has a mark and no rows)."""

    __tablename__ = "sla_day_summed"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class Counts(NamedTuple):
    key: object                     # what `counts(by=…)` groups by: a department id (None: none), a
                                    # day, a flow, or a (department id, step) pair
    response_workdays: int | None
    completed: int
    with_deadline: int
    on_time: int
    late: int


def _measures(columns):
    """completed, with a deadline, on time, late — of completed `columns` (a table or subquery)."""
    return (func.count(), func.count(columns.due_at), func.sum(case((columns.on_time.is_(True), 1), else_=0)),
            func.sum(case((and_(columns.due_at.is_not(None), columns.on_time.is_(False)), 1), else_=0)))


def _steps_between(start, end, flow: str | None):
    stmt = (select(HumanTask.candidate_department_id, HumanTask.process_id, HumanTask.task_spec,
                   HumanTask.response_workdays, HumanTask.due_at, HumanTask.on_time, HumanTask.completed_at)
            .where(HumanTask.state == TaskState.COMPLETED, HumanTask.completed_at >= start, HumanTask.completed_at < end))
    return (stmt.where(HumanTask.process_id == flow) if flow else stmt).subquery()


def _local_day(column):
    """The local (Asia/Shanghai, UTC+8 all year since 1991) date of a stored instant, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")  # SQLite keeps UTC text


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _sum_days(first: date, last: date, wanted: set[date]) -> None:
    """Sum the `wanted` days of [first, last] in one grouped pass over their steps."""
    steps = _steps_between(start_of_day(first), start_of_day(last + timedelta(days=1)), None)
    day = _local_day(steps.c.completed_at)
    keys = (day, steps.c.candidate_department_id, steps.c.process_id, steps.c.task_spec, steps.c.response_workdays)
    for local, dept, flow, step, rw, n, wd, ot, lt in db.session.execute(
            select(*keys, *_measures(steps.c)).group_by(*keys)):
        local = _as_date(local)
        if local in wanted:
            db.session.add(SlaDay(day=local, department_id=dept or NO_DEPARTMENT, flow=flow, step=step,
                                  response_workdays=NO_MEASURE if rw is None else rw, completed=n,
                                  with_deadline=wd, on_time=int(ot or 0), late=int(lt or 0)))
    db.session.add_all(SlaDaySummed(day=d) for d in sorted(wanted))


def ensure_summed(first: date, last: date, retry: bool = True) -> None:
    """Sum the days of [first, last] not summed yet (finished days only), in one unit of work;
    a concurrent reader that summed them first wins, and this one reads its sums."""
    summed = set(db.session.scalars(select(SlaDaySummed.day).where(SlaDaySummed.day.between(first, last))))
    missing = {first + timedelta(days=i) for i in range((last - first).days + 1)} - summed
    if not missing:
        return
    try:
        with transaction():
            _sum_days(min(missing), max(missing), missing)
    except IntegrityError:  # another reader summed some of them first: sum what is still missing
        db.session.rollback()
        if retry:
            ensure_summed(first, last, retry=False)


def sum_finished_days(now=None) -> None:
    """The scheduler's hourly job: sum the finished days of the last three years not summed
    yet, so no reader waits for it (after an upgrade or `forget`)."""
    last = last_summable_day(now)
    ensure_summed(last - timedelta(days=MAX_DAYS - 1), last)


def last_summable_day(now=None) -> date:
    """The last day that may be summed: one that ended at least GRACE ago, so a completion
    stamped just before midnight but committed later, or by a host whose clock is a little
    behind, is never left out of a summed day."""
    return to_local((now or utcnow()) - GRACE).date() - timedelta(days=1)


def forget(since: date | None = None) -> None:
    """Drop the sums (of `since` and later): the steps' measures changed (caller's transaction)."""
    for model in (SlaDay, SlaDaySummed):
        stmt = delete(model)
        db.session.execute(stmt.where(model.day >= since) if since else stmt)


BY = ("department", "day", "flow", "department_step", "department_flow")


def _keys(by: str, day, department, flow, step) -> tuple:
    return {"department": (department,), "day": (day,), "flow": (flow,),
            "department_step": (department, step), "department_flow": (department, flow)}[by]


def _key(by: str, values: tuple):
    if by == "department":
        return values[0] or None
    if by == "day":
        return _as_date(values[0])
    if by in ("department_step", "department_flow"):
        return (values[0] or None, values[1])
    return values[0]


def counts(period: Period, flow: str | None, by: str = "department") -> list[Counts]:
    """The period's completed steps counted per `by` (one of BY) and response time: the
    finished days from their sums, today from the steps."""
    out: list[Counts] = []
    closed_last = min(period.last, last_summable_day())
    if period.first <= closed_last:
        ensure_summed(period.first, closed_last)
        keys = _keys(by, SlaDay.day, SlaDay.department_id, SlaDay.flow, SlaDay.step)
        stmt = (select(*keys, SlaDay.response_workdays, func.sum(SlaDay.completed), func.sum(SlaDay.with_deadline),
                       func.sum(SlaDay.on_time), func.sum(SlaDay.late))
                .where(SlaDay.day.between(period.first, closed_last)).group_by(*keys, SlaDay.response_workdays))
        if flow:
            stmt = stmt.where(SlaDay.flow == flow)
        for *k, rw, n, wd, ot, lt in db.session.execute(stmt):
            out.append(Counts(_key(by, tuple(k)), None if rw == NO_MEASURE else rw, int(n), int(wd), int(ot), int(lt)))
    live_first = max(period.first, closed_last + timedelta(days=1))
    if live_first <= period.last:  # today (and, just after midnight, yesterday) from the steps
        steps = _steps_between(*Period(live_first, period.last).bounds, flow)
        keys = _keys(by, _local_day(steps.c.completed_at), steps.c.candidate_department_id, steps.c.process_id,
                     steps.c.task_spec)
        for *k, rw, n, wd, ot, lt in db.session.execute(
                select(*keys, steps.c.response_workdays, *_measures(steps.c)).group_by(*keys, steps.c.response_workdays)):
            out.append(Counts(_key(by, tuple(k)), rw, n, wd, int(ot or 0), int(lt or 0)))
    return out
