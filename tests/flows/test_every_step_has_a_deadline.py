"""Every human step of every shipped flow has a deadline from the profile, a reminder (催办) and an
escalation (督办) that goes *up*: a department's overdue step to the office, the office's own to its
supervisors (南通 arts. 19, 31; 宝鸡 art. 23). First read from the diagrams, then run on a frozen clock.
"""
from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from app.catalog.grants import issue_grant
from app.engine import fire_due_timers
from app.flows.step_deadlines import DOCUMENTED_PROFILES, END, START, markdown, step_deadlines
from app.policy.profiles import DEADLINE_NAMES, PROFILE_DIR, load_profile
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import PDF, local

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
CALL = re.compile(r"^(deadline|reminder)\('([a-z_]+)'")
# The rectification notice names its own period (宝鸡 art. 29; default `rectification_default`),
# and missing it leads to suspension and the office's report, not to a 督办.
SET_AT_START = {"rectification_report": ("rectification_due", "rectification_reminder")}


def properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in node.iterfind(".//spiffworkflow:property", NS)}


def human_steps():
    return list(_human_steps())


def _human_steps():
    for path in sorted(BPMN_DIR.glob("*.bpmn")):
        tree = etree.parse(str(path))
        for task in tree.iterfind(".//bpmn:userTask", NS):
            yield pytest.param(tree, task, id=f"{path.stem}:{task.get('id')}")


def holder_role(tree, task) -> str:
    """The role a step is offered to: its own candidate_role, else its lane's."""
    own = properties(task).get("candidate_role")
    if own:
        return own
    for lane in tree.iterfind(".//bpmn:lane", NS):
        if task.get("id") in [r.text for r in lane.iterfind("bpmn:flowNodeRef", NS)]:
            return lane.find(".//spiffworkflow:property[@name='candidate_role']", NS).get("value")
    raise AssertionError(f"{task.get('id')} is in no lane")


@pytest.mark.parametrize(("tree", "task"), human_steps())
def test_the_step_has_a_profile_deadline_a_reminder_and_an_escalation_that_goes_up(tree, task):
    props = properties(task)
    if task.get("id") in SET_AT_START:
        assert (props["due"], props["reminder"]) == SET_AT_START[task.get("id")]
        return
    due = CALL.match(props.get("due", ""))
    assert due and due.group(1) == "deadline", f"due = {props.get('due')!r}"
    name = due.group(2)
    assert name in DEADLINE_NAMES
    assert CALL.match(props.get("reminder", "")).groups() == ("reminder", name)
    timers = {}
    for boundary in tree.iterfind(f".//bpmn:boundaryEvent[@attachedToRef='{task.get('id')}']", NS):
        kind = properties(boundary).get("sla_event")
        assert boundary.get("cancelActivity") == "false"  # the step stays open while it is urged
        expression = boundary.find(".//bpmn:timeDate", NS).text.strip()
        timers[kind] = (expression, boundary)
    assert CALL.match(timers["reminder"][0]).groups() == ("reminder", name)
    assert CALL.match(timers["escalation"][0]).group(2) == name
    flow_id = timers["escalation"][1].find("bpmn:outgoing", NS).text
    target_id = tree.find(f".//bpmn:sequenceFlow[@id='{flow_id}']", NS).get("targetRef")
    target = tree.find(f".//*[@id='{target_id}']")
    role = holder_role(tree, task)
    if role == "supervisor":  # nobody above the supervisors on the platform: stays open, overdue
        assert etree.QName(target).localname == "endEvent"
        return
    assert etree.QName(target).localname == "userTask" and properties(target)["form"] == "supervise_form"
    assert properties(target).get("ends_with_escalated_step") == "true"  # it ends with the step
    assert holder_role(tree, target) == ("supervisor" if role == "office_reviewer" else "office_reviewer")


def test_every_profile_states_every_step_deadline_with_its_source():
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        policy = load_profile(path.stem)
        for name in DEADLINE_NAMES:
            rule = policy.deadline(name)
            assert rule.article or (rule.note or "").startswith("默认值"), (path.stem, name)


def test_the_readme_table_is_what_the_diagrams_and_profiles_say():
    readme = (BPMN_DIR / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index(START): readme.index(END) + len(END)]
    expected = markdown(BPMN_DIR, [load_profile(key) for key in DOCUMENTED_PROFILES])
    assert shown == expected, "bpmn/README.md is stale: run `flask flows deadlines --write`"
    assert sorted(DOCUMENTED_PROFILES) == sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
    assert "无期限" not in shown and all(step.deadline for step in step_deadlines(BPMN_DIR))


# ---- on a frozen clock: the new deadlines fire their reminder, then their escalation ---------------

def kinds_of(cases, user) -> list[str]:
    return [n["kind"] for n in cases.notifications(user)]


def run_out(cases, key, spec, holder, escalated_to: str | None, escalation_holder=None):
    """Move to the step's reminder instant (holder urged), then to its deadline (escalated)."""
    task = cases.task(key, spec)
    assert task["due_at"] and task["reminder_at"] and task["reminder_at"] < task["due_at"]
    cases_before = kinds_of(cases, holder).count("reminder")
    move(cases, task["reminder_at"])
    assert fire_due_timers() >= 1
    assert kinds_of(cases, holder).count("reminder") == cases_before + 1
    assert escalated_to is None or escalated_to not in cases.open_tasks(key)
    move(cases, task["due_at"])
    assert fire_due_timers() >= 1
    tasks = cases.open_tasks(key)
    assert spec in tasks and tasks[spec]["sla_state"] == "overdue"  # the step itself stays open
    if escalated_to is None:
        return None
    supervise = tasks[escalated_to]
    assert supervise["candidate_role"] == escalation_holder
    return supervise


def move(cases, iso: str) -> None:
    cases.clock.move_to(datetime.fromisoformat(iso))


@pytest.fixture()
def timed(cases, clock):
    cases.clock = clock
    return cases


def test_revocation_approval_overdue_goes_to_the_supervisors(timed, city):
    entry = f.entry(city.police_approver, "GA-REV", share_type="conditional")
    commit()
    key = timed.open(city.police_approver, "revocation",
                     {"entry_id": entry.id, "reasons": "系统停用", "effective_date": "2026-12-15"})
    supervise = run_out(timed, key, "office_approval", city.reviewer, "supervise_office_overdue", "supervisor")
    assert supervise["candidate_department_id"] == city.office.id
    assert "task_arrived" in kinds_of(timed, city.supervisor)


def test_catalogue_review_and_its_supervision_escalate_up(timed, city):
    draft = f.entry(city.police_approver, "GA-NEW", published=False)
    commit()
    key = timed.open(city.police_approver, "catalogue_review", {"entry_id": draft.id})
    run_out(timed, key, "review_entry", city.reviewer, "supervise_office_overdue", "supervisor")
    timed.do(city.supervisor, key, "supervise_office_overdue", {"supervision_opinion": "请即审核"})
    timed.do(city.reviewer, key, "review_entry", {"decision": "return", "return_reasons": "字段缺说明"})
    run_out(timed, key, "revise_entry", city.police_approver, "supervise_overdue", "office_reviewer")
    # the office's 督办 is late too: its supervisors take it up
    run_out(timed, key, "supervise_overdue", city.reviewer, "supervise_office_overdue", "supervisor")
    # and the supervisors' own 督办 has a deadline, past which it stays open, overdue
    run_out(timed, key, "supervise_office_overdue", city.supervisor, None)


def test_idle_grant_decision_overdue_is_supervised_by_the_office(timed, city, runner):
    entry = f.entry(city.police_approver, "GA-IDLE", share_type="conditional")
    issue_grant(entry, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                valid_until=local(2027, 12, 31), authorised_by="provider")
    commit()
    assert runner.invoke(args=["grants", "propose-idle"]).exit_code == 0
    listed = timed.get(city.police_approver, "/api/cases", query_string={"flow": "idle_grant_review"})
    assert listed.status_code == 200 and len(listed.json) == 1
    key = listed.json[0]["business_key"]
    supervise = run_out(timed, key, "idle_grant_decision", city.police_approver, "supervise_overdue",
                        "office_reviewer")
    assert supervise["candidate_department_id"] == city.office.id


def test_demand_routing_overdue_goes_to_the_supervisors(timed, city):
    data = {"resource_name": "不动产登记信息", "description": "权利人、坐落", "purpose": "住房保障资格审核",
            "letter": (io.BytesIO(PDF), "需求函.pdf")}
    key = timed.open(city.health_applicant, "unpublished_demand", data=data, content_type="multipart/form-data")
    run_out(timed, key, "route_demand", city.reviewer, "supervise_office_overdue", "supervisor")


def test_rectification_verification_overdue_goes_to_the_supervisors(timed, city):
    notice = {"violation_category": "data_inaccurate", "description": "人口数据长期未更新",
              "deadline": "2026-10-16", "rectified_department_id": city.health.id}
    key = timed.open(city.reviewer, "rectification", notice)
    timed.do(city.health_approver, key, "rectification_report", {"report": "已完成数据更新"})
    run_out(timed, key, "rectification_verification", city.reviewer, "supervise_office_overdue", "supervisor")


def late_objection_supervised_late(timed, city) -> str:
    """An objection whose verification and then its office 督办 both ran late: the supervisors
    hold a 督办 above the office's."""
    entry = f.entry(city.police_approver, "GA-OBJ", share_type="conditional")
    issue_grant(entry, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                valid_until=local(2027, 12, 31), authorised_by="provider")
    commit()
    key = timed.open(city.health_applicant, "data_objection",
                     {"entry_id": entry.id, "items": ["公民身份号码"], "description": "校验位错误"})
    run_out(timed, key, "objection_verification", city.police_approver, "supervise_overdue", "office_reviewer")
    run_out(timed, key, "supervise_overdue", city.reviewer, "supervise_office_overdue", "supervisor")
    return key


def test_objection_supervision_overdue_goes_to_the_supervisors(timed, city):
    late_objection_supervised_late(timed, city)


def test_a_late_office_supervision_of_an_application_goes_to_the_supervisors(flow, entries, city, clock):
    flow.clock = clock
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    run_out(flow, key, "provider_review", city.police_approver, "supervise_overdue", "office_reviewer")
    run_out(flow, key, "supervise_overdue", city.reviewer, "supervise_office_overdue", "supervisor")


def test_a_missed_rectification_report_to_circulate_goes_to_the_supervisors(timed, city):
    notice = {"violation_category": "data_inaccurate", "description": "人口数据长期未更新",
              "deadline": "2026-10-16", "rectified_department_id": city.health.id}
    key = timed.open(city.reviewer, "rectification", notice)
    timed.clock.move_to(local(2026, 10, 17))  # the notice's period has ended (24:00 on the 16th)
    fire_due_timers()
    run_out(timed, key, "report_missed_rectification", city.reviewer, "supervise_office_overdue", "supervisor")


def test_rerouting_a_demand_outside_the_remit_has_its_deadline_too(timed, city):
    data = {"resource_name": "不动产登记信息", "description": "权利人、坐落", "purpose": "住房保障资格审核",
            "letter": (io.BytesIO(PDF), "需求函.pdf")}
    key = timed.open(city.health_applicant, "unpublished_demand", data=data, content_type="multipart/form-data")
    timed.do(city.reviewer, key, "route_demand", {"provider_department_id": city.police.id})
    timed.do(city.police_approver, key, "demand_answer", {"decision": "not_in_remit", "reasons": "非本局职责"})
    run_out(timed, key, "reroute_demand", city.reviewer, "supervise_office_overdue", "supervisor")


def test_a_supervision_ends_with_the_step_it_supervises(flow, entries, city, clock):
    """督办 outlives neither the late step nor its case: once the provider has answered, the open
    督办 and the supervisors' one above it end with their timers, and nothing escalates later."""
    flow.clock = clock
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    run_out(flow, key, "provider_review", city.police_approver, "supervise_overdue", "office_reviewer")
    run_out(flow, key, "supervise_overdue", city.reviewer, "supervise_office_overdue", "supervisor")
    flow.do(city.police_approver, key, "provider_review", {
        "decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-01", "valid_until": "2027-09-30"})
    assert flow.open_tasks(key) == {}
    detail = flow.detail(key)
    assert detail["grant"]["status"] == "active"
    cancelled = [e["task_spec"] for e in detail["timeline"] if e["event_type"] == "cancelled"]
    assert sorted(cancelled) == ["supervise_office_overdue", "supervise_overdue"]
    before = len(flow.notifications(city.supervisor))
    clock.move_to(local(2026, 12, 31))
    fire_due_timers()
    assert len(flow.notifications(city.supervisor)) == before and flow.open_tasks(key) == {}


def test_the_office_supervising_ends_the_supervisors_supervision_above_it(timed, city):
    key = late_objection_supervised_late(timed, city)
    timed.do(city.reviewer, key, "supervise_overdue", {"supervision_opinion": "已电话督促"})
    assert set(timed.open_tasks(key)) == {"objection_verification"}  # the late step itself stays
