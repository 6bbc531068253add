"""Nothing after the commit can turn a created record into an error (both backends, frozen clock).

The answer to a create request is built from what its transaction wrote, before the COMMIT;
after it comes only the return. To prove it, `db_gone_after_commit` makes the database refuse
every statement once the request has committed, as when the server goes away right after
acknowledging the COMMIT: the client still gets its 201 (or the page its redirect) with the
record, and the record is there.
"""
from __future__ import annotations

import io

from sqlalchemy import func, select

from app.extensions import db
from app.flows.models import Application, Case
from tests import factories as f
from tests.flows.conftest import PDF

APPLICATION = {"purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务", "items": ["公民身份号码"],
               "legal_basis": "《母婴保健法》第二十三条", "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}
NOTICE = {"violation_category": "data_inaccurate", "description": "人口数据长期未更新", "deadline": "2026-10-16"}


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _letter():
    return (io.BytesIO(PDF), "申请函.pdf")


# ---- the API --------------------------------------------------------------------------------------

def test_an_application_committed_is_answered_201_whatever_fails_after_the_commit(
        flow, city, entries, clock, db_gone_after_commit):
    flow.headers(city.health_applicant)  # the token is issued (and committed) beforehand
    with db_gone_after_commit():
        response = flow.post(city.health_applicant, "/api/applications", content_type="multipart/form-data",
                             data={"entry_id": entries.conditional.id, **APPLICATION, "letter": _letter()})
    assert response.status_code == 201, response.json
    key = response.json["application"]["business_key"]
    assert response.headers["Location"] == f"/api/applications/{key}"
    assert [t["task_spec"] for t in response.json["open_tasks"]] == ["formal_review"]  # 南通 art. 21
    assert response.json["timeline"]  # the timeline written by the same transaction
    assert _count(Application) == 1 and flow.detail(key)["application"]["status"] == "in_progress"


def test_a_draft_saved_changed_and_submitted_is_answered_whatever_fails_after_the_commit(
        flow, city, entries, clock, db_gone_after_commit):
    flow.headers(city.health_applicant)
    with db_gone_after_commit():
        saved = flow.post(city.health_applicant, "/api/applications/drafts", content_type="multipart/form-data",
                          data={"entry_id": entries.conditional.id, "purpose": "核验", "letter": _letter()})
    assert saved.status_code == 201, saved.json
    assert (saved.json["status"], saved.json["purpose"], saved.json["letter_filename"]) == (
        "draft", "核验", "申请函.pdf")
    assert saved.headers["Location"] == f"/api/applications/drafts/{saved.json['id']}"
    with db_gone_after_commit():
        changed = flow.client.patch(f"/api/applications/drafts/{saved.json['id']}", json={"requested_scope": "出生登记"},
                                    headers=flow.headers(city.health_applicant))
    assert changed.status_code == 200, changed.json
    assert (changed.json["requested_scope"], changed.json["purpose"]) == ("出生登记", "核验")
    with db_gone_after_commit():
        submitted = flow.post(city.health_applicant, f"/api/applications/drafts/{saved.json['id']}/submit",
                              json=APPLICATION)
    assert submitted.status_code == 201, submitted.json
    key = submitted.json["application"]["business_key"]
    assert key.startswith("SQ-2026-") and submitted.json["application"]["id"] == saved.json["id"]
    assert submitted.headers["Location"] == f"/api/applications/{key}"
    assert _count(Application) == 1 and flow.detail(key)["application"]["status"] == "in_progress"


def test_a_case_committed_is_answered_201_whatever_fails_after_the_commit(
        cases, city, clock, db_gone_after_commit):
    cases.headers(city.reviewer)
    with db_gone_after_commit():
        response = cases.start(city.reviewer, "rectification", {**NOTICE, "rectified_department_id": city.health.id})
    assert response.status_code == 201, response.json
    key = response.json["case"]["business_key"]
    assert key.startswith("ZG-2026-") and response.headers["Location"] == f"/api/cases/{key}"
    assert {t["task_spec"] for t in response.json["open_tasks"]} == {"rectification_report"}
    assert _count(Case) == 1 and cases.case(key)["status"] == "in_progress"


def test_errors_before_the_commit_still_change_nothing(flow, city, entries, clock):
    refused = flow.post(city.health_applicant, "/api/applications", json={"entry_id": entries.conditional.id})
    assert refused.status_code == 422 and "purpose" in refused.json["errors"]["json"]
    assert _count(Application) == 0


# ---- the pages ------------------------------------------------------------------------------------

def test_the_application_page_redirects_to_the_record_whatever_fails_after_the_commit(
        client, flow, city, entries, clock, db_gone_after_commit):
    f.login(client, "wjw.applicant")
    token = f.csrf_token(client, "/")
    path = f"/applications/new?entry_id={entries.conditional.id}"
    with db_gone_after_commit():
        saved = client.post(path, content_type="multipart/form-data", data={
            "csrf_token": token, "entry_id": entries.conditional.id, **APPLICATION, "save_draft": "1"})
    draft = db.session.scalar(select(Application))
    assert saved.status_code == 302 and saved.headers["Location"] == f"/applications/drafts/{draft.id}"
    with db_gone_after_commit():
        submitted = client.post(f"/applications/drafts/{draft.id}", content_type="multipart/form-data",
                                data={"csrf_token": token, **APPLICATION, "letter": _letter()})
    db.session.expire_all()
    application = db.session.get(Application, draft.id)
    assert submitted.status_code == 302, f.page_text(submitted)[-1500:]
    assert submitted.headers["Location"] == f"/applications/{application.business_key}"
    assert application.status == "in_progress"
    assert f"申请已提交，业务编号 {application.business_key}" in f.page_text(client.get(submitted.headers["Location"]))


def test_the_case_page_redirects_to_the_record_whatever_fails_after_the_commit(
        client, cases, city, clock, db_gone_after_commit):
    f.login(client, "dsj.reviewer")
    token = f.csrf_token(client, "/")
    with db_gone_after_commit():
        started = client.post("/cases/new/rectification", data={
            "csrf_token": token, **NOTICE, "rectified_department_id": city.health.id, "confirm": "y"})
    case = db.session.scalar(select(Case))
    assert started.status_code == 302, f.page_text(started)[-1500:]
    assert started.headers["Location"] == f"/cases/{case.business_key}"
    assert "已提交，业务编号" in f.page_text(client.get(started.headers["Location"]))
