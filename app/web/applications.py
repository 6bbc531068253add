"""Share applications on the web (SPEC §4.1 step 1, §6): apply, drafts, my applications, detail.

Submitting calls the same service the REST API calls (app.flows.applications.start_application,
save_draft, delete_draft); no rule is repeated here. The form has two submit buttons: 提交申请,
and 保存草稿 (`save_draft`), which stores the form — and the letter — on the server.
"""
from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.catalog import labels
from app.catalog.models import CatalogEntry, PublishState
from app.catalog.permissions import can_view_entry
from app.clock import to_local, utcnow
from app.db import transaction
from app.errors import Conflict
from app.extensions import db
from app.flows import application_actions as actions
from app.flows import applications as service
from app.flows import records
from app.flows.conditional_share import authorising_mode
from app.flows.models import PROCESS_ID, STATUS_LABELS, Application
from app.flows.permissions import can_edit_draft, can_view_record
from app.org.models import Role
from app.org.permissions import is_office_member, visible_or_abort
from app.policy import active_policy
from app.safe_input import as_id
from app.sla.remaining import last_day
from app.validation import FieldErrors
from app.web import workview
from app.web.errors import FORM_ERRORS_STATUS

application_pages = Blueprint("application_pages", __name__, url_prefix="/applications")
PER_PAGE = 20
FIELDS = ("purpose", "requested_scope", "legal_basis", "requested_valid_from", "requested_valid_until")


@application_pages.app_template_filter("period_end")
def period_end(value) -> str:
    """A period's end instant (24:00 of its last day) shown as that last day (民法典 art. 203)."""
    return last_day(value).isoformat() if value else ""


@application_pages.app_template_filter("file_size")
def file_size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1048576:.1f} MB"


@application_pages.app_template_filter("change_value")
def change_value(value) -> str:
    """A field's value before or after a 补正: lists as 甲、乙, nothing as —."""
    if value in (None, "", []):
        return "—"
    return "、".join(map(str, value)) if isinstance(value, list) else str(value)


def _views() -> dict[str, str]:
    views = {"mine": _("我的申请"), "department": _("本部门申请的"), "provided": _("本部门提供的")}
    if is_office_member(current_user):
        views["all"] = _("全部")
    return views


def may_apply(user, entry: CatalogEntry) -> bool:
    """Whether to offer the 申请 button; the service re-checks everything on submit."""
    return (user.has_role(Role.APPLICANT) and entry.publish_state == PublishState.PUBLISHED.value
            and entry.provider_department_id != user.department_id)


def _article(rule) -> str:
    """'art. 21' → '第21条', as the regulation is cited on the page."""
    match = re.fullmatch(r"art\.\s*(\d+)(.*)", rule.article or "")
    return _("第%(n)s条", n=match.group(1)) + match.group(2) if match else (rule.article or "")


def flow_steps(entry: CatalogEntry) -> list[str]:
    """The steps an application for `entry` will take under the active jurisdiction profile (SPEC §5)."""
    policy = active_policy()
    mode = authorising_mode(entry, policy)
    if mode is None:
        return [_("提交后由平台即时授权，无需审批（%(reg)s）。", reg=policy.regulation_title)]
    steps = []
    if entry.share_type == "not_shared":
        steps.append(_("不予共享资源：进入部门协商，协商不成由主管部门协调决定（宝鸡办法第十六条）。"))
        return steps
    if policy.switch("formal_review"):
        rule = policy.deadline("formal_review")
        steps.append(_("主管部门规范性审查：%(n)s 个工作日内（%(reg)s%(art)s）", n=rule.amount,
                       reg=policy.regulation_title, art=_article(rule)))
    if mode == "platform" and policy.switch("platform_authorisation"):
        rule = policy.deadline("platform_authorisation")
        steps.append(_("平台授权审核：%(n)s 个工作日内（%(reg)s%(art)s）", n=rule.amount,
                       reg=policy.regulation_title, art=_article(rule)))
    else:
        rule = policy.deadline("provider_review")
        steps.append(_("提供部门审核：%(n)s 个工作日内答复（%(reg)s%(art)s）", n=rule.amount,
                       reg=policy.regulation_title, art=_article(rule)))
    steps.append(_("同意的由平台授权；不同意的须说明理由，可进入部门协商（宝鸡办法第十六条）。"))
    return steps


def _entry_or_404(entry_id) -> CatalogEntry:
    entry = db.session.get(CatalogEntry, entry_id) if (entry_id := as_id(entry_id)) else None
    if entry is None or not can_view_entry(current_user, entry):
        abort(404)
    return entry


def _draft_or_abort(draft_id: int, *, edit: bool = True) -> Application:
    """A draft row: 404 when missing, 403 when another department's (or, to edit, not an applicant's)."""
    draft = db.session.get(Application, draft_id)
    if draft is None:
        abort(404)
    if not can_view_record(current_user, draft) or (edit and draft.is_draft
                                                          and not can_edit_draft(current_user, draft)):
        abort(403)
    return draft


def _posted_form() -> dict:
    form = {k: request.form.get(k, "").strip() for k in FIELDS}
    form["items"] = request.form.getlist("items")
    return form


def _posted_letter():
    letter = request.files.get("letter")
    return letter if letter and letter.filename else None


def _draft_form(draft: Application) -> dict:
    form = {k: getattr(draft, k) or "" for k in ("purpose", "requested_scope", "legal_basis")}
    form["items"] = list(draft.items or [])
    for name in ("requested_valid_from", "requested_valid_until"):
        form[name] = getattr(draft, name).isoformat() if getattr(draft, name) else ""
    return form


# What a page says after a write, and where it goes, is read inside the write's transaction
# (`with transaction()`, which the service joins): after the commit only the redirect is left,
# so nothing can show an error for an application that was saved.

def _submitted(application: Application) -> tuple[str, str]:
    if application.status == "granted":
        # 宝鸡 art. 16, 南通 art. 18: an unconditional resource is granted at once by the platform
        message = _("申请已提交：无条件共享资源已由平台即时授权。")
    else:
        message = _("申请已提交，业务编号 %(key)s。", key=application.business_key)
    return message, url_for(".detail", business_key=application.business_key)


def _draft_saved(draft: Application) -> tuple[str, str]:
    return _("草稿已保存"), url_for(".edit_draft", draft_id=draft.id)


def _done(outcome: tuple[str, str]):
    message, page = outcome
    flash(message, "success")
    return redirect(page)


@application_pages.route("/new", methods=["GET", "POST"])
@login_required
def new():
    entry = _entry_or_404(request.values.get("entry_id"))
    if not may_apply(current_user, entry):
        abort(403)
    today = to_local(utcnow()).date()
    form = {"items": [], "requested_valid_from": today.isoformat(),
            "requested_valid_until": (today + timedelta(days=365)).isoformat()}
    errors: dict = {}
    if request.method == "POST":
        form = _posted_form()
        try:
            with transaction():
                if "save_draft" in request.form:
                    outcome = _draft_saved(service.save_draft(
                        current_user, entry, {**form, "entry_id": entry.id}, _posted_letter()))
                else:
                    data = {**{k: v for k, v in form.items() if v not in ("", None)}, "entry_id": entry.id}
                    outcome = _submitted(service.start_application(current_user, entry, data, _posted_letter()))
            return _done(outcome)
        except FieldErrors as exc:
            errors = exc.errors
    return render_template("applications/form.html", entry=entry, form=form, errors=errors, draft=None,
                           labels=labels, steps=flow_steps(entry)), FORM_ERRORS_STATUS


@application_pages.route("/drafts/<int:draft_id>", methods=["GET", "POST"])
@login_required
def edit_draft(draft_id: int):
    """Continue a saved draft: save it again, or submit it (the stored letter is kept unless replaced)."""
    draft = _draft_or_abort(draft_id)
    if not draft.is_draft:
        if request.method == "GET":
            return redirect(url_for(".detail", business_key=draft.business_key))
        abort(409)
    form, errors = _draft_form(draft), {}
    if request.method == "POST":
        form = _posted_form()
        try:
            with transaction():
                if "save_draft" in request.form:
                    outcome = _draft_saved(service.save_draft(current_user, None, form, _posted_letter(),
                                                              draft=draft))
                else:
                    outcome = _submitted(service.start_application(current_user, None, form, _posted_letter(),
                                                                   draft=draft))
            return _done(outcome)
        except FieldErrors as exc:
            errors = exc.errors
        except service.NotADraft:
            abort(409)
    return render_template("applications/form.html", entry=draft.entry, form=form, errors=errors, draft=draft,
                           labels=labels, steps=flow_steps(draft.entry)), FORM_ERRORS_STATUS


@application_pages.route("/drafts/<int:draft_id>/delete", methods=["GET", "POST"])
@login_required
def delete_draft(draft_id: int):
    """Deleting a draft asks first (GET shows the question, POST deletes); submitted ones are kept (409)."""
    draft = _draft_or_abort(draft_id)
    if not draft.is_draft:
        abort(409)
    if request.method == "POST":
        try:
            service.delete_draft(current_user, draft)
        except service.NotADraft:
            abort(409)
        flash(_("草稿已删除。"), "success")
        return redirect(url_for(".index"))
    return render_template("applications/delete_draft.html", draft=draft)


@application_pages.get("/drafts/<int:draft_id>/letter")
@login_required
def draft_letter(draft_id: int):
    """The sealed letter stored with a draft: only the drafting department downloads it."""
    draft = _draft_or_abort(draft_id, edit=False)
    if not draft.is_draft or draft.letter is None:
        abort(404)
    return workview.send_attachment(draft.letter)


@application_pages.get("/")
@login_required
def index():
    views = _views()
    view = request.args.get("view") if request.args.get("view") in views else "mine"
    status = request.args.get("status") if request.args.get("status") in STATUS_LABELS else None
    stmt = records.listed(current_user, view, [PROCESS_ID], status)
    page = workview.listing_page(stmt.order_by(Application.created_at.desc(), Application.id.desc()), PER_PAGE)
    page.items = workview.list_rows(page.items)
    return render_template("applications/index.html", page=page,
                           views=views, view=view, status=status, status_labels=STATUS_LABELS,
                           pager_args={k: v for k, v in {"view": view, "status": status}.items() if v})


def _detail(application: Application):
    own = current_user.has_role(Role.APPLICANT) and application.applicant_department_id == current_user.department_id
    return workview.record_page("applications/detail.html", records.view(application), application=application,
                                amendments=actions.amendment_history(application),
                                status_labels=STATUS_LABELS, labels=labels,
                                may_act=own and application.status in ("in_progress", "returned"))


def _application_or_abort(business_key: str) -> Application:
    return visible_or_abort(records.by_key(business_key, Application), can_view_record)


@application_pages.route("/<string:business_key>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(business_key: str):
    """撤回 asks first, with the reason (GET shows the question, POST withdraws)."""
    application = _application_or_abort(business_key)
    errors: dict = {}
    if request.method == "POST":
        try:
            with transaction():
                actions.withdraw_application(current_user, application, request.form.get("reasons"))
            flash(_("申请已撤回。"), "success")
            return redirect(url_for(".detail", business_key=business_key))
        except Conflict as exc:
            flash(exc.message, "warning")
            return redirect(url_for(".detail", business_key=business_key))
        except FieldErrors as exc:
            errors = exc.errors
    return render_template("applications/withdraw.html", application=application, errors=errors,
                           reasons=request.form.get("reasons", "")), FORM_ERRORS_STATUS


def _acted(business_key: str, act) -> object:
    """Run one of the applicant's actions from the record's page (`act()` returns the message
    to show), show its refusal instead when there is one, and go back to the page."""
    try:
        with transaction():
            flash(act(), "success")
    except Conflict as exc:
        flash(exc.message, "warning")
    except FieldErrors as exc:
        flash("；".join(m for msgs in exc.errors.values() for m in msgs), "warning")
    return redirect(url_for(".detail", business_key=business_key))


@application_pages.post("/<string:business_key>/letter")
@login_required
def replace_letter(business_key: str):
    """补正: a returned application's new sealed letter."""
    application = _application_or_abort(business_key)
    def act() -> str:
        actions.replace_letter(current_user, application, _posted_letter())
        return _("申请函已更换。")
    return _acted(business_key, act)


@application_pages.post("/<string:business_key>/urge")
@login_required
def urge(business_key: str):
    application = _application_or_abort(business_key)
    return _acted(business_key, lambda: _("已催办 %(count)d 个待办环节。",
                                          count=actions.urge_application(current_user, application)))


workview.record_routes(application_pages, Application, _detail)
