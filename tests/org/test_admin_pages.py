"""Administrators manage departments and accounts on web pages; nobody else may."""
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.org.models import Department, User
from tests import factories as f


def test_non_administrators_get_403(city, client):
    f.login(client, "gaj.approver")
    assert client.get("/admin/users").status_code == 403
    assert f.post_form(client, "/admin/departments/new", {"code": "x1", "name": "某局"}).status_code == 403
    assert db.session.scalar(select(Department).where(Department.code == "x1")) is None


def test_create_department_with_field_errors_then_success(city, client):
    f.login(client, "dsj.admin")
    bad = f.post_form(client, "/admin/departments/new", {"code": "gaj", "name": "", "level": "municipal"})
    assert bad.status_code == 200
    page = bad.get_data(as_text=True)
    assert "此项为必填项" in page or "须为 1–120 个字符" in page
    ok = f.post_form(client, "/admin/departments/new", {"code": "mzj", "name": "市民政局", "level": "municipal"})
    assert ok.status_code == 302
    assert db.session.scalar(select(Department.name).where(Department.code == "mzj")) == "市民政局"


def test_create_and_edit_user(city, client):
    f.login(client, "dsj.admin")
    r = f.post_form(client, "/admin/users/new", {"username": "gaj.clerk", "display_name": "李四",
                                           "department_id": city.police.id, "roles": "applicant",
                                           "password": "short", "active": "y"})
    assert r.status_code == 200 and "密码至少 10 位" in r.get_data(as_text=True)
    r = f.post_form(client, "/admin/users/new", {"username": "gaj.clerk", "display_name": "李四",
                                           "department_id": city.police.id, "roles": "applicant",
                                           "password": "long-enough-1", "active": "y"})
    assert r.status_code == 302
    clerk = db.session.scalar(select(User).where(User.username == "gaj.clerk"))
    r = f.post_form(client, f"/admin/users/{clerk.id}", {"username": "gaj.clerk", "display_name": "李四",
                                                   "department_id": city.police.id,
                                                   "roles": ["applicant", "provider_approver"]})
    assert r.status_code == 302
    db.session.expire_all()
    assert {r.value for r in db.session.get(User, clerk.id).roles} == {"applicant", "provider_approver"}
    assert db.session.get(User, clerk.id).active is False  # unchecked box deactivates
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "user", AuditEntry.object_id == str(clerk.id))
        .order_by(AuditEntry.id)).all()
    assert actions == ["org.user_created", "org.user_updated"]
