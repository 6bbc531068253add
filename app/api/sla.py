"""SLA figures over REST (issue 15): the steps of a period and the per-department summary, for
the office's supervisors and reviewers (read-only; definitions in app/sla/figures.py)."""
from __future__ import annotations

from datetime import date

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields

from app.api.common import api_blueprint, paginated
from app.api.docs import refuses
from app.api.workflow_schemas import UtcDateTime
from app.extensions import db
from app.flows.assessment import COLUMNS, YearInput, assessment, totals, year_of
from app.flows.oversight import RecordQuery, oversight
from app.org.models import Department
from app.period_input import Period, period_of
from app.policy import active_policy
from app.sla.figures import (
    OpenStepsInput,
    PeriodInput,
    StepsInput,
    TrendInput,
    by_step,
    completed_steps,
    desk,
    grain_of,
    may_read_figures,
    open_steps,
    provisional_years,
    trend,
)
from app.validation import Schema

blp = api_blueprint("sla_api", __name__, url_prefix="/api/sla", description="时效监督 / SLA figures")


def _department_name(department_id: int | None) -> str | None:
    department = db.session.get(Department, department_id) if department_id else None
    return department.name if department else None


class StepOut(Schema):
    id = fields.Integer()
    task_spec = fields.String()
    name = fields.String(allow_none=True)
    business_key = fields.Function(lambda t: t.instance.business_key)
    flow = fields.Function(lambda t: t.instance.process_id)
    department_id = fields.Integer(attribute="candidate_department_id", allow_none=True)
    department = fields.Function(lambda t: _department_name(t.candidate_department_id), allow_none=True)
    created_at = UtcDateTime()
    completed_at = UtcDateTime(allow_none=True)
    due_at = UtcDateTime(allow_none=True)
    on_time = fields.Boolean(allow_none=True, metadata={"description": "在期限内完成；无期限为 null"})
    response_workdays = fields.Integer(allow_none=True, metadata={
        "description": "到达次日起至完成当日的法定工作日数（同日完成为0）"})


class _Counted(Schema):
    """Steps completed in the period (app/sla/figures.py: the definitions)."""

    completed = fields.Integer()
    with_deadline = fields.Integer()
    on_time = fields.Integer()
    late = fields.Integer()
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "按时完成数 ÷ 有期限的完成数"})


class _Figures(_Counted):
    median_response_workdays = fields.Integer(allow_none=True)
    p90_response_workdays = fields.Integer(allow_none=True)


class _OpenWork(_Figures):
    open = fields.Integer(metadata={"description": "当前待办环节数"})
    due_soon = fields.Integer(metadata={"description": "其中即将到期（辖区 due_soon_workdays）"})
    overdue = fields.Integer(metadata={"description": "其中已逾期"})
    escalated = fields.Integer(metadata={"description": "其中已启动督办"})


class DepartmentFigures(_OpenWork):
    department_id = fields.Integer(allow_none=True)
    department = fields.Function(lambda r: _department_name(r["department_id"]), allow_none=True)


class FlowFigures(_OpenWork):
    flow = fields.String(metadata={"description": "流程标识"})


class StepFigures(_Figures):
    department_id = fields.Integer(allow_none=True)
    step = fields.String(metadata={"description": "环节（BPMN 用户任务 id）"})


class BucketOut(_Counted):
    first = fields.Date(metadata={"description": "本周/本月在期间内的第一天"})
    last = fields.Date()


class TrendOut(Schema):
    period_from = fields.Date()
    period_to = fields.Date()
    grain = fields.String()
    target = fields.Float(metadata={"description": "辖区配置的按时完成率目标（on_time_target，0–1）"})
    provisional_years = fields.List(fields.Integer())
    buckets = fields.List(fields.Nested(BucketOut))


class SummaryOut(Schema):
    period_from = fields.Date()
    period_to = fields.Date()
    provisional_years = fields.List(fields.Integer(), metadata={
        "description": "期间内尚未加载节假日安排的年份；非空时工作日数按暂定日历计算，为暂定数"})
    departments = fields.List(fields.Nested(DepartmentFigures))
    flows = fields.List(fields.Nested(FlowFigures), metadata={"description": "按业务类型"})


def _supervising() -> None:
    if not may_read_figures(current_user):
        abort(403, message="只有主管部门的监督人员和审核人员可以查看时效统计")


@blp.route("/steps")
class Steps(MethodView):
    @refuses(403)
    @blp.arguments(StepsInput, location="query")
    @blp.response(200, StepOut(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The steps completed in a period, newest first (the figures behind the summary)."""
        _supervising()
        stmt = completed_steps(period_of(query), query.get("flow"), query.get("department_id"), query["late"])
        return paginated(stmt, pagination_parameters)


@blp.route("/summary")
class Summary(MethodView):
    @refuses(403)
    @blp.arguments(PeriodInput, location="query")
    @blp.response(200, SummaryOut)
    def get(self, query):
        """Per department: completed steps, on time, late, on-time rate, median and p90 working days."""
        _supervising()
        period = period_of(query)
        departments, flows = desk(period, query.get("flow"))
        return {"period_from": period.first, "period_to": period.last,
                "provisional_years": provisional_years(period), "departments": departments, "flows": flows}


# one integer per assessment column, described by its Chinese header (app/flows/assessment.py)
AssessmentRow = Schema.from_dict({
    "department_id": fields.Integer(), "department": fields.String(),
    **{c.key: fields.Integer(metadata={"description": c.header}) for c in COLUMNS},
    "on_time_rate": fields.Float(allow_none=True, metadata={"description": "全部有期限环节的按时完成率"}),
}, name="AssessmentRow")


class AssessmentOut(Schema):
    year = fields.Integer()
    provisional_years = fields.List(fields.Integer())
    departments = fields.List(fields.Nested(AssessmentRow))
    total = fields.Nested(AssessmentRow, metadata={"description": "全市合计（无 department 字段）"})


@blp.route("/assessment")
class Assessment(MethodView):
    @refuses(403)
    @blp.arguments(YearInput, location="query")
    @blp.response(200, AssessmentOut)
    def get(self, query):
        """The yearly assessment (宝鸡 arts. 22–24): per department, the figures the page and .xlsx show."""
        _supervising()
        year = year_of(query)
        rows = assessment(year)
        return {"year": year, "provisional_years": provisional_years(Period(date(year, 1, 1), date(year, 12, 31))),
                "departments": rows, "total": totals(rows)}


@blp.route("/trend")
class Trend(MethodView):
    @refuses(403)
    @blp.arguments(TrendInput, location="query")
    @blp.response(200, TrendOut)
    def get(self, query):
        """Per week or month of a period: completed, on time, late, on-time rate; and the target."""
        _supervising()
        period = period_of(query)
        grain = grain_of(query, period)
        return {"period_from": period.first, "period_to": period.last, "grain": grain,
                "target": active_policy().on_time_target / 100, "provisional_years": provisional_years(period),
                "buckets": trend(period, grain, query.get("flow"))}


@blp.route("/step-figures")
class StepFiguresView(MethodView):
    @refuses(403)
    @blp.arguments(StepsInput, location="query")
    @blp.response(200, StepFigures(many=True))
    def get(self, query):
        """Per department and step: completed, on time, on-time rate, median and p90 working days."""
        _supervising()
        return by_step(period_of(query), query.get("department_id"), query.get("flow"))


class OpenStepOut(Schema):
    id = fields.Integer()
    task_spec = fields.String()
    name = fields.String(allow_none=True)
    business_key = fields.Function(lambda t: t.instance.business_key)
    flow = fields.Function(lambda t: t.instance.process_id)
    department_id = fields.Integer(attribute="candidate_department_id", allow_none=True)
    created_at = UtcDateTime()
    due_at = UtcDateTime(allow_none=True)


@blp.route("/open-steps")
class OpenSteps(MethodView):
    @refuses(403)
    @blp.arguments(OpenStepsInput, location="query")
    @blp.response(200, OpenStepOut(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The open steps behind an open-work figure (open, due soon, overdue, escalated), most overdue first."""
        _supervising()
        return paginated(open_steps(query["state"], query.get("department_id"), query.get("flow")),
                         pagination_parameters)


class RecordOut(Schema):
    business_key = fields.String()
    flow = fields.String()
    title = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    applicant_department_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True, metadata={"description": "承办部门（申请的提供部门）"})
    created_at = UtcDateTime()
    closed_at = UtcDateTime(allow_none=True)


@blp.route("/records")
class Records(MethodView):
    @refuses(403)
    @blp.arguments(RecordQuery, location="query")
    @blp.response(200, RecordOut(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Every record of every flow (the oversight list): by flow, status, department, period, overdue, key, text."""
        _supervising()
        return paginated(oversight(current_user, query), pagination_parameters)
