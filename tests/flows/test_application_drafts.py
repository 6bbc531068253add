"""Server-side drafts of the conditional-share application over REST (both backends).

A draft is an application row with status `draft`: only the entry is required, it has no
business key and no process instance, and only the drafting department sees it. Submitting it
runs exactly the checks of POST /api/applications and keeps the stored sealed letter.
"""
from __future__ import annotations

import io

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.catalog.models import Attachment
from app.engine.models import HumanTask, ProcessInstance
from app.extensions import db
from app.flows.models import Application
from tests.factories import commit
from tests.flows.conftest import PDF

FULL = {"purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务", "items": ["公民身份号码"],
        "legal_basis": "《母婴保健法》第二十三条", "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _patch(flow, user, draft_id, **kwargs):
    return flow.client.patch(f"/api/applications/drafts/{draft_id}", headers=flow.headers(user), **kwargs)


def _delete(flow, user, draft_id):
    return flow.client.delete(f"/api/applications/drafts/{draft_id}", headers=flow.headers(user))


def _create(flow, user, entry, **fields) -> dict:
    response = flow.post(user, "/api/applications/drafts", json={"entry_id": entry.id, **fields})
    assert response.status_code == 201, response.json
    return response.json


def _letter() -> dict:
    return {"letter": (io.BytesIO(PDF), "申请函.pdf")}


def test_a_draft_needs_only_the_entry_and_starts_nothing(flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional)
    assert draft["status"] == "draft" and draft["status_label"] == "草稿"
    assert draft["business_key"] is None and draft["requested_valid_from"] is None and draft["letter_filename"] is None
    listed = flow.get(city.health_applicant, "/api/applications").json
    assert [(a["id"], a["status"]) for a in listed] == [(draft["id"], "draft")]
    assert [a["id"] for a in flow.get(city.health_applicant, "/api/applications?status=draft").json] == [draft["id"]]
    row = db.session.get(Application, draft["id"])
    assert row.instance_id is None and row.business_key is None
    assert _count(ProcessInstance) == 0 and _count(HumanTask) == 0
    [created] = _audit("application.draft_created")
    assert created.object_id == str(draft["id"]) and created.after["status"] == "draft"
    # the entry itself is still checked: required, published, not one's own
    assert flow.post(city.health_applicant, "/api/applications/drafts", json={}).json["errors"]["json"] == {
        "entry_id": ["此项为必填项"]}
    own = flow.post(city.police_applicant, "/api/applications/drafts", json={"entry_id": entries.conditional.id})
    assert own.status_code == 422 and own.json["errors"]["json"]["entry_id"] == ["不能申请本部门提供的资源"]
    assert flow.post(city.health_approver, "/api/applications/drafts",
                     json={"entry_id": entries.conditional.id}).status_code == 403  # not an applicant


def test_updating_a_draft_changes_the_given_fields_and_still_checks_types(flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional, purpose="出生医学证明核验")
    bad = _patch(flow, city.health_applicant, draft["id"], json={"requested_valid_from": "2026-13-40", "items": ["没有这项"]})
    assert bad.status_code == 422 and bad.json["errors"]["json"] == {"requested_valid_from": ["日期格式不正确（YYYY-MM-DD）"]}
    unknown = _patch(flow, city.health_applicant, draft["id"], json={"items": ["没有这项"]})
    assert unknown.status_code == 422 and "没有这项" in unknown.json["errors"]["json"]["items"][0]
    moved = _patch(flow, city.health_applicant, draft["id"], json={"entry_id": entries.platform.id})
    assert moved.status_code == 422 and moved.json["errors"]["json"]["entry_id"]
    updated = _patch(flow, city.health_applicant, draft["id"],
                     json={"requested_scope": "本部门出生登记业务", "items": ["公民身份号码"], "requested_valid_from": "2026-10-01"})
    assert updated.status_code == 200, updated.json
    body = updated.json
    assert (body["purpose"], body["requested_scope"], body["items"], body["requested_valid_from"], body["requested_valid_until"]) == (
        "出生医学证明核验", "本部门出生登记业务", ["公民身份号码"], "2026-10-01", None)
    cleared = _patch(flow, city.health_applicant, draft["id"], json={"purpose": "", "requested_valid_from": None})
    assert cleared.json["purpose"] == "" and cleared.json["requested_valid_from"] is None and cleared.json["requested_scope"]
    assert flow.get(city.health_applicant, f"/api/applications/drafts/{draft['id']}").json["requested_scope"] == "本部门出生登记业务"
    audits = _audit("application.draft_updated")
    assert len(audits) == 2 and audits[0].before["purpose"] == "出生医学证明核验" and audits[1].after["purpose"] == ""
    assert _count(ProcessInstance) == 0


def test_the_letter_stored_with_the_draft_is_kept_on_submit(flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional)
    with_letter = _patch(flow, city.health_applicant, draft["id"], data=_letter(), content_type="multipart/form-data")
    assert with_letter.status_code == 200, with_letter.json
    assert with_letter.json["letter_filename"] == "申请函.pdf"
    letter_id = with_letter.json["letter_attachment_id"]
    assert db.session.get(Attachment, letter_id).owner_id == f"draft-{draft['id']}"
    assert _patch(flow, city.health_applicant, draft["id"], json=FULL).json["letter_attachment_id"] == letter_id
    submitted = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit")
    assert submitted.status_code == 201, submitted.json
    application = submitted.json["application"]
    assert application["id"] == draft["id"] and application["status"] == "in_progress"
    assert application["business_key"].startswith("SQ-2026-")
    assert application["letter_attachment_id"] == letter_id
    assert [t["task_spec"] for t in submitted.json["open_tasks"]] == ["formal_review"]
    row = db.session.get(Application, draft["id"])
    assert row.instance_id is not None and row.letter.owner_id == row.business_key
    [audit] = _audit("application.submitted")
    assert audit.before["status"] == "draft" and audit.after["status"] == "in_progress"
    assert flow.detail(application["business_key"])["application"]["letter_attachment_id"] == letter_id


def test_a_new_letter_uploaded_on_submit_replaces_the_stored_one(flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional, **FULL)
    old = _patch(flow, city.health_applicant, draft["id"], data=_letter(),
                 content_type="multipart/form-data").json["letter_attachment_id"]
    submitted = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit",
                          data={"letter": (io.BytesIO(PDF + b"v2"), "新申请函.pdf"), "purpose": "改过的用途"},
                          content_type="multipart/form-data")
    assert submitted.status_code == 201, submitted.json
    application = submitted.json["application"]
    assert application["letter_attachment_id"] != old and application["purpose"] == "改过的用途"
    assert db.session.get(Attachment, application["letter_attachment_id"]).filename == "新申请函.pdf"


def test_submitting_an_incomplete_draft_answers_like_a_fresh_submission_and_changes_nothing(
        flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional)
    submitted = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit")
    assert submitted.status_code == 422
    fresh = flow.post(city.health_applicant, "/api/applications", json={"entry_id": entries.conditional.id, "items": []})
    assert fresh.status_code == 422
    assert submitted.json == fresh.json
    assert set(submitted.json["errors"]["json"]) == {"purpose", "requested_scope", "items", "legal_basis",
                                                     "requested_valid_from", "requested_valid_until"}
    # complete but without the sealed letter (南通 art. 20)
    _patch(flow, city.health_applicant, draft["id"], json=FULL)
    no_letter = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit")
    assert no_letter.status_code == 422 and set(no_letter.json["errors"]["json"]) == {"letter"}
    # a body's fields are validated too, and a failed submit does not save them
    bad = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit",
                    json={"requested_valid_until": "2026-09-01"})
    assert bad.status_code == 422 and "requested_valid_until" in bad.json["errors"]["json"]
    row = db.session.get(Application, draft["id"])
    db.session.refresh(row)
    assert row.status == "draft" and row.business_key is None and row.requested_valid_until.isoformat() == "2027-09-30"
    assert _count(ProcessInstance) == 0 and _count(HumanTask) == 0 and not _audit("application.submitted")


def test_only_the_drafting_department_sees_or_touches_a_draft(flow, city, entries, second, clock):
    draft = _create(flow, city.health_applicant, entries.conditional, **FULL)
    path = f"/api/applications/drafts/{draft['id']}"
    for outsider in (city.police_approver, city.police_applicant, city.reviewer, second.outsider):
        assert flow.get(outsider, "/api/applications").json == [], outsider.username
        assert flow.get(outsider, path).status_code == 403
        assert _patch(flow, outsider, draft["id"], json={"purpose": "x"}).status_code == 403
        assert _delete(flow, outsider, draft["id"]).status_code == 403
        assert flow.post(outsider, f"{path}/submit", data=_letter(),
                         content_type="multipart/form-data").status_code == 403
    # a colleague who is not an applicant sees it, but cannot change it
    assert flow.get(city.health_approver, path).status_code == 200
    assert _patch(flow, city.health_approver, draft["id"], json={"purpose": "x"}).status_code == 403
    assert flow.get(city.health_applicant, "/api/applications/drafts/999999").status_code == 404
    row = db.session.get(Application, draft["id"])
    db.session.refresh(row)
    assert row.status == "draft" and row.purpose == FULL["purpose"]


def test_deleting_a_draft_is_audited_and_a_submitted_application_is_not_a_draft(flow, city, entries, clock):
    draft = _create(flow, city.health_applicant, entries.conditional)
    assert _delete(flow, city.health_applicant, draft["id"]).status_code == 204
    assert db.session.get(Application, draft["id"]) is None
    [audit] = _audit("application.draft_deleted")
    assert audit.object_id == str(draft["id"]) and audit.before["status"] == "draft"
    assert _delete(flow, city.health_applicant, draft["id"]).status_code == 404

    other = _create(flow, city.health_applicant, entries.conditional, **FULL)
    _patch(flow, city.health_applicant, other["id"], data=_letter(), content_type="multipart/form-data")
    assert flow.post(city.health_applicant, f"/api/applications/drafts/{other['id']}/submit").status_code == 201
    assert _delete(flow, city.health_applicant, other["id"]).status_code == 409
    assert _patch(flow, city.health_applicant, other["id"], json={"purpose": "x"}).status_code == 409
    assert flow.post(city.health_applicant, f"/api/applications/drafts/{other['id']}/submit").status_code == 409
    assert db.session.get(Application, other["id"]).status == "in_progress"


def test_a_suspended_department_may_save_a_draft_but_not_submit_it(flow, city, entries, clock):
    city.health.suspended = True
    city.health.suspended_reason = "逾期未整改（宝鸡 art. 29）"
    commit()
    draft = _create(flow, city.health_applicant, entries.conditional, **FULL)
    assert _patch(flow, city.health_applicant, draft["id"], data=_letter(),
                  content_type="multipart/form-data").status_code == 200
    refused = flow.post(city.health_applicant, f"/api/applications/drafts/{draft['id']}/submit")
    assert refused.status_code == 403 and "暂停共享数据使用资格" in refused.json["message"]
    row = db.session.get(Application, draft["id"])
    db.session.refresh(row)
    assert row.status == "draft" and row.instance_id is None and _count(ProcessInstance) == 0


def test_drafts_are_in_the_openapi_document(client, city):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"post"} <= set(paths["/api/applications/drafts"])
    assert {"get", "patch", "delete"} <= set(paths["/api/applications/drafts/{draft_id}"])
    assert "post" in paths["/api/applications/drafts/{draft_id}/submit"]
