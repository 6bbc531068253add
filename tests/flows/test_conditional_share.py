"""Every branch of the conditional-share flow (SPEC §4.1), through the HTTP API, on a frozen clock.

Dates: the applications are filed on Wednesday 2026-09-30 10:00 (Shanghai); 1–7 October is the
National Day holiday and Saturday 10 October a make-up working day, so the N-th working day
after the event is: 1 → 8 Oct, 2 → 9 Oct, 5 → 13 Oct, 10 → 20 Oct, 15 → 27 Oct.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.catalog.models import Grant
from app.engine import deploy, fire_due_timers, refresh_sla_states
from app.engine.models import HumanTask
from app.extensions import db
from app.flows.conditional_share import proposed_terms
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import BPMN_FILE, local

APPROVE = {"decision": "approve", "scope": "姓名、公民身份号码", "valid_from": "2026-10-01",
           "valid_until": "2027-03-31"}


def utc(dt: datetime) -> str:
    """The API's rendering of an instant (UTC, ISO 8601)."""
    return dt.astimezone(timezone.utc).isoformat()


def kinds(notes: list[dict]) -> list[str]:
    return [n["kind"] for n in notes]


# ---- unconditional / not shared --------------------------------------------------------------

def test_unconditional_resource_is_granted_at_once_by_the_platform(flow, entries, city, clock, profile):
    profile("baoji")  # 宝鸡 art. 16: unconditional data is obtained directly
    key = flow.apply(city.health_applicant, entries.unconditional)
    detail = flow.detail(key, city.health_applicant)
    assert detail["application"]["status"] == "granted"
    assert detail["open_tasks"] == []  # no approval (宝鸡 art. 16, 南通 art. 18)
    assert detail["grant"]["authorised_by"] == "platform"
    assert detail["grant"]["status"] == "active"
    assert not [e for e in detail["timeline"] if e["event_type"] == "started"]


def test_nantong_has_the_office_check_what_the_platform_authorises(flow, entries, city, clock):
    # 南通 art. 18: no control parameters → the platform authorises; art. 23: the office checks
    # that within 2 working days — the grant does not come at once
    key = flow.apply(city.health_applicant, entries.unconditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    check = flow.task(key, "platform_authorisation")
    assert (check["candidate_department_id"], check["candidate_role"]) == (city.office.id, "office_reviewer")
    assert check["due_at"] == utc(local(2026, 10, 10))  # 2 wd after 30 Sep, the holiday skipped: 8, 9 Oct
    assert flow.detail(key)["grant"] is None
    flow.do(city.reviewer, key, "platform_authorisation", {
        "decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-01", "valid_until": "2027-09-30"})
    grant = flow.detail(key, city.health_applicant)["grant"]
    assert (grant["status"], grant["authorised_by"]) == ("active", "platform")


def test_unconditional_data_needing_control_parameters_is_authorised_by_its_provider(flow, entries, city, clock):
    controlled = f.entry(city.police_approver, "GA-PARAM", share_type="unconditional", needs_control_parameters=True)
    commit()
    key = flow.apply(city.health_applicant, controlled)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    assert set(flow.open_tasks(key)) == {"provider_review"}  # 南通 art. 18
    flow.do(city.police_approver, key, "provider_review", {
        "decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-01", "valid_until": "2027-09-30"})
    assert flow.detail(key, city.health_applicant)["grant"]["authorised_by"] == "provider"


def test_a_diagram_granting_at_once_what_must_be_authorised_is_refused_by_the_verb(flow, entries, city, clock):
    # an edit that drops the condition: every unconditional resource straight to the grant
    xml = BPMN_FILE.read_text(encoding="utf-8").replace(
        "share_type == 'unconditional' and granted_at_once", "share_type == 'unconditional'")
    deploy(xml.encode("utf-8"))
    refused = flow.submit(city.health_applicant, entries.unconditional)
    assert refused.status_code == 403 and "平台直接授权" in refused.json["message"]
    assert db.session.scalar(select(func.count()).select_from(Grant)) == 0


def test_not_shared_resource_goes_straight_to_negotiation_then_office_arbitration(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.not_shared)
    assert set(flow.open_tasks(key)) == {"negotiation"}
    # a failed negotiation needs an account of the disagreement
    response = flow.complete(city.health_applicant, flow.task(key, "negotiation")["id"],
                             {"decision": "fail"})
    assert response.status_code == 422
    assert "negotiation_note" in response.json["errors"]["json"]
    flow.do(city.health_applicant, key, "negotiation",
            {"decision": "fail", "negotiation_note": "公安局认为法律禁止提供"})
    arbitration = flow.task(key, "office_arbitration")
    assert (arbitration["candidate_department_id"], arbitration["candidate_role"]) == (city.office.id, "office_reviewer")
    flow.do(city.reviewer, key, "office_arbitration", {"decision": "refuse", "reasons": "确无法律依据"})
    detail = flow.detail(key, city.health_applicant)
    assert detail["application"]["status"] == "refused"
    assert detail["application"]["reasons"] == "确无法律依据"
    assert detail["instance_status"] == "completed" and detail["grant"] is None


# ---- formal review (南通 art. 21) ------------------------------------------------------------

def test_formal_review_returns_with_reasons_then_applicant_amends_and_resubmits(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    review = flow.task(key, "formal_review")
    assert review["due_at"] == utc(local(2026, 10, 9))  # 1 working day: end of 8 October
    response = flow.complete(city.reviewer, review["id"], {"decision": "return"})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["return_reasons"]
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "申请函未盖章"})
    assert flow.detail(key)["application"]["status"] == "returned"
    assert "decision" in kinds(flow.notifications(city.health_applicant))
    amend = flow.task(key, "amend_application")
    assert amend["candidate_department_id"] == city.health.id
    flow.do(city.health_applicant, key, "amend_application",
            {"decision": "resubmit", "amendment_note": "补盖公章", "purpose": "出生登记核验（补正）"})
    detail = flow.detail(key)
    assert detail["application"]["status"] == "in_progress"
    assert detail["application"]["purpose"] == "出生登记核验（补正）"
    assert set(flow.open_tasks(key)) == {"formal_review"}
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    assert set(flow.open_tasks(key)) == {"provider_review"}


def test_applicant_may_withdraw_a_returned_application(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "用途不明确"})
    flow.do(city.health_applicant, key, "amend_application", {"decision": "withdraw"})
    detail = flow.detail(key, city.health_applicant)
    assert detail["application"]["status"] == "withdrawn"
    assert detail["open_tasks"] == [] and detail["instance_status"] == "completed"


# ---- platform authorisation (南通 arts. 18, 23) -------------------------------------------------

def test_platform_authorisation_grants_and_pushes_the_result_to_the_provider(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.platform)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "platform_authorisation")
    assert task["candidate_department_id"] == city.office.id
    assert task["due_at"] == utc(local(2026, 10, 10))  # 2 working days: end of 9 October
    flow.do(city.reviewer, key, "platform_authorisation", APPROVE)
    detail = flow.detail(key, city.police_approver)
    assert detail["grant"]["authorised_by"] == "platform"
    assert detail["application"]["status"] == "granted"
    titles = [n["title"] for n in flow.notifications(city.police_approver)]
    assert "平台授权结果" in titles  # pushed to the provider


def test_platform_mode_is_ignored_where_the_profile_has_no_platform_authorisation(flow, entries, city, clock, profile):
    profile("baoji")
    key = flow.apply(city.health_applicant, entries.platform)
    assert set(flow.open_tasks(key)) == {"provider_review"}


# ---- provider review -------------------------------------------------------------------------

def test_provider_approves_with_scope_and_period_within_the_request(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional, requested_valid_until="2027-06-30")
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task_id = flow.task(key, "provider_review")["id"]
    too_long = flow.complete(city.police_approver, task_id, {**APPROVE, "valid_until": "2027-07-01"})
    assert too_long.status_code == 422
    assert "2027-06-30" in too_long.json["errors"]["json"]["valid_until"][0]
    backwards = flow.complete(city.police_approver, task_id, {**APPROVE, "valid_until": "2026-09-01"})
    assert backwards.status_code == 422
    no_scope = flow.complete(city.police_approver, task_id, {**APPROVE, "scope": " "})
    assert no_scope.json["errors"]["json"]["scope"]
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    grant = flow.detail(key, city.health_applicant)["grant"]
    assert grant["scope"] == "姓名、公民身份号码"
    assert grant["authorised_by"] == "provider"
    assert grant["valid_from"] == utc(local(2026, 10, 1))
    assert grant["valid_until"] == utc(local(2027, 4, 1))  # end (24:00) of 31 March
    assert "decision" in kinds(flow.notifications(city.health_applicant))


def test_refusal_needs_reasons_then_negotiation_succeeds(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task_id = flow.task(key, "provider_review")["id"]
    response = flow.complete(city.police_approver, task_id, {"decision": "refuse"})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["reasons"] == ["不予共享的，必须说明理由"]
    assert set(flow.open_tasks(key)) == {"provider_review"}  # nothing changed
    flow.do(city.police_approver, key, "provider_review", {"decision": "refuse", "reasons": "涉及个人隐私"})
    detail = flow.detail(key, city.health_applicant)
    assert detail["application"]["status"] == "in_progress"  # not final: negotiation (宝鸡 art. 16)
    assert detail["application"]["reasons"] == "涉及个人隐私"
    assert set(flow.open_tasks(key)) == {"negotiation"}
    flow.do(city.health_applicant, key, "negotiation",
            {"decision": "agree", "scope": "仅公民身份号码", "valid_from": "2026-10-08",
             "valid_until": "2026-12-31"})
    # 宝鸡 art. 16: negotiation is between two departments — the applicant's word grants nothing
    assert flow.detail(key)["grant"] is None
    confirmation = flow.task(key, "confirm_agreement")
    assert (confirmation["candidate_department_id"], confirmation["candidate_role"]) == (
        city.police.id, "provider_approver")
    assert flow.complete(city.health_applicant, confirmation["id"], {"decision": "confirm"}).status_code == 403
    # the provider's form starts from what the applicant proposed
    assert proposed_terms(db.session.get(HumanTask, confirmation["id"]).instance_id) == {
        "scope": "仅公民身份号码", "valid_from": "2026-10-08", "valid_until": "2026-12-31"}
    flow.do(city.police_approver, key, "confirm_agreement",
            {"decision": "confirm", "scope": "仅公民身份号码", "valid_from": "2026-10-08", "valid_until": "2026-12-31"})
    grant = flow.detail(key)["grant"]
    assert grant["scope"] == "仅公民身份号码" and grant["authorised_by"] == "provider"
    assert db.session.get(Grant, grant["id"]).authorised_by_user_id == city.police_approver.id


def test_the_provider_may_find_the_negotiation_failed_and_the_office_decides(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.not_shared)
    flow.do(city.health_applicant, key, "negotiation",
            {"decision": "agree", "scope": "全部", "valid_from": "2026-10-08", "valid_until": "2026-12-31"})
    no_note = flow.complete(city.police_approver, flow.task(key, "confirm_agreement")["id"], {"decision": "fail"})
    assert no_note.status_code == 422 and "negotiation_note" in no_note.json["errors"]["json"]
    flow.do(city.police_approver, key, "confirm_agreement",
            {"decision": "fail", "negotiation_note": "双方未就使用范围达成一致"})
    assert set(flow.open_tasks(key)) == {"office_arbitration"} and flow.detail(key)["grant"] is None
    flow.do(city.reviewer, key, "office_arbitration", APPROVE)
    assert flow.detail(key)["grant"]["authorised_by"] == "platform"  # the office's decision is final


def test_a_diagram_that_lets_the_applicant_grant_itself_is_refused_by_the_verb(flow, entries, city, clock):
    # an administrator's edit routing the applicant's agreement straight to the grant
    xml = BPMN_FILE.read_text(encoding="utf-8").replace(
        'sourceRef="gw_negotiation" targetRef="confirm_agreement"', 'sourceRef="gw_negotiation" targetRef="mark_negotiation_agreed"')
    xml = xml.replace("<bpmn:incoming>f_agreement_confirmed</bpmn:incoming>", "<bpmn:incoming>f_agreed</bpmn:incoming>", 1)
    deploy(xml.encode("utf-8"))
    key = flow.apply(city.health_applicant, entries.not_shared)
    task_id = flow.task(key, "negotiation")["id"]
    refused = flow.complete(city.health_applicant, task_id, {
        "decision": "agree", "scope": "全部", "valid_from": "2026-10-08", "valid_until": "2026-12-31"})
    assert refused.status_code == 403 and "提供部门审核人" in refused.json["message"]
    assert set(flow.open_tasks(key)) == {"negotiation"} and flow.detail(key)["grant"] is None
    assert db.session.scalar(select(func.count()).select_from(Grant)) == 0


def test_failed_negotiation_goes_to_office_arbitration_which_grants(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review", {"decision": "refuse", "reasons": "涉及个人隐私"})
    flow.do(city.health_applicant, key, "negotiation",
            {"decision": "fail", "negotiation_note": "双方对使用范围有分歧"})
    flow.do(city.reviewer, key, "office_arbitration", APPROVE)
    detail = flow.detail(key)
    assert detail["application"]["status"] == "granted"
    assert detail["grant"]["authorised_by"] == "platform"


def test_applicant_may_abandon_after_a_refusal(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review", {"decision": "refuse", "reasons": "涉及个人隐私"})
    flow.do(city.health_applicant, key, "negotiation", {"decision": "abandon"})
    assert flow.detail(key)["application"]["status"] == "abandoned"


# ---- 西城: three-party and confidentiality agreements (arts. 26, 31) -----------------------------

def test_xicheng_needs_a_three_party_agreement_and_for_sensitive_data_a_confidentiality_agreement(
        flow, entries, city, clock, profile):
    profile("xicheng")
    key = flow.apply(city.health_applicant, entries.sensitive, letter=False)  # 西城: no sealed letter
    assert set(flow.open_tasks(key)) == {"provider_review"}  # no formal review in 西城
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    agreement = flow.task(key, "three_party_agreement")
    assert agreement["candidate_department_id"] == city.office.id
    assert agreement["due_at"] and agreement["reminder_at"]  # profile default: 10 wd
    assert flow.detail(key)["grant"] is None  # not before the agreement
    missing = flow.complete(city.reviewer, agreement["id"], {"agreement_no": "XC-2026-01"})
    assert missing.status_code == 422 and "signed_on" in missing.json["errors"]["json"]
    flow.do(city.reviewer, key, "three_party_agreement", {"agreement_no": "XC-2026-01", "signed_on": "2026-09-30"})
    confidentiality = flow.task(key, "confidentiality_agreement")
    assert confidentiality["due_at"] and confidentiality["reminder_at"]
    assert confidentiality["candidate_department_id"] == city.police.id
    flow.do(city.police_approver, key, "confidentiality_agreement",
            {"agreement_no": "BM-2026-07", "signed_on": "2026-09-30"})
    assert flow.detail(key)["application"]["status"] == "granted"


def test_xicheng_without_sensitive_data_needs_no_confidentiality_agreement(flow, entries, city, clock, profile):
    profile("xicheng")
    key = flow.apply(city.health_applicant, entries.conditional, letter=False)
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    flow.do(city.reviewer, key, "three_party_agreement", {"agreement_no": "XC-2026-02", "signed_on": "2026-09-30"})
    assert flow.detail(key)["application"]["status"] == "granted"


# ---- deadlines, reminders (催办), escalation (督办) -----------------------------------------------

@pytest.mark.parametrize(("key", "last_day"), [
    ("baoji", (2026, 10, 20)), ("nantong", (2026, 10, 20)), ("wuhai", (2026, 10, 13)),
    ("xicheng", (2026, 10, 27)), ("linzhou", (2026, 10, 8)),
])
def test_provider_review_deadline_follows_the_jurisdiction(flow, entries, city, clock, profile, key, last_day):
    profile(key)
    app_key = flow.apply(city.health_applicant, entries.conditional)
    if key == "nantong":
        flow.do(city.reviewer, app_key, "formal_review", {"decision": "accept"})
    task = flow.task(app_key, "provider_review")
    assert task["due_at"] == utc(local(*last_day) + timedelta(days=1))  # 24:00 of the last day


def test_reminder_fires_at_its_instant_not_before_and_notifies_the_group(flow, entries, city, clock, profile):
    profile("baoji")  # provider_review opens at submission; reminder 2 wd before 20 Oct → 16 Oct 09:00
    key = flow.apply(city.health_applicant, entries.conditional)
    task = flow.task(key, "provider_review")
    assert task["reminder_at"] == utc(local(2026, 10, 16, 9, 0))
    clock.move_to(local(2026, 10, 16, 8, 59, 59))
    fire_due_timers()
    assert "reminder" not in kinds(flow.notifications(city.police_approver))
    clock.move_to(local(2026, 10, 16, 9, 0))  # exactly at its instant
    assert fire_due_timers() == 1
    reminders = [n for n in flow.notifications(city.police_approver) if n["kind"] == "reminder"]
    assert len(reminders) == 1 and key in reminders[0]["body"]
    assert "reminder" not in kinds(flow.notifications(city.health_applicant))


def due_soon_keys(flow, user) -> list[str]:
    response = flow.get(user, "/api/tasks", query_string={"view": "due_soon"})
    assert response.status_code == 200, response.json
    return [t["business_key"] for t in response.json]


def test_due_soon_is_the_profiles_rule_computed_from_the_clock_not_the_reminder(flow, entries, city, clock, profile):
    profile("baoji")  # last day 20 Oct; due_soon_workdays 2: from the start of Friday 16 Oct
    key = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 15, 23, 59, 59))  # three working days left
    assert flow.task(key, "provider_review")["sla_state"] == "on_time"
    assert key not in due_soon_keys(flow, city.police_approver)
    clock.move_to(local(2026, 10, 16, 0, 0))  # two left; the reminder is not due before 09:00
    task = flow.task(key, "provider_review")
    assert task["sla_state"] == "due_soon" and task["reminder_at"] == utc(local(2026, 10, 16, 9, 0))
    assert due_soon_keys(flow, city.police_approver) == [key]
    assert "reminder" not in kinds(flow.notifications(city.police_approver))
    assert refresh_sla_states() == 1  # the stored state (dashboards) follows the same rule
    db.session.expire_all()
    stored = db.session.get(HumanTask, task["id"])
    assert stored.sla_state == "due_soon"


def test_at_the_deadline_the_task_is_overdue_and_the_office_supervises_while_it_stays_open(
        flow, entries, city, clock, profile):
    profile("baoji")
    key = flow.apply(city.health_applicant, entries.conditional)
    deadline = local(2026, 10, 21)  # end of 20 October
    clock.move_to(deadline - timedelta(seconds=1))
    fire_due_timers()  # the reminder only
    assert "supervise_overdue" not in flow.open_tasks(key)
    clock.move_to(deadline)
    assert fire_due_timers() == 1
    tasks = flow.open_tasks(key)
    assert set(tasks) == {"provider_review", "supervise_overdue"}
    assert tasks["provider_review"]["sla_state"] == "overdue"
    supervise = tasks["supervise_overdue"]
    assert (supervise["candidate_department_id"], supervise["candidate_role"]) == (city.office.id, "office_reviewer")
    overdue = flow.get(city.police_approver, "/api/tasks", query_string={"view": "overdue"}).json
    assert [t["task_spec"] for t in overdue] == ["provider_review"]
    assert "escalation" in kinds(flow.notifications(city.police_approver))
    assert "task_arrived" in kinds(flow.notifications(city.reviewer))
    flow.do(city.reviewer, key, "supervise_overdue", {"supervision_opinion": "已电话督促公安局答复"})
    flow.do(city.police_approver, key, "provider_review", APPROVE)  # the original task still works
    assert flow.detail(key)["application"]["status"] == "granted"
    # the office's supervisors hear of every 督办 (escalation goes up)
    assert [n["kind"] for n in flow.notifications(city.supervisor)] == ["escalation"]


def test_an_overdue_office_task_is_supervised_by_the_supervisors_not_by_the_same_reviewers(
        flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)  # 南通: formal review, 1 wd
    clock.move_to(local(2026, 10, 9))  # end of 8 October
    fire_due_timers()
    tasks = flow.open_tasks(key)
    assert set(tasks) == {"formal_review", "supervise_office_overdue"}
    supervise = tasks["supervise_office_overdue"]
    assert (supervise["candidate_department_id"], supervise["candidate_role"]) == (city.office.id, "supervisor")
    refused = flow.complete(city.reviewer, supervise["id"], {"supervision_opinion": "自己督办自己"})
    assert refused.status_code == 403
    assert "task_arrived" in kinds(flow.notifications(city.supervisor))
    flow.do(city.supervisor, key, "supervise_office_overdue", {"supervision_opinion": "已要求当日完成审查"})
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})  # the original task still works


# ---- grant period (南通 art. 26) ---------------------------------------------------------------

def test_grant_expires_at_the_end_of_its_period_and_then_refuses_use(flow, entries, city, clock, profile):
    profile("baoji")  # granted at once (宝鸡 art. 16)
    key = flow.apply(city.health_applicant, entries.unconditional, requested_valid_until="2026-12-31")
    grant_id = flow.detail(key)["grant"]["id"]
    clock.move_to(local(2026, 12, 31, 23, 59))
    assert fire_due_timers() == 0
    used = flow.post(city.health_applicant, f"/api/grants/{grant_id}/use")
    assert used.status_code == 200 and used.json["last_used_at"]
    clock.move_to(local(2027, 1, 1))  # 24:00 on the last day of the period
    assert fire_due_timers() == 1
    detail = flow.detail(key, city.health_applicant)
    assert detail["grant"]["status"] == "expired"
    assert detail["application"]["status"] == "expired"
    refused = flow.post(city.health_applicant, f"/api/grants/{grant_id}/use")
    assert refused.status_code == 403 and "重新申请" in refused.json["message"]


def test_use_is_refused_once_the_department_is_suspended(flow, entries, city, clock, profile):
    profile("baoji")  # granted at once (宝鸡 art. 16)
    key = flow.apply(city.health_applicant, entries.unconditional)
    grant_id = flow.detail(key)["grant"]["id"]
    clock.move_to(local(2026, 10, 8, 10, 0))
    assert flow.post(city.health_applicant, f"/api/grants/{grant_id}/use").status_code == 200
    city.health.suspended = True
    commit()
    refused = flow.post(city.health_applicant, f"/api/grants/{grant_id}/use")
    assert refused.status_code == 403 and "暂停" in refused.json["message"]


def test_a_step_computes_each_legal_deadline_once_and_its_timers_agree(
        flow, entries, city, clock, profile, monkeypatch):
    # The provider review's due date, its reminder and its escalation timer all ask for
    # deadline('provider_review'): one step, one instant, one answer.
    import app.sla.deadlines as scripting
    from app.clock import as_utc
    from app.engine.models import HumanTask, WorkflowTimer

    calls = []
    real = scripting.deadline_for
    monkeypatch.setattr(scripting, "deadline_for",
                        lambda name, at, *a, **k: calls.append((name, at)) or real(name, at, *a, **k))
    profile("baoji")  # provider_review opens at submission
    key = flow.apply(city.health_applicant, entries.conditional)
    assert calls and len(calls) == len(set(calls)), calls
    task = db.session.scalars(db.select(HumanTask).where(HumanTask.task_spec == "provider_review")).one()
    timers = {t.kind: as_utc(t.due_at) for t in db.session.scalars(
        db.select(WorkflowTimer).where(WorkflowTimer.instance_id == task.instance_id))}
    assert timers["escalation"] == as_utc(task.due_at) == local(2026, 10, 21)
    assert timers["reminder"] == as_utc(task.reminder_at)
    assert flow.task(key, "provider_review")["due_at"] == utc(local(2026, 10, 21))


def test_the_applicant_hears_of_an_approval_once(flow, entries, city, clock, profile):
    # 南通: the grant follows the provider's approval in the same step, and its notice (period,
    # scope) is the one message; 西城: the approval waits for the agreements, so it is told
    # at once and the grant later.
    def new_titles(before: int) -> list[str]:
        notes = flow.notifications(city.health_applicant)
        return [n["title"] for n in notes[: len(notes) - before]]

    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    before = len(flow.notifications(city.health_applicant))
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    assert new_titles(before) == ["共享申请已授权"]

    profile("xicheng")
    key = flow.apply(city.health_applicant, entries.conditional, letter=False)
    before = len(flow.notifications(city.health_applicant))
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    assert new_titles(before) == ["提供部门审核：同意"]
    before += 1
    flow.do(city.reviewer, key, "three_party_agreement", {"agreement_no": "XC-2026-02", "signed_on": "2026-09-30"})
    assert flow.detail(key)["application"]["status"] == "granted"
    assert new_titles(before) == ["共享申请已授权"]


def _fire_at(clock, instant: str) -> int:
    clock.move_to(datetime.fromisoformat(instant))
    return fire_due_timers()


def test_every_step_after_a_refusal_has_a_deadline_reminder_and_escalation(flow, entries, city, clock):
    # profile defaults (no figure in the regulations): negotiation 10, confirmation 5, coordination 10 wd
    key = flow.apply(city.health_applicant, entries.not_shared)
    negotiation = flow.task(key, "negotiation")
    assert negotiation["due_at"] == utc(local(2026, 10, 21))  # end of the 10th working day, 20 Oct
    assert _fire_at(clock, negotiation["reminder_at"]) == 1
    assert "reminder" in kinds(flow.notifications(city.health_applicant))
    assert _fire_at(clock, negotiation["due_at"]) == 1
    assert set(flow.open_tasks(key)) == {"negotiation", "supervise_overdue"}
    flow.do(city.health_applicant, key, "negotiation",
            {"decision": "agree", "scope": "全部", "valid_from": "2026-10-22", "valid_until": "2026-12-31"})
    confirmation = flow.task(key, "confirm_agreement")
    assert confirmation["due_at"] and confirmation["reminder_at"]
    assert _fire_at(clock, confirmation["due_at"]) >= 1
    assert "escalation" in kinds(flow.notifications(city.police_approver))
    flow.do(city.police_approver, key, "confirm_agreement", {"decision": "fail", "negotiation_note": "未达成一致"})
    arbitration = flow.task(key, "office_arbitration")
    assert arbitration["due_at"] and arbitration["reminder_at"]
    _fire_at(clock, arbitration["due_at"])
    supervise = flow.task(key, "supervise_office_overdue")  # the office is late: its supervisors
    assert supervise["candidate_role"] == "supervisor"


def test_a_returned_application_has_a_deadline_to_amend(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "缺申请依据"})
    amend = flow.task(key, "amend_application")
    assert amend["due_at"] == utc(local(2026, 10, 14))  # 5 working days from 30 Sep: end of 13 Oct
    _fire_at(clock, amend["due_at"])
    assert "supervise_overdue" in flow.open_tasks(key)


def _two_items(city):
    entry = f.entry(city.police_approver, "GA-TWO", items=[{"name": "公民身份号码", "data_type": "string"},
                                                           {"name": "姓名", "data_type": "string"}])
    commit()
    return entry


def test_the_provider_may_approve_some_of_the_items_with_an_opinion(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, _two_items(city), items=["公民身份号码", "姓名"])
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task_id = flow.task(key, "provider_review")["id"]
    for items, message in ((["婚姻状况"], "只能批准申请的信息项"), ([], "至少选择一个信息项")):
        refused = flow.complete(city.police_approver, task_id, {**APPROVE, "approved_items": items})
        assert refused.status_code == 422 and message in refused.json["errors"]["json"]["approved_items"][0]
    # the client cannot widen what was asked for
    sneaky = flow.complete(city.police_approver, task_id, {**APPROVE, "approved_items": ["婚姻状况"],
                                                           "requested_items": ["婚姻状况"]})
    assert sneaky.status_code == 422
    flow.do(city.police_approver, key, "provider_review",
            {**APPROVE, "approved_items": ["公民身份号码"], "opinion": "姓名字段另行核验"})
    detail = flow.detail(key)
    assert detail["grant"]["items"] == ["公民身份号码"]
    completed = [e for e in detail["timeline"] if e["event_type"] == "completed" and e["task_spec"] == "provider_review"]
    assert completed[0]["data"]["opinion"] == "姓名字段另行核验"


def test_approving_without_naming_items_grants_all_that_were_asked(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, _two_items(city), items=["公民身份号码", "姓名"])
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    assert flow.detail(key)["grant"]["items"] == ["公民身份号码", "姓名"]


def test_a_diagram_that_grants_on_a_refusal_is_refused_by_the_verb(flow, entries, city, clock):
    xml = BPMN_FILE.read_text(encoding="utf-8").replace(
        'sourceRef="mark_provider_refused" targetRef="negotiation"', 'sourceRef="mark_provider_refused" targetRef="gw_three_party"')
    deploy(xml.encode("utf-8"))
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    refused = flow.complete(city.police_approver, flow.task(key, "provider_review")["id"],
                            {"decision": "refuse", "reasons": "涉及个人隐私"})
    assert refused.status_code == 403 and flow.detail(key)["grant"] is None
    assert set(flow.open_tasks(key)) == {"provider_review"}
