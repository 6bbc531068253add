"""Administrators manage departments and accounts on web pages; nobody else may."""
import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.org.models import Department, Role, User
from app.validation import FieldErrors
from tests import factories as f
from tests.factories import commit


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


# ---- the platform always keeps an active administrator --------------------------------------

LAST_ADMIN = "至少需要保留一名启用的系统管理员"


def _admin_form(city, **changes) -> dict:
    form = {"username": "dsj.admin", "display_name": "dsj.admin", "department_id": city.office.id,
            "roles": ["administrator"], "active": "y"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _active_admins() -> list[str]:
    db.session.expire_all()
    return sorted(u.username for u in db.session.scalars(select(User)).all()
                  if u.active and "administrator" in {r.value for r in u.roles})


def test_the_only_administrator_cannot_drop_the_role_or_deactivate_itself(city, client):
    f.login(client, "dsj.admin")
    for changes in ({"roles": ["office_reviewer"]}, {"active": None}):
        r = f.post_form(client, f"/admin/users/{city.admin.id}", _admin_form(city, **changes))
        assert r.status_code == 200
        assert LAST_ADMIN in r.get_data(as_text=True)
        assert _active_admins() == ["dsj.admin"]


def test_the_only_administrator_is_kept_through_the_api_too(city, client):
    headers = f.bearer(city.admin)
    for body in ({"roles": ["office_reviewer"]}, {"active": False}):
        r = client.patch(f"/api/users/{city.admin.id}", json=body, headers=headers)
        assert r.status_code == 422
        assert LAST_ADMIN in str(r.get_json()["errors"])
    assert _active_admins() == ["dsj.admin"]


def test_with_two_administrators_one_may_step_down_but_not_the_last(city, client):
    from app.org.services import save_user

    deputy = f.user(city.office, "dsj.deputy", Role.ADMINISTRATOR)
    save_user(city.admin, {"roles": ["office_reviewer"]}, deputy)
    assert _active_admins() == ["dsj.admin"]
    with pytest.raises(FieldErrors):
        save_user(city.admin, {"active": False}, city.admin)
    db.session.rollback()
    assert _active_admins() == ["dsj.admin"]


def test_two_administrators_demoting_each_other_at_once_leave_one(city, app, monkeypatch):
    """The first demotion stops just before its commit; the second is let go up to its first
    locking or writing statement, then the first commits. Whatever the second checked before
    that point is stale, so it must check (again) after it."""
    import threading

    from sqlalchemy import event

    import app.org.services as services
    from app.org.services import save_user

    deputy = f.user(city.office, "dsj.deputy", Role.ADMINISTRATOR)
    ids = {"admin": city.admin.id, "deputy": deputy.id}
    commit()
    first_held, second_locks, release = threading.Event(), threading.Event(), threading.Event()
    real_record = services.record

    def held_record(*args, **kwargs):
        if threading.current_thread().name == "first":
            first_held.set()
            release.wait(timeout=30)
        return real_record(*args, **kwargs)

    def watch(_conn, _cursor, statement, *_args):
        if threading.current_thread().name == "second" and (
                "FOR UPDATE" in statement or statement.lstrip().startswith(("UPDATE", "DELETE", "INSERT"))):
            second_locks.set()

    monkeypatch.setattr(services, "record", held_record)
    event.listen(db.engine, "before_cursor_execute", watch)
    outcome: dict = {}

    def demote(name, actor_key, target_key):
        with app.app_context():
            try:
                actor, target = db.session.get(User, ids[actor_key]), db.session.get(User, ids[target_key])
                save_user(actor, {"roles": ["office_reviewer"]}, target)
                outcome[name] = "saved"
            except FieldErrors:
                outcome[name] = "refused"
            finally:
                db.session.remove()

    first = threading.Thread(target=demote, args=("first", "admin", "deputy"), name="first")
    second = threading.Thread(target=demote, args=("second", "deputy", "admin"), name="second")
    try:
        first.start()
        assert first_held.wait(timeout=30)
        second.start()
        assert second_locks.wait(timeout=30)
        release.set()
        first.join(timeout=30)
        second.join(timeout=30)
    finally:
        release.set()
        event.remove(db.engine, "before_cursor_execute", watch)
    assert sorted(outcome.values()) == ["refused", "saved"], outcome
    assert len(_active_admins()) == 1


def test_only_the_menu_item_of_the_page_shown_is_current(city, client):
    import lxml.html

    f.login(client, "dsj.admin")

    def current(path: str) -> list[str]:
        doc = lxml.html.fromstring(client.get(path).get_data(as_text=True))
        return [a.text_content().strip() for a in doc.xpath('//nav[@class="mainnav"]//a[@aria-current="page"]')]

    assert current("/admin/users") == ["用户管理"]
    assert current("/admin/users/new") == ["用户管理"]
    assert current("/admin/departments") == ["部门管理"]
    assert current(f"/admin/departments/{city.police.id}") == ["部门管理"]
    assert current("/") == ["首页"]
