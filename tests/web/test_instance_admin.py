"""The administrator's instance pages through HTTP (Flask test client, real database, the real
conditional-share flow, frozen clock): the list by flow, version and state; terminating a record
with reasons (its steps and timers end, the parties are told, a grant stays as it was);
suspending (nothing can be worked, no timer fires) and resuming (the timer due meanwhile fires)."""
from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.catalog.models import Grant
from app.engine import fire_due_timers
from app.engine.models import HumanTask, ProcessInstance, WorkflowTimer
from app.extensions import db
from app.notifications.models import Notification
from tests import factories as f
from tests.flows.conftest import local


@pytest.fixture(autouse=True)
def _no_csrf(no_csrf):
    pass


def instance(key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_only_administrators_see_and_act_on_instances(client, flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "gaj.approver")
    assert client.get("/admin/instances/").status_code == 403
    assert client.post(f"/admin/instances/{key}/terminate", data={"reasons": "x"}).status_code == 403
    assert instance(key).status == "running"


def test_the_list_filters_by_flow_version_and_state_and_refuses_a_bad_filter(client, flow, entries, city, clock):
    running = flow.apply(city.health_applicant, entries.conditional)
    other = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "dsj.admin")
    page = client.get("/admin/instances/?flow=conditional_share&version=1&status=running").get_data(as_text=True)
    assert f'data-key="{running}"' in page and f'data-key="{other}"' in page and "提交形式审查" not in page
    assert "终止办理…" in page and "挂起办件…" in page
    assert f'data-key="{running}"' not in client.get("/admin/instances/?version=2").get_data(as_text=True)
    assert f'data-key="{running}"' not in client.get("/admin/instances/?status=suspended").get_data(as_text=True)
    assert client.get(f"/admin/instances/?key={running}").get_data(as_text=True).count("data-key=") == 1
    bad = client.get("/admin/instances/?version=abc&status=nonsense")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200 and 'id="version-error"' in page and "没有这个状态" in page


def test_terminating_ends_the_steps_tells_the_parties_and_leaves_the_grant(client, flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review", {
        "decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-01", "valid_until": "2027-09-30"})
    assert flow.detail(key)["grant"]["status"] == "active" and instance(key).status == "running"  # grant_expiry waits
    pending = db.session.scalar(select(func.count()).select_from(WorkflowTimer).where(
        WorkflowTimer.instance_id == instance(key).id, WorkflowTimer.state == "waiting"))
    assert pending >= 1
    notices_before = db.session.scalar(select(func.count()).select_from(Notification))

    f.login(client, "dsj.admin")
    asked = client.get(f"/admin/instances/{key}/terminate").get_data(as_text=True)
    assert "已发放的授权不受影响" in asked and "确认终止" in asked
    no_reason = client.post(f"/admin/instances/{key}/terminate", data={"reasons": "  "})
    assert 'id="reasons-error"' in no_reason.get_data(as_text=True) and instance(key).status == "running"

    done = client.post(f"/admin/instances/{key}/terminate", data={"reasons": "申请部门机构撤并，事项不再办理"})
    assert done.status_code == 302
    inst = instance(key)
    assert inst.status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(WorkflowTimer).where(
        WorkflowTimer.instance_id == inst.id, WorkflowTimer.state == "waiting")) == 0
    detail = flow.detail(key)
    assert (detail["application"]["status"], detail["application"]["reasons"]) == ("terminated", "申请部门机构撤并，事项不再办理")
    assert db.session.scalar(select(Grant.status)) == "active"  # 授权不受影响
    told = db.session.scalars(select(Notification).order_by(Notification.id).offset(notices_before)).all()
    assert {n.department_id for n in told} >= {city.health.id, city.police.id}
    assert all("申请部门机构撤并" in n.body and n.title == "办件已终止" for n in told)
    assert audit_actions()[-2:] == ["engine.instance_cancelled", "case.terminated"]
    again = client.post(f"/admin/instances/{key}/terminate", data={"reasons": "再次"})
    assert again.status_code == 302 and "已办结" in client.get("/admin/instances/").get_data(as_text=True)


def test_a_suspended_record_cannot_be_worked_and_its_timers_wait_until_it_resumes(app, client, flow, entries, city,
                                                                                   clock):
    key = flow.apply(city.health_applicant, entries.conditional)   # formal review: 1 wd (南通 art. 21)
    review = flow.task(key, "formal_review")
    f.login(client, "dsj.admin")
    assert client.post(f"/admin/instances/{key}/suspend", data={"reasons": "申请材料涉嫌伪造，待核查"}).status_code == 302
    assert instance(key).status == "suspended"
    refused = flow.complete(city.reviewer, review["id"], {"decision": "accept"})
    assert refused.status_code == 409 and "挂起" in refused.json["message"]
    assert client.get(f"/admin/instances/{key}/suspend").get_data(as_text=True).count("确认挂起") == 0
    reviewer = app.test_client()   # the reviewer's task page says why nothing can be done
    f.login(reviewer, "dsj.reviewer")
    task_page = reviewer.get(f"/tasks/{review['id']}").get_data(as_text=True)
    assert 'id="held"' in task_page and 'id="task-form"' not in task_page

    with time_machine.travel(local(2026, 10, 20, 10, 0), tick=False):   # long past the review's escalation
        assert fire_due_timers() == 0
        assert db.session.scalar(select(HumanTask.sla_state).where(HumanTask.id == review["id"])) != "overdue"
        assert client.post(f"/admin/instances/{key}/resume", data={"reasons": "核查完毕，材料属实"}).status_code == 302
        assert instance(key).status == "running"
        assert fire_due_timers() >= 1   # what came due while held fires now
        db.session.expire_all()
        assert db.session.scalar(select(HumanTask.sla_state).where(HumanTask.id == review["id"])) == "overdue"
    assert flow.complete(city.reviewer, review["id"], {"decision": "accept"}).status_code == 200
    record_page = reviewer.get(f"/applications/{key}").get_data(as_text=True)   # the timeline says it all
    assert "挂起" in record_page and "申请材料涉嫌伪造，待核查" in record_page and "核查完毕，材料属实" in record_page
    assert [a for a in audit_actions() if a in ("case.suspended", "case.resumed")] == ["case.suspended", "case.resumed"]
