"""The approver's workplace pages through the Flask test client (both backends, frozen clock).

Dates: applications are filed on Wednesday 2026-09-30 10:00 (Shanghai). 1–7 October is the
National Day holiday, Saturday 10 October a make-up working day, so formal review (1 wd) ends
with 8 October and the provider's reply (10 wd, 南通 art. 22) with 20 October.
"""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.engine import fire_due_timers
from app.engine.models import HumanTask
from app.extensions import db
from app.flows.models import Application
from tests import factories as f
from tests.flows.conftest import PDF, local

pytestmark = pytest.mark.usefixtures("deployed")


def _apply_on_page(client, entry, **fields):
    data = {"entry_id": entry.id, "purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务",
            "items": ["公民身份号码"], "legal_basis": "《母婴保健法》第二十三条",
            "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30",
            "letter": (io.BytesIO(PDF), "申请函.pdf")}
    data.update(fields)
    return f.post_form(client, f"/applications/new?entry_id={entry.id}", data, content_type="multipart/form-data")


def _row(html: str, needle: str) -> str:
    """The inbox table row holding `needle`."""
    for row in re.findall(r"<tr[^>]*data-task-id.*?</tr>", html, re.S):
        if needle in row:
            return row
    raise AssertionError(f"no inbox row with {needle!r}")


# ---- apply ------------------------------------------------------------------------------------

def test_catalogue_entry_offers_apply_only_to_applicants_of_other_departments(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    assert "申请</a>" in f.page_text(client.get(f"/catalog/{entries.conditional.id}"))
    f.sign_out(client)
    f.login(client, "gaj.applicant")  # the provider's own department
    assert f"/applications/new?entry_id={entries.conditional.id}" not in f.page_text(client.get(f"/catalog/{entries.conditional.id}"))
    assert client.get(f"/applications/new?entry_id={entries.conditional.id}").status_code == 403


def test_catalogue_entry_lists_the_steps_of_the_active_profile(client, city, entries, clock, profile):
    f.login(client, "wjw.applicant")
    nantong = f.page_text(client.get(f"/catalog/{entries.conditional.id}"))
    assert "主管部门规范性审查" in nantong and "提供部门审核" in nantong
    profile("xicheng")  # no formal review in 西城 (SPEC §5)
    xicheng = f.page_text(client.get(f"/catalog/{entries.conditional.id}"))
    assert "规范性审查" not in xicheng and "提供部门审核" in xicheng
    assert "平台即时授权" in f.page_text(client.get(f"/catalog/{entries.unconditional.id}"))


def test_application_form_reports_field_errors_in_chinese_and_changes_nothing(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    page = client.get(f"/applications/new?entry_id={entries.conditional.id}")
    assert page.status_code == 200 and "盖章申请函扫描件" in f.page_text(page)
    bad = _apply_on_page(client, entries.conditional, purpose="  ", items=[], requested_valid_until="2026-09-01")
    assert bad.status_code == 200
    html = f.page_text(bad)
    assert "此项为必填项" in html and "请至少选择一个信息项" in html and "截止日期须晚于起始日期" in html
    assert 'aria-invalid="true" aria-describedby="purpose-error"' in html
    no_letter = _apply_on_page(client, entries.conditional, letter=(io.BytesIO(b""), ""))
    assert no_letter.status_code == 200 and "请上传加盖公章的申请函扫描件" in f.page_text(no_letter)
    assert db.session.scalar(select(func.count()).select_from(Application)) == 0


def test_applying_on_the_page_starts_the_flow_and_the_detail_shows_step_holder_deadline(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    response = _apply_on_page(client, entries.conditional)
    assert response.status_code == 302
    application = db.session.scalar(select(Application))
    assert response.headers["Location"].startswith(f"/applications/{application.business_key}")
    detail = f.page_text(client.get(response.headers["Location"]))
    assert "办理中" in detail and "规范性审查" in detail
    assert "市大数据管理局 · 主管部门审核人" in detail
    assert "2026年10月8日 24:00" in detail and "剩余 1 个工作日" in detail  # 1 wd: the end of 8 October
    assert "申请函.pdf" in detail and "提交" in detail
    listing = f.page_text(client.get("/applications/"))
    assert application.business_key in listing and "规范性审查" in listing and "剩余 1 个工作日" in listing


def test_unconditional_entry_is_granted_at_once(app, client, city, entries, clock, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "baoji")  # 宝鸡 art. 16: obtained directly
    f.login(client, "wjw.applicant")
    response = _apply_on_page(client, entries.unconditional)
    assert response.status_code == 302
    detail = f.page_text(client.get(response.headers["Location"]))
    assert "已授权" in detail and "平台授权" in detail and 'id="steps-h"' not in detail


# ---- inbox under a frozen clock ---------------------------------------------------------------

def test_inbox_tabs_and_remaining_working_days_follow_the_calendar(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "dsj.reviewer")
    inbox = f.page_text(client.get("/tasks/"))  # nothing claimed yet: lands on the group queue
    assert 'id="tab-groups" aria-current="page"' in inbox
    assert "剩余 1 个工作日" in _row(inbox, key)
    review = flow.task(key, "formal_review")
    claimed = f.post_form(client, f"/tasks/{review['id']}/claim", {"next": "/tasks/?view=mine"})
    assert claimed.status_code == 302
    assert key in f.page_text(client.get("/tasks/?view=mine"))
    assert key not in f.page_text(client.get("/tasks/?view=groups"))
    assert f.post_form(client, f"/tasks/{review['id']}/complete", {"decision": "accept"}).status_code == 302
    assert key in f.page_text(client.get("/tasks/?view=done"))
    f.sign_out(client)

    f.login(client, "gaj.approver")
    # Friday 9 October: 10 Oct (make-up Saturday), 12–16 and 19–20 Oct are left — 8 working days
    # although 11 calendar days remain.
    clock.move_to(local(2026, 10, 9, 10, 0))
    row = _row(f.page_text(client.get("/tasks/?view=groups")), key)
    assert "剩余 8 个工作日" in row and "2026年10月20日 24:00" in row and "due-soon" not in row
    assert key not in f.page_text(client.get("/tasks/?view=due_soon"))

    # Friday 16 October 10:00: the reminder (09:00, two working days before the last day) has passed.
    clock.move_to(local(2026, 10, 16, 10, 0))
    row = _row(f.page_text(client.get("/tasks/?view=groups")), key)
    assert "剩余 2 个工作日" in row and "due-soon" in row and "row-soon" in row
    assert key in _row(f.page_text(client.get("/tasks/?view=due_soon")), key)
    assert key not in f.page_text(client.get("/tasks/?view=overdue"))

    # Tuesday 20 October: the last day itself.
    clock.move_to(local(2026, 10, 20, 15, 0))
    assert "今日到期" in _row(f.page_text(client.get("/tasks/?view=due_soon")), key)

    # Wednesday 21 October 10:00: past 24:00 of the 20th — overdue by one working day, in red.
    clock.move_to(local(2026, 10, 21, 10, 0))
    assert fire_due_timers() >= 1  # the scheduler's escalation (督办) fires too
    overdue = _row(f.page_text(client.get("/tasks/?view=overdue")), key)
    assert "已逾期 1 个工作日" in overdue and "due-overdue" in overdue and "row-overdue" in overdue
    assert key not in f.page_text(client.get("/tasks/?view=due_soon"))
    inbox = f.page_text(client.get("/tasks/?view=overdue"))
    assert re.search(r'id="tab-overdue"[^>]*>已逾期 <span class="count count-red">1</span>', inbox)


def test_inbox_sorts_by_deadline_and_paginates(client, flow, city, entries, clock):
    keys = [flow.apply(city.health_applicant, entries.conditional) for _ in range(3)]
    clock.move_to(local(2026, 10, 8, 9, 0))
    keys.append(flow.apply(city.health_applicant, entries.conditional, requested_valid_from="2026-10-08"))  # due end of 9 Oct
    f.login(client, "dsj.reviewer")  # (the session would outrank the API driver's bearer token)
    asc = f.page_text(client.get("/tasks/?view=groups"))
    assert asc.index(keys[0]) < asc.index(keys[3])
    desc = f.page_text(client.get("/tasks/?view=groups&order=desc"))
    assert desc.index(keys[3]) < desc.index(keys[0])
    import app.web.inbox as inbox_module

    original, inbox_module.PER_PAGE = inbox_module.PER_PAGE, 2
    try:
        first = f.page_text(client.get("/tasks/?view=groups"))
        assert "第 1 / 2 页，共 4 条" in first and "下一页" in first
        assert keys[3] in f.page_text(client.get("/tasks/?view=groups&page=2"))
    finally:
        inbox_module.PER_PAGE = original


# ---- task page ----------------------------------------------------------------------------------

def test_refusal_without_reasons_is_rejected_on_the_page_then_approval_grants(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "provider_review")
    f.login(client, "gaj.approver")
    page = f.page_text(client.get(f"/tasks/{task['id']}"))
    assert 'name="decision" value="approve"' in page and 'name="decision" value="refuse"' in page
    assert "出生医学证明核验" in page and "申请函.pdf" in page and '<dialog id="confirm-dialog"' in page
    refused = f.post_form(client, f"/tasks/{task['id']}/complete", {"decision": "refuse", "reasons": " "})
    assert refused.status_code == 200
    assert "不予共享的，必须说明理由" in f.page_text(refused)
    assert db.session.get(HumanTask, task["id"]).state == "ready"
    # the items asked for are offered, all ticked: an approval grants them unless unticked
    assert 'name="approved_items" value="公民身份号码" checked' in page
    approved = f.post_form(client, f"/tasks/{task['id']}/complete",
                     {"decision": "approve", "scope": "出生登记核验", "valid_from": "2026-10-01",
                      "valid_until": "2027-03-31", "approved_items": "公民身份号码"})
    assert approved.status_code == 302
    f.sign_out(client)
    f.login(client, "wjw.applicant")
    detail = f.page_text(client.get(f"/applications/{key}"))
    assert "已授权" in detail and "2027-03-31" in detail and "同意" in detail


def test_completing_a_task_held_by_a_colleague_is_explained_not_crashed(client, flow, city, entries, second, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "provider_review")
    flow.post(second.police_approver, f"/api/tasks/{task['id']}/claim")
    f.login(client, "gaj.approver")
    page = f.page_text(client.get(f"/tasks/{task['id']}"))
    assert "已由 gaj.approver2 签收办理" in page and 'id="task-form"' not in page
    response = f.post_form(client, f"/tasks/{task['id']}/complete", {"decision": "approve"})
    assert response.status_code == 302
    assert "已由他人签收" in f.page_text(client.get(response.headers["Location"]))


def test_delegate_only_to_a_colleague_with_the_same_role(client, flow, city, entries, second, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = flow.task(key, "provider_review")
    f.login(client, "gaj.approver")
    page = f.page_text(client.get(f"/tasks/{task['id']}"))
    assert f'<option value="{second.police_approver.id}">' in page
    assert f'<option value="{city.police_applicant.id}">' not in page  # same department, other role
    bad = f.post_form(client, f"/tasks/{task['id']}/delegate", {"to_user_id": city.police_applicant.id})
    assert bad.status_code == 200 and "只能转办给本部门具有相应角色的在岗人员" in f.page_text(bad)
    ok = f.post_form(client, f"/tasks/{task['id']}/delegate", {"to_user_id": second.police_approver.id, "note": "请代办"})
    assert ok.status_code == 302
    assert db.session.get(HumanTask, task["id"]).assignee_id == second.police_approver.id
    timeline = f.page_text(client.get(f"/applications/{key}"))
    assert "转办" in timeline and "请代办" in timeline


def test_attachment_download_checks_permission(client, flow, city, entries, second, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    application = flow.detail(key)["application"]
    url = f"/applications/{key}/attachments/{application['letter_attachment_id']}"
    for username in ("wjw.applicant", "gaj.approver", "dsj.reviewer"):
        f.login(client, username)
        response = client.get(url)
        assert response.status_code == 200 and response.data == PDF, username
        f.sign_out(client)
    f.login(client, "zjj.approver")
    denied = client.get(url)
    assert denied.status_code == 403 and "没有权限" in f.page_text(denied)
    assert client.get(f"/applications/{key}").status_code == 403
    missing = client.get("/applications/SQ-2026-999999")
    assert missing.status_code == 404 and "页面不存在" in f.page_text(missing)


def test_diagram_endpoint_serves_the_instances_version_and_current_step(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "wjw.applicant")
    payload = client.get(f"/applications/{key}/diagram").json
    assert payload["process_id"] == "conditional_share" and payload["version"] == 1
    assert "<bpmn:userTask id=\"formal_review\"" in payload["xml"]
    assert payload["current"] == ["formal_review"] and payload["completed"] == []
    task = flow.task(key, "formal_review")
    f.sign_out(client)
    f.login(client, "dsj.reviewer")
    assert client.get(f"/tasks/{task['id']}/diagram").json["current"] == ["formal_review"]


# ---- notifications -----------------------------------------------------------------------------

def test_notifications_page_badge_and_mark_read(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "未盖章"})
    f.login(client, "wjw.applicant")
    home = f.page_text(client.get("/"))
    badge = re.search(r'id="unread-badge">(\d+)', home)
    assert badge and int(badge.group(1)) >= 1
    before = int(badge.group(1))
    page = f.page_text(client.get("/notifications/"))
    assert "办理结果" in page and key in page
    note_id = re.search(r'/notifications/(\d+)/read', page).group(1)
    opened = f.post_form(client, f"/notifications/{note_id}/read", {"open": "1"})
    assert opened.status_code == 302
    after = re.search(r'id="unread-badge">(\d+)', f.page_text(client.get("/")))
    assert (int(after.group(1)) if after else 0) == before - 1
    f.post_form(client, "/notifications/read-all", {})
    assert 'id="unread-badge"' not in f.page_text(client.get("/"))
    assert "没有未读消息" in f.page_text(client.get("/notifications/?unread=1"))


def test_inbox_in_english(client, flow, city, entries, clock):
    flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "dsj.reviewer")
    f.post_form(client, "/lang/en", {"next": "/tasks/"})
    page = f.page_text(client.get("/tasks/"))
    assert 'lang="en"' in page and "My tasks" in page and "1 working day(s) left" in page


def test_the_submit_button_and_the_submitted_step_read_apart_in_english(client, flow, city, entries, clock):
    # one Chinese word, 提交, for the button and for the timeline's first step
    key = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "wjw.applicant")
    f.post_form(client, "/lang/en", {"next": "/"})
    detail = f.page_text(client.get(f"/applications/{key}"))
    assert "Submitted" in detail
    form = f.page_text(client.get("/cases/new/unpublished_demand"))
    assert re.search(r'<button type="submit" class="btn btn-primary">Submit</button>', form)


def test_home_page_counts_the_users_work(client, flow, city, entries, clock):
    flow.apply(city.health_applicant, entries.conditional)  # 南通: formal review by the office
    f.login(client, "dsj.reviewer")
    page = f.page_text(client.get("/"))
    groups = re.search(r'href="/tasks/\?view=groups"><strong>(\d+)</strong>', page)
    assert groups and groups.group(1) == "1"
    assert re.search(r'href="/tasks/\?view=mine"><strong>0</strong>', page)
    assert re.search(r'href="/notifications/"><strong>1</strong><span>未读消息', page)
