"""The active profile edited in the browser's pages (Flask test client, real database, the real
conditional-share flow, frozen clock): refused input is named beside its field in Chinese and
nothing is saved; the preview names the running steps that count a changed deadline; once saved
(audited) new steps count the new figure and a switch turned off changes new applications,
while the steps already running keep their due dates."""
from __future__ import annotations

import html
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.clock import as_utc
from app.extensions import db
from app.policy import active_policy
from app.policy.changes import items_of
from app.policy.models import PolicyOverride
from tests import factories as f


@pytest.fixture(autouse=True)
def _no_csrf(no_csrf):
    pass


def form_of_policy(**changes) -> dict:
    """The page's form as it is filled in now, with `changes` (field name → value) applied."""
    data = {}
    for (section, name), item in items_of(active_policy()).items():
        p = f"{section}-{name}-"
        if section == "deadlines":
            data[p + "amount"], data[p + "unit"] = str(item["amount"]), item["unit"]
        elif item["value"]:
            data[p + "value"] = "y"
        data[p + "article"], data[p + "note"] = item["article"] or "", item["note"] or ""
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def confirm(client, preview_page: str):
    payload = html.unescape(re.search(r'name="edits" value="([^"]*)"', preview_page).group(1))
    return client.post("/admin/policy/save", data={"edits": payload, "confirm": "yes"})


def instant(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def test_only_administrators_edit_the_profile(client, city):
    f.login(client, "gaj.approver")
    assert client.get("/admin/policy/").status_code == 403
    assert client.post("/admin/policy/save", data={"edits": "[]", "confirm": "yes"}).status_code == 403


def test_the_page_shows_every_deadline_and_switch_with_its_article_or_default(client, city):
    f.login(client, "dsj.admin")
    page = client.get("/admin/policy/").get_data(as_text=True)
    policy = active_policy()
    assert f"辖区规定：{policy.city}" in page
    assert page.count("data-deadline=") == len(policy.deadlines) and page.count("data-switch=") == len(policy.switches)
    assert 'id="deadlines-provider_review-article" name="deadlines-provider_review-article"' in page
    assert "提供部门审核（有条件共享申请）" in page   # the steps a deadline bounds, as the diagrams name them
    assert "默认值" in page


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"deadlines-provider_review-amount": "十"}, "deadlines-provider_review-amount", "请填写整数"),
    ({"deadlines-provider_review-amount": "0"}, "deadlines-provider_review-amount", "不能小于 1"),
    ({"deadlines-provider_review-article": "第22条"}, "deadlines-provider_review-article", "条款写作 art. 21"),
    ({"deadlines-provider_review-article": "", "deadlines-provider_review-note": ""},
     "deadlines-provider_review-note", "没有引用条款时，须在说明中写明"),
    ({"deadlines-provider_review-unit": "week"}, "deadlines-provider_review-unit", "单位应为工作日或月"),
])
def test_refused_input_is_named_beside_its_field_and_nothing_is_saved(client, city, change, field, message):
    f.login(client, "dsj.admin")
    response = client.post("/admin/policy/", data=form_of_policy(**change))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f'id="{field}-error">{message}' in page
    assert 'aria-invalid="true"' in page and "确认保存" not in page
    assert db.session.scalar(select(PolicyOverride.id)) is None


def test_a_shorter_provider_review_applies_to_new_steps_while_running_ones_keep_their_due_date(
        client, flow, entries, city, clock):
    running = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, running, "formal_review", {"decision": "accept"})
    kept = instant(flow.task(running, "provider_review")["due_at"])
    before = active_policy().deadline("provider_review")

    f.login(client, "dsj.admin")
    preview = client.post("/admin/policy/", data=form_of_policy(**{
        "deadlines-provider_review-amount": str(before.amount - 5), "deadlines-provider_review-article": "",
        "deadlines-provider_review-note": "默认值：市大数据局通知压缩审核时限"}))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "1 个正在办理的环节按改动的期限计算" in page
    assert f'data-key="{running}"' in page and 'data-entry="deadlines.provider_review"' in page
    assert client.get("/admin/policy/").status_code == 200 and db.session.scalar(select(PolicyOverride.id)) is None

    saved = confirm(client, page)
    assert saved.status_code == 302
    assert active_policy().deadline("provider_review").amount == before.amount - 5
    assert instant(flow.task(running, "provider_review")["due_at"]) == kept   # running: unchanged
    fresh = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, fresh, "formal_review", {"decision": "accept"})
    assert instant(flow.task(fresh, "provider_review")["due_at"]) < kept          # new: 5 wd sooner
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "policy.changed")).one()
    assert entry.object_id.endswith(":deadlines.provider_review") and entry.after["amount"] == before.amount - 5
    assert "已在网页修改" in client.get("/admin/policy/").get_data(as_text=True)


def test_a_switch_turned_off_changes_new_applications(client, flow, entries, city, clock):
    assert active_policy().switch("formal_review")
    f.login(client, "dsj.admin")
    preview = client.post("/admin/policy/", data=form_of_policy(**{
        "switches-formal_review-value": None, "switches-formal_review-note": "默认值：试点期间取消形式审查"}))
    assert confirm(client, preview.get_data(as_text=True)).status_code == 302
    key = flow.apply(city.health_applicant, entries.conditional)
    assert "formal_review" not in flow.open_tasks(key) and "provider_review" in flow.open_tasks(key)


def test_a_tampered_confirmation_is_refused_without_a_500(client, city):
    f.login(client, "dsj.admin")
    assert client.post("/admin/policy/save", data={"edits": "not json", "confirm": "yes"}).status_code == 400
    bad = '[["deadlines", "provider_review", {"amount": -3, "unit": "workday", "article": null, "note": "x"}]]'
    response = client.post("/admin/policy/save", data={"edits": bad, "confirm": "yes"})
    assert response.status_code == 302 and db.session.scalar(select(PolicyOverride.id)) is None
    assert client.post("/admin/policy/save", data={"edits": '[["x"], 5, null]', "confirm": "yes"}).status_code in (302, 400)
