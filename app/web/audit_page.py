"""审计日志 (issue 15, 宝鸡 art. 21): the office's supervisors search the log, check its hash
chain from the page, export what they found, and export a department's usage log for it;
a department's approvers export their own. Every reading is itself recorded."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.audit.log import verify_chain
from app.audit.search import CATEGORIES, AuditQuery, entries, record_reading
from app.clock import to_local
from app.db import transaction
from app.extensions import db
from app.flows.usage_log import UsageQuery, usage_of
from app.org.models import Department
from app.org.permissions import may_read_audit_log, may_receive_usage_log
from app.org.services import department_names
from app.period_input import period_of
from app.tabular import FORMATS
from app.web import workview
from app.web.downloads import one_sheet, table_download

audit_pages = Blueprint("audit_pages", __name__, url_prefix="/audit")
PER_PAGE = 50
HEADERS = ("编号", "时间", "操作人", "操作人所在部门", "操作", "对象类型", "对象编号", "变更前", "变更后", "来源地址")


def _reader() -> None:
    if not may_read_audit_log(current_user):
        abort(403)


@audit_pages.get("/")
@login_required
def index():
    _reader()
    query, errors = workview.url_query(AuditQuery())
    with transaction():  # recorded first: the commit would expire the page's rows (a query each)
        record_reading("audit.read", query, page=max(request.args.get("page", 1, type=int), 1))
    page = workview.listing_page(entries(query), PER_PAGE)
    period = period_of(query)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("audit/index.html", page=page, query=query, errors=errors, period=period,
                           args=args, categories=CATEGORIES, departments=department_names(), problems=None)


@audit_pages.post("/verify")
@login_required
def verify():
    """The integrity check `flask audit verify` runs, from the page."""
    _reader()
    checked, problems = verify_chain()
    with transaction():
        record_reading("audit.verified", checked=checked, problems=len(problems))
    if problems:
        flash(_("审计日志校验失败：%(n)s 处问题（共检查 %(c)s 条）", n=len(problems), c=checked), "error")
        for problem in problems[:20]:
            flash(_("记录 #%(id)s：%(reason)s", id=problem.entry_id, reason=problem.reason), "error")
    else:
        flash(_("审计日志完整：共 %(c)s 条记录，哈希链无断点", c=checked), "success")
    return redirect(url_for("audit_pages.index"))


def _rows(stmt, departments: dict[int, str]):
    for e in db.session.scalars(stmt.execution_options(yield_per=1000)):
        yield (e.id, to_local(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor_name or "",
               departments.get(e.department_id, ""), e.action, e.object_type or "", e.object_id or "",
               _json(e.before), _json(e.after), e.remote_addr or "")


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@audit_pages.get("/entries.<fmt>")
@login_required
def export(fmt: str):
    """What the search found, as CSV (streamed) or .xlsx."""
    _reader()
    query, errors = workview.url_query(AuditQuery())
    if errors or fmt not in FORMATS:
        abort(400 if errors else 404)
    period = period_of(query)
    with transaction():
        record_reading("audit.exported", query, format=fmt)
    return table_download(f"audit-{period.first}-{period.last}", fmt,
                          one_sheet("审计日志", HEADERS, _rows(entries(query), department_names())))


@audit_pages.get("/usage.<fmt>")
@login_required
def usage(fmt: str):
    """A department's usage log: the entries about its own data (app/flows/usage_log.py)."""
    query, errors = workview.url_query(UsageQuery())
    if errors or fmt not in FORMATS:
        abort(400 if errors else 404)
    department_id = query.pop("owner_id")
    if not may_receive_usage_log(current_user, department_id):
        abort(403)  # before looking it up: nobody learns which department ids exist
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    period = period_of(query)
    with transaction():
        record_reading("audit.usage_exported", query, format=fmt, department=department.id)
    return table_download(f"usage-log-{department.code}-{period.first}-{period.last}", fmt,
                          one_sheet("使用日志", HEADERS, _rows(entries(query, usage_of(department.id)),
                                                              department_names())))
