"""The audit log over REST (issue 15, 宝鸡 art. 21): search, integrity check and a department's
usage log, for the office's supervisors (a department's approvers: its own usage log). Every
call is itself recorded in the log."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields

from app.api.common import api_blueprint, paginated
from app.api.docs import refuses
from app.api.workflow_schemas import UtcDateTime
from app.audit.log import verify_chain
from app.audit.search import AuditQuery, entries, record_reading
from app.db import transaction
from app.extensions import db
from app.flows.usage_log import UsageQuery, usage_of
from app.org.models import Department
from app.org.permissions import may_read_audit_log, may_receive_usage_log
from app.validation import Schema

blp = api_blueprint("audit_api", __name__, url_prefix="/api/audit", description="审计日志 / audit log")


class AuditEntryOut(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True, metadata={"description": "操作人所在部门"})
    action = fields.String()
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    remote_addr = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class ProblemOut(Schema):
    entry_id = fields.Integer()
    reason = fields.String()


class VerifyOut(Schema):
    intact = fields.Boolean()
    checked = fields.Integer(metadata={"description": "校验的记录数"})
    problems = fields.List(fields.Nested(ProblemOut))


def _reader() -> None:
    if not may_read_audit_log(current_user):
        abort(403, message="只有主管部门的监督人员可以查阅审计日志")


@blp.route("/entries")
class Entries(MethodView):
    @refuses(403)
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditEntryOut(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Search the log, newest first (the search is itself recorded)."""
        _reader()
        with transaction():  # recorded first: the commit would expire the rows (a query each)
            record_reading("audit.read", query, page=pagination_parameters.page)
        return paginated(entries(query), pagination_parameters)


@blp.route("/verify")
class Verify(MethodView):
    @refuses(403)
    @blp.response(200, VerifyOut)
    def get(self):
        """Check the hash chain, as `flask audit verify` does."""
        _reader()
        checked, problems = verify_chain()
        with transaction():
            record_reading("audit.verified", checked=checked, problems=len(problems))
        return {"intact": not problems, "checked": checked, "problems": problems}


@blp.route("/usage")
class Usage(MethodView):
    @refuses(403, 404)
    @blp.arguments(UsageQuery, location="query")
    @blp.response(200, AuditEntryOut(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """A department's usage log: the entries about its own data (宝鸡 art. 21)."""
        department_id = query.pop("owner_id")
        if not may_receive_usage_log(current_user, department_id):
            abort(403, message="只能获取本部门数据的使用日志")  # before the lookup: ids are not probed
        if db.session.get(Department, department_id) is None:
            abort(404, message="部门不存在")
        with transaction():  # recorded first: the commit would expire the rows (a query each)
            record_reading("audit.usage_read", query, department=department_id, page=pagination_parameters.page)
        return paginated(entries(query, usage_of(department_id)), pagination_parameters)
