"""Demand for an unpublished resource (未发布资源需求, 南通 arts. 24–25; 西城 art. 26; SPEC §4.3)
through the HTTP API, on a frozen clock.

A demand received on Tuesday 2026-09-01 must be published within 1 month: 1 October is National
Day, so the period rolls to the first working day after the holiday, Thursday 8 October
(民法典 arts. 202–203). A demand received on Wednesday 2026-09-30 must be answered within 10
working days: 20 October.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from app.engine import fire_due_timers
from app.org.models import Role
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import PDF, local, titles

NEED = {"resource_name": "不动产登记信息", "description": "权利人、坐落、面积", "purpose": "住房保障资格审核"}


def utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


@pytest.fixture()
def demand(cases, city):
    """`demand(**fields)` files a demand with the sealed letter (南通 art. 24) as the health applicant."""

    def file(user=None, **fields):
        data = {**NEED, **{k: v for k, v in fields.items() if v is not None}}
        data["letter"] = (io.BytesIO(PDF), "需求函.pdf")
        return cases.open(user or city.health_applicant, "unpublished_demand",
                          data=data, content_type="multipart/form-data")

    return file


def test_will_publish_month_deadline_rolls_over_national_day_then_escalates(cases, city, demand, clock):
    clock.move_to(local(2026, 9, 1, 10, 0))
    key = demand(provider_department_id=city.police.id)
    assert key.startswith("DM-2026-")
    case = cases.case(key)
    assert case["department_id"] == city.police.id and case["letter_attachment_id"]
    answer = cases.task(key, "demand_answer")
    assert (answer["candidate_department_id"], answer["candidate_role"]) == (city.police.id, "provider_approver")
    cases.do(city.police_approver, key, "demand_answer", {"decision": "will_publish"})
    assert "未发布资源需求：将在1个月内发布" in titles(cases.notifications(city.health_applicant))
    publish = cases.task(key, "publish_resource")
    # 1 month from 1 September = 1 October, a holiday → 8 October, the next working day; 24:00
    assert publish["due_at"] == utc(local(2026, 10, 9))
    assert publish["reminder_at"] == utc(local(2026, 9, 29, 9, 0))  # 2 working days before 8 October

    clock.move_to(local(2026, 10, 8, 23, 59))
    fire_due_timers()  # the reminder only
    assert cases.task(key, "publish_resource")["sla_state"] == "due_soon"
    assert "supervise_overdue" not in cases.open_tasks(key)
    clock.move_to(local(2026, 10, 9))
    assert fire_due_timers() == 1
    tasks = cases.open_tasks(key)
    assert tasks["publish_resource"]["sla_state"] == "overdue"
    assert tasks["supervise_overdue"]["candidate_department_id"] == city.office.id
    cases.do(city.reviewer, key, "supervise_overdue", {"supervision_opinion": "已督促公安局尽快发布"})

    draft = f.entry(city.police_approver, "GA-BDC", published=False)
    wrong = cases.complete(city.police_approver, tasks["publish_resource"]["id"], {"published_entry_id": draft.id})
    assert wrong.status_code == 422
    assert wrong.json["errors"]["json"]["published_entry_id"] == ["请选择本部门已发布的目录条目"]
    published = f.entry(city.police_approver, "GA-BDC2")
    cases.do(city.police_approver, key, "publish_resource", {"published_entry_id": published.id})
    case = cases.case(key, city.health_applicant)
    assert (case["status"], case["outcome"], case["entry_id"]) == ("closed", "published", published.id)
    assert "未发布资源需求：已发布" in titles(cases.notifications(city.health_applicant))


def test_cannot_publish_needs_reasons_is_due_in_ten_working_days_and_filed_with_the_office(
        cases, city, demand, clock):
    key = demand(provider_department_id=city.police.id)
    answer = cases.task(key, "demand_answer")
    assert answer["due_at"] == utc(local(2026, 10, 21))  # 10 working days: end of 20 October
    missing = cases.complete(city.police_approver, answer["id"], {"decision": "cannot_publish"})
    assert missing.status_code == 422 and "客观原因" in missing.json["errors"]["json"]["reasons"][0]
    cases.do(city.police_approver, key, "demand_answer",
             {"decision": "cannot_publish", "reasons": "系统改造中，年底前无法接入"})
    case = cases.case(key)
    assert (case["status"], case["outcome"]) == ("closed", "feedback_filed")
    for user in (city.health_applicant, city.reviewer):
        assert "未发布资源需求：暂无法发布，已反馈并备案" in titles(cases.notifications(user))


def test_unanswered_demand_is_reminded_then_supervised(cases, city, demand, clock):
    key = demand(provider_department_id=city.police.id)
    clock.move_to(local(2026, 10, 16, 9, 0))  # 2 working days before 20 October
    assert fire_due_timers() == 1
    assert "催办：答复资源需求" in titles(cases.notifications(city.police_approver))
    clock.move_to(local(2026, 10, 21))
    assert fire_due_timers() == 1
    assert set(cases.open_tasks(key)) == {"demand_answer", "supervise_overdue"}


def test_office_routes_an_unaddressed_demand_and_reroutes_one_outside_the_remit(cases, city, demand, clock):
    housing = f.department("zjj", "市住建局")
    housing_approver = f.user(housing, "zjj.approver", Role.PROVIDER_APPROVER)
    commit()
    key = demand()
    route = cases.task(key, "route_demand")
    assert route["candidate_department_id"] == city.office.id
    own = cases.complete(city.reviewer, route["id"], {"provider_department_id": city.health.id})
    assert own.status_code == 422 and "provider_department_id" in own.json["errors"]["json"]
    cases.do(city.reviewer, key, "route_demand", {"provider_department_id": city.police.id})
    assert cases.case(key)["department_id"] == city.police.id
    cases.do(city.police_approver, key, "demand_answer",
             {"decision": "not_in_remit", "reasons": "不动产登记由住建局负责"})
    assert "未发布资源需求：不属于本部门履职范围" in titles(cases.notifications(city.health_applicant))
    clock.move_to(local(2026, 10, 9, 10, 0))
    cases.do(city.reviewer, key, "reroute_demand", {"decision": "reroute", "provider_department_id": housing.id})
    answer = cases.task(key, "demand_answer")
    assert answer["candidate_department_id"] == housing.id
    # the period restarts on receipt: 9 Oct + 10 wd, counting the make-up Saturday 10 Oct = 22 Oct
    assert answer["due_at"] == utc(local(2026, 10, 23))
    cases.do(housing_approver, key, "demand_answer", {"decision": "not_in_remit", "reasons": "亦非本局职责"})
    cases.do(city.reviewer, key, "reroute_demand", {"decision": "close", "note": "无对应部门"})
    case = cases.case(key, city.health_applicant)
    assert (case["status"], case["outcome"]) == ("closed", "closed")


def test_start_form_letter_role_and_suspension(cases, city, clock):
    no_letter = cases.start(city.health_applicant, "unpublished_demand", NEED)
    assert no_letter.status_code == 422 and "letter" in no_letter.json["errors"]["json"]
    empty = cases.start(city.health_applicant, "unpublished_demand", {})
    assert set(empty.json["errors"]["json"]) == {"resource_name", "description", "purpose"}
    own = cases.start(city.health_applicant, "unpublished_demand", {**NEED, "provider_department_id": city.health.id})
    assert own.json["errors"]["json"]["provider_department_id"] == ["不能向本部门提出资源需求"]
    assert cases.start(city.police_approver, "unpublished_demand", NEED).status_code == 403
    city.health.suspended, city.health.suspended_reason = True, "ZG-2026-000001 逾期未整改"
    commit()
    refused = cases.start(city.health_applicant, "unpublished_demand", NEED)
    assert refused.status_code == 403 and "暂停共享数据使用资格" in refused.json["message"]
