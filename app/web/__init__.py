"""Server-rendered pages (Jinja2), zh-CN first."""
from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime, get_locale, gettext

from app.clock import to_local
from app.org.models import ROLE_LABELS


def register_web(app: Flask) -> None:
    from app.web.admin import admin
    from app.web.auth import auth
    from app.web.catalog import catalog_pages
    from app.web.i18n import i18n
    from app.web.main import main
    from app.web.nav import navigation

    for bp in (auth, main, catalog_pages, admin, i18n):
        app.register_blueprint(bp)
    app.context_processor(lambda: {"navigation": navigation()})
    app.jinja_env.filters["local_dt"] = _local_dt
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["role_label"] = lambda role: gettext(ROLE_LABELS[role])

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _local_dt(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Stored instants are UTC; people read Asia/Shanghai time."""
    if value is None:
        return ""
    return format_datetime(to_local(value), fmt)
