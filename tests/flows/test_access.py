"""Who may start applications and act on their tasks (SPEC §1, §7), and the task inbox views."""
from __future__ import annotations

import re

from tests import factories as f
from tests.factories import commit

APPROVE = {"decision": "approve", "scope": "姓名", "valid_from": "2026-10-01", "valid_until": "2027-03-31"}


# ---- starting an application ----------------------------------------------------------------

def test_a_suspended_department_cannot_apply(flow, entries, city, clock):
    city.health.suspended = True
    city.health.suspended_reason = "逾期未整改（宝鸡 art. 29）"
    commit()
    response = flow.submit(city.health_applicant, entries.conditional)
    assert response.status_code == 403
    assert "暂停共享数据使用资格" in response.json["message"]
    assert flow.get(city.health_applicant, "/api/applications").json == []


def test_application_rules(flow, entries, city, clock):
    own = flow.submit(city.police_applicant, entries.conditional)
    assert own.status_code == 422
    assert own.json["errors"]["json"]["entry_id"] == ["不能申请本部门提供的资源"]
    draft = f.entry(city.police_approver, "GA-DRAFT", published=False)
    assert flow.submit(city.health_applicant, draft).json["errors"]["json"]["entry_id"]
    not_applicant = flow.submit(city.health_approver, entries.conditional)
    assert not_applicant.status_code == 403
    bad = flow.submit(city.health_applicant, entries.conditional, requested_valid_from="2026-10-05",
                      requested_valid_until="2026-10-01", items=["不存在的信息项"], purpose="")
    assert bad.status_code == 422
    assert {"requested_valid_until", "purpose"} <= set(bad.json["errors"]["json"])
    unknown_item = flow.submit(city.health_applicant, entries.conditional, items=["不存在的信息项"])
    assert unknown_item.json["errors"]["json"]["items"]


def test_nantong_requires_the_sealed_letter(flow, entries, city, clock):
    response = flow.submit(city.health_applicant, entries.conditional, letter=False)
    assert response.status_code == 422
    assert "盖公章" in response.json["errors"]["json"]["letter"][0]
    key = flow.apply(city.health_applicant, entries.conditional)
    assert re.fullmatch(r"SQ-2026-\d{6}", key)
    assert flow.detail(key)["application"]["letter_attachment_id"]


def test_json_submission_where_no_letter_is_required(flow, entries, city, clock, profile):
    profile("wuhai")
    response = flow.submit(city.health_applicant, entries.conditional, letter=False)
    assert response.status_code == 201
    assert response.json["application"]["policy_key"] == "wuhai"


# ---- task permissions -------------------------------------------------------------------------

def test_only_the_candidate_group_may_act_everyone_else_gets_403(flow, entries, city, clock, second):
    key = flow.apply(city.health_applicant, entries.conditional)
    review = flow.task(key, "formal_review")["id"]
    for outsider in (city.health_applicant, city.police_approver, second.outsider):
        assert flow.post(outsider, f"/api/tasks/{review}/claim").status_code == 403
        assert flow.complete(outsider, review, {"decision": "accept"}).status_code == 403
        assert flow.get(outsider, f"/api/tasks/{review}").status_code == 403
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "provider_review")["id"]
    # a provider approver of another department, the applicant, the office: not the provider's group
    for outsider in (city.health_approver, city.health_applicant, city.reviewer, second.outsider):
        response = flow.complete(outsider, task, APPROVE)
        assert response.status_code == 403, outsider.username
        assert response.json["message"]
    assert flow.get(second.outsider, f"/api/tasks/{task}").status_code == 403


def test_applications_are_visible_to_applicant_provider_and_office_only(flow, entries, city, clock, second):
    key = flow.apply(city.health_applicant, entries.conditional)
    for user in (city.health_applicant, city.police_approver, city.reviewer):
        assert flow.get(user, f"/api/applications/{key}").status_code == 200
    response = flow.get(second.outsider, f"/api/applications/{key}")
    assert response.status_code == 403 and "其他部门" in response.json["message"]
    assert flow.get(second.outsider, "/api/applications").json == []
    assert [a["business_key"] for a in flow.get(city.health_applicant, "/api/applications",
                                                 query_string={"view": "mine"}).json] == [key]
    assert [a["business_key"] for a in flow.get(city.police_approver, "/api/applications",
                                                 query_string={"view": "provided"}).json] == [key]


def test_double_completion_gets_409(flow, entries, city, clock, second):
    key = flow.apply(city.health_applicant, entries.conditional)
    review = flow.task(key, "formal_review")["id"]
    first = flow.complete(city.reviewer, review, {"decision": "accept"})
    assert first.status_code == 200
    again = flow.complete(second.reviewer, review, {"decision": "return", "return_reasons": "x"})
    assert again.status_code == 409
    assert "办结" in again.json["message"]
    assert set(flow.open_tasks(key)) == {"provider_review"}


def test_claim_release_delegate(flow, entries, city, clock, second):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "provider_review")["id"]
    groups = flow.get(city.police_approver, "/api/tasks", query_string={"view": "groups"})
    assert [t["id"] for t in groups.json] == [task]
    assert groups.headers["X-Pagination"]
    assert flow.post(city.police_approver, f"/api/tasks/{task}/claim").json["assignee_id"] == city.police_approver.id
    assert [t["id"] for t in flow.get(city.police_approver, "/api/tasks").json] == [task]
    # held by a colleague: the other member can neither claim nor complete it
    assert flow.post(second.police_approver, f"/api/tasks/{task}/claim").status_code == 409
    assert flow.complete(second.police_approver, task, APPROVE).status_code == 409
    assert flow.post(second.police_approver, f"/api/tasks/{task}/release").status_code == 403
    # delegation stays inside the department and role
    bad = flow.post(city.police_approver, f"/api/tasks/{task}/delegate", json={"to_user_id": city.health_approver.id})
    assert bad.status_code == 422
    moved = flow.post(city.police_approver, f"/api/tasks/{task}/delegate",
                      json={"to_user_id": second.police_approver.id, "note": "请代为审核"})
    assert moved.status_code == 200 and moved.json["assignee_id"] == second.police_approver.id
    assert any(n["title"].startswith("转办") for n in flow.notifications(second.police_approver))
    flow.post(second.police_approver, f"/api/tasks/{task}/release")
    assert flow.get(city.police_approver, "/api/tasks", query_string={"view": "groups"}).json[0]["id"] == task
    flow.do(second.police_approver, key, "provider_review", APPROVE)
    done = flow.get(second.police_approver, "/api/tasks", query_string={"view": "done"}).json
    assert [t["task_spec"] for t in done] == ["provider_review"]


# ---- notifications ----------------------------------------------------------------------------

def test_group_notifications_are_read_per_user(flow, entries, city, clock, second):
    key = flow.apply(city.health_applicant, entries.conditional)
    notes = flow.notifications(city.reviewer)
    arrived = [n for n in notes if n["kind"] == "task_arrived"]
    assert len(arrived) == 1 and key in arrived[0]["body"] and not arrived[0]["read"]
    assert flow.get(city.reviewer, "/api/notifications/unread-count").json == {"unread": 1}
    read = flow.post(city.reviewer, f"/api/notifications/{arrived[0]['id']}/read")
    assert read.json == {"unread": 0}
    assert flow.get(second.reviewer, "/api/notifications/unread-count").json == {"unread": 1}
    assert flow.post(second.outsider, f"/api/notifications/{arrived[0]['id']}/read").status_code == 404
    assert flow.notifications(city.reviewer, unread="true") == []


def test_a_record_page_links_only_to_the_steps_its_viewer_may_open(flow, entries, city, client, clock):
    from tests import factories as f

    key = flow.apply(city.health_applicant, entries.conditional)  # the office's formal review is open
    f.login(client, "wjw.applicant")
    own = client.get(f"/applications/{key}")
    assert own.status_code == 200 and "规范性审查" in own.get_data(as_text=True)
    assert "查看任务" not in own.get_data(as_text=True)  # the step is the office's: no link to a 403
    f.sign_out(client)
    f.login(client, "dsj.reviewer")
    office = client.get(f"/applications/{key}").get_data(as_text=True)
    assert "查看任务" in office and client.get(f"/tasks/{flow.task(key, 'formal_review')['id']}").status_code == 200
