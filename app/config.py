"""Configuration: embedded SQLite by default, DATABASE_URL for PostgreSQL."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(instance_path) / 'platform.db'}"
    # psycopg 3 is the driver; accept the common short forms.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def build_config(instance_path: str, overrides: dict | None = None) -> dict:
    cfg = {
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        **_sign_in(),
        **_storage(instance_path),
        # How long an Idempotency-Key's first answer is kept for repeats (app/api/idempotency.py)
        "IDEMPOTENCY_KEY_HOURS": int(os.environ.get("IDEMPOTENCY_KEY_HOURS", "24")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh_CN", "en"],
        "CALENDAR_DIR": os.environ.get("CALENDAR_DIR", str(ROOT / "calendars")),
        "POLICY_PROFILE": os.environ.get("POLICY_PROFILE", "nantong"),
        "BPMN_DIR": str(ROOT / "bpmn"),
        "SCHEDULER_ENABLED": os.environ.get("SCHEDULER_ENABLED", "0") == "1",
        # The embedded database's WAL checkpoints in a background thread (app/db/sqlite.py);
        # `make run` turns it on, tests and command-line tools leave it off.
        "SQLITE_CHECKPOINT_THREAD": os.environ.get("SQLITE_CHECKPOINT_THREAD", "0") == "1",
        **_time_limits(),
        **_api_document(),
    }
    if overrides:
        cfg.update(overrides)
    return cfg


def _sign_in() -> dict:
    secure_cookies = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "dev-only-change-me",
        # Cookie flags: never readable by scripts, never sent cross-site; SESSION_COOKIE_SECURE=1
        # (behind HTTPS) makes every cookie Secure (app.org.auth.SecureCookieResponse).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        # A session ends at sign-out, on a new password or deactivation, and at the latest
        # this long after sign-in (its row is checked on every request: app.org.auth).
        "SESSION_MAX_AGE_SECONDS": int(os.environ.get("SESSION_MAX_AGE_SECONDS", 30 * 24 * 3600)),
        # Reverse proxies in front of the app (each appends to X-Forwarded-For); 0 = none, and
        # the client address is the connection's. The sign-in throttle keys on that address.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        "WTF_CSRF_TIME_LIMIT": None,
        # Sign-in throttle (app.org.auth): checks per user name + address before waiting, and
        # per address across user names; the wait then doubles from BACKOFF up to its MAX; a
        # key quiet for the WINDOW starts afresh.
        "LOGIN_THROTTLE_MAX": 5,
        "LOGIN_THROTTLE_ADDRESS_MAX": 30,
        "LOGIN_BACKOFF_SECONDS": 60,
        "LOGIN_BACKOFF_MAX_SECONDS": 900,
        "LOGIN_THROTTLE_WINDOW_SECONDS": 3600,
    }


def _storage(instance_path: str) -> dict:
    return {
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        # Attachments live in the database (every web host sees them) unless ATTACHMENT_STORAGE=folder;
        # ATTACHMENT_DIR is that folder, and where content stored before the database kept it is read.
        # The allowed types are app/catalog/attachments.py's FILE_TYPES.
        "ATTACHMENT_STORAGE": os.environ.get("ATTACHMENT_STORAGE", "database"),
        "ATTACHMENT_DIR": os.environ.get("ATTACHMENT_DIR", str(Path(instance_path) / "attachments")),
        "ATTACHMENT_MAX_BYTES": 20 * 1024 * 1024,
    }


def _time_limits() -> dict:
    # Time limits (app/limits.py; 0 = none). PostgreSQL ends a statement, a lock wait, a
    # transaction left idle; the watchdog ends a request or scheduler job that overruns.
    return {
        "DB_STATEMENT_TIMEOUT_MS": int(_number("DB_STATEMENT_TIMEOUT_MS", 30000)),
        "DB_LOCK_TIMEOUT_MS": int(_number("DB_LOCK_TIMEOUT_MS", 10000)),
        "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": int(_number("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000)),
        "REQUEST_TIME_LIMIT": _number("REQUEST_TIME_LIMIT", 30),
        "SCHEDULER_JOB_TIME_LIMIT": _number("SCHEDULER_JOB_TIME_LIMIT", 120),
        # Engine tasks (gateways, service tasks, events) one step may run: a BPMN cycle without
        # a wait ends here with an error instead of spinning (app/engine/runtime.py).
        "ENGINE_MAX_TASKS_PER_STEP": int(_number("ENGINE_MAX_TASKS_PER_STEP", 500)),
    }


def _api_document() -> dict:
    return {
        "API_TITLE": "政务信息资源共享审批平台 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    }
