"""Starting a conditional-share application (SPEC §4.1 step 1) and reading one back."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app import engine
from app.audit.log import record
from app.catalog.attachments import store_attachment
from app.catalog.models import CatalogEntry, Grant, PublishState
from app.clock import to_local, utcnow
from app.engine.models import HumanTask, ProcessInstance, TaskEvent, TaskState
from app.extensions import db
from app.flows.forms import ApplicationForm
from app.flows.models import PROCESS_ID, Application, ApplicationStatus
from app.flows.parties import office_department
from app.org.models import Department, Role, User
from app.org.permissions import Forbidden, can_view_entry
from app.org.services import suspension_refusal
from app.policy import active_policy
from app.validation import FieldErrors

LETTER_FIELD = "letter"


def _check_applicant(user: User) -> None:
    if not user.has_role(Role.APPLICANT):
        raise Forbidden("只有使用部门经办人可以提出共享申请")
    refusal = suspension_refusal(user.department, "提出共享申请")
    if refusal:
        # 宝鸡 art. 29: a department that missed its rectification may not apply until reinstated
        raise Forbidden(refusal)


def _validate(user: User, entry: CatalogEntry | None, form_data: dict) -> dict:
    data = ApplicationForm().load(form_data)  # marshmallow ValidationError → 422 via FieldErrors below
    if entry is None or not can_view_entry(user, entry) or entry.publish_state != PublishState.PUBLISHED.value:
        raise FieldErrors({"entry_id": ["该资源不存在或未发布，不能申请"]})
    if entry.provider_department_id == user.department_id:
        raise FieldErrors({"entry_id": ["不能申请本部门提供的资源"]})
    known = {item.name for item in entry.items}
    unknown = [name for name in data["items"] if name not in known]
    if known and unknown:
        raise FieldErrors({"items": [f"资源中没有这些信息项：{'、'.join(unknown)}"]})
    return data


def _instance_data(application: Application, entry: CatalogEntry, office: Department, policy) -> dict:
    """Entry facts and policy switches the BPMN gateways read (SPEC §5: rules are data)."""
    return {
        "application_id": application.id, "entry_id": entry.id, "entry_name": entry.name,
        "share_type": entry.share_type, "authorisation_mode": entry.authorisation_mode,
        "sensitive": bool(entry.sensitive),
        "applicant_department_id": application.applicant_department_id,
        "provider_department_id": application.provider_department_id,
        "office_department_id": office.id, "applicant_user_id": application.applicant_user_id,
        "purpose": application.purpose, "requested_scope": application.scope,
        "items": list(application.items), "legal_basis": application.legal_basis,
        "requested_valid_from": application.valid_from.isoformat(),
        "requested_valid_until": application.valid_until.isoformat(),
        "letter_attachment_id": application.letter_attachment_id,
        "policy_key": policy.key,
        "formal_review_required": policy.switch("formal_review"),                     # 南通 art. 21
        "platform_authorisation_enabled": policy.switch("platform_authorisation"),   # 南通 arts. 18, 23
        "three_party_required": policy.switch("three_party_agreement"),              # 西城 art. 26
        "confidentiality_required": bool(entry.sensitive) and policy.switch("confidentiality_agreement"),  # 西城 art. 31
        "office_arbitration_enabled": policy.switch("office_arbitration"),            # 宝鸡 art. 16
    }


def start_application(user: User, entry: CatalogEntry | None, form_data: dict, letter_file=None) -> Application:
    """Validate, store the sealed letter (南通 art. 20) and start the flow — one transaction.

    Raises Forbidden (not an applicant, department suspended) or FieldErrors (422).
    """
    from marshmallow import ValidationError

    _check_applicant(user)
    try:
        data = _validate(user, entry, form_data)
    except ValidationError as exc:
        raise FieldErrors(exc.messages) from None
    policy = active_policy()
    if letter_file is None and policy.switch("sealed_application_letter"):
        raise FieldErrors({LETTER_FIELD: ["请上传加盖公章的申请函扫描件（南通细则第二十条）"]})
    office = office_department("entry_id")
    now = utcnow()
    try:
        application = Application(
            business_key=f"tmp-{uuid.uuid4().hex}", entry_id=entry.id, applicant_department_id=user.department_id,
            provider_department_id=entry.provider_department_id, applicant_user_id=user.id,
            purpose=data["purpose"].strip(), scope=data["scope"].strip(), items=data["items"],
            legal_basis=data["legal_basis"].strip(), valid_from=data["valid_from"],
            valid_until=data["valid_until"], status=ApplicationStatus.IN_PROGRESS.value,
            policy_key=policy.key, created_at=now, updated_at=now)
        db.session.add(application)
        db.session.flush()
        application.business_key = f"SQ-{to_local(now).year}-{application.id:06d}"
        if letter_file is not None:
            letter = store_attachment(letter_file.stream, letter_file.filename, letter_file.mimetype, user,
                                      owner_type="share_application", owner_id=application.business_key,
                                      field=LETTER_FIELD)
            application.letter_attachment_id = letter.id
        record("application.submitted", "share_application", application.id,
               after=application.audit_view(), actor=user)
        instance = engine.start(PROCESS_ID, application.business_key,
                                _instance_data(application, entry, office, policy), actor_for(user),
                                summary={"entry": entry.resource_code, "applicant": user.department.code},
                                commit=False)
        application.instance_id = instance.id
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return application


def actor_for(user: User) -> engine.Actor:
    return engine.Actor(user.id, user.department_id, frozenset(r.value for r in user.roles), user.username)


def by_key(business_key: str) -> Application | None:
    return db.session.scalar(select(Application).where(Application.business_key == business_key))


def open_tasks(application: Application) -> list[HumanTask]:
    if application.instance_id is None:
        return []
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == application.instance_id, HumanTask.state == TaskState.READY)
        .order_by(HumanTask.id)))


def history(application: Application) -> list[TaskEvent]:
    if application.instance_id is None:
        return []
    return list(db.session.scalars(select(TaskEvent).where(TaskEvent.instance_id == application.instance_id)
                                   .order_by(TaskEvent.at, TaskEvent.id)))


def view(application: Application) -> dict[str, Any]:
    """State, current tasks, timeline and grant of one application (for the API and pages)."""
    instance = db.session.get(ProcessInstance, application.instance_id) if application.instance_id else None
    return {
        "application": application,
        "instance_status": instance.status if instance else None,
        "current_tasks": open_tasks(application),
        "history": history(application),
        "grant": db.session.get(Grant, application.grant_id) if application.grant_id else None,
    }
