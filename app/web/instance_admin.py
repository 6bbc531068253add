"""The administrator's instance list (/admin/instances): every flow's instances by flow, version
and state, each with its current steps; terminate one with reasons, suspend and resume — each
asked for on a page of its own first (app/flows/record_admin.py does the work)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.engine.models import INSTANCE_STATUS_LABELS, HumanTask, InstanceStatus, ProcessInstance, TaskState
from app.errors import PlatformError
from app.extensions import db
from app.flows.models import Case
from app.flows.record_admin import InstanceQuery, act_on_record, instances, records_of
from app.flows.registry import FLOWS
from app.validation import FieldErrors
from app.web import workview
from app.web.access import administrators_only
from app.web.errors import FORM_ERRORS_STATUS

instance_admin = administrators_only(Blueprint("instance_admin", __name__, url_prefix="/admin/instances"))
PER_PAGE = 30
ACTIONS = {  # verb → (page heading, button, what it does, allowed from)
    "terminate": ("终止办理", "确认终止", "办件的所有环节和定时器随即结束，各方收到通知；已发放的授权不受影响，"
                  "如需收回请走撤销共享流程。终止后不能恢复。", (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)),
    "suspend": ("挂起办件", "确认挂起", "挂起期间任何环节都不能办理，定时器不触发（恢复后到期的立即触发）；"
                "期限照常计算，不因挂起顺延。各方收到通知。", (InstanceStatus.RUNNING,)),
    "resume": ("恢复办理", "确认恢复", "办件恢复运行；挂起期间到期的催办、督办在调度器下一次轮询时触发。各方收到通知。",
               (InstanceStatus.SUSPENDED,)),
}


def _current_steps(instance_ids: list[int]) -> dict[int, list[str]]:
    rows = db.session.execute(select(HumanTask.instance_id, HumanTask.name).where(
        HumanTask.instance_id.in_(instance_ids), HumanTask.state == TaskState.READY).order_by(HumanTask.id))
    steps: dict[int, list[str]] = {}
    for instance_id, name in rows:
        steps.setdefault(instance_id, []).append(name)
    return steps


@instance_admin.get("/")
def index():
    query, errors = workview.url_query(InstanceQuery())
    page = workview.listing_page(instances(query), PER_PAGE, cap=10_000)
    ids = [inst.id for inst in page.items]
    steps, records = _current_steps(ids), records_of(ids)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("instance_admin/index.html", page=page, query=query, errors=errors, args=args,
                           steps=steps, records=records, flows={k: f.label for k, f in FLOWS.items()},
                           statuses=INSTANCE_STATUS_LABELS, actions=ACTIONS)


def _instance_or_404(business_key: str) -> tuple[ProcessInstance, Case]:
    instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
    case = records_of([instance.id]).get(instance.id) if instance else None
    if case is None:
        abort(404)
    return instance, case


@instance_admin.route("/<business_key>/<any(terminate, suspend, resume):action>", methods=["GET", "POST"])
def act(business_key: str, action: str):
    """Asks first (with the reasons the parties will read), then acts."""
    instance, case = _instance_or_404(business_key)
    errors: dict = {}
    if request.method == "POST":
        try:
            act_on_record(current_user, case, action, request.form.get("reasons"))
        except FieldErrors as exc:
            errors = exc.errors
        except PlatformError as exc:  # a conflict: the instance moved meanwhile, nothing done
            flash(exc.message, "error")
            return redirect(url_for("instance_admin.index", key=business_key))
        else:
            flash(_("%(key)s：%(what)s完成", key=business_key, what=_(ACTIONS[action][0])), "success")
            return redirect(url_for("instance_admin.index", key=business_key))
    allowed = instance.status in ACTIONS[action][3]
    return render_template("instance_admin/act.html", instance=instance, case=case, action=action,
                           spec=ACTIONS[action], allowed=allowed, errors=errors,
                           steps=_current_steps([instance.id]).get(instance.id, []),
                           statuses=INSTANCE_STATUS_LABELS), FORM_ERRORS_STATUS
