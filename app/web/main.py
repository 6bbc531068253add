"""Home page: what the signed-in user should look at first."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.catalog.models import CatalogEntry, Grant, GrantStatus, PublishState
from app.clock import utcnow
from app.extensions import db
from app.flows.base import actor_for
from app.web.inbox import TABS
from app.web.inbox import counts as inbox_counts

main = Blueprint("main", __name__)


@main.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico before reading the page's <link rel="icon">.
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@main.get("/")
@login_required
def home():
    dept = current_user.department_id
    counts = {
        "published": db.session.scalar(select(func.count()).select_from(CatalogEntry).where(
            CatalogEntry.publish_state == PublishState.PUBLISHED.value)),
        "own_entries": db.session.scalar(select(func.count()).select_from(CatalogEntry).where(
            CatalogEntry.provider_department_id == dept)),
        "active_grants": db.session.scalar(select(func.count()).select_from(Grant).where(
            Grant.grantee_department_id == dept, Grant.status == GrantStatus.ACTIVE.value)),
    }
    task_counts = inbox_counts(actor_for(current_user), utcnow())
    return render_template("home.html", counts=counts, task_counts=task_counts, tabs=TABS)
