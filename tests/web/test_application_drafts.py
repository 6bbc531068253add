"""Server-side drafts on the application pages (both backends, frozen clock).

保存草稿 is a second submit button of the same form: it stores the form and the sealed letter
on the server and comes back to the draft's page; 提交申请 on that page submits the draft.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.engine.models import HumanTask, ProcessInstance
from app.extensions import db
from app.flows.models import Application
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import PDF

pytestmark = pytest.mark.usefixtures("deployed")

FULL = {"purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务", "items": ["公民身份号码"],
        "legal_basis": "《母婴保健法》第二十三条", "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}
BLANK = {"purpose": "", "requested_scope": "", "legal_basis": "", "requested_valid_from": "", "requested_valid_until": ""}


def _post(client, path, data, **kwargs):
    return f.post_form(client, path, data, content_type="multipart/form-data", **kwargs)


def _save_new(client, entry, **fields):
    return _post(client, f"/applications/new?entry_id={entry.id}",
                 {"entry_id": entry.id, **BLANK, **fields, "save_draft": "1"})


def _letter(name="申请函.pdf"):
    return (io.BytesIO(PDF), name)


def _only_draft() -> Application:
    return db.session.scalar(select(Application))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_saving_a_draft_with_only_the_entry_lists_it_as_draft(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    saved = _save_new(client, entries.conditional)
    draft = _only_draft()
    assert saved.status_code == 302 and saved.headers["Location"] == f"/applications/drafts/{draft.id}"
    assert draft.status == "draft" and draft.business_key is None and draft.instance_id is None
    assert _count(ProcessInstance) == 0 and _count(HumanTask) == 0
    page = f.page_text(client.get(saved.headers["Location"]))
    assert "草稿已保存" in page and 'class="status status-draft"' in page and "保存草稿" in page
    assert 'name="save_draft"' in page and "已上传：" not in page
    mine = f.page_text(client.get("/applications/"))
    assert 'class="status status-draft">草稿' in mine and "继续填写" in mine and "删除草稿" in mine
    assert f"/applications/drafts/{draft.id}/delete" in mine
    assert "草稿" in f.page_text(client.get("/applications/?status=draft"))
    # types are still checked: a date that does not parse is a field error, nothing saved
    bad = _save_new(client, entries.conditional, requested_valid_from="2026-02-30")
    assert bad.status_code == 200 and "日期格式不正确" in f.page_text(bad) and _count(Application) == 1


def test_updating_then_submitting_keeps_the_uploaded_letter(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    saved = _save_new(client, entries.conditional, purpose="出生医学证明核验", letter=_letter())
    draft = _only_draft()
    page = f.page_text(client.get(saved.headers["Location"]))
    assert "已上传：" in page and "申请函.pdf" in page and "出生医学证明核验</textarea>" in page
    download = client.get(f"/applications/drafts/{draft.id}/letter")
    assert download.status_code == 200 and download.data == PDF
    # save again without choosing the file: the letter stays; the fields are what the form says
    again = _post(client, f"/applications/drafts/{draft.id}", {**BLANK, **FULL, "purpose": "改过的用途",
                                                              "save_draft": "1"})
    assert again.status_code == 302 and again.headers["Location"] == f"/applications/drafts/{draft.id}"
    db.session.refresh(draft)
    assert draft.purpose == "改过的用途" and draft.items == ["公民身份号码"] and draft.letter.filename == "申请函.pdf"
    submitted = _post(client, f"/applications/drafts/{draft.id}", {**FULL, "purpose": "改过的用途"})
    assert submitted.status_code == 302, f.page_text(submitted)
    db.session.refresh(draft)
    assert draft.status == "in_progress" and submitted.headers["Location"] == f"/applications/{draft.business_key}"
    detail = f.page_text(client.get(submitted.headers["Location"]))
    assert "申请已提交" in detail and "规范性审查" in detail and "申请函.pdf" in detail
    download = client.get(f"/applications/{draft.business_key}/attachments/{draft.letter_attachment_id}")
    assert download.status_code == 200 and download.data == PDF
    # the old draft address now leads to the application
    assert client.get(f"/applications/drafts/{draft.id}").headers["Location"] == f"/applications/{draft.business_key}"
    assert _post(client, f"/applications/drafts/{draft.id}/delete", {}).status_code == 409
    assert [a.action for a in db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "workflow_case").order_by(AuditEntry.id))] == [
        "application.draft_created", "application.draft_updated", "application.submitted"]


def test_submitting_an_incomplete_draft_shows_field_errors_and_keeps_the_draft(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    _save_new(client, entries.conditional, purpose="出生医学证明核验")
    draft = _only_draft()
    response = _post(client, f"/applications/drafts/{draft.id}", {**BLANK, "purpose": "出生医学证明核验"})
    assert response.status_code == 200
    html = f.page_text(response)
    assert "提交的内容有误" in html and "此项为必填项" in html and "请至少选择一个信息项" in html
    assert 'aria-describedby="requested_scope-error"' in html and "出生医学证明核验</textarea>" in html
    db.session.refresh(draft)
    assert draft.status == "draft" and draft.business_key is None
    assert _count(ProcessInstance) == 0 and _count(HumanTask) == 0


def test_other_departments_cannot_see_edit_or_delete_a_draft(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    _save_new(client, entries.conditional, **FULL, letter=_letter())
    draft = _only_draft()
    f.sign_out(client)
    for username in ("gaj.approver", "gaj.applicant", "dsj.reviewer"):  # the provider, and the office
        f.login(client, username)
        for view in ("provided", "department", "mine", "all"):
            assert "继续填写" not in f.page_text(client.get(f"/applications/?view={view}"))
        assert client.get(f"/applications/drafts/{draft.id}").status_code == 403
        assert client.get(f"/applications/drafts/{draft.id}/letter").status_code == 403
        assert _post(client, f"/applications/drafts/{draft.id}", {**FULL, "save_draft": "1"}).status_code == 403
        assert _post(client, f"/applications/drafts/{draft.id}", FULL).status_code == 403
        assert _post(client, f"/applications/drafts/{draft.id}/delete", {}).status_code == 403
        f.sign_out(client)
    assert client.get("/applications/drafts/999999").status_code in (302, 401, 404)  # signed out
    f.login(client, "wjw.applicant")
    assert client.get("/applications/drafts/999999").status_code == 404
    db.session.refresh(draft)
    assert draft.status == "draft" and draft.purpose == FULL["purpose"]


def test_deleting_a_draft_asks_first(client, city, entries, clock):
    f.login(client, "wjw.applicant")
    _save_new(client, entries.conditional, purpose="出生医学证明核验")
    draft = _only_draft()
    question = f.page_text(client.get(f"/applications/drafts/{draft.id}/delete"))
    assert "确定删除申请" in question and "确认删除" in question and _count(Application) == 1
    deleted = _post(client, f"/applications/drafts/{draft.id}/delete", {})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/applications/"
    assert "草稿已删除" in f.page_text(client.get("/applications/"))
    assert _count(Application) == 0
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "application.draft_deleted"))
    assert client.get(f"/applications/drafts/{draft.id}/delete").status_code == 404


def test_a_suspended_department_saves_a_draft_but_cannot_submit_it(client, city, entries, clock):
    city.health.suspended = True
    city.health.suspended_reason = "逾期未整改（宝鸡 art. 29）"
    commit()
    f.login(client, "wjw.applicant")
    saved = _save_new(client, entries.conditional, **FULL, letter=_letter())
    assert saved.status_code == 302
    draft = _only_draft()
    refused = _post(client, f"/applications/drafts/{draft.id}", FULL)
    assert refused.status_code == 403 and "暂停共享数据使用资格" in f.page_text(refused)
    db.session.refresh(draft)
    assert draft.status == "draft" and _count(ProcessInstance) == 0


def test_the_applicant_withdraws_on_the_page_after_a_confirmation_and_urges(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "wjw.applicant")
    page = f.page_text(client.get(f"/applications/{key}"))
    assert 'id="applicant-actions"' in page and "撤回申请" in page and "催办" in page
    assert "已催办 1 个待办环节" in f.page_text(client.get(_post(client, f"/applications/{key}/urge", {}).headers["Location"]))
    question = f.page_text(client.get(f"/applications/{key}/withdraw"))
    assert "确定撤回申请" in question and "确认撤回" in question
    missing = _post(client, f"/applications/{key}/withdraw", {"reasons": ""})
    assert missing.status_code == 200 and "请说明撤回的原因" in f.page_text(missing)
    done = _post(client, f"/applications/{key}/withdraw", {"reasons": "业务调整"})
    assert "申请已撤回" in f.page_text(client.get(done.headers["Location"]))
    assert db.session.scalar(select(Application.status).where(Application.business_key == key)) == "withdrawn"
    assert 'id="applicant-actions"' not in f.page_text(client.get(f"/applications/{key}"))
