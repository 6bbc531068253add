"""What the workplace pages show about tasks and instances: inbox rows, timelines, the diagram.

Reads only (no rules here): the services in app.flows decide, these helpers present.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as pgettext_l
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import Select, select

from app.catalog.attachments import open_attachment, served_type
from app.catalog.models import Attachment
from app.catalog.queries import Page, page_of
from app.clock import utcnow
from app.engine.models import EventType, HumanTask, ProcessDefinition, ProcessInstance, TaskEvent, TaskState
from app.extensions import db
from app.flows import records
from app.flows.models import PROCESS_ID as SHARE_FLOW
from app.flows.models import Application, Case
from app.flows.permissions import can_view_record, can_view_task
from app.flows.registry import decision_labels
from app.org.models import ROLE_LABELS, Department, Role, User
from app.org.permissions import visible_or_abort
from app.sla.remaining import remaining

# Event types worth a line in a timeline; engine bookkeeping (service runs, timer moves) is left out.
EVENT_LABELS = {
    EventType.INSTANCE_STARTED: pgettext_l("timeline", "提交"),  # the button 提交 is "Submit"
    EventType.STARTED: _l("到达"),
    EventType.CLAIMED: _l("签收"),
    EventType.RELEASED: _l("退回组内"),
    EventType.DELEGATED: _l("转办"),
    EventType.COMPLETED: _l("办理"),
    EventType.CANCELLED: _l("已取消"),
    EventType.REMINDED: _l("催办"),
    EventType.ESCALATED: _l("逾期督办"),
    EventType.INSTANCE_COMPLETED: _l("办结"),
    EventType.INSTANCE_CANCELLED: _l("终止"),
    EventType.INSTANCE_SUSPENDED: _l("挂起"),
    EventType.INSTANCE_RESUMED: _l("恢复办理"),
}
_ORDER_IN_STEP = {EventType.INSTANCE_STARTED: 0, EventType.CLAIMED: 1, EventType.DELEGATED: 1,
                  EventType.RELEASED: 1, EventType.COMPLETED: 2, EventType.CANCELLED: 3, EventType.STARTED: 4,
                  EventType.INSTANCE_COMPLETED: 5}
# an instance stopped, held or let go by an administrator (or the applicant's withdrawal): why
_HELD_OR_ENDED = {EventType.INSTANCE_CANCELLED, EventType.INSTANCE_SUSPENDED, EventType.INSTANCE_RESUMED}
NEGATIVE = {"refuse", "return", "withdraw", "fail", "abandon", "not_in_remit", "cannot_publish", "send_back"}
REASON_FIELDS = ("reasons", "return_reasons", "negotiation_note", "amendment_note", "withdraw_reason",
                 "supervision_opinion", "note", "opinion", "verification_note", "report", "circular_note",
                 "change_note", "route_note", "publish_note")


def users_by_id(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def departments_by_id(ids: Iterable[int | None]) -> dict[int, Department]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(wanted)))}


def flow_names(instance_ids: Iterable[int]) -> dict[int, str]:
    """instance id → the flow's name as drawn in its BPMN (its deployed version)."""
    wanted = set(instance_ids)
    if not wanted:
        return {}
    rows = db.session.execute(select(ProcessInstance.id, ProcessDefinition.name, ProcessDefinition.process_id)
                              .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                              .where(ProcessInstance.id.in_(wanted))).all()
    return {i: (name or pid) for i, name, pid in rows}


def holder_text(task: HumanTask, users: dict[int, User], departments: dict[int, Department]) -> str:
    """Who holds a task: its assignee, else its candidate group (department · role)."""
    if task.assignee_id and task.assignee_id in users:
        return users[task.assignee_id].display_name
    parts = []
    if task.candidate_department_id in departments:
        parts.append(departments[task.candidate_department_id].name)
    if task.candidate_role:
        try:
            parts.append(_(ROLE_LABELS[Role(task.candidate_role)]))
        except ValueError:
            parts.append(task.candidate_role)
    return " · ".join(parts) or "—"


def task_rows(tasks: list[HumanTask], now=None) -> list[dict]:
    """Inbox rows: the task, its remaining working days, flow, applicant, resource, holder."""
    now = now or utcnow()
    instance_ids = {t.instance_id for t in tasks}
    by_instance = records.by_instances(instance_ids)
    names = flow_names(instance_ids)
    users = users_by_id(t.assignee_id for t in tasks)
    departments = departments_by_id([t.candidate_department_id for t in tasks]
                                    + [r.applicant_department_id for r in by_instance.values()])
    rows = []
    for task in tasks:
        record = by_instance.get(task.instance_id)
        application = record if isinstance(record, Application) else None
        rows.append({
            "task": task, "flow": names.get(task.instance_id, ""), "record": record,
            "application": application, "case": record if application is None else None,
            "business_key": record.business_key if record else None,
            "applicant": departments.get(record.applicant_department_id) if record else None,
            "resource": record.entry if record else None,
            "holder": holder_text(task, users, departments),
            "remaining": remaining(task.due_at, now) if task.state == "ready" else None,
            # a link to the task page only for those who may open it (an applicant sees another
            # party's step on its own record, not on the task page)
            "may_open": can_view_task(current_user, task),
        })
    return rows


def open_tasks_by_instance(instance_ids: Iterable[int | None], now=None) -> dict[int, list[dict]]:
    """instance id → rows (as `task_rows`) of its open tasks: a list page's 当前环节 column."""
    wanted = {i for i in instance_ids if i}
    if not wanted:
        return {}
    tasks = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id.in_(wanted), HumanTask.state == TaskState.READY).order_by(HumanTask.id)).all()
    steps: dict[int, list[dict]] = {}
    for row in task_rows(list(tasks), now):
        steps.setdefault(row["task"].instance_id, []).append(row)
    return steps


def list_rows(records: list) -> list[dict]:
    """A list page's rows: each record (application or case) with its open steps, who holds
    them and the deadline, the department that asked and the one that must act (an
    application's provider)."""
    open_tasks = open_tasks_by_instance(r.instance_id for r in records)
    departments = departments_by_id([r.applicant_department_id for r in records]
                                    + [r.department_id for r in records])
    return [{"record": r, "open_tasks": open_tasks.get(r.instance_id, []),
             "applicant": departments.get(r.applicant_department_id),
             "handler": departments.get(r.department_id)} for r in records]


def decision_of(data: dict | None, form_name: str | None) -> tuple[str | None, bool]:
    """The decision a completion of a `form_name` task recorded, as text, and whether it was
    negative (the labels are the form's own: app/flows/<flow>.py)."""
    value = (data or {}).get("decision")
    label = decision_labels(form_name).get(value)
    return (_(label), value in NEGATIVE) if label else (None, False)


def reasons_of(data: dict | None) -> str | None:
    for field in REASON_FIELDS:
        value = (data or {}).get(field)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _forms_of(task_ids: set[int | None]) -> dict[int, str | None]:
    """Human task id → its form name, for the completions of a timeline (one query)."""
    wanted = {i for i in task_ids if i}
    if not wanted:
        return {}
    return dict(db.session.execute(select(HumanTask.id, HumanTask.form).where(HumanTask.id.in_(wanted))).all())


def timeline_rows(events: list[TaskEvent]) -> list[dict]:
    """Every step of an instance: who, when, what, the decision and its reasons."""
    # One step writes its rows at one instant: read the decision before the steps it opened.
    shown = sorted((e for e in events if e.event_type in EVENT_LABELS),
                   key=lambda e: (e.at, _ORDER_IN_STEP.get(e.event_type, 2)))
    users = users_by_id(e.actor_id for e in shown)
    forms = _forms_of({e.human_task_id for e in shown if e.event_type == EventType.COMPLETED})
    delegates = users_by_id((e.data or {}).get("to") for e in shown if e.event_type == EventType.DELEGATED)
    items = []
    for event in shown:
        decision, negative = (decision_of(event.data, forms.get(event.human_task_id))
                              if event.event_type == EventType.COMPLETED else (None, False))
        actor = users.get(event.actor_id)
        to = delegates.get((event.data or {}).get("to")) if event.event_type == EventType.DELEGATED else None
        items.append({
            "at": event.at, "what": EVENT_LABELS[event.event_type], "kind": event.event_type,
            "step": event.name or "", "actor": actor, "decision": decision, "negative": negative,
            "reasons": reasons_of(event.data) if event.event_type == EventType.COMPLETED else
            (event.data or {}).get("note") if event.event_type == EventType.DELEGATED else
            (event.data or {}).get("reason") if event.event_type in _HELD_OR_ENDED else None,
            "to": to,
        })
    return items


def diagram_payload(instance: ProcessInstance) -> dict:
    """The BPMN XML of the version the instance runs on, with its open and finished steps."""
    definition = db.session.get(ProcessDefinition, instance.definition_id)
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    current = sorted({t.task_spec for t in tasks if t.state == "ready"})
    done = sorted({t.task_spec for t in tasks if t.state == "completed"} - set(current))
    return {"process_id": definition.process_id, "version": definition.version, "xml": definition.bpmn_xml,
            "current": current, "completed": done}


def diagram_response(instance_id: int | None):
    """The diagram of a record's instance as JSON for bpmn-js; 404 before it has one (a draft)."""
    instance = db.session.get(ProcessInstance, instance_id) if instance_id else None
    if instance is None:
        abort(404)
    return jsonify(diagram_payload(instance))


def record_page(template: str, state: dict, **context):
    """The page of an application or a case from its service `view()`: its open steps and timeline."""
    return render_template(template, state=state, open_tasks=task_rows(state["open_tasks"]),
                           timeline=timeline_rows(state["timeline"]), **context)


def record_routes(pages: Blueprint, kind: type[Case], page: Callable[[Case], Any]) -> None:
    """A record's page (`page(record)`), its diagram for bpmn-js and its attachments' downloads
    on `pages` — for whoever may see the record (SPEC §7), the same for applications and cases."""
    def visible(business_key: str) -> Case:
        return visible_or_abort(records.by_key(business_key, kind), can_view_record)

    @pages.get("/<string:business_key>", endpoint="detail")
    @login_required
    def detail(business_key: str):
        return page(visible(business_key))

    @pages.get("/<string:business_key>/diagram", endpoint="diagram")
    @login_required
    def diagram(business_key: str):
        """The instance's BPMN (from the version it runs on) and its current step."""
        return diagram_response(visible(business_key).instance_id)

    @pages.get("/<string:business_key>/attachments/<int:attachment_id>", endpoint="attachment")
    @login_required
    def attachment(business_key: str, attachment_id: int):
        """Download one of the record's attachments (a sealed letter)."""
        return send_owned_attachment(attachment_id, "workflow_case", visible(business_key).business_key)


def listing_page(stmt: Select, per_page: int, cap: int | None = None) -> Page:
    """The page of the ordered `stmt` that ?page= asks for (the first when missing or below 1),
    its total counted up to `cap` rows when given."""
    return page_of(stmt, request.args.get("page", 1, type=int), per_page, cap)


def send_owned_attachment(attachment_id: int, owner_type: str, owner_id: str):
    """Download an attachment of one business record (the caller has checked who may see the
    record, SPEC §7); 404 when it belongs to another record or its file is gone."""
    row = db.session.get(Attachment, attachment_id)
    if row is None or not (row.owner_type == owner_type and row.owner_id == owner_id):
        abort(404)
    return send_attachment(row)


# A download is never a page of ours: were a browser to render it anyway, the sandbox gives it an
# origin of its own and no script, and it may load nothing.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def send_attachment(row: Attachment):
    """Send a stored file as a download with the type we detected when it was stored (never
    what the uploader claimed), not to be sniffed, rendered or cached by others; 404 when its
    content is gone from storage."""
    try:
        stream = open_attachment(row)
    except OSError as exc:  # missing, or its content no longer matches its sha256
        current_app.logger.error("attachment %s not served: %s", row.id, exc)
        abort(404)
    response = send_file(stream, mimetype=served_type(row), etag=row.sha256)
    response.headers["Content-Disposition"] = content_disposition(row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    response.cache_control.private = True
    return response


def content_disposition(filename: str) -> str:
    """`attachment` with the name twice (RFC 6266): an ASCII `filename` for old clients and the
    exact name as RFC 5987 `filename*`. Stored names hold no control characters or slashes."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r'["\\\x00-\x1f\x7f]', "_", fallback)  # rows stored before names were cleaned
    suffix = Path(filename).suffix  # ASCII: every allowed extension is
    if not fallback.removesuffix(suffix).strip(" ."):
        fallback = "attachment" + suffix
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='!#$&+-.^_`|~')}"


def record_url(flow: str, business_key: str) -> str:
    """A record's page: an application's or a case's (a Jinja global)."""
    endpoint = "application_pages.detail" if flow == SHARE_FLOW else "case_pages.detail"
    return url_for(endpoint, business_key=business_key)


def url_query(schema) -> tuple[dict, dict]:
    """A query schema's values from the URL (empty parameters left out): (values, {}), or when a
    field is refused (the schema's defaults, the field errors) — a page shows the errors beside
    their fields and the defaults' results, never a 500."""
    keys = {field.data_key or name for name, field in schema.fields.items()}
    raw = {k: v for k, v in request.args.items() if v and k in keys}
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        try:
            defaults = schema.load({})
        except ValidationError:
            defaults = {}
        return defaults, exc.messages
