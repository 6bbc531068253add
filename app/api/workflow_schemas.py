"""Output schemas shared by the application, task and notification endpoints."""
from __future__ import annotations

from marshmallow import fields

from app.clock import as_utc
from app.engine import inbox
from app.flows.application_actions import amendment_history
from app.flows.models import STATUS_LABELS
from app.flows.registry import flow_label, outcome_label
from app.validation import Schema


class UtcDateTime(fields.DateTime):
    """Always an aware UTC instant (SQLite hands stored datetimes back naive)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(as_utc(value) if value is not None else None, attr, obj, **kwargs)



class TaskOut(Schema):
    id = fields.Integer()
    task_spec = fields.String(metadata={"description": "BPMN 元素 id，如 provider_review"})
    name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    business_key = fields.Function(lambda t: t.instance.business_key)
    process_id = fields.Function(lambda t: t.instance.process_id)
    candidate_department_id = fields.Integer(allow_none=True)
    candidate_role = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    state = fields.String()
    sla_state = fields.Function(inbox.current_sla_state, metadata={
        "description": "on_time | due_soon | overdue — at the time of the request (due soon: the "
                       "profile's due_soon_workdays)"})
    created_at = UtcDateTime()
    due_at = UtcDateTime(allow_none=True)
    reminder_at = UtcDateTime(allow_none=True)
    completed_at = UtcDateTime(allow_none=True)
    completed_by = fields.Integer(allow_none=True)


class EventOut(Schema):
    at = UtcDateTime()
    event_type = fields.String()
    task_spec = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    data = fields.Dict(allow_none=True)


class RecordOut(Schema):
    """What every business record has (one model: an application is a case, app/flows/models.py)."""

    business_key = fields.String()
    flow = fields.String(metadata={"description": "流程标识 = BPMN 流程 id"})
    flow_label = fields.Function(lambda r: flow_label(r.flow))
    title = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    outcome_label = fields.Function(lambda r: outcome_label(r.flow, r.outcome))
    reasons = fields.String(allow_none=True)
    applicant_department_id = fields.Integer(allow_none=True)
    applicant_user_id = fields.Integer(allow_none=True)
    entry_id = fields.Integer(allow_none=True)
    grant_id = fields.Integer(allow_none=True)
    letter_attachment_id = fields.Integer(allow_none=True)
    policy_key = fields.String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    closed_at = UtcDateTime(allow_none=True)


class ApplicationOut(RecordOut):
    id = fields.Integer(metadata={"description": "草稿的编号（草稿尚无业务编号）"})
    business_key = fields.String(allow_none=True, metadata={"description": "提交后才有；草稿为 null"})
    status_label = fields.Function(lambda a: STATUS_LABELS.get(a.status, a.status))
    resource_code = fields.Function(lambda a: a.entry.resource_code)
    entry_name = fields.Function(lambda a: a.entry.name)
    provider_department_id = fields.Integer()
    purpose = fields.String()
    requested_scope = fields.String()
    items = fields.List(fields.String())
    legal_basis = fields.String()
    requested_valid_from = fields.Date(allow_none=True)
    requested_valid_until = fields.Date(allow_none=True)
    stage = fields.String(allow_none=True, metadata={"description": "最近作出决定的环节"})


class GrantBrief(Schema):
    id = fields.Integer()
    entry_id = fields.Integer()
    grantee_department_id = fields.Integer()
    purpose = fields.String()
    scope = fields.String(allow_none=True)
    items = fields.List(fields.String(), allow_none=True, metadata={"description": "授权的信息项（null：申请的全部）"})
    valid_from = UtcDateTime()
    valid_until = UtcDateTime(allow_none=True)
    authorised_by = fields.String()
    status = fields.String()
    last_used_at = UtcDateTime(allow_none=True)


class InstanceStateOut(Schema):
    """What `view()` of an application or a case adds to its record: the running instance's state."""

    instance_status = fields.String(allow_none=True)
    open_tasks = fields.List(fields.Nested(TaskOut))
    timeline = fields.List(fields.Nested(EventOut))
    grant = fields.Nested(GrantBrief, allow_none=True)


class ChangeOut(Schema):
    field = fields.String()
    label = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class AmendmentOut(Schema):
    at = UtcDateTime()
    actor_name = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(ChangeOut))


class ApplicationDetailOut(InstanceStateOut):
    application = fields.Nested(ApplicationOut)
    amendments = fields.Function(lambda state: AmendmentOut(many=True).dump(amendment_history(state["application"])),
                                 metadata={"description": "每次补正（修改字段、更换申请函）：时间、办理人、修改前后"})


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "task_arrived | reminder | escalation | decision"})
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    created_at = UtcDateTime()
    read = fields.Boolean()
