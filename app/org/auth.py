"""Signing in: web sessions (Flask-Login) with throttling, and API tokens."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload

from app.audit.log import record
from app.clock import utcnow
from app.extensions import db, login_manager
from app.org.models import LoginAttempt, User
from app.org.passwords import password_matches, token_hash


class SignInThrottled(Exception):
    def __init__(self, retry_minutes: int):
        super().__init__(retry_minutes)
        self.retry_minutes = retry_minutes


def _recent_failures(username: str) -> int:
    window = timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    return db.session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.username == username, LoginAttempt.at > utcnow() - window
        )
    )


def authenticate(username: str, password: str) -> User | None:
    """Check credentials, throttling repeated failures per user name.

    Every outcome is audited and committed: a failed attempt must count even though
    nothing else changes.
    """
    username = (username or "").strip()
    limit = current_app.config["LOGIN_THROTTLE_MAX"]
    if _recent_failures(username) >= limit:
        record("auth.sign_in_throttled", "user", username, actor_name=username)
        db.session.commit()
        raise SignInThrottled(current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"] // 60)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not password_matches(user.password_hash, password):
        db.session.add(LoginAttempt(username=username, remote_addr=request.remote_addr))
        record("auth.sign_in_failed", "user", username, actor_name=username)
        db.session.commit()
        return None
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    record("auth.sign_in", "user", user.id, actor=user)
    db.session.commit()
    return user


# Every request loads its user; the roles come in the same SELECT (the mapping's selectin
# default would add a second query to every request).
_WITH_ROLES = (joinedload(User.role_rows),)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id), options=_WITH_ROLES)
    return user if user and user.active else None


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    """API clients send `Authorization: Bearer <token>`."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = token_hash(header[len("Bearer "):].strip())
    user = db.session.scalars(select(User).options(*_WITH_ROLES)
                              .where(User.api_token_hash == digest)).unique().one_or_none()
    return user if user and user.active else None


def register_auth(app: Flask) -> None:
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
