"""Flask extensions, created once and bound in create_app()."""
from __future__ import annotations

from http import HTTPStatus

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class PlatformApi(Api):
    """flask-smorest would answer every HTTP error in JSON, web pages included; we register
    one dispatcher ourselves (app.api.register_api) that sends JSON only under /api/.

    The document lists each operation's error responses (app.api.docs) instead of a catch-all
    `default`, in Chinese, with the error body's shape."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        pass

    def _init_spec(self, *args, extra_plugins=None, **kwargs):
        from app.api.docs import ErrorOut, ErrorResponses  # imported late: app.api imports us

        self.ERROR_SCHEMA = ErrorOut
        super()._init_spec(*args, extra_plugins=[ErrorResponses(), *(extra_plugins or ())], **kwargs)

    def _register_responses(self):
        """One shared response per error status (referenced, hence emitted, only where used)."""
        from app.api.docs import ERROR_DESCRIPTIONS

        for status in HTTPStatus:
            if status < 400:
                continue
            response = {"description": ERROR_DESCRIPTIONS.get(status, status.phrase),
                        "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)


api = PlatformApi()
