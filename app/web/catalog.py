"""Catalogue pages: browse, search, entry detail."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from app.catalog import labels
from app.catalog.models import CatalogEntry
from app.catalog.permissions import can_view_entry
from app.catalog.queries import search_entries
from app.extensions import db
from app.org.models import Department
from app.org.permissions import get_visible
from app.safe_input import as_id
from app.web.applications import flow_steps, may_apply

catalog_pages = Blueprint("catalog_pages", __name__, url_prefix="/catalog")
PER_PAGE = 20


@catalog_pages.get("/")
@login_required
def browse():
    args = request.args
    department_id = as_id(args.get("department_id"))
    share_type = args.get("share_type") if args.get("share_type") in labels.SHARE_TYPE else None
    keyword = (args.get("q") or "").strip()[:100]
    page = search_entries(
        current_user, department_id=department_id, share_type=share_type, keyword=keyword,
        page=args.get("page", 1, type=int), per_page=PER_PAGE,
    )
    filters = {"department_id": department_id, "share_type": share_type, "q": keyword}
    departments = db.session.scalars(select(Department).order_by(Department.code)).all()
    return render_template(
        "catalog/browse.html", page=page, departments=departments, labels=labels,
        filters=filters, pager_args={k: v for k, v in filters.items() if v},
    )


@catalog_pages.get("/<int:entry_id>")
@login_required
def detail(entry_id: int):
    entry = get_visible(CatalogEntry, entry_id, can_view_entry)
    can_apply = may_apply(current_user, entry)
    return render_template("catalog/detail.html", entry=entry, labels=labels, can_apply=can_apply,
                           steps=flow_steps(entry) if can_apply else [])
