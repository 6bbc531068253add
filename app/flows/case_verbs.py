"""Service-task verbs of the case flows (SPEC §4.2–4.5): `verb(ctx, **params) -> JSON-able`.

Thin: they call the catalogue and org services (revoke an entry, withdraw a grant, suspend or
reinstate a department, publish an entry), record the outcome on the case, and tell the
parties (app/flows/parties.py). They write through the step's session; the BPMN decides when
each runs. A verb that finds bad task input raises FieldErrors: the step rolls back (422).
"""
from __future__ import annotations

from sqlalchemy import select

from app.audit.log import record
from app.catalog import services as catalog
from app.catalog.grants import end_grant
from app.catalog.models import CatalogEntry, GrantStatus, PublishState
from app.extensions import db
from app.flows.cases import FLOW_LABELS, chosen_department, open_case_of, reviewable_entry
from app.flows.models import Case, CaseStatus
from app.flows.parties import GRANTEES, actor_user, tell
from app.org import services as org
from app.validation import FieldErrors

OUTCOME_LABELS = {
    "approved": "已同意", "refused": "不同意", "revoked": "已撤销发布",
    "withdrawn": "已收回授权", "kept": "保留授权",
    "routed": "已转送", "not_in_remit": "不属于本部门履职范围", "will_publish": "将在1个月内发布",
    "published": "已发布", "feedback_filed": "暂无法发布，已反馈并备案", "closed": "已办结",
    "reported": "已报告整改情况", "sent_back": "退回重新整改", "rectified": "整改完成",
    "overdue": "逾期未整改", "suspended": "暂停共享数据使用资格",
    "corrected": "数据已更正", "confirmed": "经核实数据无误",
    "submitted": "已送审", "returned": "退回修改", "cancelled": "已撤回",
}


def _case(ctx) -> Case:
    case = db.session.get(Case, ctx.data["case_id"])
    if case is None:
        raise LookupError(f"业务 {ctx.business_key} 不存在")
    return case


def _set_details(case: Case, **values) -> None:
    case.details = {**(case.details or {}), **values}  # a new dict, so the JSON change is saved


def _mark(ctx, case: Case, outcome: str, reasons: str | None, close: bool) -> None:
    before = {"status": case.status, "outcome": case.outcome}
    case.outcome, case.updated_at = outcome, ctx.now
    if reasons is not None:
        case.reasons = reasons
    if close:
        case.status, case.closed_at = CaseStatus.CLOSED.value, ctx.now
    record(f"case.{outcome}", "workflow_case", case.id, before=before, actor=actor_user(ctx), after={
        "business_key": case.business_key, "status": case.status, "outcome": outcome, "reasons": reasons})


def _title(case: Case, outcome: str) -> str:
    return f"{FLOW_LABELS.get(case.flow, case.flow)}：{OUTCOME_LABELS.get(outcome, outcome)}"


def _body(case: Case, note: str | None = None) -> str:
    return f"{case.business_key}（{case.title}）" + (f"。说明：{note}" if note else "")


def record_outcome(ctx, outcome: str, reasons: str | None = None, to: list[str] | None = None,
                   close: bool = False) -> dict:
    """Record a step's outcome on the case (closing it if `close`), audit it, tell `to`."""
    case = _case(ctx)
    _mark(ctx, case, outcome, reasons, close)
    if to:
        tell(ctx, to, _title(case, outcome), _body(case, reasons))
    return {"outcome": outcome, "reasons": reasons, "by": ctx.actor.user_id if ctx.actor else None,
            "at": ctx.now.isoformat()}


# ---- revocation (南通 art. 16) -------------------------------------------------------------------

def revoke_entry(ctx) -> dict:
    """At the effective date: the entry is revoked and every active grant of it ends; the
    grantees (exactly those whose grants ended), the provider and the office are told."""
    case = _case(ctx)
    ended = catalog.revoke_entry(case.entry, case.details.get("reasons") or "", actor_user(ctx),
                                 ctx.business_key)
    grantee_ids = sorted({g.grantee_department_id for g in ended})
    _mark(ctx, case, "revoked", None, close=True)
    body = (f"资源「{case.entry.name}」（{case.entry.resource_code}）已于 {case.details['effective_date']} "
            f"撤销发布，相关授权同时终止。撤销理由：{case.details.get('reasons')}")
    tell(ctx, [GRANTEES, "provider", "office"], "资源已撤销发布，授权终止", body, grantee_ids=grantee_ids)
    return {"grants_ended": [g.id for g in ended], "grantee_department_ids": grantee_ids,
            "at": ctx.now.isoformat()}


# ---- idle-grant withdrawal (南通 art. 26) ---------------------------------------------------------

def withdraw_grant(ctx, reasons: str | None = None) -> dict:
    """The provider withdraws the idle grant; the grantee is told (it may apply again)."""
    case = _case(ctx)
    grant = case.grant
    if grant.status == GrantStatus.ACTIVE.value:
        note = f"超过{case.details.get('idle_months')}个月未使用，提供部门收回授权（南通细则第二十六条）"
        end_grant(grant, GrantStatus.WITHDRAWN, note + (f"：{reasons}" if reasons else ""), actor_user(ctx))
    _mark(ctx, case, "withdrawn", reasons, close=True)
    tell(ctx, ["grantee", "office"], _title(case, "withdrawn"),
         _body(case, reasons) + "。如仍需使用，请重新提出共享申请")
    return {"grant_id": grant.id, "status": grant.status}


# ---- demand (南通 arts. 24–25; 西城 art. 26) ------------------------------------------------------

def assign_department(ctx, department_id: int) -> dict:
    """The demand reaches `department_id`: the period to answer and to publish runs from now."""
    case = _case(ctx)
    dept = chosen_department(department_id, "provider_department_id",
                             not_id=ctx.data.get("applicant_department_id"),
                             own_message="请选择提出需求部门以外的其他部门")
    case.department_id, case.updated_at = dept.id, ctx.now
    routed = [*case.details.get("routed_to", []), dept.id]
    _set_details(case, routed_to=routed)
    record("case.routed", "workflow_case", case.id, actor=actor_user(ctx),
           after={"business_key": case.business_key, "department_id": dept.id})
    return {"department_id": dept.id, "department_name": dept.name, "received_at": ctx.now.isoformat()}


def link_published_entry(ctx, entry_id: int) -> dict:
    """The department published the resource asked for (南通 art. 25): link and close."""
    case = _case(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    if (entry is None or entry.provider_department_id != case.department_id
            or entry.publish_state != PublishState.PUBLISHED.value):
        raise FieldErrors({"published_entry_id": ["请选择本部门已发布的目录条目"]})
    case.entry_id = entry.id
    _mark(ctx, case, "published", None, close=True)
    tell(ctx, ["applicant", "office"], _title(case, "published"),
         _body(case) + f"。已发布资源「{entry.name}」（{entry.resource_code}），可在目录中申请使用")
    return {"entry_id": entry.id, "entry_name": entry.name}


# ---- rectification (宝鸡 art. 29; 南通 art. 33; 乌海 art. 20) -------------------------------------

def _holds_suspension(case: Case) -> bool:
    return bool((case.details or {}).get("suspended")) and not (case.details or {}).get("suspension_lifted_at")


def suspend_department(ctx) -> dict:
    """Deadline passed unrectified and the profile says so (宝鸡 art. 29): the department's
    qualification to use shared data is suspended until the office accepts its rectification."""
    case = _case(ctx)
    dept = case.department
    org.suspend_department(dept, f"{case.business_key} 逾期未整改（{ctx.data.get('violation_label')}）",
                           actor_user(ctx))
    _set_details(case, suspended=True, suspended_at=ctx.now.isoformat())
    tell(ctx, ["rectified", "office"], _title(case, "suspended"),
         _body(case) + "。整改期限届满仍未整改，暂停本部门共享其他部门信息资源的资格：授权暂停使用、"
         "不能提出新的共享申请，整改完成并经主管部门核查通过后恢复（宝鸡办法第二十九条）")
    return {"department_id": dept.id, "suspended": True}


def lift_suspension(ctx) -> dict:
    """The office accepted the rectification: reinstate the department, unless another open
    rectification still holds a suspension of it."""
    case = _case(ctx)
    if not _holds_suspension(case):
        return {"lifted": False}
    _set_details(case, suspension_lifted_at=ctx.now.isoformat())
    others = db.session.scalars(select(Case).where(
        Case.flow == "rectification", Case.department_id == case.department_id, Case.id != case.id,
        Case.status == CaseStatus.IN_PROGRESS.value)).all()
    if any(_holds_suspension(other) for other in others):
        return {"lifted": False, "held_by": [o.business_key for o in others if _holds_suspension(o)]}
    org.lift_suspension(case.department, f"{case.business_key} 整改完成", actor_user(ctx))
    tell(ctx, "rectified", "已恢复共享数据使用资格", _body(case) + "。整改已核查通过，恢复共享数据使用资格")
    return {"lifted": True}


# ---- catalogue review (南通 arts. 10, 11) ---------------------------------------------------------

def submit_entry(ctx, entry_id: int, changes: dict | None = None) -> dict:
    """Send an entry (a draft, or a published entry's `changes`) to the office for review."""
    case = _case(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    checked = reviewable_entry(ctx.data["provider_department_id"], entry, changes)
    if case.entry_id is None:  # an entry picked after a mandate change (a start names its own)
        other = open_case_of(case.flow, entry_id=entry.id)
        if other is not None:
            raise FieldErrors({"entry_id": [f"该条目已有办理中的审核 {other.business_key}"]})
    catalog.submit_for_review(entry, actor_user(ctx))
    case.entry_id = entry.id
    _set_details(case, changes=checked)
    _mark(ctx, case, "submitted", None, close=False)
    return {"entry_id": entry.id, "entry_name": entry.name, "changes": checked}


def publish_entry(ctx, entry_id: int, changes: dict | None = None) -> dict:
    """The office approved (南通 art. 10): apply the reviewed change and publish."""
    case = _case(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    catalog.publish_reviewed(entry, changes, actor_user(ctx), ctx.business_key)
    _mark(ctx, case, "published", None, close=True)
    tell(ctx, "provider", _title(case, "published"), _body(case))
    return {"entry_id": entry.id, "publish_state": entry.publish_state}


def return_entry(ctx, entry_id: int, reasons: str) -> dict:
    """The office returned the entry with reasons; the department revises it (南通 art. 10)."""
    case = _case(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    catalog.return_for_revision(entry, reasons, actor_user(ctx))
    _mark(ctx, case, "returned", reasons, close=False)
    tell(ctx, "provider", _title(case, "returned"), _body(case, reasons))
    return {"entry_id": entry.id, "publish_state": entry.publish_state, "reasons": reasons}


CASE_VERBS = {
    "record_outcome": record_outcome, "revoke_entry": revoke_entry, "withdraw_grant": withdraw_grant,
    "assign_department": assign_department, "link_published_entry": link_published_entry,
    "suspend_department": suspend_department, "lift_suspension": lift_suspension,
    "submit_entry": submit_entry, "publish_entry": publish_entry, "return_entry": return_entry,
}
