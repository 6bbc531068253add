"""Data objection (疑义校核, 宝鸡 art. 19; 南通 art. 29; 西城 art. 28; SPEC §4.5) through the
HTTP API, on a frozen clock. Raised on Wednesday 2026-09-30 10:00; objection_verification is 5
working days (南通 profile default): the last day is 13 October (after National Day).
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.catalog.grants import issue_grant
from app.engine import fire_due_timers
from app.org.models import Role
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import local, titles


def utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


@pytest.fixture()
def world(city):
    class World:
        entry = f.entry(city.police_approver, "GA-OBJ", share_type="conditional")
        housing = f.department("zjj", "市住建局")
        housing_applicant = f.user(housing, "zjj.applicant", Role.APPLICANT)
        objection = {"entry_id": entry.id, "items": ["公民身份号码"], "description": "部分身份号码校验位错误"}

    for dept in (city.health, World.housing):
        issue_grant(World.entry, dept, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                    valid_until=local(2027, 12, 31), authorised_by="provider")
    commit()
    return World


def test_correction_is_pushed_to_every_grantee_and_the_office(cases, city, world, clock):
    key = cases.open(city.health_applicant, "data_objection", world.objection)
    assert key.startswith("YY-2026-")
    assert "数据疑义：测试资源GA-OBJ" in titles(cases.notifications(city.reviewer))  # filed with the office
    verification = cases.task(key, "objection_verification")
    assert (verification["candidate_department_id"], verification["candidate_role"]) == (
        city.police.id, "provider_approver")
    assert verification["due_at"] == utc(local(2026, 10, 14))
    missing = cases.complete(city.police_approver, verification["id"], {"decision": "correct"})
    assert missing.status_code == 422 and "verification_note" in missing.json["errors"]["json"]
    cases.do(city.police_approver, key, "objection_verification",
             {"decision": "correct", "verification_note": "已修正 12 条记录的校验位"})
    case = cases.case(key, city.health_applicant)
    assert (case["status"], case["outcome"]) == ("closed", "corrected")
    for user in (city.health_applicant, world.housing_applicant, city.reviewer):
        assert titles(cases.notifications(user)).count("数据疑义校核：数据已更正") == 1  # the objector
        # is also a grantee: told once
    assert cases.get(city.reviewer, f"/api/cases/{key}").status_code == 200  # the office sees the case
    assert cases.get(world.housing_applicant, f"/api/cases/{key}").status_code == 403  # not a party


def test_confirmed_data_is_explained_to_the_objector_only(cases, city, world, clock):
    key = cases.open(city.health_applicant, "data_objection", world.objection)
    cases.do(city.police_approver, key, "objection_verification",
             {"decision": "confirm", "verification_note": "经核对与户籍系统一致"})
    case = cases.case(key)
    assert (case["outcome"], case["reasons"]) == ("confirmed", "经核对与户籍系统一致")
    assert "数据疑义校核：经核实数据无误" in titles(cases.notifications(city.health_applicant))
    assert not any("数据疑义校核" in t for t in titles(cases.notifications(world.housing_applicant)))


def test_verification_is_reminded_then_supervised(cases, city, world, clock):
    key = cases.open(city.health_applicant, "data_objection", world.objection)
    task = cases.task(key, "objection_verification")
    clock.move_to(datetime.fromisoformat(task["reminder_at"]))
    assert fire_due_timers() == 1
    assert cases.task(key, "objection_verification")["sla_state"] == "due_soon"
    clock.move_to(local(2026, 10, 14))
    assert fire_due_timers() == 1
    assert set(cases.open_tasks(key)) == {"objection_verification", "supervise_overdue"}


def test_only_a_grantee_may_object(cases, city, world, clock):
    outsider = cases.start(city.police_applicant, "data_objection", world.objection)
    assert outsider.json["errors"]["json"]["entry_id"] == ["只有获得该资源授权的使用部门可以提出数据疑义"]
    items = cases.start(city.health_applicant, "data_objection", {**world.objection, "items": ["住址"]})
    assert items.json["errors"]["json"]["items"] == ["资源中没有这些信息项：住址"]
    assert cases.start(city.police_approver, "data_objection", world.objection).status_code == 403
    empty = cases.start(city.health_applicant, "data_objection", {})
    assert set(empty.json["errors"]["json"]) == {"entry_id", "description"}
