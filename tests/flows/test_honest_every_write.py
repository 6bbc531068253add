"""Every write, API and page, is answered from what its unit of work wrote before the COMMIT:
once the request has committed, the database may refuse every statement and the client still
gets its success, with the change committed (both backends, frozen clock).

(`db_gone_after_commit`, tests/flows/conftest.py: after the first COMMIT inside it,
every statement fails.)
"""
from __future__ import annotations

from sqlalchemy import func, select

from app.catalog.models import CatalogEntry, Grant
from app.engine.models import HumanTask
from app.extensions import db
from app.flows.models import Application
from app.notifications.models import Notification
from app.org.models import Department, Role, User
from tests import factories as f
from tests.factories import entry_data
from tests.flows.conftest import local

ACCEPT = {"decision": "accept"}


def _fresh(model, **where):
    db.session.expire_all()
    return db.session.scalars(select(model).filter_by(**where)).one()


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _formal_review(flow, city, entries) -> tuple[str, int]:
    key = flow.apply(city.health_applicant, entries.conditional)
    return key, flow.task(key, "formal_review")["id"]


# ---- the API --------------------------------------------------------------------------------------

def test_task_actions_over_the_api(flow, city, entries, clock, second, db_gone_after_commit):
    key, task_id = _formal_review(flow, city, entries)
    flow.headers(city.reviewer)
    with db_gone_after_commit():
        claimed = flow.post(city.reviewer, f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.json["assignee_id"] == city.reviewer.id
    assert _fresh(HumanTask, id=task_id).assignee_id == city.reviewer.id
    with db_gone_after_commit():
        released = flow.post(city.reviewer, f"/api/tasks/{task_id}/release")
    assert released.status_code == 200 and released.json["assignee_id"] is None
    with db_gone_after_commit():
        delegated = flow.post(city.reviewer, f"/api/tasks/{task_id}/delegate",
                              json={"to_user_id": second.reviewer.id})
    assert delegated.status_code == 200 and delegated.json["assignee_id"] == second.reviewer.id
    flow.headers(second.reviewer)
    with db_gone_after_commit():
        done = flow.complete(second.reviewer, task_id, ACCEPT)
    assert done.status_code == 200, done.json
    assert done.json["task"]["state"] == "completed"
    assert [t["task_spec"] for t in done.json["next_tasks"]] == ["provider_review"]
    assert _fresh(HumanTask, id=task_id).state == "completed"


def test_grant_use_notification_read_and_draft_delete_over_the_api(flow, city, entries, clock, profile,
                                                                    db_gone_after_commit):
    profile("baoji")  # an unconditional resource granted at once (宝鸡 art. 16)
    key = flow.apply(city.health_applicant, entries.unconditional)
    grant_id = flow.detail(key, city.health_applicant)["grant"]["id"]
    note_id = flow.notifications(city.health_applicant)[0]["id"]
    clock.move_to(local(2026, 10, 8, 10, 0))  # the grant's period has begun
    with db_gone_after_commit():
        used = flow.post(city.health_applicant, f"/api/grants/{grant_id}/use")
    assert used.status_code == 200 and used.json["id"] == grant_id
    assert _fresh(Grant, id=grant_id).last_used_at is not None
    with db_gone_after_commit():
        read = flow.post(city.health_applicant, f"/api/notifications/{note_id}/read")
    assert read.status_code == 200 and read.json == {"unread": 0}
    draft = flow.post(city.health_applicant, "/api/applications/drafts", json={"entry_id": entries.conditional.id})
    with db_gone_after_commit():
        deleted = flow.client.delete(f"/api/applications/drafts/{draft.json['id']}",
                                     headers=flow.headers(city.health_applicant))
    assert deleted.status_code == 204
    assert _count(Application) == 1  # the submitted one; the draft is gone


def test_catalogue_and_organisation_writes_over_the_api(flow, city, clock, db_gone_after_commit):
    flow.headers(city.police_approver)
    flow.headers(city.admin)
    with db_gone_after_commit():
        created = flow.post(city.police_approver, "/api/catalog/entries", json=entry_data("GA-NEW"))
    assert created.status_code == 201, created.json
    assert created.json["resource_code"] == "GA-NEW"
    with db_gone_after_commit():
        changed = flow.client.patch(f"/api/catalog/entries/{created.json['id']}", json={"summary": "新的摘要"},
                                    headers=flow.headers(city.police_approver))
    assert changed.status_code == 200 and changed.json["summary"] == "新的摘要"
    assert _fresh(CatalogEntry, resource_code="GA-NEW").summary == "新的摘要"
    with db_gone_after_commit():
        dept = flow.post(city.admin, "/api/departments", json={"code": "rsj", "name": "市人社局"})
    assert dept.status_code == 201 and dept.json["code"] == "rsj"
    with db_gone_after_commit():
        user = flow.post(city.admin, "/api/users", json={
            "username": "rsj.applicant", "display_name": "人社经办", "department_id": dept.json["id"],
            "password": f.PASSWORD, "roles": [Role.APPLICANT.value]})
    assert user.status_code == 201 and user.json["username"] == "rsj.applicant"
    with db_gone_after_commit():
        token = flow.post(city.admin, "/api/me/token")
    assert token.status_code == 201 and token.json["token"].startswith("dsp_")
    assert _fresh(Department, code="rsj").name == "市人社局"
    assert _fresh(User, username="rsj.applicant").department_id == dept.json["id"]


# ---- the pages ------------------------------------------------------------------------------------

def test_task_pages(client, flow, city, entries, clock, db_gone_after_commit):
    _key, task_id = _formal_review(flow, city, entries)
    f.login(client, "dsj.reviewer")
    token = f.csrf_token(client, "/")
    with db_gone_after_commit():
        claimed = client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    assert claimed.status_code == 302 and claimed.headers["Location"] == f"/tasks/{task_id}"
    with db_gone_after_commit():
        done = client.post(f"/tasks/{task_id}/complete", data={"csrf_token": token, **ACCEPT})
    assert done.status_code == 302 and done.headers["Location"] == "/tasks/"
    assert _fresh(HumanTask, id=task_id).state == "completed"
    assert "已办理" in f.page_text(client.get("/tasks/"))


def test_notification_and_admin_pages(client, flow, city, entries, clock, profile, db_gone_after_commit):
    profile("baoji")
    flow.apply(city.health_applicant, entries.unconditional)
    f.login(client, "wjw.applicant")
    token = f.csrf_token(client, "/")
    with db_gone_after_commit():
        read_all = client.post("/notifications/read-all", data={"csrf_token": token})
    assert read_all.status_code == 302 and read_all.headers["Location"] == "/notifications/"
    db.session.expire_all()
    assert all(n.read_at is not None or n.user_id is None for n in db.session.scalars(select(Notification)))
    f.sign_out(client)
    f.login(client, "dsj.admin")
    token = f.csrf_token(client, "/")
    with db_gone_after_commit():
        saved = client.post("/admin/departments/new", data={
            "csrf_token": token, "code": "zjj", "name": "市住建局", "level": "municipal"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/admin/departments"
    assert _fresh(Department, code="zjj").name == "市住建局"


def test_signing_in_and_out(client, city, db_gone_after_commit):
    token = f.csrf_token(client)
    with db_gone_after_commit():
        signed_in = client.post("/sign-in", data={"username": "wjw.applicant", "password": f.PASSWORD,
                                                  "csrf_token": token})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    token = f.csrf_token(client, "/")
    with db_gone_after_commit():
        signed_out = client.post("/sign-out", data={"csrf_token": token})
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/sign-in"
    assert client.get("/api/me").status_code == 401
