"""Language choice: zh_CN unless the user switched to English (stored in the session)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session

from app.web.redirects import safe_next

i18n = Blueprint("i18n", __name__)


def select_locale() -> str:
    lang = session.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


@i18n.post("/lang/<lang>")
def switch(lang: str):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))
