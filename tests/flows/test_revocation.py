"""Revocation (撤销发布, 南通 art. 16; SPEC §4.2) through the HTTP API, on a frozen clock.

Filed on Wednesday 2026-09-30 10:00 (Shanghai) with the effective date 2026-10-15.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.catalog.grants import issue_grant
from app.catalog.models import CatalogEntry, Grant
from app.engine import fire_due_timers
from app.extensions import db
from app.org.models import Role
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import local, titles

REVOKE = {"reasons": "数据来源系统停用", "effective_date": "2026-10-15"}


def utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def grant(entry, department) -> int:
    row = issue_grant(entry, department, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                      valid_until=local(2027, 12, 31), authorised_by="provider")
    commit()
    return row.id


@pytest.fixture()
def world(city):
    class World:
        entry = f.entry(city.police_approver, "GA-REV", share_type="conditional")
        other_entry = f.entry(city.police_approver, "GA-KEEP", share_type="conditional")
        housing = f.department("zjj", "市住建局")
        housing_applicant = f.user(housing, "zjj.applicant", Role.APPLICANT)
        health_grant = grant(entry, city.health)
        housing_grant = grant(entry, housing)
        kept_grant = grant(other_entry, city.health)  # another entry's grant: untouched

    return World


def use(cases, user, grant_id):
    return cases.post(user, f"/api/grants/{grant_id}/use")


def test_approved_revocation_ends_exactly_the_entrys_grants_at_the_effective_date(cases, city, world, clock):
    key = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    assert key.startswith("CX-2026-")
    case = cases.case(key)
    assert case["status"] == "in_progress" and case["due_at"] == utc(local(2026, 10, 15))
    # told in advance: every department holding a grant, and the office
    for user in (city.health_applicant, world.housing_applicant, city.reviewer):
        assert "资源拟撤销发布" in titles(cases.notifications(user))
    assert "资源拟撤销发布" not in titles(cases.notifications(city.police_applicant))
    approval = cases.task(key, "office_approval")
    assert (approval["candidate_department_id"], approval["candidate_role"]) == (city.office.id, "office_reviewer")
    cases.do(city.reviewer, key, "office_approval", {"decision": "approve"})
    assert cases.case(key)["outcome"] == "approved"
    assert cases.open_tasks(key) == {}

    clock.move_to(local(2026, 10, 14, 23, 59, 59))
    assert fire_due_timers() == 0
    assert use(cases, city.health_applicant, world.health_grant).status_code == 200  # still valid

    clock.move_to(local(2026, 10, 15))  # 00:00 of the effective date
    assert fire_due_timers() == 1
    db.session.expire_all()
    assert db.session.get(CatalogEntry, world.entry.id).publish_state == "revoked"
    assert db.session.get(Grant, world.health_grant).status == "withdrawn"
    assert db.session.get(Grant, world.housing_grant).status == "withdrawn"
    assert db.session.get(Grant, world.kept_grant).status == "active"
    case = cases.case(key, city.police_approver)
    assert (case["status"], case["outcome"]) == ("closed", "revoked")
    for user in (city.health_applicant, world.housing_applicant, city.reviewer, city.police_approver):
        assert "资源已撤销发布，授权终止" in titles(cases.notifications(user))
    refused = use(cases, city.health_applicant, world.health_grant)
    assert refused.status_code == 403 and "撤销" in refused.json["message"]
    assert use(cases, city.health_applicant, world.kept_grant).status_code == 200
    # the grantees see the case; the history shows the timer
    detail = cases.detail(key, world.housing_applicant)
    assert "timer_fired" in [e["event_type"] for e in detail["timeline"]]


def test_refused_revocation_needs_reasons_and_leaves_the_entry_and_grants_alone(cases, city, world, clock):
    key = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    task_id = cases.task(key, "office_approval")["id"]
    response = cases.complete(city.reviewer, task_id, {"decision": "refuse"})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["reasons"] == ["不同意撤销的，必须说明理由"]
    cases.do(city.reviewer, key, "office_approval", {"decision": "refuse", "reasons": "仍有部门依赖该资源"})
    case = cases.case(key)
    assert (case["status"], case["outcome"], case["reasons"]) == ("closed", "refused", "仍有部门依赖该资源")
    assert cases.detail(key)["instance_status"] == "completed"
    clock.move_to(local(2026, 10, 16))
    assert fire_due_timers() == 0
    db.session.expire_all()
    assert db.session.get(CatalogEntry, world.entry.id).publish_state == "published"
    assert db.session.get(Grant, world.health_grant).status == "active"
    assert "撤销发布：不同意" in titles(cases.notifications(city.health_applicant))


def test_approval_after_the_effective_date_revokes_at_once(cases, city, world, clock):
    key = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    clock.move_to(local(2026, 10, 20, 9, 0))
    cases.do(city.reviewer, key, "office_approval", {"decision": "approve"})
    assert cases.case(key)["outcome"] == "revoked"
    db.session.expire_all()
    assert db.session.get(Grant, world.health_grant).status == "withdrawn"


def test_without_approval_in_the_profile_the_entry_is_revoked_at_the_date(cases, city, world, clock, profile):
    profile("baoji")  # revocation_needs_approval: false
    key = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    assert cases.open_tasks(key) == {}
    assert "资源拟撤销发布" in titles(cases.notifications(city.reviewer))  # still told in advance
    clock.move_to(local(2026, 10, 15))
    assert fire_due_timers() == 1
    assert cases.case(key)["outcome"] == "revoked"


def test_start_form_is_validated_with_chinese_field_errors(cases, city, world, clock):
    empty = cases.start(city.police_approver, "revocation", {})
    assert empty.status_code == 422
    assert set(empty.json["errors"]["json"]) == {"entry_id", "reasons", "effective_date"}
    today = cases.start(city.police_approver, "revocation",
                        {"entry_id": world.entry.id, **REVOKE, "effective_date": "2026-09-30"})
    assert "提前告知" in today.json["errors"]["json"]["effective_date"][0]
    foreign = cases.start(city.health_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    assert foreign.json["errors"]["json"]["entry_id"] == ["只能撤销本部门发布的资源"]
    draft = f.entry(city.police_approver, "GA-DRAFT", published=False)
    assert cases.start(city.police_approver, "revocation", {"entry_id": draft.id, **REVOKE}).status_code == 422
    not_allowed = cases.start(city.police_applicant, "revocation", {"entry_id": world.entry.id, **REVOKE})
    assert not_allowed.status_code == 403
    first = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    twice = cases.start(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    assert twice.status_code == 422 and first in twice.json["errors"]["json"]["entry_id"][0]
    assert cases.start(city.police_approver, "no_such_flow", {}).status_code == 404


def test_case_listing_and_visibility(cases, city, world, clock):
    key = cases.open(city.police_approver, "revocation", {"entry_id": world.entry.id, **REVOKE})
    listed = cases.get(city.health_applicant, "/api/cases", query_string={"flow": "revocation"}).json
    assert [c["business_key"] for c in listed] == [key]  # a grantee of the entry sees it
    outsider = f.user(f.department("sfj", "市司法局"), "sfj.applicant", Role.APPLICANT)
    commit()
    assert cases.get(outsider, "/api/cases").json == []
    assert cases.get(outsider, f"/api/cases/{key}").status_code == 403
    flows = {fl["flow"]: fl for fl in cases.get(city.police_approver, "/api/cases/flows").json}
    assert flows["revocation"]["can_start"] and not flows["rectification"]["can_start"]
    assert not flows["idle_grant_review"]["can_start"]
