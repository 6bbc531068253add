"""Starting a conditional-share application (SPEC §4.1 step 1) and its drafts (reading one
back: app/flows/records.py).

A draft is an `Application` row with status `draft`: the applicant's department saves the form
as far as it got (only the entry is required) and, optionally, the sealed letter. It has no
business key and no process instance. Submitting it goes through `start_application`, the same
validation and start as a fresh submission, on the draft's own row.
"""
from __future__ import annotations

import uuid

from sqlalchemy import update

from app import engine
from app.audit.log import record
from app.catalog.models import CatalogEntry, PublishState
from app.catalog.permissions import can_view_entry
from app.clock import utcnow
from app.db import transaction
from app.errors import Conflict, Forbidden
from app.extensions import db
from app.flows.base import LETTER_FIELD, actor_for, check_items, store_letter
from app.flows.conditional_share import FLOW, ApplicationDraftForm, ApplicationForm, authorising_mode
from app.flows.models import PROCESS_ID, Application, ApplicationStatus, Case
from app.flows.numbering import business_key
from app.flows.parties import office_department
from app.flows.permissions import can_edit_draft
from app.org.models import Department, Role, User
from app.org.services import suspension_refusal
from app.policy import active_policy
from app.validation import FieldErrors, is_blank, load

DRAFT_FIELDS = ("purpose", "requested_scope", "items", "legal_basis", "requested_valid_from",
                "requested_valid_until")
_TEXT_FIELDS = ("purpose", "requested_scope", "legal_basis")


class NotADraft(Conflict):
    """The application is no longer a draft (submitted, or deleted meanwhile): 409."""

    def __init__(self, message: str = "该申请已提交，不再是草稿"):
        super().__init__(message)


def _check_applicant(user: User, *, submitting: bool = True) -> None:
    if not user.has_role(Role.APPLICANT):
        raise Forbidden("只有使用部门经办人可以提出共享申请")
    if not submitting:
        return  # a suspended department may still prepare its application; it may not submit it
    refusal = suspension_refusal(user.department, "提出共享申请")
    if refusal:
        # 宝鸡 art. 29: a department that missed its rectification may not apply until reinstated
        raise Forbidden(refusal)


def _check_entry(user: User, entry: CatalogEntry | None) -> None:
    if entry is None or not can_view_entry(user, entry) or entry.publish_state != PublishState.PUBLISHED.value:
        raise FieldErrors({"entry_id": ["该资源不存在或未发布，不能申请"]})
    if entry.provider_department_id == user.department_id:
        raise FieldErrors({"entry_id": ["不能申请本部门提供的资源"]})


def _validate(user: User, entry: CatalogEntry | None, form_data: dict) -> dict:
    data = load(ApplicationForm(), form_data)
    _check_entry(user, entry)
    check_items(entry, data["items"])
    return data


def _check_draft(user: User, draft: Application) -> None:
    if not can_edit_draft(user, draft):
        raise Forbidden("草稿只能由起草部门的经办人查看和修改")
    if not draft.is_draft:
        raise NotADraft()


def _claim_draft(draft: Application, **values) -> None:
    """Lock the row while it is still a draft (a concurrent submit or delete loses: 409)."""
    claimed = db.session.execute(
        update(Case).where(Case.id == draft.id, Case.status == ApplicationStatus.DRAFT.value)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session="fetch"))
    if claimed.rowcount != 1:
        raise NotADraft()


def draft_form_data(draft: Application) -> dict:
    """The draft as submit input: blank fields left out, so they read as missing."""
    data: dict = {"entry_id": draft.entry_id, "items": list(draft.items or [])}
    for name in _TEXT_FIELDS:
        if not is_blank(getattr(draft, name)):
            data[name] = getattr(draft, name)
    for name in ("requested_valid_from", "requested_valid_until"):
        if getattr(draft, name) is not None:
            data[name] = getattr(draft, name).isoformat()
    return data


def _merge(draft: Application, form_data: dict | None) -> dict:
    """The draft's fields, overridden by the given ones; a blank given field clears the stored one."""
    data = draft_form_data(draft)
    for name, value in (form_data or {}).items():
        if name == "entry_id":
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _instance_data(application: Application, entry: CatalogEntry, office: Department, policy) -> dict:
    """Entry facts and policy switches the BPMN gateways read (SPEC §5: rules are data)."""
    mode = authorising_mode(entry, policy)
    return {
        "case_id": application.id, "entry_id": entry.id, "entry_name": entry.name,
        # who must authorise (南通 arts. 18, 23): the gateways read the result, not the entry
        "share_type": entry.share_type,
        "authorisation_mode": mode or entry.authorisation_mode,
        "granted_at_once": mode is None,
        "sensitive": bool(entry.sensitive),
        "applicant_department_id": application.applicant_department_id,
        "provider_department_id": application.provider_department_id,
        "office_department_id": office.id, "applicant_user_id": application.applicant_user_id,
        "purpose": application.purpose, "requested_scope": application.requested_scope,
        "items": list(application.items), "legal_basis": application.legal_basis,
        "requested_valid_from": application.requested_valid_from.isoformat(),
        "requested_valid_until": application.requested_valid_until.isoformat(),
        "letter_attachment_id": application.letter_attachment_id,
        "policy_key": policy.key,
        "formal_review_required": policy.switch("formal_review"),                     # 南通 art. 21
        "platform_authorisation_enabled": policy.switch("platform_authorisation"),   # 南通 arts. 18, 23
        "three_party_required": policy.switch("three_party_agreement"),              # 西城 art. 26
        "confidentiality_required": bool(entry.sensitive) and policy.switch("confidentiality_agreement"),  # 西城 art. 31
        "office_arbitration_enabled": policy.switch("office_arbitration"),            # 宝鸡 art. 16
    }


def start_application(user: User, entry: CatalogEntry | None, form_data: dict | None, letter_file=None,
                      *, draft: Application | None = None) -> Application:
    """Validate, store the sealed letter (南通 art. 20) and start the flow — one transaction
    (the caller's, when it has one open).

    With `draft`, the draft's row is submitted: `form_data` (may be None or partial) overrides
    its stored fields, and its stored letter is kept unless `letter_file` replaces it. On any
    error nothing changes and the draft stays a draft.

    Raises Forbidden (not an applicant, department suspended, another department's draft),
    NotADraft (409) or FieldErrors (422).
    """
    _check_applicant(user)
    if draft is not None:
        _check_draft(user, draft)
        entry, form_data = draft.entry, _merge(draft, form_data)
    data = _validate(user, entry, form_data or {})
    policy = active_policy()
    kept_letter = draft.letter if draft is not None else None
    if letter_file is None and kept_letter is None and policy.switch("sealed_application_letter"):
        raise FieldErrors({LETTER_FIELD: ["请上传加盖公章的申请函扫描件（南通细则第二十条）"]})
    office = office_department("entry_id")
    now = utcnow()
    with transaction():  # joins the caller's, e.g. an API handler that answers before the commit
        application, before = _submitted_row(user, entry, data, policy.key, now, draft)
        application.business_key = business_key(FLOW.prefix, now)
        if letter_file is not None:
            application.letter_attachment_id = store_letter(letter_file, user, "workflow_case",
                                                            application.business_key)
        elif kept_letter is not None:
            kept_letter.owner_id = application.business_key  # the draft's letter now belongs to the key
        record("application.submitted", "workflow_case", application.id,
               before=before, after=application.audit_view(), actor=user)
        instance = engine.start(PROCESS_ID, application.business_key,
                                _instance_data(application, entry, office, policy), actor_for(user),
                                summary={"entry": entry.resource_code, "applicant": user.department.code},
                                commit=False)
        application.instance_id = instance.id
    return application


def _submitted_row(user: User, entry: CatalogEntry, data: dict, policy_key: str, now,
                   draft: Application | None) -> tuple[Application, dict | None]:
    """The application's row as submitted — a new one, or the draft claimed and filled in —
    with the audit view it had before (None for a new one)."""
    fields = dict(
        entry_id=entry.id, title=entry.name, applicant_department_id=user.department_id,
        provider_department_id=entry.provider_department_id, applicant_user_id=user.id,
        purpose=data["purpose"].strip(), requested_scope=data["requested_scope"].strip(), items=data["items"],
        legal_basis=data["legal_basis"].strip(), requested_valid_from=data["requested_valid_from"],
        requested_valid_until=data["requested_valid_until"], status=ApplicationStatus.IN_PROGRESS.value,
        policy_key=policy_key, created_at=now, updated_at=now)
    if draft is None:
        application = Application(business_key=f"tmp-{uuid.uuid4().hex}", **fields)
        db.session.add(application)
        db.session.flush()
        return application, None
    before = draft.audit_view()
    _claim_draft(draft, status=ApplicationStatus.IN_PROGRESS.value)
    for name, value in fields.items():
        setattr(draft, name, value)
    return draft, before


def save_draft(user: User, entry: CatalogEntry | None, form_data: dict, letter_file=None,
               *, draft: Application | None = None) -> Application:
    """Create a draft (`draft` None) or update one — one transaction (the caller's, when it has
    one open), audited.

    Only the entry is required; every given field must still have its type. On update only the
    given fields change (a blank one is cleared), and `letter_file` replaces the stored letter.
    A suspended department may save drafts (it may not submit them).
    Raises Forbidden, NotADraft (409) or FieldErrors (422).
    """
    _check_applicant(user, submitting=False)
    if draft is not None:
        _check_draft(user, draft)
        given = form_data.get("entry_id")
        if given not in (None, "") and str(given) != str(draft.entry_id):
            raise FieldErrors({"entry_id": ["草稿申请的资源不能更改，请另行申请"]})
        entry, form_data = draft.entry, {**form_data, "entry_id": draft.entry_id}
    data = load(ApplicationDraftForm(), form_data)
    _check_entry(user, entry)
    if data["items"]:
        check_items(entry, data["items"])
    names = DRAFT_FIELDS if draft is None else [n for n in DRAFT_FIELDS if n in form_data]
    now = utcnow()
    with transaction():
        if draft is None:
            before = None
            draft = Application(
                entry_id=entry.id, title=entry.name, applicant_department_id=user.department_id,
                provider_department_id=entry.provider_department_id, applicant_user_id=user.id,
                purpose="", requested_scope="", items=[], legal_basis="", status=ApplicationStatus.DRAFT.value,
                policy_key=active_policy().key, created_at=now, updated_at=now)
            db.session.add(draft)
        else:
            before = draft.audit_view()
            _claim_draft(draft)
        for name in names:
            value = data.get(name)
            if name in _TEXT_FIELDS:
                value = (value or "").strip()
            elif name == "items":
                value = list(value or [])
            setattr(draft, name, value)
        draft.updated_at = now
        db.session.flush()
        if letter_file is not None:
            draft.letter_attachment_id = store_letter(letter_file, user, "workflow_case", draft_owner_id(draft))
        record("application.draft_updated" if before else "application.draft_created", "workflow_case",
               draft.id, before=before, after=draft.audit_view(), actor=user)
    return draft


def delete_draft(user: User, draft: Application) -> None:
    """Delete a draft (never a submitted application), audited. Raises Forbidden or NotADraft."""
    _check_applicant(user, submitting=False)
    _check_draft(user, draft)
    before, draft_id = draft.audit_view(), draft.id
    with transaction():
        _claim_draft(draft)  # a concurrent submit or delete waits for this one, then finds no draft
        db.session.delete(draft)
        record("application.draft_deleted", "workflow_case", draft_id, before=before, actor=user)


def draft_owner_id(draft: Application) -> str:
    """Attachment owner of a draft's letter until submission re-points it to the business key."""
    return f"draft-{draft.id}"
