"""The task page (SPEC §6): the task's form, the application's data, attachments, history, diagram;
claim, release, delegate and complete — through app.flows.tasks, the service the REST API uses.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app import engine
from app.clock import to_local, utcnow
from app.engine.models import HumanTask, InstanceStatus, ProcessInstance
from app.errors import Forbidden
from app.extensions import db
from app.flows import tasks as service
from app.flows.application_actions import amendment_history
from app.flows.conditional_share import proposed_terms
from app.flows.models import STATUS_LABELS, Application
from app.flows.permissions import (
    can_act_on_task,
    can_claim_task,
    can_delegate_task,
    can_release_task,
    can_view_task,
)
from app.flows.records import timeline
from app.org.models import User
from app.safe_input import as_id
from app.validation import FieldErrors
from app.web import task_forms, workview
from app.web.cases import case_context, task_options
from app.web.errors import FORM_ERRORS_STATUS
from app.web.redirects import safe_next

task_pages = Blueprint("task_pages", __name__, url_prefix="/tasks")


def _task_or_abort(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        abort(404)
    if not can_view_task(current_user, task):
        abort(403)
    return task


def _application(task: HumanTask) -> Application | None:
    return db.session.scalar(select(Application).where(Application.instance_id == task.instance_id))


def _fields(task: HumanTask, application: Application | None) -> list[task_forms.FormField]:
    items = [i.name for i in application.entry.items] if application else []
    options = task_options(task) if application is None else None
    return task_forms.build(task.form, _defaults(task, application), items, options)


def _defaults(task: HumanTask, application: Application | None) -> dict:
    """Pre-fill a decision with what was asked for — or, to confirm a negotiation, with what the
    applicant proposed; the approver narrows it if need be."""
    if application is None:
        return {}
    proposal = proposed_terms(task.instance_id) if task.form == "agreement_confirmation_form" else {}
    return {**_asked(application), **proposal}


def _asked(application: Application) -> dict:
    asked_from, asked_until = (application.requested_valid_from.isoformat(),
                               application.requested_valid_until.isoformat())
    return {"scope": application.requested_scope, "valid_from": asked_from, "valid_until": asked_until,
            "purpose": application.purpose, "requested_scope": application.requested_scope,
            "legal_basis": application.legal_basis, "items": list(application.items),
            "requested_valid_from": asked_from, "requested_valid_until": asked_until,
            "approved_items": list(application.items), "requested_items": list(application.items),
            "signed_on": to_local(utcnow()).date().isoformat()}


def colleagues(task: HumanTask) -> list[User]:
    """Delegation targets: same department, holding the task's role (SPEC §1)."""
    dept = task.candidate_department_id or current_user.department_id
    users = db.session.scalars(select(User).where(User.department_id == dept, User.active.is_(True))
                               .order_by(User.display_name)).all()
    return [u for u in users if can_delegate_task(current_user, task, u)]


def _render(task: HumanTask, form_fields=None, errors=None, delegate_errors=None, status=200):
    row = workview.task_rows([task])[0]  # with the task's application or case
    application, case = row["application"], row["case"]
    if form_fields is None:
        form_fields = _fields(task, application)
    # an administrator's hold (app/flows/record_admin.py): shown, and nothing offered to do
    held = db.session.scalar(select(ProcessInstance.status).where(
        ProcessInstance.id == task.instance_id)) == InstanceStatus.SUSPENDED
    ready = task.state == "ready" and not held
    return render_template(
        "tasks/detail.html", task=task, row=row, application=application, fields=form_fields,
        amendments=amendment_history(application) if application else [],
        case=case, **(case_context(case) if case else {}),
        errors=errors or {}, delegate_errors=delegate_errors or {}, held=held,
        status_labels=STATUS_LABELS, timeline=workview.timeline_rows(timeline(task.instance_id)),
        can_complete=ready and can_act_on_task(current_user, task)
        and task.assignee_id in (None, current_user.id),
        can_claim=ready and task.assignee_id is None and can_claim_task(current_user, task),
        can_release=ready and can_release_task(current_user, task),
        colleagues=colleagues(task) if ready and can_act_on_task(current_user, task)
        and task.assignee_id in (None, current_user.id) else [],
    ), status


@task_pages.get("/<int:task_id>")
@login_required
def detail(task_id: int):
    return _render(_task_or_abort(task_id))


@task_pages.get("/<int:task_id>/diagram")
@login_required
def diagram(task_id: int):
    return workview.diagram_response(_task_or_abort(task_id).instance_id)


def _back(task_id: int):
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for(".detail", task_id=task_id))


def _act(task_id: int, action, done_message: str):
    """Run a task action; a lost race (409) or a refusal (403) is explained, not crashed on."""
    _task_or_abort(task_id)
    try:
        action()
    except engine.Conflict as exc:
        flash(str(exc), "warning")
    except Forbidden as exc:
        flash(str(exc), "danger")
    else:
        flash(done_message, "success")
    return _back(task_id)


@task_pages.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    return _act(task_id, lambda: service.claim_task(current_user, task_id), _("已签收，任务已移入“我的待办”。"))


@task_pages.post("/<int:task_id>/release")
@login_required
def release(task_id: int):
    return _act(task_id, lambda: service.release_task(current_user, task_id), _("已退回组内待办。"))


@task_pages.post("/<int:task_id>/delegate")
@login_required
def delegate(task_id: int):
    task = _task_or_abort(task_id)
    to_user_id = as_id(request.form.get("to_user_id"))
    note = (request.form.get("note") or "").strip()[:500] or None
    try:
        if to_user_id is None:
            raise FieldErrors({"to_user_id": [_("请选择转办对象")]})
        service.delegate_task(current_user, task_id, to_user_id, note)
    except FieldErrors as exc:
        return _render(task, delegate_errors=exc.errors, status=FORM_ERRORS_STATUS)
    except engine.Conflict as exc:
        flash(str(exc), "warning")
        return redirect(url_for(".detail", task_id=task_id))
    except Forbidden:
        abort(403)
    target = db.session.get(User, to_user_id)
    flash(_("已转办给 %(name)s。", name=target.display_name), "success")
    return redirect(url_for("inbox_pages.index"))


@task_pages.post("/<int:task_id>/complete")
@login_required
def complete(task_id: int):
    task = _task_or_abort(task_id)
    form_fields = _fields(task, _application(task))
    data = task_forms.read(form_fields, request.form)
    try:
        service.complete_task(current_user, task_id, data)
    except engine.FormError as exc:
        task_forms.refill(form_fields, data)
        return _render(task, form_fields, errors=exc.errors, status=FORM_ERRORS_STATUS)
    except engine.Conflict as exc:
        flash(str(exc), "warning")
        return redirect(url_for(".detail", task_id=task_id))
    except Forbidden:
        abort(403)
    decision, _negative = workview.decision_of(task.completion_data, task.form)
    flash(_("“%(step)s”已办理%(decision)s。", step=task.name or task.task_spec,
            decision=f"：{decision}" if decision else ""), "success")
    return redirect(url_for("inbox_pages.index"))
