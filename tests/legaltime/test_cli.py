"""`flask calendar show|due|check|load`."""
from __future__ import annotations

from datetime import datetime

import time_machine
import yaml

from app.clock import LOCAL_TZ
from app.legaltime import record_deadline
from tests.factories import commit


def test_show_prints_every_day(runner):
    result = runner.invoke(args=["calendar", "show", "2026"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 365
    assert lines[0] == "2026-01-01\tholiday\t元旦"
    assert "2026-01-04\tworkday\t元旦" in lines  # make-up Sunday
    assert "2026-10-10\tworkday\t国庆节" in lines
    assert "2026-10-11\trestday\t" in lines
    assert "2026-10-12\tworkday\t" in lines


def test_show_provisional_year_warns(runner):
    result = runner.invoke(args=["calendar", "show", "2027"])
    assert result.exit_code == 0 and "provisional" in result.stderr
    assert "2027-02-05\tholiday\t春节" in result.stdout.splitlines()


def test_due_prints_local_iso_first(runner):
    result = runner.invoke(args=["calendar", "due", "2026-09-30T10:00:00+08:00", "3", "workday"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "2026-10-11T00:00:00+08:00"
    assert "provisional" not in result.stderr


def test_due_months_and_utc_input(runner):
    result = runner.invoke(args=["calendar", "due", "2025-01-31T02:00:00Z", "1", "month"])
    assert result.stdout.splitlines()[0] == "2025-03-01T00:00:00+08:00"  # last day 2025-02-28


def test_due_provisional_warns_on_stderr(runner):
    result = runner.invoke(args=["calendar", "due", "2026-12-28T10:00:00+08:00", "5", "workday"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "2027-01-06T00:00:00+08:00"
    assert "provisional" in result.stderr


def test_due_with_policy_close_of_business(runner, tmp_path, monkeypatch, app):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    from app.policy.profiles import PROFILE_DIR

    data = yaml.safe_load((PROFILE_DIR / "nantong.yaml").read_text(encoding="utf-8"))
    data["key"] = "office_hours"
    data["close_of_business"]["value"] = "17:30"
    (profiles / "office_hours.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setitem(app.config, "POLICY_DIR", str(profiles))
    result = runner.invoke(args=["calendar", "due", "2026-09-30T10:00:00+08:00", "1", "workday",
                                 "--policy", "office_hours"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "2026-10-08T17:30:00+08:00"


def test_due_bad_input_exits_2(runner):
    for args, hint in [
        (["2026-09-30T10:00:00", "3", "workday"], "no UTC offset"),
        (["yesterday", "3", "workday"], "not an ISO-8601"),
        (["2026-09-30T10:00:00+08:00", "0", "workday"], "0"),
        (["2026-09-30T10:00:00+08:00", "3", "days"], "days"),
        (["2026-09-30T10:00:00+08:00", "3", "workday", "--policy", "atlantis"], "no such policy profile"),
    ]:
        result = runner.invoke(args=["calendar", "due", *args])
        assert result.exit_code == 2, args
        assert hint in result.stderr, (args, result.stderr)


def test_check_ok_and_warns_about_next_year_in_november(runner):
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=LOCAL_TZ), tick=False):
        result = runner.invoke(args=["calendar", "check"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout.splitlines()
    assert "2027年节假日安排尚未加载" in result.stderr


def test_check_quiet_about_next_year_before_november(runner):
    with time_machine.travel(datetime(2026, 6, 1, 10, 0, tzinfo=LOCAL_TZ), tick=False):
        result = runner.invoke(args=["calendar", "check"])
    assert result.exit_code == 0 and "尚未加载" not in result.stderr


def test_check_fails_on_invalid_data(runner, app, calendar_copy, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_DIR", str(calendar_copy))
    bad = calendar_copy / "2025.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("date: 2025-01-26", "date: 2025-01-27"),
                   encoding="utf-8")
    result = runner.invoke(args=["calendar", "check"])
    assert result.exit_code == 1
    assert "2025.yaml" in result.stderr and "makeup_workdays[0].date (2025-01-27)" in result.stderr


def test_load_installs_year_and_recomputes(runner, app, calendar_copy, synthetic_2027, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_DIR", str(calendar_copy))
    record_deadline("task", "t1", datetime(2026, 12, 28, 10, 0, tzinfo=LOCAL_TZ), 5, "workday")
    commit()
    result = runner.invoke(args=["calendar", "load", str(synthetic_2027)])
    assert result.exit_code == 0, result.output
    assert "1 stored deadline(s) changed" in result.stdout
    assert (calendar_copy / "2027.yaml").exists()
    after = runner.invoke(args=["calendar", "due", "2026-12-28T10:00:00+08:00", "5", "workday"])
    assert after.stdout.splitlines()[0] == "2027-01-07T00:00:00+08:00" and "provisional" not in after.stderr


def test_load_refuses_invalid_file(runner, app, calendar_copy, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_DIR", str(calendar_copy))
    bad = tmp_path / "2027.yaml"
    bad.write_text("year: 2027\nnotices: {}\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "load", str(bad)])
    assert result.exit_code != 0 and "notices" in result.output
    assert not (calendar_copy / "2027.yaml").exists()
