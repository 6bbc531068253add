"""Signing in: server-side web sessions (Flask-Login), a sign-in throttle, and API tokens.

Sessions. The signed session cookie carries a random session key besides Flask-Login's user
id; the database keeps the key's hash in a `user_session` row. The user loader accepts the
cookie only while that row exists, in the same SELECT that loads the user, department and
roles. Sign-out deletes the row, so a copy of the cookie taken earlier is worthless; a new
password or deactivation deletes all the user's rows. (A per-user "session generation" would
be one column instead of a table, but signing out on one computer would end every session of
that user, and a reactivated account would need care; a row per session ends exactly one.)
"Remember me" is not offered: a remember cookie carries no session key, so it can never
restore a session.

Throttle. Counters are rows keyed per user name + client address and per client address
alone (password spraying across user names). Each attempt is reserved — counted as if it
failed — by one INSERT … ON CONFLICT DO UPDATE before the password is checked, and refused
while the key must wait: at most LOGIN_THROTTLE_MAX checks per user name and address however
many requests arrive at once. A stranger elsewhere therefore cannot lock the owner out; the
wait after the limit starts at LOGIN_BACKOFF_SECONDS and doubles per further failure up to
LOGIN_BACKOFF_MAX_SECONDS, and a key quiet for LOGIN_THROTTLE_WINDOW_SECONDS starts afresh.
A success clears its user name + address key and gives its address attempt back.

The client address is `request.remote_addr`. Behind reverse proxies set TRUSTED_PROXIES to
their number (app.config): werkzeug's ProxyFix then takes the address from X-Forwarded-For.
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request, session
from flask_login import login_user, logout_user
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from app.audit.log import record
from app.clock import as_utc, utcnow
from app.db import transaction
from app.extensions import db, login_manager
from app.org.models import SignInThrottle, User, UserSession
from app.org.passwords import hash_password, password_matches, token_hash

# The Flask session entry holding this browser's session key.
_SESSION_KEY = "_session_key"


class SignInThrottled(Exception):
    def __init__(self, retry_seconds: int):
        super().__init__(retry_seconds)
        self.retry_seconds = retry_seconds

    @property
    def retry_minutes(self) -> int:
        return max(1, math.ceil(self.retry_seconds / 60))


# ---- throttle --------------------------------------------------------------------------------

def _wait_seconds(attempts: int, limit: int) -> int:
    """The wait after `attempts` reserved attempts: none below `limit`, then doubling, capped."""
    if attempts < limit:
        return 0
    cfg = current_app.config
    first, cap = cfg["LOGIN_BACKOFF_SECONDS"], cfg["LOGIN_BACKOFF_MAX_SECONDS"]
    return min(first * 2 ** min(attempts - limit, 32), cap)


def _retry_at(attempts, limit: int, now: datetime):
    """`now + _wait_seconds(attempts)` as SQL over the new count: a WHEN per doubling below the cap."""
    cap = current_app.config["LOGIN_BACKOFF_MAX_SECONDS"]
    whens = [(attempts < limit, now)]
    k = limit
    while (wait := _wait_seconds(k, limit)) < cap and k < limit + 32:
        whens.append((attempts == k, now + timedelta(seconds=wait)))
        k += 1
    return case(*whens, else_=now + timedelta(seconds=cap))


def _reserve(key: str, limit: int, now: datetime) -> int | None:
    """Count one attempt on `key` unless it must wait: None when reserved, else the seconds to wait.

    One statement. ON CONFLICT DO UPDATE locks the row (PostgreSQL) or the database (SQLite),
    so concurrent attempts on a key go one at a time and each sees the `retry_at` the one
    before it set.
    """
    t = SignInThrottle.__table__
    quiet = t.c.last_at <= now - timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    attempts = case((quiet, 1), else_=t.c.attempts + 1)
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(t)
            .values(key=key, attempts=1, last_at=now,
                    retry_at=now + timedelta(seconds=_wait_seconds(1, limit)))
            .on_conflict_do_update(index_elements=[t.c.key],
                                   set_={"attempts": attempts, "last_at": now,
                                         "retry_at": _retry_at(attempts, limit, now)},
                                   where=or_(quiet, t.c.retry_at <= now))
            .returning(t.c.attempts))
    # Its own connection and commit: the count holds whatever becomes of the request's unit.
    with db.engine.begin() as conn:
        if conn.execute(stmt).first() is not None:
            return None
        retry_at = conn.scalar(select(t.c.retry_at).where(t.c.key == key))
    if retry_at is None:  # a concurrent success cleared the key just now
        return 1
    return max(1, math.ceil((as_utc(retry_at) - now).total_seconds()))


def _give_back(key: str, limit: int, now: datetime) -> None:
    """Undo one reservation on `key` (the attempt succeeded), lifting a wait it caused."""
    t = SignInThrottle.__table__
    db.session.execute(update(t).where(t.c.key == key, t.c.attempts > 0).values(
        attempts=t.c.attempts - 1,
        retry_at=case((t.c.attempts - 1 < limit, now), else_=t.c.retry_at)))


def _forget_quiet_keys(now: datetime) -> None:
    window = timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.last_at <= now - window))


def _throttle_keys(username: str) -> list[tuple[str, int]]:
    address = (request.remote_addr or "unknown")[:64]
    cfg = current_app.config
    return [(f"address:{address}", cfg["LOGIN_THROTTLE_ADDRESS_MAX"]),
            (f"account:{address}:{username[:64]}", cfg["LOGIN_THROTTLE_MAX"])]


@lru_cache(maxsize=1)
def _decoy(method: str) -> str:
    return hash_password(secrets.token_urlsafe(16))


def _decoy_hash() -> str:
    """A hash of nobody's password, made with the configured method (so it costs the same)."""
    return _decoy(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def authenticate(username: str, password: str) -> User | None:
    """Check credentials, throttled per user name + address and per address.

    Every outcome is audited. The reservation is committed on a connection of its own before
    the password is checked, so it counts (and holds back concurrent attempts) whatever follows
    — even when the request's own unit of work is rolled back.
    """
    username = (username or "").strip()
    now = utcnow()
    (address_key, address_limit), (account_key, account_limit) = _throttle_keys(username)
    wait = _reserve(address_key, address_limit, now)
    if wait is None and (wait := _reserve(account_key, account_limit, now)) is not None:
        # no password is checked, so the address's allowance is not used up by the refusal
        with transaction():
            _give_back(address_key, address_limit, now)
    if wait is not None:
        with transaction():
            record("auth.sign_in_throttled", "user", username, actor_name=username)
        raise SignInThrottled(wait)
    user = db.session.scalar(select(User).where(User.username == username))
    # An unknown or inactive name costs a hash check too, so timing does not tell which exist.
    stored = user.password_hash if user is not None and user.active else _decoy_hash()
    with transaction():
        if not password_matches(stored, password) or user is None or not user.active:
            record("auth.sign_in_failed", "user", username, actor_name=username)
            return None
        db.session.execute(delete(SignInThrottle).where(SignInThrottle.key == account_key))
        _give_back(address_key, address_limit, now)
        _forget_quiet_keys(now)
        record("auth.sign_in", "user", user.id, actor=user)
    return user


# ---- sessions --------------------------------------------------------------------------------

def start_session(user: User) -> None:
    """Sign `user` in on this browser: a new session row, its key in the signed cookie."""
    key = secrets.token_urlsafe(32)
    max_age = timedelta(seconds=current_app.config["SESSION_MAX_AGE_SECONDS"])
    with transaction():
        db.session.execute(delete(UserSession).where(UserSession.created_at <= utcnow() - max_age))
        db.session.add(UserSession(key_hash=token_hash(key), user_id=user.id))
    login_user(user)
    session[_SESSION_KEY] = key


def end_session(user: User) -> None:
    """Sign out: the session row goes, so no copy of the cookie works any more."""
    with transaction():
        record("auth.sign_out", "user", user.id, actor=user)
        if digest := current_session_hash():
            db.session.execute(delete(UserSession).where(UserSession.key_hash == digest))
    logout_user()
    session.pop(_SESSION_KEY, None)


def end_sessions(user_id: int, keep: str | None = None) -> None:
    """End every session of a user (but `keep`, a session hash), in the caller's transaction."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep:
        stmt = stmt.where(UserSession.key_hash != keep)
    db.session.execute(stmt)


def current_session_hash() -> str | None:
    """The hash of this browser's session key (None outside a cookie-signed-in request)."""
    if not has_request_context():
        return None
    key = session.get(_SESSION_KEY)
    return token_hash(key) if isinstance(key, str) else None


# Every request loads its user; the roles come in the same SELECT (the mapping's selectin
# default would add a second query to every request).
_WITH_ROLES = (joinedload(User.role_rows),)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The cookie's user while its session row exists: user, department, roles and session
    in one SELECT. A request with an Authorization header is its token's alone."""
    digest = current_session_hash()
    if "Authorization" in request.headers or digest is None or not str(user_id).isdigit():
        return None
    oldest = utcnow() - timedelta(seconds=current_app.config["SESSION_MAX_AGE_SECONDS"])
    stmt = (select(User).options(*_WITH_ROLES)
            .join(UserSession, UserSession.user_id == User.id)
            .where(User.id == int(user_id), User.active.is_(True),
                   UserSession.key_hash == digest, UserSession.created_at > oldest))
    return db.session.scalars(stmt).unique().one_or_none()


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    """API clients send `Authorization: Bearer <token>`. Anything else in that header — or a
    token that matches nobody — leaves the request anonymous (401), never cookie-signed-in."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    digest = token_hash(token.strip())
    user = db.session.scalars(select(User).options(*_WITH_ROLES)
                              .where(User.api_token_hash == digest)).unique().one_or_none()
    if user is None or not user.active:
        return None
    g.authenticated_by_token = True
    return user


def authenticated_by_token() -> bool:
    """Whether this request's user came from a valid API token (so no cookie, no CSRF)."""
    return bool(g.get("authenticated_by_token"))


class SecureCookieResponse(Response):
    """With SESSION_COOKIE_SECURE every cookie is Secure, whoever sets it: the session, Flask-
    Login's remember cookie (whose deletion at sign-out ignores REMEMBER_COOKIE_SECURE) and
    any a view adds."""

    def set_cookie(self, key: str, *args, **kwargs) -> None:
        if has_app_context() and current_app.config["SESSION_COOKIE_SECURE"]:
            if len(args) > 5:  # passed positionally (value, max_age, expires, path, domain, secure)
                args = (*args[:5], True, *args[6:])
            else:
                kwargs["secure"] = True
        super().set_cookie(key, *args, **kwargs)


def register_auth(app: Flask) -> None:
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    app.response_class = SecureCookieResponse
