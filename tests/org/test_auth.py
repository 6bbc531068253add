"""Sign-in, sessions, safe redirects, CSRF, throttling and API tokens."""
from urllib.parse import unquote

import pytest
import time_machine
from flask_login.utils import encode_cookie
from sqlalchemy import func, select

from app.catalog.models import CatalogEntry
from app.extensions import db
from app.org.models import Department
from app.org.services import save_user
from tests import factories as f
from tests.conftest import make_app
from tests.factories import commit


def test_sign_in_and_out(city, client):
    r = f.login(client, "gaj.applicant")
    assert r.status_code == 302
    assert "市公安局" in client.get("/").get_data(as_text=True)
    token = f.csrf_token(client, "/")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused_with_a_field_message(city, client):
    r = f.login(client, "gaj.applicant", "wrong-password")
    assert r.status_code == 401
    assert "用户名或密码不正确" in r.get_data(as_text=True)


def test_form_post_without_csrf_token_is_refused(city, client):
    r = client.post("/sign-in", data={"username": "gaj.applicant", "password": f.PASSWORD})
    assert r.status_code == 400
    assert client.get("/").status_code == 302  # not signed in


def test_api_write_with_session_cookie_needs_csrf(city, client):
    f.login(client, "gaj.approver")
    r = client.post("/api/catalog/entries", json=f.entry_data())
    assert r.status_code == 400
    ok = client.post("/api/catalog/entries", json=f.entry_data(),
                     headers={"X-CSRFToken": f.csrf_token(client, "/")})
    assert ok.status_code == 201


def test_repeated_failures_throttle_sign_in(city, client):
    with time_machine.travel("2026-11-23 09:00 +0800", tick=False):
        for _ in range(5):
            assert f.login(client, "gaj.applicant", "bad").status_code == 401
        # even the right password is refused while throttled
        r = f.login(client, "gaj.applicant")
        assert r.status_code == 429
        assert "分钟后再试" in r.get_data(as_text=True)
    with time_machine.travel("2026-11-23 09:16 +0800", tick=False):
        assert f.login(client, "gaj.applicant").status_code == 302


def test_api_token_auth(city, client):
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    headers = f.bearer(city.police_applicant)
    assert client.get("/api/me", headers=headers).get_json()["username"] == "gaj.applicant"
    # a new token replaces the old one
    f.bearer(city.police_applicant)
    assert client.get("/api/me", headers=headers).status_code == 401


def test_session_cookie_flags(city, client):
    r = f.login(client, "gaj.applicant")
    session_cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_a_requests_user_comes_with_roles_and_department_in_one_select(city, app, client):
    """User, department, roles — and for a cookie, its server-side session — in one SELECT."""
    from flask import session
    from sqlalchemy import event

    from app.org.auth import _load_user_from_token, load_user

    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    f.login(client, "gaj.approver")
    cookie = app.session_interface.get_signing_serializer(app).loads(client.get_cookie("session").value)
    user_id, headers = city.police_approver.id, f.bearer(city.police_approver)
    commit()
    code = city.police.code

    def from_cookie():
        with app.test_request_context():
            session.update(cookie)
            return load_user(cookie["_user_id"])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for load in (from_cookie,
                     lambda: _load_user_from_token(app.test_request_context(headers=headers).request)):
            db.session.expunge_all()  # a request starts with an empty session
            statements.clear()
            user = load()
            assert user.id == user_id and user.department.code == code
            assert {r.value for r in user.roles} == {"provider_approver"}
            assert len(statements) == 1, statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# ---- `next` only ever leads to a page of ours ------------------------------------------------

# What the application sees in `next` (after the query string's own decoding). Browsers drop
# tab/CR/LF inside URLs, so "/\t/evil" would be followed as "//evil" — another site.
HOSTILE_NEXT = [
    "/\t/evil.example/phish", "/\n/evil.example", "/x\r\nSet-Cookie: a=b", "//evil.example",
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "https://evil.example/",
    "javascript:alert(1)", "evil.example", " /evil.example", "/%09/evil.example",
    "/%2F%2Fevil.example", "/%5Cevil.example", "/%0d%0aSet-Cookie:a=b", "/ok\x00",
    "/\u2028/evil.example", "/\x7f/evil", "/\u00a0/evil", "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_next_refuses_anything_but_a_local_path(city, client, target):
    token = f.csrf_token(client)
    r = client.post("/sign-in", query_string={"next": target},
                    data={"username": "gaj.applicant", "password": f.PASSWORD, "csrf_token": token})
    _went_home(r, target)


def _went_home(response, target: str) -> None:
    if "\x00" in target:  # refused before any view (NUL bytes never reach the application)
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_language_switch_next_refuses_anything_but_a_local_path(city, client, target):
    r = client.post("/lang/en", data={"next": target, "csrf_token": f.csrf_token(client)})
    _went_home(r, target)


@pytest.mark.parametrize("target", ["/catalog/", "/tasks/3?tab=history#timeline", "/目录/甲"])
def test_a_local_next_is_followed(city, client, target):
    token = f.csrf_token(client)
    r = client.post("/sign-in", query_string={"next": target},
                    data={"username": "gaj.applicant", "password": f.PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert unquote(r.headers["Location"]) == target


# ---- sessions end on the server -------------------------------------------------------------

def test_a_session_cookie_replayed_after_sign_out_is_refused(city, client):
    f.login(client, "gaj.applicant")
    saved = client.get_cookie("session").value
    assert client.get("/api/me").status_code == 200
    assert f.sign_out(client).status_code == 302
    client.set_cookie("session", saved)  # the attacker's copy, taken before sign-out
    assert client.get("/api/me").status_code == 401
    assert client.get("/notifications/").status_code == 302  # to the sign-in page


def test_signing_out_ends_only_that_session(city, app):
    first, second = app.test_client(), app.test_client()
    f.login(first, "gaj.applicant")
    f.login(second, "gaj.applicant")
    f.sign_out(first)
    assert first.get("/api/me").status_code == 401
    assert second.get("/api/me").status_code == 200


@pytest.mark.parametrize("change", [{"password": "another-password-1"}, {"active": False}])
def test_a_new_password_or_deactivation_ends_the_users_sessions(city, client, change):
    f.login(client, "gaj.applicant")
    saved = client.get_cookie("session").value
    save_user(city.admin, change, city.police_applicant)
    if change.get("active") is False:  # and switched back on: the old session stays ended
        save_user(city.admin, {"active": True}, city.police_applicant)
    client.set_cookie("session", saved)
    assert client.get("/api/me").status_code == 401


def test_a_remember_me_cookie_alone_signs_nobody_in(city, client):
    client.set_cookie("remember_token", encode_cookie(str(city.police_applicant.id)))
    assert client.get("/api/me").status_code == 401


# ---- an Authorization header means the token, and only the token ----------------------------

@pytest.mark.parametrize("header", ["Bearer junk", "Bearer ", "Bearer", "bearer dsp_x", "Basic Zm9vOmJhcg==",
                                    "Token abc"])
def test_an_authorization_header_never_falls_back_to_the_session_cookie(city, client, header):
    f.login(client, "gaj.approver")
    r = client.post("/api/catalog/entries", json=f.entry_data(), headers={"Authorization": header})
    assert r.status_code == 401
    assert client.get("/api/me", headers={"Authorization": header}).status_code == 401
    assert db_count(CatalogEntry) == 0


def db_count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_valid_token_acts_alone_even_beside_another_users_cookie(city, client):
    f.login(client, "gaj.applicant")
    headers = f.bearer(city.police_approver)
    assert client.get("/api/me", headers=headers).get_json()["username"] == "gaj.approver"
    # authenticated by the token, so no CSRF token is needed for a write
    assert client.post("/api/catalog/entries", json=f.entry_data(), headers=headers).status_code == 201


def test_a_bearer_header_does_not_switch_off_csrf_on_pages(city, client):
    f.login(client, "dsj.admin")
    headers = f.bearer(city.admin)
    r = client.post("/admin/departments/new", data={"code": "x1", "name": "某局", "level": "municipal"},
                    headers=headers)
    assert r.status_code == 400  # CSRFProtect: no form token, whatever the Authorization header
    assert db_count(Department) == 3


# ---- Secure cookies --------------------------------------------------------------------------

def test_secure_setting_makes_every_cookie_secure(city, app, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    secure_app = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path_factory)
    try:
        client = secure_app.test_client()
        client.set_cookie("remember_token", encode_cookie("0"))  # sign-out clears it
        seen = []
        seen += f.login(client, "gaj.applicant").headers.getlist("Set-Cookie")
        seen += client.post("/lang/en", data={"csrf_token": f.csrf_token(client, "/")}).headers.getlist(
            "Set-Cookie")
        seen += f.sign_out(client).headers.getlist("Set-Cookie")
        names = {c.split("=", 1)[0] for c in seen}
        assert {"session", "remember_token"} <= names, seen
        assert all("; Secure" in c for c in seen), seen
    finally:
        with secure_app.app_context():
            db.engine.dispose()


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(city, app):
    here, elsewhere = app.test_client(), app.test_client()
    f.login(here, "dsj.admin")
    f.login(elsewhere, "dsj.admin")
    r = f.post_form(here, f"/admin/users/{city.admin.id}", {
        "username": "dsj.admin", "display_name": "dsj.admin", "department_id": city.office.id,
        "roles": ["administrator"], "active": "y", "password": "a-new-password-1"})
    assert r.status_code == 302
    assert here.get("/api/me").status_code == 200
    assert elsewhere.get("/api/me").status_code == 401
