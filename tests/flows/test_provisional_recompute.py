"""SPEC §3.6: a deadline reaching into a year without a holiday notice is provisional; loading
that year's notice moves the running instance's due date, reminder and escalation timers."""
from __future__ import annotations

from datetime import datetime

import time_machine
from sqlalchemy import select

from app.clock import as_utc
from app.engine import fire_due_timers
from app.engine.models import TaskEvent, WorkflowTimer
from app.extensions import db
from app.legaltime.models import LegalDeadline
from tests.flows.conftest import local
from tests.legaltime.conftest import SYNTHETIC_2027


def _instant(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def test_loading_2027_moves_the_provider_review_deadline_of_a_running_application(
        flow, entries, city, profile, runner, calendars_without_2027, tmp_path):
    profile("baoji")  # provider reply: 10 working days (宝鸡 art. 16)
    with time_machine.travel(local(2026, 12, 22, 10, 0), tick=False):
        key = flow.apply(city.health_applicant, entries.conditional, requested_valid_from="2027-01-01")
        task = flow.task(key, "provider_review")
        # provisional 2027: only 1 January is off → 10th working day is Wednesday 6 January
        assert _instant(task["due_at"]) == local(2027, 1, 7)
        stored = db.session.scalars(select(LegalDeadline)).all()
        assert stored and all(row.provisional for row in stored)
        old_reminder = _instant(task["reminder_at"])

        notice = tmp_path / "2027.yaml"
        notice.write_text(SYNTHETIC_2027, encoding="utf-8")  # official: 1–4 January off
        result = runner.invoke(args=["calendar", "load", str(notice)])
        assert result.exit_code == 0, result.output

        task = flow.task(key, "provider_review")
        assert _instant(task["due_at"]) == local(2027, 1, 8)
        assert _instant(task["reminder_at"]) > old_reminder
        db.session.expire_all()
        timers = {t.kind: as_utc(t.due_at) for t in db.session.scalars(
            select(WorkflowTimer).where(WorkflowTimer.state == "waiting"))}
        assert timers["escalation"] == local(2027, 1, 8)
        assert timers["reminder"] == _instant(task["reminder_at"])
        assert not any(row.provisional for row in db.session.scalars(select(LegalDeadline)))
        moved = db.session.scalars(select(TaskEvent).where(TaskEvent.event_type == "timer_moved")).all()
        assert len(moved) == 2

    # the moved escalation fires at the new instant, not the old one
    with time_machine.travel(local(2027, 1, 7), tick=False):
        fire_due_timers()
        assert "supervise_overdue" not in flow.open_tasks(key)
    with time_machine.travel(local(2027, 1, 8), tick=False):
        fire_due_timers()
        assert "supervise_overdue" in flow.open_tasks(key)


def test_recompute_called_directly_moves_the_instance_in_a_unit_of_its_own(
        flow, entries, city, profile, calendars_without_2027, tmp_path):
    # app.legaltime.recompute_provisional is public: a caller without an open transaction()
    # gets one (the instance's timers move with the deadline rows, or nothing does).
    from app.legaltime import recompute_provisional
    from app.legaltime.service import load_year

    profile("baoji")
    with time_machine.travel(local(2026, 12, 22, 10, 0), tick=False):
        key = flow.apply(city.health_applicant, entries.conditional, requested_valid_from="2027-01-01")
        notice = tmp_path / "2027.yaml"
        notice.write_text(SYNTHETIC_2027, encoding="utf-8")
        load_year(notice)
        db.session.rollback()  # no unit open, nothing pending
        changes = recompute_provisional(2027)
        assert changes
        db.session.rollback()  # what is kept was committed
        assert _instant(flow.task(key, "provider_review")["due_at"]) == local(2027, 1, 8)
