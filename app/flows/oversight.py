"""The supervisors' oversight list (issue 15): every record of every flow — applications and
cases alike, one model — filtered by flow, status, department, period, overdue, business key
and text, in the order asked for. Read-only: nothing here changes a record."""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import Select, exists, or_, select

from app.clock import utcnow
from app.engine.models import HumanTask, TaskState
from app.flows.models import CASE_STATUS_LABELS, STATUS_LABELS, Case
from app.flows.permissions import visible_records
from app.flows.registry import FLOWS
from app.org.models import User
from app.period_input import PeriodInput, period_of
from app.sla.figures import open_conditions
from app.validation import N_

ALL_STATUS_LABELS = {**STATUS_LABELS, **CASE_STATUS_LABELS}
SORTS = {
    "newest": (N_("最新提出"), (Case.created_at.desc(), Case.id.desc())),
    "oldest": (N_("最早提出"), (Case.created_at.asc(), Case.id.asc())),
    "updated": (N_("最近办理"), (Case.updated_at.desc(), Case.id.desc())),
    "key": (N_("业务编号"), (Case.business_key.asc(),)),
}
TEXT = validate.Length(max=64, error="最多 {max} 个字符")


class RecordQuery(PeriodInput):
    """What the list asks for; the period is when the record was filed (default: this month)."""

    flow = fields.String(validate=validate.OneOf(list(FLOWS), error="没有这种业务类型"),
                         metadata={"label": N_("业务类型"), "description": "流程标识"})
    status = fields.String(validate=validate.OneOf(list(ALL_STATUS_LABELS), error="没有这种状态"),
                           metadata={"label": N_("状态"), "choices": ALL_STATUS_LABELS})
    department_id = fields.Integer(data_key="department", validate=validate.Range(min=1, error="部门编号无效"),
                                   metadata={"label": N_("部门"), "description": "提出或承办部门编号"})
    overdue = fields.Boolean(load_default=False, metadata={"label": N_("只看有逾期环节的"),
                                                           "description": "只列当前有逾期待办环节的记录"})
    key = fields.String(validate=TEXT, metadata={"label": N_("业务编号"), "description": "业务编号（前缀匹配）"})
    q = fields.String(validate=TEXT, metadata={"label": N_("事项"), "description": "事项名称中包含的文字"})
    sort = fields.String(load_default="newest", validate=validate.OneOf(list(SORTS), error="没有这种排序"),
                         metadata={"label": N_("排序"), "choices": {k: v[0] for k, v in SORTS.items()}})


def overdue_now():
    """A record with an open step past its deadline now (the desk's own definition of 已逾期)."""
    return exists(select(HumanTask.id).where(
        HumanTask.instance_id == Case.instance_id, HumanTask.state == TaskState.READY,
        open_conditions(utcnow())["overdue"]))


def oversight(user: User, query: dict) -> Select:
    """The records `query` asks for among those `user` may see (the office: all of them)."""
    start, end = period_of(query).bounds
    stmt = visible_records(user, select(Case)).where(
        Case.business_key.is_not(None), Case.created_at >= start, Case.created_at < end)
    if query.get("flow"):
        stmt = stmt.where(Case.flow == query["flow"])
    if query.get("status"):
        stmt = stmt.where(Case.status == query["status"])
    if query.get("department_id"):
        dept = query["department_id"]
        stmt = stmt.where(or_(Case.applicant_department_id == dept, Case.department_id == dept))
    if query.get("overdue"):
        stmt = stmt.where(overdue_now())
    if query.get("key"):
        stmt = stmt.where(Case.business_key.startswith(query["key"].strip().upper(), autoescape=True))
    if query.get("q"):
        stmt = stmt.where(Case.title.contains(query["q"].strip(), autoescape=True))
    return stmt.order_by(*SORTS[query.get("sort") or "newest"][1])
