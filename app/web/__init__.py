"""Server-rendered pages (Jinja2), zh-CN first."""
from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime, get_locale, gettext
from flask_login import current_user

from app.clock import to_local, utcnow
from app.legaltime.service import provisional_alerts
from app.org.models import ROLE_LABELS
from app.org.permissions import is_admin
from app.web.headers import CONTENT_SECURITY_POLICY


def register_web(app: Flask) -> None:
    from app.web.admin import admin
    from app.web.applications import application_pages
    from app.web.audit_page import audit_pages
    from app.web.auth import auth
    from app.web.calendar_admin import calendar_admin
    from app.web.cases import case_pages
    from app.web.catalog import catalog_pages
    from app.web.i18n import i18n
    from app.web.inbox import inbox_pages
    from app.web.instance_admin import instance_admin
    from app.web.main import main
    from app.web.nav import navigation
    from app.web.notifications import header_badge, notification_pages
    from app.web.policy_admin import policy_admin
    from app.web.sla_page import sla_pages
    from app.web.studio import studio
    from app.web.tasks import task_pages
    from app.web.workview import record_url

    for bp in (auth, main, catalog_pages, admin, i18n, application_pages, inbox_pages, task_pages,
               notification_pages, case_pages, sla_pages, audit_pages, studio, calendar_admin,
               instance_admin, policy_admin):
        app.register_blueprint(bp)
    app.context_processor(header_badge)
    app.context_processor(lambda: {"navigation": navigation(), "admin_alerts": admin_alerts})
    app.jinja_env.filters["local_dt"] = _local_dt
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["record_url"] = record_url
    app.jinja_env.globals["role_label"] = lambda role: gettext(ROLE_LABELS[role])

    @app.after_request
    def _security_headers(response):
        # setdefault: a response may bring a stricter policy of its own (an attachment download)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors 'none' for old browsers
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def admin_alerts() -> list[str]:
    """SPEC §3.6: administrators see, on every page, that a year's holiday notice is missing."""
    if not (current_user.is_authenticated and is_admin(current_user)):
        return []
    return provisional_alerts(to_local(utcnow()).date())


def _local_dt(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Stored instants are UTC; people read Asia/Shanghai time."""
    if value is None:
        return ""
    return format_datetime(to_local(value), fmt)
