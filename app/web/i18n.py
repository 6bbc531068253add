"""Language choice: zh_CN unless the user switched to English (stored in the session)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for

i18n = Blueprint("i18n", __name__)


def select_locale() -> str:
    lang = session.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our domain.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.home")


@i18n.post("/lang/<lang>")
def switch(lang: str):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))
