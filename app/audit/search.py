"""Searching the audit log (issue 15, 宝鸡 art. 21): by person, department, object, action and
period, newest first. Reading the log is itself an audited act (`record_reading`), so a search,
an export or an integrity check leaves its own row in the chain it read."""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import ColumnElement, Select, select

from app.audit.log import record
from app.audit.models import AuditEntry
from app.period_input import PeriodInput, period_of

# The kinds of act the log holds: the first part of an action's name ("grant.issued" → grant).
CATEGORIES = {
    "application": "共享申请", "case": "业务办理", "grant": "授权", "catalog": "资源目录",
    "engine": "流程引擎", "auth": "登录", "org": "部门与用户", "attachment": "附件", "audit": "审计日志",
    "calendar": "节假日安排", "policy": "辖区规定",
}
TEXT = validate.Length(max=64, error="最多 {max} 个字符")


class AuditQuery(PeriodInput):
    """What a search asks for; every field optional (the period defaults to this month)."""

    actor = fields.String(validate=TEXT, metadata={"label": "操作人", "description": "操作人用户名（精确匹配）"})
    department_id = fields.Integer(data_key="department", validate=validate.Range(min=1, error="部门编号无效"),
                                   metadata={"label": "操作人所在部门", "description": "操作人所在部门编号"})
    category = fields.String(validate=validate.OneOf(list(CATEGORIES), error="没有这类操作"),
                             metadata={"label": "操作类别", "choices": CATEGORIES,
                                       "description": "操作类别：" + "、".join(f"{k}（{v}）" for k, v in CATEGORIES.items())})
    action = fields.String(validate=TEXT, metadata={"label": "操作", "description": "操作名（精确匹配），如 grant.issued"})
    object_type = fields.String(validate=TEXT, metadata={"label": "对象类型", "description": "如 workflow_case、grant"})
    object_id = fields.String(validate=TEXT, metadata={"label": "对象编号"})


def entries(query: dict, within: ColumnElement[bool] | None = None) -> Select:
    """The entries `query` asks for (and, if given, only those `within` selects), newest first."""
    start, end = period_of(query).bounds
    stmt = select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end)
    exact = {"actor": AuditEntry.actor_name, "department_id": AuditEntry.department_id,
             "action": AuditEntry.action, "object_type": AuditEntry.object_type, "object_id": AuditEntry.object_id}
    for key, column in exact.items():
        if query.get(key) is not None:
            stmt = stmt.where(column == query[key])
    if query.get("category"):
        stmt = stmt.where(AuditEntry.action.startswith(query["category"] + ".", autoescape=True))
    if within is not None:
        stmt = stmt.where(within)
    return stmt.order_by(AuditEntry.id.desc())


def searched_for(query: dict) -> dict:
    """The search as it is recorded: what was asked, dates as text."""
    period = period_of(query)
    return {**{k: v for k, v in query.items() if k not in ("from_", "to")},
            "from": period.first.isoformat(), "to": period.last.isoformat()}


def record_reading(action: str, query: dict | None = None, **after) -> None:
    """`audit.read` / `audit.exported` / `audit.verified` / `audit.usage_exported` — one row in
    the caller's transaction saying who read what."""
    record(action, "audit_entry", None, after={**(searched_for(query) if query is not None else {}), **after})
