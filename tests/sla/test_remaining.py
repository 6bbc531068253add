"""Remaining working days (SPEC §6) count like the period itself (民法典 arts. 201, 203)."""
from dataclasses import replace
from datetime import datetime

from app.clock import LOCAL_TZ
from app.engine.models import SlaState
from app.legaltime.periods import deadline_text
from app.policy import active_policy
from app.sla.remaining import due_soon_horizon, last_day, remaining


def at(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_end_of_day_deadline_belongs_to_its_last_day(app):
    assert last_day(at(2026, 10, 21, 0, 0)).isoformat() == "2026-10-20"   # 24:00 of the 20th
    assert last_day(at(2026, 10, 20, 17, 30)).isoformat() == "2026-10-20"  # close of business


def test_holidays_do_not_count_and_make_up_saturdays_do(app):
    due = at(2026, 10, 21, 0, 0)  # end of Tuesday 20 October
    r = remaining(due, now=at(2026, 9, 30, 10, 0))
    assert (r.state, r.days) == (SlaState.ON_TIME, 10)  # 1–7 Oct holiday, Sat 10 Oct a working day
    assert remaining(due, now=at(2026, 10, 9, 10, 0)).days == 8


def test_due_soon_is_the_profiles_stated_rule_not_the_reminder(app, monkeypatch):
    due = at(2026, 10, 21, 0, 0)  # last day Tuesday 20 October; due_soon_workdays = 2 (南通 default)
    assert remaining(due, now=at(2026, 10, 15, 23, 59)).state == SlaState.ON_TIME  # Thu: 3 wd left
    # Friday 16th 00:00: two working days left (19th, 20th) — due soon from the day's start,
    # whatever time a reminder is set for
    assert (remaining(due, now=at(2026, 10, 16, 0, 0)).state,
            remaining(due, now=at(2026, 10, 16, 0, 0)).days) == (SlaState.DUE_SOON, 2)
    assert due_soon_horizon(at(2026, 10, 16, 0, 0)) == due
    assert due_soon_horizon(at(2026, 10, 15, 23, 59)) == at(2026, 10, 20, 0, 0)
    assert remaining(due, now=at(2026, 10, 20, 23, 59)).state == SlaState.DUE_TODAY
    late = remaining(due, now=at(2026, 10, 23, 10, 0))
    assert (late.state, late.days) == (SlaState.OVERDUE, 3)
    assert remaining(None) is None
    # another figure in the profile moves the line
    policy = active_policy()
    monkeypatch.setattr("app.sla.remaining.active_policy", lambda: replace(policy, due_soon_workdays=4))
    assert remaining(due, now=at(2026, 10, 14, 10, 0)).state == SlaState.DUE_SOON  # Wed: 4 wd left
    assert remaining(due, now=at(2026, 10, 13, 10, 0)).state == SlaState.ON_TIME


def test_a_deadline_in_a_year_without_its_notice_is_provisional(app):
    r = remaining(at(2027, 3, 1, 0, 0), now=at(2026, 12, 1, 10, 0))
    assert r.provisional and r.days > 0


def test_a_deadline_reads_as_the_civil_code_has_it_in_pages_and_notices():
    # 民法典 art. 203: the last day ends at 24:00 — never "00:00" of the next day
    assert deadline_text(at(2026, 12, 4, 0, 0)) == "2026年12月3日 24:00"
    assert deadline_text(at(2026, 12, 4, 0, 0), english=True) == "2026-12-03 24:00"
    assert deadline_text(at(2026, 12, 3, 17, 30)) == "2026年12月3日 17:30"  # a close of business
