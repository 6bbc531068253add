"""What every flow module (app/flows/<flow>.py) is made of, and the pieces they share.

A flow is one BPMN file `bpmn/<process_id>.bpmn` plus one module holding a `FLOW`: its start
form and the checks of a start, its task forms (with their labels on the fields' metadata),
its service verbs and the labels of its outcomes. app/flows/registry.py lists the flows and
plugs their forms and verbs into the engine. The pieces here are the ones two or more flows
use: the record a case flow writes, recording an outcome on it, the common 督办 form.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from marshmallow import ValidationError, post_load, validates_schema
from sqlalchemy import select

from app import engine
from app.audit.log import record
from app.catalog.attachments import store_attachment
from app.catalog.models import CatalogEntry
from app.catalog.permissions import can_view_entry
from app.clock import to_local, utcnow
from app.db import transaction
from app.extensions import db
from app.flows.models import Case, CaseStatus
from app.flows.numbering import business_key
from app.flows.parties import actor_user, office_department
from app.notifications.models import NotificationKind
from app.notifications.service import notify_group
from app.org.models import Department, Role, User
from app.policy import Policy
from app.validation import N_, FieldErrors, Schema, is_blank, meta, required_text

LETTER_FIELD = "letter"


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
class Flow:
    """One BPMN flow as the platform knows it (the module `app/flows/<process_id>.py`)."""

    process_id: str              # BPMN process id = bpmn/<process_id>.bpmn
    prefix: str                  # business key prefix
    label: str
    forms: Mapping[str, type[Schema]]   # user-task forms by the name the BPMN `form` property gives
    verbs: Mapping[str, Callable]       # service-task verbs by the name the BPMN operator gives
    outcome_labels: Mapping[str, str]
    start_form: type[Schema] | None = None   # None: only the platform starts it
    prepare: Callable[[User, dict, Policy], CaseDraft] | None = None
    starter_role: Role | None = None
    letter: bool = False         # sealed letter (南通 art. 24) when the profile requires one
    # Forms whose decision is bounded by the applicant's requested period (filled in server-side).
    period_forms: frozenset[str] = frozenset()

    def notice_title(self, outcome: str) -> str:
        return f"{self.label}：{self.outcome_labels.get(outcome, outcome)}"


# ---- small helpers of forms and checks ------------------------------------------------------------

def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def today() -> date:
    return to_local(utcnow()).date()


def stripped(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


def require(data: dict, errors: dict, name: str, message: str) -> None:
    if is_blank(data.get(name)):
        errors.setdefault(name, []).append(message)


def chosen_department(department_id: int | None, field_name: str, *, not_id: int | None = None,
                      own_message: str = "不能选择本部门") -> Department:
    """The department a form field names; a field error when there is none, or it is `not_id`."""
    dept = db.session.get(Department, department_id) if department_id is not None else None
    if dept is None:
        raise FieldErrors({field_name: ["部门不存在"]})
    if dept.id == not_id:
        raise FieldErrors({field_name: [own_message]})
    return dept


def visible_entry(user: User, entry_id: int | None, field_name: str = "entry_id") -> CatalogEntry:
    entry = db.session.get(CatalogEntry, entry_id) if entry_id is not None else None
    if entry is None or not can_view_entry(user, entry):
        raise FieldErrors({field_name: ["目录条目不存在"]})
    return entry


def check_items(entry: CatalogEntry, items: list[str]) -> None:
    """The named information items must be the entry's (an entry listing none takes any)."""
    known = {item.name for item in entry.items}
    unknown = [name for name in items if name not in known]
    if known and unknown:
        raise FieldErrors({"items": [f"资源中没有这些信息项：{'、'.join(unknown)}"]})


def open_case_of(process_id: str, *, entry_id: int | None = None, grant_id: int | None = None) -> Case | None:
    stmt = select(Case).where(Case.flow == process_id, Case.status == CaseStatus.IN_PROGRESS.value)
    if entry_id is not None:
        stmt = stmt.where(Case.entry_id == entry_id)
    if grant_id is not None:
        stmt = stmt.where(Case.grant_id == grant_id)
    return db.session.scalar(stmt.order_by(Case.id))


def store_letter(letter_file, user: User, owner_type: str, owner_id: str) -> int:
    """Store an uploaded sealed letter (南通 arts. 20, 24) for its record; returns the attachment id.
    Its field errors name the `letter` field; the caller commits."""
    letter = store_attachment(letter_file.stream, letter_file.filename, user,
                              owner_type=owner_type, owner_id=owner_id, field=LETTER_FIELD)
    return letter.id


def actor_for(user: User) -> engine.Actor:
    return engine.Actor(user.id, user.department_id, frozenset(r.value for r in user.roles), user.username)


# ---- a case flow's record -------------------------------------------------------------------------

def open_case(flow: Flow, draft: CaseDraft, policy: Policy, user: User | None = None,
              letter_file=None) -> Case:
    """Create the case row and start its BPMN instance — one transaction (the caller's, when it
    has one open); any error rolls it back."""
    office = office_department("flow")
    now = utcnow()
    with transaction():
        case = Case(
            business_key=f"tmp-{uuid.uuid4().hex}", flow=flow.process_id, status=CaseStatus.IN_PROGRESS.value,
            title=draft.title[:200], applicant_department_id=user.department_id if user else None,
            applicant_user_id=user.id if user else None, department_id=draft.department_id,
            entry_id=draft.entry_id, grant_id=draft.grant_id, details=draft.details, due_at=draft.due_at,
            policy_key=policy.key, created_at=now, updated_at=now)
        db.session.add(case)
        db.session.flush()
        case.business_key = business_key(flow.prefix, now)
        if letter_file is not None:
            case.letter_attachment_id = store_letter(letter_file, user, "workflow_case", case.business_key)
        record("case.started", "workflow_case", case.id, after=case.audit_view(), actor=user)
        data = {"case_id": case.id, "flow": flow.process_id, "title": case.title,
                "office_department_id": office.id, "applicant_user_id": user.id if user else None,
                "policy_key": policy.key, **draft.data}
        instance = engine.start(flow.process_id, case.business_key, data,
                                actor_for(user) if user else engine.Actor.system(),
                                summary={"flow": flow.process_id, "title": case.title}, commit=False)
        case.instance_id = instance.id
    return case


def case_of(ctx) -> Case:
    """The record of the instance a verb runs in (by its business key: instances started before
    applications and cases shared one table carry the application's former id)."""
    case = db.session.scalar(select(Case).where(Case.business_key == ctx.business_key))
    if case is None:
        raise LookupError(f"业务 {ctx.business_key} 不存在")
    return case


def set_details(case: Case, **values) -> None:
    case.details = {**(case.details or {}), **values}  # a new dict, so the JSON change is saved


def mark_case(ctx, case: Case, outcome: str, reasons: str | None, close: bool) -> None:
    """Record a step's outcome on the case (closing it if `close`) and audit it."""
    before = {"status": case.status, "outcome": case.outcome}
    case.outcome, case.updated_at = outcome, ctx.now
    if reasons is not None:
        case.reasons = reasons
    if close:
        case.status, case.closed_at = CaseStatus.CLOSED.value, ctx.now
    record(f"case.{outcome}", "workflow_case", case.id, before=before, actor=actor_user(ctx), after={
        "business_key": case.business_key, "status": case.status, "outcome": outcome, "reasons": reasons})


def case_body(case: Case, note: str | None = None) -> str:
    return f"{case.business_key}（{case.title}）" + (f"。说明：{note}" if note else "")


def outcome_result(ctx, outcome: str, reasons: str | None = None) -> dict:
    """What a verb that recorded an outcome hands back to the instance data."""
    return {"outcome": outcome, "reasons": reasons, "by": ctx.actor.user_id if ctx.actor else None,
            "at": ctx.now.isoformat()}


# ---- forms ---------------------------------------------------------------------------------------

class DecisionWithReasons(Schema):
    """A task form recording a `decision` and its `reasons` (both declared by the subclass):
    `REASONS_REQUIRED` maps each decision value that must give reasons to the message shown
    when they are missing (西城 art. 26: a refusal says why)."""

    REASONS_REQUIRED: ClassVar[dict[str, str]] = {}

    @validates_schema
    def _reasons_given(self, data, **_):
        message = self.REASONS_REQUIRED.get(data.get("decision"))
        if message and is_blank(data.get("reasons")):
            raise ValidationError({"reasons": [message]})

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"], "reasons": stripped(data.get("reasons"))}


# ---- the form every flow's 督办 step uses ----------------------------------------------------------

class SuperviseForm(Schema):
    """督办: the office records what it did about the overdue task."""

    supervision_opinion = required_text(2000, metadata=meta(N_("督办意见")))

    @post_load
    def _out(self, data, **_):
        return {"supervision_opinion": data["supervision_opinion"].strip()}


COMMON_FORMS = {"supervise_form": SuperviseForm}


def tell_supervisors(task, instance) -> None:
    """Engine hook (task created): the office's supervisors (监督) hear of every 督办, whoever
    holds it — escalation goes up (南通 art. 31; 宝鸡 art. 23). A 督办 already theirs was
    announced to them as a new task."""
    if task.form != "supervise_form" or task.candidate_role == Role.SUPERVISOR.value:
        return
    notify_group(task.candidate_department_id, Role.SUPERVISOR.value, NotificationKind.ESCALATION,
                 f"督办：{task.name or task.task_spec}",
                 f"业务编号 {instance.business_key} 已逾期，主管部门已启动督办", f"/tasks/{task.id}",
                 instance.business_key)
