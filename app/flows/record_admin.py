"""An administrator's hand on a record in progress: terminate it (终止办理) with reasons — its
steps and timers end, the parties are told, a grant already issued stays as it is (a grant is
withdrawn only by the revocation and idle-grant flows) — or suspend it (挂起) and resume it
(恢复办理). One transaction each, audited; the web's instance pages call these."""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, select

from app import engine
from app.audit.log import record
from app.clock import utcnow
from app.db import transaction
from app.engine.models import INSTANCE_STATUS_LABELS, ProcessDefinition, ProcessInstance
from app.errors import Conflict, Forbidden
from app.extensions import db
from app.flows.base import actor_for
from app.flows.models import Application, ApplicationStatus, Case, CaseStatus
from app.flows.records import open_tasks
from app.flows.registry import FLOWS, flow_label
from app.notifications.models import NotificationKind
from app.notifications.service import notify_group, notify_task
from app.org.models import User
from app.org.permissions import is_admin
from app.validation import FieldErrors, is_blank

TERMINATED = "terminated"  # the outcome of a record an administrator ended (label: 已终止)
_ACTIONS = {  # verb → (engine call, audit action, notice title, what the parties read)
    "terminate": (engine.cancel, "case.terminated", "办件已终止", "已由系统管理员终止办理"),
    "suspend": (engine.suspend, "case.suspended", "办件已挂起", "已由系统管理员挂起，恢复办理前暂停办理"),
    "resume": (engine.resume, "case.resumed", "办件已恢复办理", "已由系统管理员恢复办理"),
}


class InstanceQuery(Schema):
    """The administrator's list of instances: every field optional."""

    flow = fields.String(validate=validate.OneOf(list(FLOWS), error="没有这个流程"),
                         metadata={"label": "流程", "choices": {k: f.label for k, f in FLOWS.items()}})
    version = fields.Integer(validate=validate.Range(min=1, max=1_000_000, error="版本号无效"),
                             metadata={"label": "版本"})
    status = fields.String(validate=validate.OneOf(list(INSTANCE_STATUS_LABELS), error="没有这个状态"),
                           metadata={"label": "状态", "choices": INSTANCE_STATUS_LABELS})
    key = fields.String(validate=validate.Length(max=64, error="最多 {max} 个字符"),
                        metadata={"label": "办件编号", "description": "办件编号的开头，如 SQ-2026"})


def instances(query: dict) -> Select:
    """The instances the query asks for, most recently changed first."""
    stmt = select(ProcessInstance).order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
    if query.get("flow"):
        stmt = stmt.where(ProcessInstance.process_id == query["flow"])
    if query.get("version"):
        stmt = stmt.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id).where(
            ProcessDefinition.version == query["version"])
    if query.get("status"):
        stmt = stmt.where(ProcessInstance.status == query["status"])
    if query.get("key"):
        stmt = stmt.where(ProcessInstance.business_key.startswith(query["key"], autoescape=True))
    return stmt


def records_of(instance_ids: list[int]) -> dict[int, Case]:
    return {case.instance_id: case for case in db.session.scalars(
        select(Case).where(Case.instance_id.in_(instance_ids)))} if instance_ids else {}


def _checked(admin: User, case: Case, reasons: str | None) -> str:
    if not is_admin(admin):
        raise Forbidden("只有系统管理员可以终止、挂起或恢复办件")
    if case.instance_id is None or case.status == CaseStatus.CLOSED.value:
        raise Conflict(f"办件 {case.business_key} 已办结")
    if is_blank(reasons):
        raise FieldErrors({"reasons": ["请说明原因（将告知各方并记入审计日志）"]})
    return reasons.strip()


def act_on_record(admin: User, case: Case, action: str, reasons: str | None) -> Case:
    """`action`: terminate | suspend | resume. Raises Forbidden, Conflict (closed, or not in a
    state the action applies to) or FieldErrors (no reasons)."""
    call, audit_action, title, what = _ACTIONS[action]
    reasons = _checked(admin, case, reasons)
    holders = open_tasks(case)
    with transaction():
        before = case.audit_view()
        call(case.instance_id, actor_for(admin), reasons, commit=False)
        if action == "terminate":
            _close(case, reasons)
        record(audit_action, "workflow_case", case.id, before=before,
               after={**case.audit_view(), "reasons": reasons}, actor=admin)
        body = f"{flow_label(case.flow)} {case.business_key}（{case.title}）{what}：{reasons}"
        for task in holders:
            notify_task(task, NotificationKind.DECISION, title, body, case.business_key)
        for department_id in {case.applicant_department_id, case.department_id} - {None}:
            notify_group(department_id, None, NotificationKind.DECISION, title, body, business_key=case.business_key)
    return case


def _close(case: Case, reasons: str) -> None:
    # an application's status says how it ended; other records are simply closed
    case.status = (ApplicationStatus.TERMINATED.value if isinstance(case, Application)
                   else CaseStatus.CLOSED.value)
    case.outcome, case.reasons = TERMINATED, reasons
    case.closed_at = case.updated_at = utcnow()
