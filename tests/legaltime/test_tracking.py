"""Stored deadlines: provisional ones are recomputed when the year is loaded (SPEC §3.6)."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from app.clock import LOCAL_TZ, as_utc
from app.extensions import db
from app.legaltime import (
    get_calendar,
    load_year,
    on_deadline_changed,
    recompute_provisional,
    record_deadline,
    remove_deadline_listener,
)
from app.legaltime.models import LegalDeadline
from tests.factories import commit


@pytest.fixture()
def tmp_calendars(app, calendar_copy, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_DIR", str(calendar_copy))
    return calendar_copy


@pytest.fixture()
def listener():
    seen = []
    callback = on_deadline_changed(seen.append)
    yield seen
    remove_deadline_listener(callback)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_record_deadline_stores_the_computation(app, tmp_calendars):
    row = record_deadline("task", 42, local(2026, 9, 30, 10, 0), 3, "workday", policy_key="provider_review")
    commit()
    stored = db.session.get(LegalDeadline, row.id)
    assert stored.owner_type == "task" and stored.owner_id == "42"
    assert as_utc(stored.due_at) == local(2026, 10, 11, 0, 0)  # end of make-up Saturday 10-10
    assert stored.provisional is False and stored.policy_key == "provider_review"


def test_loading_a_year_recomputes_provisional_deadlines(app, tmp_calendars, synthetic_2027, listener):
    reaching = record_deadline("task", "t1", local(2026, 12, 28, 10, 0), 5, "workday")
    month = record_deadline("timer", "m1", local(2026, 12, 1, 10, 0), 1, "month")  # 2027-01-01 -> roll
    settled = record_deadline("task", "t2", local(2026, 11, 2, 10, 0), 5, "workday")
    commit()
    assert reaching.provisional and month.provisional and not settled.provisional
    assert to_local_date(reaching.due_at) == date(2027, 1, 5)  # provisional: only 01-01 is off
    assert to_local_date(month.due_at) == date(2027, 1, 4)

    data = load_year(synthetic_2027)  # official 2027: 01-01..01-04 off
    assert data.year == 2027 and not get_calendar().is_provisional_year(2027)
    changes = recompute_provisional(2027)
    commit()

    assert {c.deadline.owner_id for c in changes} == {"t1", "m1"}
    assert to_local_date(db.session.get(LegalDeadline, reaching.id).due_at) == date(2027, 1, 6)
    assert to_local_date(db.session.get(LegalDeadline, month.id).due_at) == date(2027, 1, 5)
    assert not db.session.get(LegalDeadline, reaching.id).provisional
    assert [c.deadline.owner_id for c in listener] == [c.deadline.owner_id for c in changes]
    change = next(c for c in listener if c.deadline.owner_id == "t1")
    assert change.moved and change.old_provisional and not change.new_provisional
    assert recompute_provisional() == []  # nothing provisional left


def test_recompute_for_another_year_leaves_rows_alone(app, tmp_calendars):
    record_deadline("task", "t1", local(2026, 12, 28, 10, 0), 5, "workday")
    commit()
    assert recompute_provisional(2030) == []


def test_provisional_row_that_does_not_move_still_loses_its_flag(app, tmp_calendars, synthetic_2027):
    row = record_deadline("task", "t1", local(2026, 12, 1, 10, 0), 3, "workday")  # stays in 2026
    assert not row.provisional
    far = record_deadline("task", "t2", local(2027, 1, 15, 10, 0), 1, "workday")  # 2027-01-18 either way
    commit()
    assert far.provisional
    load_year(synthetic_2027)
    changes = recompute_provisional()
    assert [c.deadline.owner_id for c in changes] == ["t2"] and not changes[0].moved
    assert not far.provisional


def to_local_date(value) -> date:
    # due_at is the instant the last day ends (24:00 local = next day 00:00): step back to the day.
    local_end = as_utc(value).astimezone(LOCAL_TZ)
    return date.fromordinal(local_end.date().toordinal() - 1)


def test_a_year_file_written_by_another_process_is_seen_after_the_recheck(
        calendar_copy, synthetic_2027, monkeypatch):
    import app.legaltime.service as service

    clock = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: clock[0])
    assert get_calendar(calendar_copy).is_provisional_year(2027)
    (calendar_copy / "2027.yaml").write_bytes(synthetic_2027.read_bytes())  # not via load_year
    clock[0] += service._RECHECK_SECONDS / 2
    assert get_calendar(calendar_copy).is_provisional_year(2027)  # cached: no directory scan
    clock[0] += service._RECHECK_SECONDS
    assert not get_calendar(calendar_copy).is_provisional_year(2027)
