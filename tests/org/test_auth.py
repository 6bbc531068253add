"""Sign-in, CSRF, throttling and API tokens."""
import time_machine

from tests import factories as f


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


def test_a_requests_user_comes_with_roles_and_department_in_one_select(city, app):
    from sqlalchemy import event

    from app.extensions import db
    from app.org.auth import _load_user_from_token, load_user

    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    user_id, headers = city.police_approver.id, f.bearer(city.police_approver)
    db.session.commit()
    code = city.police.code
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for load in (lambda: load_user(str(user_id)),
                     lambda: _load_user_from_token(app.test_request_context(headers=headers).request)):
            db.session.expunge_all()  # a request starts with an empty session
            statements.clear()
            user = load()
            assert user.id == user_id and user.department.code == code
            assert {r.value for r in user.roles} == {"provider_approver"}
            assert len(statements) == 1, statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
