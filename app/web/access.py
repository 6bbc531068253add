"""Who may open a blueprint's pages: one guard for the administrator's desk (SPEC §6)."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from app.org.permissions import can_manage_org


def administrators_only(blueprint: Blueprint) -> Blueprint:
    """Every page of `blueprint`: sign in first, then administrators only (403 otherwise)."""
    @blueprint.before_request
    @login_required
    def _administrators_only():
        if not can_manage_org(current_user):
            abort(403)
    return blueprint
