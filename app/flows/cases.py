"""Case flows (SPEC §4.2–4.5): starting one, reading one back. Web pages and the API call these.

    start_case(flow, user, form_data, letter_file=None) -> Case     # 403 Forbidden / 422 FieldErrors
    propose_idle_grants(now=None) -> list[Case]                      # the platform's periodic job
    case_flows() / case_flow(flow) -> CaseFlow                       # labels, prefixes, start forms
    by_key(business_key) -> Case | None;  view(case) -> dict         # state, tasks, history, grant

Each flow is one BPMN file `bpmn/<flow>.bpmn` whose process id is `flow`; its business key is
`<prefix>-<year>-<case id>`. A flow's `prepare` checks who may start it and what the database
knows about the start form, and returns the case row's fields and the instance data.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select

from app import engine
from app.audit.log import record
from app.catalog.grants import idle_since, is_idle
from app.catalog.models import CatalogEntry, Grant, GrantStatus, PublishState
from app.catalog.permissions import can_view_entry
from app.catalog.services import checked_changes
from app.clock import as_utc, to_local, utcnow
from app.db import transaction
from app.engine.models import ProcessInstance
from app.errors import Forbidden
from app.extensions import db
from app.flows import case_forms as forms
from app.flows.applications import LETTER_FIELD, actor_for, check_items, history, open_tasks, store_letter
from app.flows.models import Case, CaseStatus
from app.flows.parties import office_department
from app.flows.permissions import visible_cases
from app.legaltime.periods import Due, end_of_day, start_of_day
from app.org.models import Department, Role, User
from app.org.permissions import is_office_member
from app.org.services import suspension_refusal
from app.policy import Policy, active_policy, deadline_for, reminder_before
from app.validation import FieldErrors, load


@dataclass
class CaseDraft:
    """What a flow's `prepare` decides: the case row's fields and the instance data."""

    title: str
    department_id: int | None
    data: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    entry_id: int | None = None
    grant_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class CaseFlow:
    flow: str                    # BPMN process id = bpmn/<flow>.bpmn
    prefix: str                  # business key prefix
    label: str
    start_form: type | None      # None: only the platform starts it
    prepare: Callable[[User, dict, Policy], CaseDraft] | None
    starter_role: Role | None = None
    letter: bool = False         # sealed letter (南通 art. 24) when the profile requires one


# ---- helpers -------------------------------------------------------------------------------------

def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def chosen_department(department_id: int | None, field_name: str, *, not_id: int | None = None,
                      own_message: str = "不能选择本部门") -> Department:
    """The department a form field names; a field error when there is none, or it is `not_id`."""
    dept = db.session.get(Department, department_id) if department_id is not None else None
    if dept is None:
        raise FieldErrors({field_name: ["部门不存在"]})
    if dept.id == not_id:
        raise FieldErrors({field_name: [own_message]})
    return dept


def _entry(user: User, entry_id: int | None, field_name: str = "entry_id") -> CatalogEntry:
    entry = db.session.get(CatalogEntry, entry_id) if entry_id is not None else None
    if entry is None or not can_view_entry(user, entry):
        raise FieldErrors({field_name: ["目录条目不存在"]})
    return entry


def open_case_of(flow: str, *, entry_id: int | None = None, grant_id: int | None = None) -> Case | None:
    stmt = select(Case).where(Case.flow == flow, Case.status == CaseStatus.IN_PROGRESS.value)
    if entry_id is not None:
        stmt = stmt.where(Case.entry_id == entry_id)
    if grant_id is not None:
        stmt = stmt.where(Case.grant_id == grant_id)
    return db.session.scalar(stmt.order_by(Case.id))


# ---- revocation (南通 art. 16) -------------------------------------------------------------------

def _prepare_revocation(user: User, data: dict, policy: Policy) -> CaseDraft:
    entry = _entry(user, data["entry_id"])
    if entry.provider_department_id != user.department_id:
        raise FieldErrors({"entry_id": ["只能撤销本部门发布的资源"]})
    if entry.publish_state != PublishState.PUBLISHED.value:
        raise FieldErrors({"entry_id": ["只有已发布的资源才能撤销发布"]})
    pending = open_case_of("revocation", entry_id=entry.id)
    if pending is not None:
        raise FieldErrors({"entry_id": [f"该资源已有办理中的撤销申请 {pending.business_key}"]})
    effective_at = start_of_day(data["effective_date"])  # 00:00 local of the effective date
    return CaseDraft(
        title=f"撤销发布：{entry.name}", department_id=entry.provider_department_id, entry_id=entry.id,
        due_at=effective_at,
        details={"reasons": data["reasons"].strip(), "effective_date": _iso(data["effective_date"])},
        data={"entry_id": entry.id, "entry_name": entry.name, "resource_code": entry.resource_code,
              "provider_department_id": entry.provider_department_id, "reasons": data["reasons"].strip(),
              "effective_date": _iso(data["effective_date"]), "effective_at": effective_at.isoformat(),
              "revocation_needs_approval": policy.switch("revocation_needs_approval")})


# ---- demand for an unpublished resource (南通 arts. 24–25; 西城 art. 26) --------------------------

def _prepare_demand(user: User, data: dict, policy: Policy) -> CaseDraft:
    refusal = suspension_refusal(user.department, "提出资源需求")
    if refusal:
        raise Forbidden(refusal)
    provider_id = data.get("provider_department_id")
    if provider_id is not None:
        chosen_department(provider_id, "provider_department_id", not_id=user.department_id,
                          own_message="不能向本部门提出资源需求")
    details = {k: data[k].strip() for k in ("resource_name", "description", "purpose")}
    return CaseDraft(
        title=f"资源需求：{details['resource_name']}", department_id=provider_id, details=details,
        data={**details, "applicant_department_id": user.department_id, "applicant_user_id": user.id,
              "provider_department_id": provider_id})


# ---- rectification notice (宝鸡 art. 29; 南通 art. 33; 乌海 art. 20) ------------------------------

def _prepare_rectification(user: User, data: dict, policy: Policy) -> CaseDraft:
    dept = chosen_department(data["rectified_department_id"], "rectified_department_id")
    if dept.is_office:
        raise FieldErrors({"rectified_department_id": ["不能向主管部门自身下达整改通知"]})
    now = utcnow()
    if data.get("deadline"):
        due = Due(end_of_day(data["deadline"], policy.close_of_business), False, data["deadline"])
    else:
        due = deadline_for("rectification_default", now, policy)
    reminder = reminder_before(due, now, policy)
    label = forms.VIOLATION_CATEGORIES[data["violation_category"]]
    details = {"violation_category": data["violation_category"], "description": data["description"].strip(),
               "deadline": _iso(due.local_date)}
    return CaseDraft(
        title=f"整改通知：{dept.name}（{label}）", department_id=dept.id, due_at=due.at, details=details,
        data={**details, "violation_label": label, "rectified_department_id": dept.id,
              "rectified_department_name": dept.name, "rectification_due": due.at.isoformat(),
              "rectification_reminder": reminder.at.isoformat(),
              "suspension_on_missed_rectification": policy.switch("suspension_on_missed_rectification"),
              "written_circular_on_missed_rectification":
                  policy.switch("written_circular_on_missed_rectification")})


# ---- data objection (宝鸡 art. 19; 南通 art. 29; 西城 art. 28) ------------------------------------

def _prepare_objection(user: User, data: dict, policy: Policy) -> CaseDraft:
    entry = _entry(user, data["entry_id"])
    grant = db.session.scalar(select(Grant).where(
        Grant.entry_id == entry.id, Grant.grantee_department_id == user.department_id,
        Grant.status == GrantStatus.ACTIVE.value).order_by(Grant.id.desc()))
    if grant is None:
        raise FieldErrors({"entry_id": ["只有获得该资源授权的使用部门可以提出数据疑义"]})
    check_items(entry, data["items"])
    details = {"items": list(data["items"]), "description": data["description"].strip()}
    return CaseDraft(
        title=f"数据疑义：{entry.name}", department_id=entry.provider_department_id, entry_id=entry.id,
        grant_id=grant.id, details=details,
        data={**details, "entry_id": entry.id, "entry_name": entry.name,
              "applicant_department_id": user.department_id, "applicant_user_id": user.id,
              "provider_department_id": entry.provider_department_id})


# ---- catalogue review (南通 arts. 10, 11; 宝鸡 art. 10; 乌海 art. 7) -----------------------------

def reviewable_entry(user_department_id: int, entry: CatalogEntry | None, changes: dict | None,
                     field_name: str = "entry_id") -> dict | None:
    """Check an entry may be sent for review; returns the checked changes of a published entry.

    A draft is reviewed as it stands (edit it before sending); a published entry stays
    published and its `changes` are reviewed, then applied on approval.
    """
    if entry is None or entry.provider_department_id != user_department_id:
        raise FieldErrors({field_name: ["只能送审本部门的目录条目"]})
    if entry.publish_state == PublishState.DRAFT.value:
        if changes:
            raise FieldErrors({"changes": ["草稿条目请直接修改后送审，无需填写变更内容"]})
        return None
    if entry.publish_state == PublishState.PUBLISHED.value:
        if not changes:
            raise FieldErrors({"changes": ["变更已发布的条目，请填写变更内容"]})
        try:
            checked_changes(entry, changes)
        except FieldErrors as exc:
            raise FieldErrors({"changes": exc.errors}) from None
        return dict(changes)
    state = "正在审核中" if entry.publish_state == PublishState.UNDER_REVIEW.value else "已撤销发布"
    raise FieldErrors({field_name: [f"该条目{state}，不能送审"]})


def _prepare_catalogue_review(user: User, data: dict, policy: Policy) -> CaseDraft:
    common = {"provider_department_id": user.department_id, "review_kind": data["review_kind"],
              "change_note": (data.get("change_note") or "").strip() or None}
    if data["review_kind"] == "mandate_change":
        law = data["law_or_mandate"].strip()
        changed_at = start_of_day(data["changed_on"])
        details = {**common, "law_or_mandate": law, "changed_on": _iso(data["changed_on"])}
        return CaseDraft(
            title=f"目录更新：{law}", department_id=user.department_id, details=details,
            due_at=deadline_for("catalogue_update", changed_at, policy).at,
            data={**details, "entry_id": None, "changes": None, "changed_at": changed_at.isoformat()})
    entry = db.session.get(CatalogEntry, data["entry_id"])
    changes = reviewable_entry(user.department_id, entry, data.get("changes"))
    pending = open_case_of("catalogue_review", entry_id=entry.id)
    if pending is not None:
        raise FieldErrors({"entry_id": [f"该条目已有办理中的审核 {pending.business_key}"]})
    details = {**common, "changes": changes}
    return CaseDraft(
        title=f"目录审核：{entry.name}", department_id=user.department_id, entry_id=entry.id, details=details,
        data={**details, "entry_id": entry.id, "entry_name": entry.name})


# ---- registry ------------------------------------------------------------------------------------

FLOWS: dict[str, CaseFlow] = {spec.flow: spec for spec in (
    CaseFlow("revocation", "CX", "撤销发布", forms.RevocationStartForm, _prepare_revocation,
             Role.PROVIDER_APPROVER),
    CaseFlow("idle_grant_review", "XH", "闲置授权收回", None, None),
    CaseFlow("unpublished_demand", "DM", "未发布资源需求", forms.DemandStartForm, _prepare_demand,
             Role.APPLICANT, letter=True),
    CaseFlow("rectification", "ZG", "整改通知", forms.RectificationStartForm, _prepare_rectification,
             Role.OFFICE_REVIEWER),
    CaseFlow("data_objection", "YY", "数据疑义校核", forms.ObjectionStartForm, _prepare_objection,
             Role.APPLICANT),
    CaseFlow("catalogue_review", "ML", "目录审核", forms.CatalogueReviewStartForm, _prepare_catalogue_review,
             Role.PROVIDER_APPROVER),
)}
FLOW_LABELS = {flow: spec.label for flow, spec in FLOWS.items()}


def case_flows() -> list[CaseFlow]:
    return list(FLOWS.values())


def case_flow(flow: str) -> CaseFlow:
    spec = FLOWS.get(flow)
    if spec is None:
        raise engine.NotFound(f"没有名为 {flow} 的业务流程")
    return spec


def may_start(user: User, flow: str) -> bool:
    spec = FLOWS.get(flow)
    if spec is None or spec.prepare is None or not user.has_role(spec.starter_role):
        return False
    return spec.starter_role != Role.OFFICE_REVIEWER or is_office_member(user)


# ---- starting ------------------------------------------------------------------------------------

def start_case(flow: str, user: User, form_data: dict, letter_file=None) -> Case:
    """Validate the start form and start the flow — one transaction.

    Raises NotFound (unknown flow), Forbidden (not allowed to start it, department suspended)
    or FieldErrors (422, Chinese messages per field).
    """
    spec = case_flow(flow)
    if spec.prepare is None:
        raise Forbidden(f"「{spec.label}」由平台定期自动发起，不能手工提出")
    if not may_start(user, flow):
        raise Forbidden(f"您没有提出「{spec.label}」的权限")
    data = load(spec.start_form(), form_data or {})
    policy = active_policy()
    draft = spec.prepare(user, data, policy)
    if spec.letter and letter_file is None and policy.switch("sealed_application_letter"):
        raise FieldErrors({LETTER_FIELD: ["请上传加盖公章的申请材料扫描件（南通细则第二十四条）"]})
    return open_case(spec, draft, policy, user, letter_file)


def open_case(spec: CaseFlow, draft: CaseDraft, policy: Policy, user: User | None = None,
              letter_file=None) -> Case:
    """Create the case row and start its BPMN instance — one transaction (the caller's, when it
    has one open); any error rolls it back."""
    office = office_department("flow")
    now = utcnow()
    with transaction():
        case = Case(
            business_key=f"tmp-{uuid.uuid4().hex}", flow=spec.flow, status=CaseStatus.IN_PROGRESS.value,
            title=draft.title[:200], requester_department_id=user.department_id if user else None,
            requester_user_id=user.id if user else None, department_id=draft.department_id,
            entry_id=draft.entry_id, grant_id=draft.grant_id, details=draft.details, due_at=draft.due_at,
            policy_key=policy.key, created_at=now, updated_at=now)
        db.session.add(case)
        db.session.flush()
        case.business_key = f"{spec.prefix}-{to_local(now).year}-{case.id:06d}"
        if letter_file is not None:
            case.letter_attachment_id = store_letter(letter_file, user, "workflow_case", case.business_key)
        record("case.started", "workflow_case", case.id, after=case.audit_view(), actor=user)
        data = {"case_id": case.id, "flow": spec.flow, "title": case.title, "office_department_id": office.id,
                "requester_user_id": user.id if user else None, "policy_key": policy.key, **draft.data}
        instance = engine.start(spec.flow, case.business_key, data,
                                actor_for(user) if user else engine.Actor.system(),
                                summary={"flow": spec.flow, "title": case.title}, commit=False)
        case.instance_id = instance.id
    return case


# ---- idle-grant withdrawal (南通 art. 26) ---------------------------------------------------------

def _idle_review_state() -> tuple[dict[int, datetime], set[int]]:
    """Per grant, when its provider last decided to keep it (the idle period restarts then),
    and the grants with a proposal open — one query each for the whole sweep."""
    flow = Case.flow == "idle_grant_review"
    kept = dict(db.session.execute(select(Case.grant_id, func.max(Case.closed_at)).where(
        flow, Case.outcome == "kept").group_by(Case.grant_id)).all())
    open_ids = set(db.session.scalars(select(Case.grant_id).where(
        flow, Case.status == CaseStatus.IN_PROGRESS.value)))
    return {gid: as_utc(at) for gid, at in kept.items() if at is not None}, open_ids


def propose_idle_grants(now: datetime | None = None) -> list[Case]:
    """Propose to each provider the withdrawal of its grants unused for longer than the
    profile's `idle_grant_months` (default 3, 南通 art. 26) — one `idle_grant_review` case per
    grant, never a second one while one is open, and a kept grant only once idle again."""
    policy = active_policy()
    if not policy.switch("idle_grant_withdrawal"):
        return []
    months, now = policy.idle_grant_months, now or utcnow()
    spec, opened = FLOWS["idle_grant_review"], []
    candidates = db.session.scalars(select(Grant).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.valid_from <= now,
        (Grant.valid_until.is_(None)) | (Grant.valid_until > now)).order_by(Grant.id)).all()
    kept_at, under_review = _idle_review_state()
    for grant in candidates:
        since = max(filter(None, (idle_since(grant), kept_at.get(grant.id))))
        if not is_idle(since, months, now) or grant.id in under_review:
            continue
        entry, grantee = grant.entry, grant.grantee
        details = {"idle_since": since.isoformat(), "idle_months": months}
        opened.append(open_case(spec, CaseDraft(
            title=f"闲置授权收回：{entry.name}（{grantee.name}）", department_id=entry.provider_department_id,
            entry_id=entry.id, grant_id=grant.id, details=details,
            data={**details, "grant_id": grant.id, "entry_id": entry.id, "entry_name": entry.name,
                  "provider_department_id": entry.provider_department_id,
                  "grantee_department_id": grantee.id, "grantee_name": grantee.name,
                  "idle_since_local": f"{to_local(since):%Y-%m-%d}"}), policy))
    return opened


# ---- reading -------------------------------------------------------------------------------------

def by_key(business_key: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.business_key == business_key))


def by_instance(instance_id: int) -> Case | None:
    return db.session.scalar(select(Case).where(Case.instance_id == instance_id))


# A list view narrows what the user may see to one party of the case; `all` (or none) keeps it all.
_VIEWS = {
    "mine": lambda user: Case.requester_user_id == user.id,
    "department": lambda user: Case.requester_department_id == user.department_id,
    "assigned": lambda user: Case.department_id == user.department_id,
}


def listed(user: User, view: str | None = None, flow: str | None = None, status: str | None = None) -> Select:
    """The cases `user` may see in a list view, optionally of one flow and status (unordered)."""
    stmt = visible_cases(user, select(Case))
    if view in _VIEWS:
        stmt = stmt.where(_VIEWS[view](user))
    if flow:
        stmt = stmt.where(Case.flow == flow)
    if status:
        stmt = stmt.where(Case.status == status)
    return stmt


def view(case: Case) -> dict[str, Any]:
    """State, current tasks, timeline and grant of one case (for the API and pages)."""
    instance = db.session.get(ProcessInstance, case.instance_id) if case.instance_id else None
    return {"case": case, "instance_status": instance.status if instance else None,
            "current_tasks": open_tasks(case), "history": history(case.instance_id), "grant": case.grant}
