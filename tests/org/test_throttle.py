"""Sign-in throttle: keyed per account and client address, atomic under concurrency."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import time_machine

from app.clock import LOCAL_TZ
from app.extensions import db
from tests import factories as f

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=LOCAL_TZ)
A, B = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "203.0.113.9"}


def _client(app, environ=A):
    client = app.test_client()
    client.environ_base.update(environ)
    return client


def test_failures_from_one_address_do_not_lock_the_account_from_another(city, app):
    stranger, owner = _client(app, A), _client(app, B)
    with time_machine.travel(T0, tick=False):
        for _ in range(12):
            assert f.login(stranger, "gaj.applicant", "guess").status_code in (401, 429)
        assert f.login(stranger, "gaj.applicant").status_code == 429  # the stranger is held back
        assert f.login(owner, "gaj.applicant").status_code == 302  # the owner is not


def test_back_off_grows_and_a_success_resets_it(city, app):
    client = _client(app)
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            assert f.login(client, "gaj.applicant", "bad").status_code == 401
        r = f.login(client, "gaj.applicant")
        assert r.status_code == 429
        assert "请 1 分钟后再试" in r.get_data(as_text=True)
        assert r.headers["Retry-After"] == "60"
        clock.shift(timedelta(seconds=61))
        assert f.login(client, "gaj.applicant", "bad").status_code == 401  # one more try, then longer
        r = f.login(client, "gaj.applicant")
        assert r.status_code == 429 and r.headers["Retry-After"] == "120"
        clock.shift(timedelta(seconds=121))
        assert f.login(client, "gaj.applicant").status_code == 302
        f.sign_out(client)
        for _ in range(4):  # the success cleared the count: four more failures are not throttled
            assert f.login(client, "gaj.applicant", "bad").status_code == 401
        assert f.login(client, "gaj.applicant").status_code == 302


def test_password_spraying_from_one_address_is_throttled_across_user_names(city, app):
    client = _client(app)
    with time_machine.travel(T0, tick=False):
        codes = [f.login(client, f"user{i}", "Spring2026!").status_code for i in range(40)]
        assert codes[:30] == [401] * 30
        assert set(codes[30:]) == {429}
        # from that address even a real account waits; elsewhere nobody notices
        assert f.login(client, "gaj.applicant").status_code == 429
        assert f.login(_client(app, B), "gaj.applicant").status_code == 302


def test_successful_sign_ins_do_not_use_up_the_address_allowance(city, app):
    # a whole office behind one NAT address signs in at nine
    with time_machine.travel(T0, tick=False):
        for _ in range(40):
            client = _client(app)
            assert f.login(client, "gaj.applicant").status_code == 302


def test_thirty_concurrent_wrong_passwords_get_at_most_the_limit_of_checks(city, app, monkeypatch):
    """Thirty threads, each its own request and database session, released together."""
    import app.org.auth as auth

    real, checks, lock = auth.password_matches, [], threading.Lock()

    def counting(stored_hash, password):
        with lock:
            checks.append(password)
        return real(stored_hash, password)

    monkeypatch.setattr(auth, "password_matches", counting)
    n = 30
    clients = [_client(app) for _ in range(n)]
    tokens = [f.csrf_token(c) for c in clients]
    barrier = threading.Barrier(n, timeout=60)
    codes: list = [None] * n

    def attempt(i):
        barrier.wait()
        r = clients[i].post("/sign-in", data={"username": "gaj.applicant", "password": f"wrong-{i}",
                                              "csrf_token": tokens[i]})
        codes[i] = r.status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    limit = app.config["LOGIN_THROTTLE_MAX"]
    print(f"\n30 concurrent wrong passwords: {len(checks)} password checks (limit {limit}); "
          f"answers {sorted(codes)}")
    assert len(checks) <= limit
    assert sorted(codes) == [401] * len(checks) + [429] * (n - len(checks))
    db.session.expire_all()


def test_throttled_answer_is_in_chinese_with_the_wait(city, app):
    client = _client(app)
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            f.login(client, "gaj.applicant", "bad")
        r = f.login(client, "gaj.applicant", "bad")
    assert r.status_code == 429
    assert re.search(r"请 \d+ 分钟后再试", r.get_data(as_text=True))


def test_behind_a_proxy_the_forwarded_address_is_the_key(city, app, tmp_path_factory):
    from tests.conftest import make_app

    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path_factory, TRUSTED_PROXIES=1)
    try:
        stranger, owner = _client(proxied), _client(proxied)  # same proxy address, different clients
        stranger.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.66"
        owner.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.10"
        with time_machine.travel(T0, tick=False):
            for _ in range(6):
                f.login(stranger, "gaj.applicant", "guess")
            assert f.login(stranger, "gaj.applicant").status_code == 429
            assert f.login(owner, "gaj.applicant").status_code == 302
    finally:
        with proxied.app_context():
            db.engine.dispose()


def test_an_unknown_user_name_costs_a_password_check_too(app, monkeypatch):
    # Timing must not tell which user names exist: the check runs whatever the name.
    from app.org import auth

    calls = []
    real = auth.password_matches
    monkeypatch.setattr(auth, "password_matches", lambda stored, pw: calls.append(stored) or real(stored, pw))
    with app.test_request_context("/sign-in", environ_base={"REMOTE_ADDR": "10.9.9.9"}):
        assert auth.authenticate("nobody-here", "whatever-password") is None
    assert len(calls) == 1
