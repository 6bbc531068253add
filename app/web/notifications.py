"""In-app notifications (新待办、催办、督办、办理结果): the list, mark read, and the header badge.

The notifications themselves are written by app.notifications (engine hooks and flow verbs).
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.notifications import for_user, mark_all_read, mark_read, read_ids, unread_count
from app.notifications.models import KIND_LABELS, Notification
from app.web.redirects import safe_next
from app.web.workview import listing_page

notification_pages = Blueprint("notification_pages", __name__, url_prefix="/notifications")
PER_PAGE = 20


def header_badge() -> dict:
    """`unread_notifications` for the header of every signed-in page."""
    if not current_user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(current_user)}


@notification_pages.get("/")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    stmt = for_user(current_user, unread_only=unread_only)
    page = listing_page(stmt, PER_PAGE)
    read = read_ids(current_user, page.items)
    page.items = [{"n": n, "read": n.id in read} for n in page.items]
    return render_template("notifications/index.html", page=page,
                           unread_only=unread_only, kind_labels=KIND_LABELS,
                           pager_args={"unread": "1"} if unread_only else {})


@notification_pages.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    """Mark read, then open what it is about (or go back to the list)."""
    if not mark_read(current_user, notification_id):
        abort(404)
    if request.form.get("open") == "1":
        link = db.session.get(Notification, notification_id).link
        return redirect(safe_next(link) if link else url_for(".index"))
    return redirect(safe_next(request.form.get("next")) if request.form.get("next") else url_for(".index"))


@notification_pages.post("/read-all")
@login_required
def read_all():
    mark_all_read(current_user)
    return redirect(url_for(".index"))
