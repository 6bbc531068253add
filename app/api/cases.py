"""Case flows over REST (SPEC §4.2–4.5): one generic API for revocation, idle-grant review,
demand, rectification, objection and catalogue review. Their tasks go through /api/tasks."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from marshmallow import fields

from app.api.common import api_blueprint, form_with_letter, paginated
from app.api.docs import refuses
from app.api.idempotency import CREATED_HEADERS, idempotency_doc, idempotent, prepared
from app.api.workflow_schemas import InstanceStateOut, RecordOut, UtcDateTime
from app.flows import cases as service
from app.flows import records
from app.flows.models import CASE_STATUS_LABELS, Case
from app.flows.permissions import can_view_record
from app.flows.registry import CASE_FLOWS
from app.org.permissions import visible_or_abort
from app.validation import Schema, choice

blp = api_blueprint("cases_api", __name__, url_prefix="/api/cases",
                    description="撤销发布、闲置授权收回、资源需求、整改通知、数据疑义、目录审核 / case flows")

VIEWS = {"all": "全部可见", "mine": "我提出的", "department": "本部门提出的", "assigned": "本部门承办的"}


class CaseQuery(Schema):
    flow = choice(list(CASE_FLOWS), {key: spec.label for key, spec in CASE_FLOWS.items()})
    status = choice(list(CASE_STATUS_LABELS), CASE_STATUS_LABELS)
    view = choice(list(VIEWS), VIEWS, load_default="all")


class FlowOut(Schema):
    flow = fields.String(attribute="process_id", metadata={"description": "流程标识 = BPMN 流程 id"})
    prefix = fields.String(metadata={"description": "业务编号前缀"})
    label = fields.String()
    can_start = fields.Function(lambda spec: service.may_start(current_user, spec.process_id))
    start_fields = fields.Function(
        lambda spec: sorted(spec.start_form().fields) if spec.start_form else [])
    letter = fields.Boolean(metadata={"description": "是否需上传盖章申请材料（按辖区开关）"})


class CaseOut(RecordOut):
    status_label = fields.Function(lambda c: CASE_STATUS_LABELS.get(c.status, c.status))
    department_id = fields.Integer(allow_none=True, metadata={"description": "承办部门"})
    details = fields.Dict(metadata={"description": "发起时填写的内容"})
    due_at = UtcDateTime(allow_none=True, metadata={"description": "生效时间或期限"})


class CaseDetailOut(InstanceStateOut):
    case = fields.Nested(CaseOut)


@blp.route("/flows")
class Flows(MethodView):
    @blp.response(200, FlowOut(many=True))
    def get(self):
        """The case flows, and which of them you may start."""
        return service.case_flows()


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQuery, location="query", as_kwargs=True)
    @blp.response(200, CaseOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, flow=None, status=None, view="all"):
        """Cases you may see, newest first: filter by `flow`, `status`, and `view`."""
        stmt = records.listed(current_user, view, [flow] if flow else CASE_FLOWS, status)
        return paginated(stmt.order_by(Case.id.desc()), pagination_parameters)


@blp.route(f"/<any({', '.join(CASE_FLOWS)}):flow>", methods=["POST"])
class StartCase(MethodView):
    @refuses(403, 409)
    @blp.response(201, CaseDetailOut, headers=CREATED_HEADERS)
    @blp.doc(requestBody={"description": "该流程的发起表单（见 bpmn/README.md）；资源需求可用 multipart/form-data 上传 letter",
                          "content": {"application/json": {"schema": {"type": "object"}},
                                      "multipart/form-data": {"schema": {"type": "object"}}}})
    @idempotency_doc(blp)
    def post(self, flow: str):
        """Start a case flow: 404 unknown flow, 403 not allowed (role, suspension), 422 field errors.

        `Location` names the new case; a repeat with the same `Idempotency-Key` returns the
        first answer and creates nothing.
        """
        data, letter = form_with_letter(keep_missing_items=True)
        return idempotent(lambda: _started(service.start_case(flow, current_user, data, letter)))


def _started(case: Case):
    """The 201 of a started case, read inside its transaction."""
    return prepared(CaseDetailOut(), records.view(case),
                    location=url_for(".CaseDetail", business_key=case.business_key))


@blp.route("/<key:business_key>", methods=["GET"])
class CaseDetail(MethodView):
    @refuses(403)
    @blp.response(200, CaseDetailOut)
    def get(self, business_key: str):
        """State, current tasks, history timeline and grant of one case."""
        return records.view(visible_or_abort(records.by_key(business_key, Case), can_view_record,
                                             missing=f"业务 {business_key} 不存在",
                                             forbidden="无权查看其他部门的业务"))
