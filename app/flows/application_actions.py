"""What the applicant's department may do to an application in progress, outside its tasks:
withdraw it (撤回) while no decision has been made, urge (催办) whoever holds its open steps,
and replace the sealed letter of an application returned for amendment (补正, 南通 art. 21).

Both are one transaction, audited, and tell the people concerned. Web pages and the API call
these; the flow's own steps are in bpmn/conditional_share.bpmn.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select, update

from app import engine
from app.audit.log import record, recorded_in_transaction
from app.audit.models import AuditEntry
from app.clock import to_local, utcnow
from app.db import transaction
from app.errors import Conflict, Forbidden
from app.extensions import db
from app.flows.base import LETTER_FIELD, actor_for, set_details, store_letter
from app.flows.models import Application, ApplicationStatus, Case
from app.flows.records import open_tasks
from app.legaltime import get_calendar
from app.notifications.models import NotificationKind
from app.notifications.service import notify_group, notify_task
from app.org.models import Role, User
from app.validation import N_, FieldErrors, is_blank

# A decision (an approval waiting for agreements, a refusal under negotiation) binds the
# provider; after one the applicant gives up in the negotiation step instead (宝鸡 art. 16).
_DECIDED = ("approved", "refused")
_OPEN = (ApplicationStatus.IN_PROGRESS.value, ApplicationStatus.RETURNED.value)


def _check_own(user: User, application: Application, what: str) -> None:
    if not user.has_role(Role.APPLICANT) or application.applicant_department_id != user.department_id:
        raise Forbidden(f"只有申请部门的经办人可以{what}")
    if application.status not in _OPEN or application.instance_id is None:
        raise Conflict(f"该申请已办结，不能{what}")


def withdraw_application(user: User, application: Application, reasons: str | None) -> Application:
    """撤回: end the application's flow (its open steps and timers cancelled), record why and tell
    the provider, the office and the holders of its open steps. Raises Forbidden, Conflict (a
    decision was made, or it is over) or FieldErrors (no reasons)."""
    _check_own(user, application, "撤回申请")
    if application.outcome in _DECIDED:
        raise Conflict("已作出审核决定的申请不能撤回；如不再需要，请在部门协商环节选择放弃申请")
    if is_blank(reasons):
        raise FieldErrors({"reasons": ["请说明撤回的原因"]})
    reasons = reasons.strip()
    holders = open_tasks(application)
    with transaction():
        _claim_undecided(application)
        before = application.audit_view()
        engine.cancel(application.instance_id, actor_for(user), reasons, commit=False)
        now = utcnow()
        application.status, application.outcome, application.reasons = (
            ApplicationStatus.WITHDRAWN.value, "withdrawn", reasons)
        application.closed_at = application.updated_at = now
        record("application.withdrawn", "workflow_case", application.id, before=before,
               after={**application.audit_view(), "reasons": reasons}, actor=user)
        title, body = "申请已撤回", f"申请 {application.business_key}（{application.title}）已由申请部门撤回：{reasons}"
        for task in holders:
            notify_task(task, NotificationKind.DECISION, title, body, application.business_key)
        notify_group(application.provider_department_id, Role.PROVIDER_APPROVER.value, NotificationKind.DECISION,
                     title, body, business_key=application.business_key)
    return application


def _claim_undecided(application: Application) -> None:
    """Lock the record while it is still open and undecided: a decision committed meanwhile
    (its step writes this row too) makes this a 409 instead of withdrawing a granted application."""
    claimed = db.session.execute(
        update(Case).where(Case.id == application.id, Case.status.in_(_OPEN),
                           or_(Case.outcome.is_(None), Case.outcome.not_in(_DECIDED)))
        .values(updated_at=utcnow()).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise Conflict("该申请刚刚已有审核决定或已办结，不能撤回")
    db.session.refresh(application)


def replace_letter(user: User, application: Application, letter_file) -> Application:
    """补正: a returned application's sealed letter is replaced (the usual reason to return one,
    南通 arts. 20–21); the old one stays stored, the timeline's audit names both. Raises
    Forbidden, Conflict (not returned for amendment) or FieldErrors (no or a refused file)."""
    _check_own(user, application, "更换申请函")
    if application.status != ApplicationStatus.RETURNED.value:
        raise Conflict("只有退回补正的申请可以更换申请函")
    if letter_file is None or not getattr(letter_file, "filename", ""):
        raise FieldErrors({LETTER_FIELD: ["请选择加盖公章的申请函扫描件"]})
    with transaction():
        before = application.letter_attachment_id
        application.letter_attachment_id = store_letter(letter_file, user, "workflow_case", application.business_key)
        application.updated_at = utcnow()
        record("application.letter_replaced", "workflow_case", application.id, actor=user,
               before={"letter_attachment_id": before},
               after={"letter_attachment_id": application.letter_attachment_id,
                      "business_key": application.business_key})
    return application


def urge_application(user: User, application: Application) -> int:
    """催办: remind the holders of the application's open steps, at most once a working day per
    application — after an urge, the next one waits for a working day later than it (a weekend
    or holiday does not reset it); the number of steps urged. Raises Forbidden or Conflict."""
    _check_own(user, application, "催办")
    tasks = [t for t in open_tasks(application) if t.candidate_department_id != user.department_id]
    if not tasks:
        raise Conflict("当前没有等待其他部门办理的环节，无需催办")
    today = to_local(utcnow()).date()
    last = (application.details or {}).get("urged_on")
    if last and get_calendar().working_days_between(date.fromisoformat(last), today).count < 1:
        raise Conflict("本工作日已经催办过：每个申请每个工作日最多催办一次，下一个工作日可再次催办")
    with transaction():
        set_details(application, urged_on=today.isoformat())
        for task in tasks:
            notify_task(task, NotificationKind.REMINDER, f"申请方催办：{task.name or task.task_spec}",
                        f"申请 {application.business_key}（{application.title}）的申请部门催促尽快办理",
                        application.business_key)
        record("application.urged", "workflow_case", application.id, actor=user,
               after={"business_key": application.business_key, "steps": [t.task_spec for t in tasks]})
    return len(tasks)


# ---- 补正 history: what each amendment and letter replacement changed ---------------------------

# What a resubmission may change (the amendment form's fields, 南通 art. 21: 补正).
AMENDABLE_FIELDS = ("purpose", "requested_scope", "legal_basis", "items", "requested_valid_from",
                    "requested_valid_until")
AMENDMENT_ACTIONS = ("application.amended", "application.letter_replaced")
LETTER_LABEL = N_("盖章申请函")


def _amendable_labels() -> dict[str, str]:
    """Field → label, from the amendment form itself (one label per field, translated once)."""
    from app.flows.conditional_share import AmendApplicationForm

    fields = AmendApplicationForm().fields
    return {name: fields[name].metadata["label"] for name in AMENDABLE_FIELDS}


def amendment_history(application: Application) -> list[dict]:
    """Each 补正 of `application`, oldest first: when, who, and every field it changed
    (label, before, after) — read from the audit log, which recorded both sides."""
    labels = {**_amendable_labels(), "letter_attachment_id": LETTER_LABEL}
    stored = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "workflow_case", AuditEntry.object_id == str(application.id),
        AuditEntry.action.in_(AMENDMENT_ACTIONS)).order_by(AuditEntry.id))
    rows = [{"at": r.at, "actor_name": r.actor_name, "before": r.before, "after": r.after} for r in stored]
    rows += recorded_in_transaction("workflow_case", application.id, AMENDMENT_ACTIONS)
    history = []
    for row in rows:
        before, after = row["before"] or {}, row["after"] or {}
        changes = [{"field": name, "label": label, "before": before.get(name), "after": after.get(name)}
                   for name, label in labels.items()
                   if name in after and before.get(name) != after.get(name)]
        if changes:
            history.append({"at": row["at"], "actor_name": row["actor_name"], "changes": changes})
    return history
