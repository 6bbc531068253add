"""Recording deadlines and recomputing the provisional ones when a year's notice is loaded.

Nothing here commits: the caller's transaction (one step = one transaction, ARCHITECTURE.md)
decides. Listeners registered with `on_deadline_changed` run inside that same transaction, so
the engine can move its timers atomically with the new due date; an exception in a listener
propagates and the caller rolls back.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select

from app.clock import as_utc, to_local, utcnow
from app.db import transaction
from app.extensions import db
from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.models import LegalDeadline
from app.legaltime.periods import Due, due


@dataclass(frozen=True)
class DeadlineChange:
    deadline: LegalDeadline
    old_due_at: datetime
    new_due_at: datetime
    old_provisional: bool
    new_provisional: bool

    @property
    def moved(self) -> bool:
        return self.old_due_at != self.new_due_at


DeadlineListener = Callable[[DeadlineChange], None]
_listeners: list[DeadlineListener] = []


def on_deadline_changed(callback: DeadlineListener) -> DeadlineListener:
    """Register ``callback(change)``; called for every stored deadline that recompute changes.
    Usable as a decorator; registering the same callback twice has no effect."""
    if callback not in _listeners:
        _listeners.append(callback)
    return callback


YearListener = Callable[[int], None]
_year_listeners: list[YearListener] = []


def on_year_loaded(callback: YearListener) -> YearListener:
    """Register ``callback(year)``: run (in the recompute's transaction) when a year's notice has
    been loaded, for what was counted on its provisional calendar besides stored deadlines."""
    if callback not in _year_listeners:
        _year_listeners.append(callback)
    return callback


def remove_deadline_listener(callback: DeadlineListener) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


def _compute(row: LegalDeadline, calendar: WorkingDayCalendar | None) -> Due:
    return due(as_utc(row.event_at), row.amount, row.unit, row.close_of_business, calendar=calendar)


def record_deadline(owner_type: str, owner_id: str | int, event_at: datetime, amount: int, unit: str,
                    *, policy_key: str | None = None, close_of_business: time | None = None,
                    calendar: WorkingDayCalendar | None = None) -> LegalDeadline:
    """Compute and store a deadline (added to the session and flushed, not committed)."""
    result = due(event_at, amount, unit, close_of_business, calendar=calendar)
    row = LegalDeadline(
        event_at=as_utc(event_at), amount=amount, unit=unit, policy_key=policy_key,
        close_of_business=close_of_business, due_at=result.at, provisional=result.provisional,
        computed_at=utcnow(), owner_type=owner_type, owner_id=str(owner_id),
    )
    db.session.add(row)
    db.session.flush()
    return row


def _years_touched(row: LegalDeadline) -> range:
    first: date = to_local(row.event_at).date()
    last: date = to_local(row.due_at).date()
    return range(first.year, last.year + 1)


def pending_changes(year: int | None = None,
                    calendar: WorkingDayCalendar | None = None) -> list[DeadlineChange]:
    """What recomputing would change, writing nothing: every stored provisional deadline (only
    those whose span reaches into ``year``, if given) whose answer on ``calendar`` (default: the
    one in use) differs — the administrator's preview before loading a notice."""
    rows = db.session.scalars(
        select(LegalDeadline).where(LegalDeadline.provisional.is_(True)).order_by(LegalDeadline.id)
    ).all()
    changes: list[DeadlineChange] = []
    for row in rows:
        if year is not None and year not in _years_touched(row):
            continue
        result = _compute(row, calendar)
        old_due, old_provisional = as_utc(row.due_at), row.provisional
        if result.at != old_due or result.provisional != old_provisional:
            changes.append(DeadlineChange(row, old_due, result.at, old_provisional, result.provisional))
    return changes


def recompute_provisional(year: int | None = None,
                          calendar: WorkingDayCalendar | None = None) -> list[DeadlineChange]:
    """Recompute every stored provisional deadline (only those whose span reaches into ``year``,
    if given) on the calendar now in use; update due_at / provisional, notify the listeners and
    return the changes. Rows whose answer is identical are left untouched."""
    with transaction():  # the rows and what the listeners move with them (joins an open unit)
        changes = pending_changes(year, calendar)
        now = utcnow()
        for change in changes:
            row = change.deadline
            row.due_at, row.provisional, row.computed_at = change.new_due_at, change.new_provisional, now
        db.session.flush()
        for change in changes:
            for listener in _listeners:
                listener(change)
        if year is not None:
            for year_listener in _year_listeners:
                year_listener(year)
    return changes
