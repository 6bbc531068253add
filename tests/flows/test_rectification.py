"""Rectification notice (整改通知, 宝鸡 art. 29; 南通 art. 33; 乌海 art. 20; SPEC §4.4) and the
suspension it can lead to, through the HTTP API on a frozen clock.

Issued on Wednesday 2026-09-30 10:00 (Shanghai) with the deadline Friday 2026-10-16: due at
24:00 that day; the reminder is 09:00 two working days before, Wednesday 2026-10-14.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.catalog.grants import issue_grant
from app.engine import fire_due_timers
from app.extensions import db
from app.org.models import Department
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import local, titles

NOTICE = {"violation_category": "data_inaccurate", "description": "人口数据长期未更新", "deadline": "2026-10-16"}
DUE = local(2026, 10, 17)  # 24:00 on 16 October


def utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


@pytest.fixture()
def world(city, cases):
    class World:
        entry = f.entry(city.police_approver, "GA-R1", share_type="conditional")
        grant = issue_grant(entry, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                            valid_until=local(2027, 12, 31), authorised_by="provider").id
        notice = {**NOTICE, "rectified_department_id": city.health.id}

    commit()
    return World


def use(cases, user, grant_id):
    return cases.post(user, f"/api/grants/{grant_id}/use")


def suspended(city) -> bool:
    db.session.expire_all()
    return db.session.get(Department, city.health.id).suspended


def test_missed_deadline_suspends_the_department_until_the_office_accepts_its_rectification(
        cases, city, world, clock, profile):
    profile("baoji")  # 宝鸡 art. 29: suspension after a missed rectification
    key = cases.open(city.reviewer, "rectification", world.notice)
    assert key.startswith("ZG-2026-")
    assert "整改通知：提供的数据不真实、不准确、不一致、未及时更新或无法使用" in titles(
        cases.notifications(city.health_approver))
    report = cases.task(key, "rectification_report")
    assert (report["candidate_department_id"], report["candidate_role"]) == (city.health.id, "provider_approver")
    assert report["due_at"] == utc(DUE)
    assert report["reminder_at"] == utc(local(2026, 10, 14, 9, 0))

    clock.move_to(local(2026, 10, 14, 9, 0))
    assert fire_due_timers() == 1
    assert "催办：报告整改情况" in titles(cases.notifications(city.health_approver))
    assert use(cases, city.health_applicant, world.grant).status_code == 200

    clock.move_to(DUE)  # exactly at 24:00 on the last day
    assert fire_due_timers() == 1
    assert suspended(city)
    tasks = cases.open_tasks(key)
    assert set(tasks) == {"rectification_report", "report_missed_rectification"}
    assert tasks["rectification_report"]["sla_state"] == "overdue"
    assert tasks["report_missed_rectification"]["candidate_department_id"] == city.office.id
    assert "整改通知：暂停共享数据使用资格" in titles(cases.notifications(city.health_approver))

    # suspension is enforced: grants refuse use, new applications and demands are refused
    refused = use(cases, city.health_applicant, world.grant)
    assert refused.status_code == 403 and "暂停" in refused.json["message"]
    application = cases.submit(city.health_applicant, world.entry)
    assert application.status_code == 403
    assert "暂停共享数据使用资格" in application.json["message"] and key in application.json["message"]

    cases.do(city.reviewer, key, "report_missed_rectification",
             {"circular_no": "宝信办〔2026〕3号", "circular_note": "已上报市政府"})
    cases.do(city.health_approver, key, "rectification_report", {"report": "已完成数据更新"})
    verification = cases.task(key, "rectification_verification")["id"]
    no_opinion = cases.complete(city.reviewer, verification, {"decision": "send_back"})
    assert no_opinion.status_code == 422 and "opinion" in no_opinion.json["errors"]["json"]
    cases.do(city.reviewer, key, "rectification_verification",
             {"decision": "send_back", "opinion": "仍有三张表未更新"})
    assert suspended(city)  # still suspended while the rectification is sent back
    cases.do(city.health_approver, key, "rectification_report", {"report": "三张表均已更新"})
    cases.do(city.reviewer, key, "rectification_verification", {"decision": "accept"})

    assert not suspended(city)
    case = cases.case(key)
    assert (case["status"], case["outcome"]) == ("closed", "rectified")
    assert "已恢复共享数据使用资格" in titles(cases.notifications(city.health_approver))
    assert use(cases, city.health_applicant, world.grant).status_code == 200
    assert cases.submit(city.health_applicant, world.entry, requested_valid_from="2026-10-20").status_code == 201


def test_where_the_profile_only_circulates_the_department_is_not_suspended(cases, city, world, clock):
    key = cases.open(city.reviewer, "rectification", world.notice)  # 南通: written circular only
    clock.move_to(DUE)
    fire_due_timers()
    assert not suspended(city)
    assert set(cases.open_tasks(key)) == {"rectification_report", "report_missed_rectification"}
    assert cases.case(key)["outcome"] == "overdue"
    assert use(cases, city.health_applicant, world.grant).status_code == 200


def test_rectified_in_time_leaves_no_timer_and_no_suspension(cases, city, world, clock, profile):
    profile("baoji")
    key = cases.open(city.reviewer, "rectification", world.notice)
    cases.do(city.health_approver, key, "rectification_report", {"report": "已更新"})
    cases.do(city.reviewer, key, "rectification_verification", {"decision": "accept"})
    clock.move_to(local(2026, 11, 30))
    assert fire_due_timers() == 0
    assert not suspended(city)
    assert cases.detail(key)["instance_status"] == "completed"


def test_a_second_rectification_keeps_the_suspension_until_it_is_rectified_too(cases, city, world, clock, profile):
    profile("baoji")
    first = cases.open(city.reviewer, "rectification", world.notice)
    second = cases.open(city.reviewer, "rectification", {**world.notice, "violation_category": "misuse"})
    clock.move_to(DUE)
    assert fire_due_timers() == 4  # each: the reminder and the escalation
    for key in (first, second):
        cases.do(city.health_approver, key, "rectification_report", {"report": "已整改"})
    cases.do(city.reviewer, first, "rectification_verification", {"decision": "accept"})
    assert suspended(city)
    cases.do(city.reviewer, second, "rectification_verification", {"decision": "accept"})
    assert not suspended(city)


def test_default_deadline_and_start_form_validation(cases, city, world, clock):
    default = cases.open(city.reviewer, "rectification", {**world.notice, "deadline": None})
    # rectification_default: 15 working days after 30 Sep (National Day) → 27 October
    assert cases.task(default, "rectification_report")["due_at"] == utc(local(2026, 10, 28))
    assert cases.start(city.health_approver, "rectification", world.notice).status_code == 403
    empty = cases.start(city.reviewer, "rectification", {})
    assert set(empty.json["errors"]["json"]) == {"rectified_department_id", "violation_category", "description"}
    bad = cases.start(city.reviewer, "rectification", {**world.notice, "violation_category": "x"})
    assert bad.json["errors"]["json"]["violation_category"][0].startswith("请从以下选项中选择")
    past = cases.start(city.reviewer, "rectification", {**world.notice, "deadline": "2026-09-30"})
    assert past.json["errors"]["json"]["deadline"] == ["整改期限须晚于今天"]
    office = cases.start(city.reviewer, "rectification", {**world.notice, "rectified_department_id": city.office.id})
    assert office.status_code == 422
