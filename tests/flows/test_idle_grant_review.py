"""Idle-grant withdrawal (闲置授权收回, 南通 art. 26; SPEC §4.2): `flask grants propose-idle`
proposes, the provider withdraws or keeps, through the HTTP API on a frozen clock (Wednesday
2026-09-30 10:00). Idle = unused for longer than 3 months by the month rule: last used on
29 June → idle from 30 September; last used on 30 June → not yet.
"""
from __future__ import annotations

import pytest

from app.catalog.grants import issue_grant
from app.catalog.models import Grant
from app.extensions import db
from app.flows.models import Case
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import local, titles


def propose(runner) -> str:
    result = runner.invoke(args=["grants", "propose-idle"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def world(city, cases):
    entry = f.entry(city.police_approver, "GA-IDLE", share_type="conditional")
    other = f.entry(city.police_approver, "GA-BUSY", share_type="conditional")

    def grant(entry, last_used=None):
        row = issue_grant(entry, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                          valid_until=local(2027, 12, 31), authorised_by="provider")
        row.last_used_at = last_used
        return row

    class World:
        never_used = grant(entry)
        idle = grant(other, local(2026, 6, 29, 15, 0))
        recent = grant(other, local(2026, 6, 30, 15, 0))

    commit()
    return World


def idle_cases() -> dict[int, Case]:
    db.session.expire_all()
    return {c.grant_id: c for c in db.session.query(Case).filter_by(flow="idle_grant_review")}


def proposals_of(grant_id: int) -> int:
    db.session.expire_all()
    return db.session.query(Case).filter_by(flow="idle_grant_review", grant_id=grant_id).count()


def test_platform_proposes_idle_grants_once_and_the_provider_withdraws(cases, city, world, clock, runner):
    output = propose(runner)
    assert "发起闲置授权收回建议 2 件" in output
    proposed = idle_cases()
    assert set(proposed) == {world.never_used.id, world.idle.id}
    assert propose(runner).endswith("发起闲置授权收回建议 0 件（超过 3 个月未使用）\n")  # never twice while open
    key = proposed[world.never_used.id].business_key
    assert key.startswith("XH-2026-")
    decision = cases.task(key, "idle_grant_decision")
    assert (decision["candidate_department_id"], decision["candidate_role"]) == (city.police.id, "provider_approver")
    assert cases.get(city.health_applicant, f"/api/cases/{key}").status_code == 200  # the grantee sees it
    cases.do(city.police_approver, key, "idle_grant_decision", {"decision": "withdraw"})
    db.session.expire_all()
    assert db.session.get(Grant, world.never_used.id).status == "withdrawn"
    assert db.session.get(Grant, world.idle.id).status == "active"
    assert "闲置授权收回：已收回授权" in titles(cases.notifications(city.health_applicant))
    refused = cases.post(city.health_applicant, f"/api/grants/{world.never_used.id}/use")
    assert refused.status_code == 403 and "收回" in refused.json["message"]


def test_provider_keeps_a_seasonal_grant_with_reasons_and_the_idle_period_restarts(
        cases, city, world, clock, runner):
    propose(runner)
    key = idle_cases()[world.idle.id].business_key
    task_id = cases.task(key, "idle_grant_decision")["id"]
    missing = cases.complete(city.police_approver, task_id, {"decision": "keep"})
    assert missing.status_code == 422 and "季节性" in missing.json["errors"]["json"]["reasons"][0]
    cases.do(city.police_approver, key, "idle_grant_decision",
             {"decision": "keep", "reasons": "防汛季节性使用，每年6–9月"})
    case = cases.case(key)
    assert (case["status"], case["outcome"]) == ("closed", "kept")
    db.session.expire_all()
    assert db.session.get(Grant, world.idle.id).status == "active"
    clock.move_to(local(2026, 12, 30, 10, 0))  # kept on 30 September: 3 months end on 30 December
    propose(runner)
    assert proposals_of(world.idle.id) == 1
    clock.move_to(local(2026, 12, 31, 10, 0))
    propose(runner)
    assert proposals_of(world.idle.id) == 2


def test_recording_use_keeps_a_grant_from_being_proposed(cases, city, world, clock, runner):
    assert cases.post(city.health_applicant, f"/api/grants/{world.never_used.id}/use").status_code == 200
    propose(runner)
    assert set(idle_cases()) == {world.idle.id}


def test_the_recent_grant_becomes_idle_the_day_after_its_three_months(cases, city, world, clock, runner):
    propose(runner)
    assert world.recent.id not in idle_cases()
    clock.move_to(local(2026, 10, 1, 9, 0))
    propose(runner)
    assert world.recent.id in idle_cases()


def test_no_proposals_where_the_profile_has_no_idle_withdrawal_and_no_manual_start(
        cases, city, world, clock, runner, profile):
    profile("baoji")
    assert "未启用闲置授权收回" in propose(runner)
    assert idle_cases() == {}
    assert cases.start(city.police_approver, "idle_grant_review", {}).status_code == 403
