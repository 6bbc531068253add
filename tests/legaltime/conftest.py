"""Fixtures for legal-time tests: the repository calendar, and a writable copy of it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.data import load_directory
from app.legaltime.service import REPO_CALENDAR_DIR


@pytest.fixture(scope="session")
def cal() -> WorkingDayCalendar:
    """The calendar built from calendars/ (2018–2026), no app needed."""
    return WorkingDayCalendar(load_directory(REPO_CALENDAR_DIR))


@pytest.fixture()
def calendar_copy(tmp_path) -> Path:
    """A throw-away copy of calendars/ that a test may add years to."""
    target = tmp_path / "calendars"
    shutil.copytree(REPO_CALENDAR_DIR, target)
    return target


SYNTHETIC_2027 = """\
year: 2027
notices:
  notice-2027:
    title: 国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）
    number: null
    date: 2026-11-20
holidays:
  - {festival: new_year, name: 元旦, start: 2027-01-01, end: 2027-01-04, notice: notice-2027}
  - {festival: spring_festival, name: 春节, start: 2027-02-05, end: 2027-02-13, notice: notice-2027}
makeup_workdays:
  - {date: 2027-01-09, festival: new_year, name: 元旦, notice: notice-2027}
"""


@pytest.fixture()
def synthetic_2027(tmp_path) -> Path:
    path = tmp_path / "incoming" / "2027.yaml"
    path.parent.mkdir()
    path.write_text(SYNTHETIC_2027, encoding="utf-8")
    return path
