"""政务信息资源共享审批平台 — Flask application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app import db as database
from app import extensions as ext
from app import limits
from app.config import build_config
from app.db.transaction import WRITE_METHODS, request_unit


class PlatformFlask(limits.LimitedFlask):
    """Every request ends within REQUEST_TIME_LIMIT (app/limits.py); a request that writes is
    one unit of work whose answer is made before its COMMIT (app/db/transaction.py)."""

    def dispatch_request(self):
        if request.method not in WRITE_METHODS:
            return super().dispatch_request()
        dispatch = super().dispatch_request
        return request_unit(lambda: self.make_response(dispatch()))


def create_app(config_overrides: dict | None = None) -> Flask:
    app = PlatformFlask(__name__, instance_relative_config=True,
                        template_folder="web/templates", static_folder="web/static")
    app.config.update(build_config(app.instance_path, config_overrides))
    if proxies := app.config["TRUSTED_PROXIES"]:
        # request.remote_addr (the sign-in throttle's key) and the scheme as the proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from app import models  # noqa: F401  (every model registered before migrations look)
    from app.safe_input import register_safe_input

    register_safe_input(app)  # the `int` converter must be in place before any route is added

    limits.init_app(app)  # database time limits: before the engine is created
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app.config)
    ext.db.init_app(app)
    database.init_app(app)  # row batch and SQLite listeners on this app's engine
    _register_commit_steps()
    ext.migrate.init_app(app, ext.db, directory=str(Path(app.root_path).parent / "migrations"),
                         render_as_batch=True, compare_type=True)
    ext.csrf.init_app(app)
    ext.login_manager.init_app(app)

    from app.web.i18n import select_locale

    ext.babel.init_app(app, locale_selector=select_locale)
    from app.api.docs import api

    api.init_app(app)

    _register_error_handlers(app)
    _register_core(app)
    # --- feature registrations ---
    _register_features(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    """Every error answered in one place: JSON under /api/ (app.api.error_response), the page
    in Chinese elsewhere (app.web.errors.error_page). A flow fault (app.errors.Unavailable) is
    the definition's doing, not the request's: logged for the administrators."""
    from werkzeug.exceptions import HTTPException

    from app.api import error_response
    from app.errors import PlatformError, Unavailable
    from app.web.errors import error_page

    def answer(exc):
        if isinstance(exc, Unavailable):
            app.logger.error("flow fault (%s): %s", type(exc).__name__, exc)
        rendered = error_response(exc) if request.path.startswith("/api/") else error_page(exc)
        response = app.make_response(rendered)
        # keep the headers an HTTP error carries (`Allow` on a 405, RFC 9110; `Retry-After` …)
        for name, value in exc.get_headers() if isinstance(exc, HTTPException) else ():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    app.register_error_handler(HTTPException, answer)
    app.register_error_handler(PlatformError, answer)


def _register_commit_steps() -> None:
    """What every unit of work does just before its COMMIT (app/db/transaction.py)."""
    from sqlalchemy import event

    from app.audit.log import chain_pending, refuse_unchained_commit

    database.before_commit(chain_pending)
    if not event.contains(ext.db.session, "before_commit", refuse_unchained_commit):
        event.listen(ext.db.session, "before_commit", refuse_unchained_commit)


def _register_core(app: Flask) -> None:
    from app.api import register_api
    from app.audit.cli import audit_cli
    from app.catalog.cli import attachments_cli
    from app.demo.cli import demo_cli
    from app.org.auth import register_auth
    from app.policy import cli as _policy_commands  # noqa: F401  (calendar due/check, audit prune)
    from app.sla.cli import sla_cli
    from app.web import register_web

    register_auth(app)
    register_api(app)
    register_web(app)
    app.cli.add_command(audit_cli)
    app.cli.add_command(sla_cli)
    app.cli.add_command(attachments_cli)
    app.cli.add_command(demo_cli)


def _register_features(app: Flask) -> None:
    """Feature packages plug in here."""
    from app.engine import register_engine
    from app.flows import register_flows
    from app.sla import register_sla
    from app.web.calendar_page import register_calendar

    register_engine(app)  # workflow engine: `flask bpmn`, `flask scheduler`
    register_sla()  # deadline()/reminder() for timer expressions, recompute on a new notice
    register_flows(app)  # conditional share: forms, verbs, deadline()/reminder(), notifications
    register_calendar(app)  # legal time: /calendar and `flask calendar`
