"""The January report period on the supervisors' desk (宝鸡 art. 24; profile switch
annual_report): one case per past year, started by the scheduler's job, its step due one month
after the year's last day (31 January 2026 is a Saturday: rolled to Monday 2 February)."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.clock import as_utc
from app.engine import deploy, fire_due_timers
from app.engine.models import HumanTask, TaskState
from app.engine.scheduler import PERIODIC_JOBS
from app.extensions import db
from app.flows.annual_report import start_annual_report
from tests.flows.conftest import local

BPMN = Path(__file__).resolve().parents[2] / "bpmn" / "annual_report.bpmn"


@pytest.fixture()
def january(cases, clock, profile):
    deploy(BPMN)
    profile("baoji")
    clock.move_to(local(2026, 1, 5, 1, 0))  # the new year's first working day, before office hours


def _report_task() -> HumanTask:
    return db.session.scalars(db.select(HumanTask).where(HumanTask.task_spec == "compile_annual_report")).one()


def test_the_past_years_report_is_a_supervisors_task_due_at_the_end_of_january(january, cases, city, clock):
    assert "start_annual_report" in PERIODIC_JOBS
    case = start_annual_report()
    assert case is not None and case.business_key.startswith("ND-2026-") and case.title == "2025年度政务信息资源共享情况报告"
    assert start_annual_report() is None  # once a year
    task = _report_task()
    assert (task.candidate_department_id, task.candidate_role) == (city.office.id, "supervisor")
    assert as_utc(task.due_at) == local(2026, 2, 3)  # 24:00 on Monday 2 February
    inbox = cases.get(city.supervisor, "/api/tasks", query_string={"view": "groups"}).json
    assert [t["task_spec"] for t in inbox] == ["compile_annual_report"]
    assert cases.get(city.reviewer, "/api/tasks", query_string={"view": "groups"}).json == []  # the supervisors' desk, not the reviewers'
    missing = cases.complete(city.supervisor, task.id, {})
    assert missing.status_code == 422 and "report_summary" in missing.json["errors"]["json"]
    cases.do(city.supervisor, case.business_key, "compile_annual_report",
             {"report_summary": "已收到全部部门报告，汇总后报市政府"})
    done = cases.case(case.business_key, city.supervisor)
    assert (done["status"], done["outcome"]) == ("closed", "reported")


def test_an_unfinished_report_is_overdue_after_its_last_day(january, cases, city, clock):
    start_annual_report()
    clock.move_to(local(2026, 2, 3, 0, 0))
    fire_due_timers()
    task = _report_task()
    db.session.refresh(task)
    assert task.state == TaskState.READY and task.sla_state == "overdue"
    figures = {d["department_id"]: d for d in cases.get(city.supervisor, "/api/sla/summary").json["departments"]}
    assert figures[city.office.id]["overdue"] == 1


def test_no_report_task_where_the_profile_has_none(cases, clock, profile):
    deploy(BPMN)
    profile("nantong")
    clock.move_to(local(2026, 1, 5, 1, 0))
    assert start_annual_report() is None
