"""The task inbox (待办, SPEC §6): my tasks, my groups' tasks, due soon, overdue, done.

The lists are the engine's inbox queries (app.engine.inbox) — indexed SQL over the task mirror;
each row shows the remaining working days (app.sla.remaining, on the working-day calendar).
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.clock import utcnow
from app.engine import inbox
from app.engine.models import HumanTask
from app.extensions import db
from app.flows.base import actor_for
from app.legaltime.periods import deadline_text
from app.web import workview

inbox_pages = Blueprint("inbox_pages", __name__, url_prefix="/tasks")
PER_PAGE = 20
TABS = {"mine": _l("我的待办"), "groups": _l("组内待办"), "due_soon": _l("即将到期"),
        "overdue": _l("已逾期"), "done": _l("已办")}


@inbox_pages.app_template_filter("deadline")
def deadline_filter(due_at) -> str:
    """`deadline_text` in the page's language."""
    return "" if due_at is None else deadline_text(due_at, english=str(get_locale()) == "en")


def tab_query(view: str, actor, now):
    if view == "due_soon":
        return inbox.due_soon(actor, now=now)
    if view == "overdue":
        return inbox.overdue(actor, now=now)
    return {"mine": inbox.mine, "groups": inbox.my_groups, "done": inbox.done}[view](actor)


def counts(actor, now) -> dict[str, int]:
    return {view: db.session.scalar(select(func.count()).select_from(tab_query(view, actor, now).subquery()))
            for view in TABS if view != "done"}


@inbox_pages.get("/")
@login_required
def index():
    now = utcnow()
    actor = actor_for(current_user)
    tab_counts = counts(actor, now)
    view = request.args.get("view")
    if view not in TABS:  # land where the work is: my tasks, else my groups' queue
        view = "groups" if not tab_counts["mine"] and tab_counts["groups"] else "mine"
    order = "desc" if request.args.get("order") == "desc" else "asc"
    stmt = tab_query(view, actor, now)
    if view != "done":
        due = HumanTask.due_at.desc() if order == "desc" else HumanTask.due_at
        stmt = stmt.order_by(None).order_by(HumanTask.due_at.is_(None), due, HumanTask.created_at)
    page = workview.listing_page(stmt, PER_PAGE)
    page.items = workview.task_rows(page.items, now)
    return render_template("inbox/index.html", page=page, view=view, order=order, tabs=TABS,
                           counts=tab_counts, pager_args={"view": view, "order": order})
