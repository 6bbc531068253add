"""The case flows on the web (SPEC §4.2–4.5): revocation, idle-grant review, demand,
rectification, data objection, catalogue review — list, 发起, start form, detail, diagram.

Starting calls the service the REST API calls (app.flows.cases.start_case); no rule is
repeated here. The start form is built from the flow's start-form schema
(in its module app/flows/<flow>.py) by app.web.task_forms, as a task's form is; the detail page shows the
same steps, timeline and diagram as a share application's.
"""
from __future__ import annotations

import contextlib
import json
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from app.catalog.models import CatalogEntry, Grant, GrantStatus, PublishState
from app.catalog.permissions import can_view_entry
from app.clock import to_local
from app.db import transaction
from app.engine.models import HumanTask
from app.errors import Forbidden
from app.extensions import db
from app.flows import cases as service
from app.flows import records
from app.flows.base import LETTER_FIELD, Flow
from app.flows.models import CASE_STATUS_LABELS, Case
from app.flows.registry import CASE_FLOWS, outcome_label
from app.flows.registry import flow_label as _flow_label
from app.org.models import Department, User
from app.org.permissions import is_office_member
from app.policy import active_policy
from app.safe_input import as_id
from app.validation import FieldErrors, flat_errors
from app.web import task_forms, workview
from app.web.errors import FORM_ERRORS_STATUS

case_pages = Blueprint("case_pages", __name__, url_prefix="/cases")
PER_PAGE = 20

# What each flow is for, on the 发起 page (SPEC §4.2–4.5).
FLOW_INTROS = {
    "revocation": _l("提供部门撤销已发布的资源：提前告知持有授权的使用部门和主管部门，按辖区规定经主管部门同意后，"
                     "于生效日撤销并终止其授权（南通细则第十六条）。"),
    "idle_grant_review": _l("授权超过规定期限未使用的，由平台定期提出收回建议，提供部门决定收回或保留（南通细则第二十六条）。"),
    "unpublished_demand": _l("需要目录中尚未发布的数据：向掌握数据的部门提出需求；不清楚由谁掌握的，由主管部门转送"
                             "（南通细则第二十四、二十五条；西城办法第二十六条）。"),
    "rectification": _l("主管部门就违反共享管理规定的行为通知部门限期整改；逾期未整改的上报或书面通报，"
                        "并可暂停其共享数据使用资格（宝鸡办法第二十九条；南通细则第三十三条）。"),
    "data_objection": _l("使用部门对获得授权的共享数据有疑义：提交提供部门校核，更正结果推送全部使用部门；"
                         "其间持有效纸质证明的业务照常办理（宝鸡办法第十九条；南通细则第二十九条）。"),
    "catalogue_review": _l("新增或变更目录条目送主管部门审核后发布；法律法规修订或职能变化的，"
                           "须在规定期限内更新目录（南通细则第十、十一条；宝鸡办法第十条）。"),
}
# Requests that cannot be taken back once filed: the page asks for an explicit confirmation.
CONFIRM = {
    "revocation": _l("我已知悉：提交后即通知持有该资源授权的使用部门和主管部门，撤销申请提交后不能撤回。"),
    "rectification": _l("我已知悉：整改通知下达后即通知被整改部门并开始计算整改期限，不能撤回。"),
}
DETAIL_LABELS = {
    "idle_since": _l("最后使用（或起算）时间"), "idle_months": _l("闲置期限（月）"),
    "routed_to": _l("已转送部门"), "suspended": _l("已暂停共享数据使用资格"), "suspended_at": _l("暂停时间"),
    "suspension_lifted_at": _l("恢复资格时间"), "provider_department_id": _l("提供部门"),
}


# ---- helpers shared with the task page and the catalogue pages -----------------------------------

def _entry_label(entry: CatalogEntry) -> str:
    return f"{entry.name}（{entry.resource_code}）"


def entry_options(department_id: int | None, states: tuple[str, ...]) -> list[tuple[str, str]]:
    """A department's catalogue entries in the given publish states, to pick from."""
    rows = db.session.scalars(select(CatalogEntry).where(
        CatalogEntry.provider_department_id == department_id, CatalogEntry.publish_state.in_(states))
        .order_by(CatalogEntry.resource_code)).all()
    return [(str(e.id), _entry_label(e)) for e in rows]


def granted_entry_options(department_id: int) -> list[tuple[str, str]]:
    """Entries the department holds an active grant of (the ones it may object to)."""
    rows = db.session.scalars(select(CatalogEntry).join(Grant, Grant.entry_id == CatalogEntry.id).where(
        Grant.grantee_department_id == department_id, Grant.status == GrantStatus.ACTIVE.value)
        .distinct().order_by(CatalogEntry.resource_code)).all()
    return [(str(e.id), _entry_label(e)) for e in rows]


def department_options(exclude_id: int | None = None) -> list[tuple[str, str]]:
    """Departments other than the office (and `exclude_id`), by code."""
    rows = db.session.scalars(select(Department).where(Department.is_office.is_(False))
                              .order_by(Department.code)).all()
    return [(str(d.id), d.name) for d in rows if d.id != exclude_id]


_PUBLISHED = (PublishState.PUBLISHED.value,)
_REVIEWABLE = (PublishState.DRAFT.value, PublishState.PUBLISHED.value)


def task_options(task: HumanTask) -> dict[str, list[tuple[str, str]]]:
    """Lists for the department and entry fields of a case task's form (the service re-checks)."""
    schema = task_forms.schema_for(task.form)
    names = set(schema().fields) if schema else set()
    options = {}
    if "provider_department_id" in names:  # a demand goes to another department than its own
        case = records.by_instance(task.instance_id)
        options["provider_department_id"] = department_options(case and case.applicant_department_id)
    if "published_entry_id" in names:
        options["published_entry_id"] = entry_options(task.candidate_department_id, _PUBLISHED)
    if "entry_id" in names:
        options["entry_id"] = entry_options(task.candidate_department_id, _REVIEWABLE)
    return options


def entry_actions(user: User, entry: CatalogEntry) -> list[tuple[str, str]]:
    """Case flows to start from a catalogue entry's page: (label, url)."""
    actions = []
    own = entry.provider_department_id == user.department_id
    if own and entry.publish_state == PublishState.PUBLISHED.value and service.may_start(user, "revocation"):
        actions.append((_("申请撤销发布"), url_for("case_pages.new", flow="revocation", entry_id=entry.id)))
    if own and entry.publish_state in _REVIEWABLE and service.may_start(user, "catalogue_review"):
        actions.append((_("送审目录"), url_for("case_pages.new", flow="catalogue_review", entry_id=entry.id)))
    if not own and service.may_start(user, "data_objection") and db.session.scalar(select(Grant.id).where(
            Grant.entry_id == entry.id, Grant.grantee_department_id == user.department_id,
            Grant.status == GrantStatus.ACTIVE.value).limit(1)) is not None:
        actions.append((_("数据疑义"), url_for("case_pages.new", flow="data_objection", entry_id=entry.id)))
    return actions


@case_pages.app_context_processor
def _case_helpers():
    """For the catalogue and admin pages: the case buttons they offer."""
    def may_start_case(flow: str) -> bool:
        return current_user.is_authenticated and service.may_start(current_user, flow)

    def case_actions_for(entry: CatalogEntry) -> list[tuple[str, str]]:
        return entry_actions(current_user, entry) if current_user.is_authenticated else []

    return {"may_start_case": may_start_case, "case_actions_for": case_actions_for}


def flow_label(flow: str) -> str:
    return _(_flow_label(flow))


# ---- 发起 ----------------------------------------------------------------------------------------

@case_pages.get("/new")
@login_required
def start():
    """The flows the user may start, each with what it is for."""
    flows = [(spec, FLOW_INTROS.get(spec.process_id)) for spec in service.case_flows()
             if service.may_start(current_user, spec.process_id)]
    return render_template("cases/start.html", flows=flows, flow_label=flow_label)


def _start_spec_or_abort(flow: str) -> Flow:
    spec = CASE_FLOWS.get(flow)
    if spec is None:
        abort(404)
    if spec.prepare is None:
        abort(403, description=_("「%(flow)s」由平台定期自动发起，不能手工提出。", flow=flow_label(flow)))
    if not service.may_start(current_user, flow):
        abort(403, description=_("您的角色不能提出「%(flow)s」。", flow=flow_label(flow)))
    return spec


def _picked_entry() -> CatalogEntry | None:
    entry_id = as_id(request.values.get("entry_id"))
    entry = db.session.get(CatalogEntry, entry_id) if entry_id else None
    return entry if entry is not None and can_view_entry(current_user, entry) else None


def _start_options(flow: str, entry: CatalogEntry | None) -> dict[str, list[tuple[str, str]]]:
    dept = current_user.department_id
    if flow == "revocation":
        return {"entry_id": entry_options(dept, _PUBLISHED)}
    if flow == "catalogue_review":
        return {"entry_id": entry_options(dept, _REVIEWABLE)}
    if flow == "data_objection":
        return {"entry_id": [(str(entry.id), _entry_label(entry))] if entry else granted_entry_options(dept)}
    if flow == "unpublished_demand":
        return {"provider_department_id": department_options(exclude_id=dept)}
    if flow == "rectification":
        return {"rectified_department_id": department_options()}
    return {}


def _start_fields(spec: Flow, entry: CatalogEntry | None) -> list[task_forms.FormField]:
    names = set(spec.start_form().fields)
    defaults = {k: v for k, v in request.args.items() if k in names}
    if spec.process_id == "catalogue_review":
        defaults.setdefault("review_kind", "submission")
    items = [i.name for i in entry.items] if entry is not None else []
    form_fields = task_forms.build_schema(spec.start_form, defaults, items, _start_options(spec.process_id, entry))
    if spec.letter and active_policy().switch("sealed_application_letter"):
        form_fields.append(task_forms.FormField(
            name=LETTER_FIELD, label=_("盖章申请材料扫描件"), widget="file", required=True,
            hint=_("PDF、OFD 或图片，不超过 20 MB（南通细则第二十四条）。")))
    return form_fields


@case_pages.route("/new/<string:flow>", methods=["GET", "POST"])
@login_required
def new(flow: str):
    spec = _start_spec_or_abort(flow)
    entry = _picked_entry()
    if flow == "data_objection" and entry is None:
        # the items to pick depend on the entry: choose it first
        return render_template("cases/pick_entry.html", spec=spec, flow_label=flow_label,
                               options=granted_entry_options(current_user.department_id))
    form_fields = _start_fields(spec, entry)
    errors: dict = {}
    confirmed = False
    if request.method == "POST":
        data = task_forms.read([f for f in form_fields if f.widget != "file"], request.form)
        letter = request.files.get(LETTER_FIELD)
        letter = letter if letter and letter.filename else None
        confirmed = request.form.get("confirm") == "y"
        if flow in CONFIRM and not confirmed:
            errors = {**flat_errors(spec.start_form().validate(data)), "confirm": [_("请确认上述事项后再提交")]}
        else:
            try:
                with transaction():  # the message and page are read before the commit: after it, only the redirect
                    case = service.start_case(flow, current_user, data, letter)
                    message = _("「%(flow)s」已提交，业务编号 %(key)s。", flow=flow_label(flow), key=case.business_key)
                    page = url_for(".detail", business_key=case.business_key)
            except FieldErrors as exc:
                errors = flat_errors(exc.errors)
            except Forbidden as exc:
                abort(403, description=str(exc))
            else:
                flash(message, "success")
                return redirect(page)
        task_forms.refill(form_fields, data)
    shown = {f.name for f in form_fields} | {"confirm"}
    other_errors = [m for name, msgs in errors.items() if name not in shown for m in msgs]
    return render_template("cases/form.html", spec=spec, flow_label=flow_label, intro=FLOW_INTROS.get(flow),
                           fields=form_fields, errors=errors, other_errors=other_errors, entry=entry,
                           confirm=CONFIRM.get(flow), confirmed=confirmed), FORM_ERRORS_STATUS


# ---- list ---------------------------------------------------------------------------------------

def _views() -> dict[str, str]:
    return {"all": _("全部") if is_office_member(current_user) else _("与本部门相关"),
            "mine": _("我提出的"), "department": _("本部门提出的"), "assigned": _("本部门承办的")}


@case_pages.get("/")
@login_required
def index():
    views = _views()
    view = request.args.get("view") if request.args.get("view") in views else "all"
    flow = request.args.get("flow") if request.args.get("flow") in CASE_FLOWS else None
    status = request.args.get("status") if request.args.get("status") in CASE_STATUS_LABELS else None
    stmt = records.listed(current_user, view, [flow] if flow else CASE_FLOWS, status)
    page = workview.listing_page(stmt.order_by(Case.created_at.desc(), Case.id.desc()), PER_PAGE)
    page.items = workview.list_rows(page.items)
    startable = any(service.may_start(current_user, s.process_id) for s in service.case_flows())
    return render_template("cases/index.html", page=page, views=views, view=view,
                           flow=flow, status=status, flows={key: spec.label for key, spec in CASE_FLOWS.items()},
                           status_labels=CASE_STATUS_LABELS, outcome_label=outcome_label, flow_label=flow_label, startable=startable,
                           pager_args={k: v for k, v in {"view": view, "flow": flow, "status": status}.items() if v})


# ---- detail -------------------------------------------------------------------------------------

def _shown_value(name: str, value, departments: dict[int, Department]):
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if name.endswith("department_id"):
        return departments[value].name if value in departments else value
    if name == "routed_to":
        return "、".join(departments[i].name for i in value if i in departments)
    if name in task_forms.CHOICE_LABELS:
        return task_forms.choice_label(name, value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=1)
    if isinstance(value, str) and (name.endswith("_at") or name == "idle_since"):
        with contextlib.suppress(ValueError):
            return to_local(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
    return value


def _start_label(flow: str, name: str) -> str:
    """A detail's label: the one its field has on the flow's start form."""
    spec = CASE_FLOWS.get(flow)
    schema = spec.start_form if spec is not None else None
    return task_forms.label_of(name, schema._declared_fields.get(name) if schema else None)


def detail_rows(case: Case) -> list[tuple[str, object]]:
    """What was filed (and recorded since) on the case, labelled as on its start form."""
    details = case.details or {}
    departments = workview.departments_by_id(
        [v for k, v in details.items() if k.endswith("department_id") and isinstance(v, int)]
        + list(details.get("routed_to") or []))
    rows = []
    for name, value in details.items():
        if value is None or value == "" or value == []:
            continue
        label = DETAIL_LABELS.get(name) or _start_label(case.flow, name)
        rows.append((label, _shown_value(name, value, departments)))
    return rows


def case_context(case: Case) -> dict:
    """What cases/_data.html needs (the case page and a case task's page)."""
    return {"rows": detail_rows(case), "flow_label": flow_label, "case_status_labels": CASE_STATUS_LABELS,
            "outcome_label": outcome_label}


def _detail(case: Case):
    return workview.record_page("cases/detail.html", records.view(case), case=case,
                                status_labels=CASE_STATUS_LABELS, **case_context(case))


workview.record_routes(case_pages, Case, _detail)
