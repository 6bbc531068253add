"""时效监督 (issue 15): the office's supervisors and reviewers see, for a period and flow, each
department's on-time rate and response times, and drill down to the steps behind a figure and
from there to the record. Figures and definitions: app/sla/figures.py."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from app.clock import to_local, utcnow
from app.engine.models import ProcessDefinition
from app.extensions import db
from app.flows.assessment import (
    COLUMNS,
    HEADERS,
    YearInput,
    assessment,
    column_groups,
    table,
    totals,
    year_of,
)
from app.flows.oversight import ALL_STATUS_LABELS, SORTS, RecordQuery, oversight
from app.flows.registry import FLOWS, flow_label, outcome_label
from app.flows.step_deadlines import step_labels
from app.legaltime.periods import deadline_text
from app.org.models import Department
from app.org.services import department_names
from app.period_input import Period, period_of
from app.policy import active_policy
from app.sla.export import (
    FLOW_HEADERS,
    OPEN_HEADERS,
    STEP_HEADERS,
    SUMMARY_HEADERS,
    TREND_HEADERS,
    flows_table,
    open_table,
    steps_table,
    summary_table,
    trend_table,
)
from app.sla.figures import (
    GRAINS,
    OPEN_STATES,
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
from app.web import workview
from app.web.downloads import one_sheet, table_download

sla_pages = Blueprint("sla_pages", __name__, url_prefix="/sla")
PER_PAGE = 50
COUNT_CAP = 10_000  # the oversight list counts its rows up to here ("10000+"): years of history cost the same


def _query(schema: type = PeriodInput) -> tuple[dict, dict]:
    """What the page asks for (field errors shown on the page, the defaults used instead)."""
    if not may_read_figures(current_user):
        abort(403)
    return workview.url_query(schema())


def _context(query: dict, errors: dict) -> dict:
    period = period_of(query)
    flows = db.session.scalars(select(ProcessDefinition.process_id).distinct().order_by(ProcessDefinition.process_id))
    return {"period": period, "flow": query.get("flow"), "errors": errors, "flows": list(flows),
            "provisional_years": provisional_years(period),
            "flow_label": flow_label,
            "args": {"from": period.first.isoformat(), "to": period.last.isoformat(),
                     **({"flow": query["flow"]} if query.get("flow") else {})}}


@sla_pages.get("/")
@login_required
def index():
    query, errors = _query(TrendInput)
    context = _context(query, errors)
    period = context["period"]
    rows, flows = desk(period, query.get("flow"))
    names = department_names()
    chart = [{"name": names.get(r["department_id"], "—"), "rate": r["on_time_rate"]} for r in rows]
    grain = grain_of(query, period)
    buckets = trend(period, grain, query.get("flow"))
    for bucket in buckets:  # the steps behind each period's figures
        bucket["args"] = {"from": bucket["first"].isoformat(), "to": bucket["last"].isoformat(),
                          **({"flow": query["flow"]} if query.get("flow") else {})}
    trend_chart = {"target": active_policy().on_time_target,
                   "buckets": [{"label": _bucket_label(b, grain), "rate": b["on_time_rate"], "completed": b["completed"],
                                "late": b["late"], "from": b["first"].isoformat(), "to": b["last"].isoformat()}
                               for b in buckets]}
    return render_template("sla/index.html", rows=rows, names=names, chart=chart, grain=grain, grains=GRAINS,
                           flow_rows=flows,
                           buckets=buckets, trend_chart=trend_chart, bucket_label=_bucket_label, **context)


def _bucket_label(bucket: dict, grain: str) -> str:
    first = bucket["first"]
    if grain == "month":
        return f"{first.year}-{first.month:02d}"
    return f"{first.month}/{first.day}–{bucket['last'].month}/{bucket['last'].day}"


@sla_pages.get("/steps")
@login_required
def steps():
    query, errors = _query(StepsInput)
    context = _context(query, errors)
    department_id, late = query.get("department_id"), query.get("late", False)
    stmt = completed_steps(context["period"], query.get("flow"), department_id, late)
    page = workview.listing_page(stmt, PER_PAGE)
    department = db.session.get(Department, department_id) if department_id else None
    args = {**context["args"], **({"department": department_id} if department_id else {}),
            **({"late": "true"} if late else {})}
    step_rows = by_step(context["period"], department_id, query.get("flow")) if department_id else []
    return render_template("sla/steps.html", page=page, department=department, late=late, pager_args=args,
                           step_rows=step_rows, step_labels=step_labels(current_app.config["BPMN_DIR"]),
                           **context)


@sla_pages.get("/summary.<fmt>")
@login_required
def summary_file(fmt: str):
    """The summary table as CSV or .xlsx (Chinese headers; opens in Excel)."""
    query = _download_query(TrendInput)
    period, flow = period_of(query), query.get("flow")
    departments, flows = desk(period, flow)
    sheets = [("各部门时效", SUMMARY_HEADERS, summary_table(departments)),
              ("按业务类型", FLOW_HEADERS, flows_table(flows, flow_label)),
              ("趋势", TREND_HEADERS, trend_table(trend(period, grain_of(query, period), flow)))]
    return table_download(f"sla-summary-{period.first}-{period.last}", fmt, sheets)  # CSV: the first table


@sla_pages.get("/steps.<fmt>")
@login_required
def steps_file(fmt: str):
    """Every step behind the figures as CSV (streamed) or .xlsx."""
    query = _download_query(StepsInput)
    period = period_of(query)
    stmt = completed_steps(period, query.get("flow"), query.get("department_id"), query.get("late", False))
    return table_download(f"sla-steps-{period.first}-{period.last}", fmt,
                          one_sheet("已完成环节", STEP_HEADERS, steps_table(stmt)))


def _download_query(schema: type) -> dict:
    """A download's query: a refused field is a 400 (the page beside it shows the field error)."""
    query, errors = _query(schema)
    if errors:
        abort(400)
    return query


def _year() -> tuple[int, dict]:
    query, errors = _query(YearInput)
    return year_of(query), errors


@sla_pages.get("/assessment")
@login_required
def assessment_page():
    """年度评估 (宝鸡 arts. 22–24): every department's figures for a year, printable on A4."""
    year, errors = _year()
    rows = assessment(year)
    return render_template("sla/assessment.html", year=year, errors=errors, rows=rows, total=totals(rows),
                           columns=COLUMNS, groups=column_groups(), now=utcnow(),
                           provisional_years=provisional_years(Period(date(year, 1, 1), date(year, 12, 31))))


@sla_pages.get("/assessment.<fmt>")
@login_required
def assessment_file(fmt: str):
    """The same figures as .xlsx (or CSV)."""
    year, errors = _year()
    if errors:
        abort(400)
    return table_download(f"assessment-{year}", fmt, one_sheet(f"{year}年度评估", HEADERS, table(assessment(year))))


@sla_pages.get("/open")
@login_required
def open_page():
    """The open steps behind a department's open / due soon / overdue / escalated count."""
    query, errors = _query(OpenStepsInput)
    stmt = open_steps(query["state"], query.get("department_id"), query.get("flow"))
    page = workview.listing_page(stmt, PER_PAGE)
    page.items = workview.task_rows(page.items)
    department = db.session.get(Department, query["department_id"]) if query.get("department_id") else None
    args = {k: v for k, v in {"state": query["state"], "department": query.get("department_id"),
                              "flow": query.get("flow")}.items() if v}
    return render_template("sla/open.html", page=page, state=query["state"], states=OPEN_STATES, errors=errors,
                           department=department, pager_args=args)


@sla_pages.get("/records")
@login_required
def records_page():
    """全部业务记录: every record of every flow, filtered and sorted; read-only."""
    query, errors = _query(RecordQuery)
    page = workview.listing_page(oversight(current_user, query), PER_PAGE, cap=COUNT_CAP)
    page.items = workview.list_rows(page.items)
    args = {k: v for k, v in request.args.items() if v and k != "page" and k not in errors}
    return render_template("sla/records.html", page=page, query=query, errors=errors, args=args,
                           period=period_of(query), flows=list(FLOWS), flow_label=flow_label,
                           status_labels=ALL_STATUS_LABELS, sorts=SORTS,
                           departments=department_names())


RECORD_HEADERS = ("业务编号", "业务类型", "事项", "提出部门", "承办部门", "提出时间", "状态", "结果", "当前环节", "办理期限")


def _record_rows(stmt, batch: int = 500):
    """The records as cells, fetched and given their open steps a batch at a time."""
    departments = department_names()
    result = db.session.scalars(stmt.execution_options(yield_per=batch))
    for chunk in result.partitions():
        open_tasks = workview.open_tasks_by_instance(r.instance_id for r in chunk)
        for record in chunk:
            tasks = [row["task"] for row in open_tasks.get(record.instance_id, [])]
            yield (record.business_key, flow_label(record.flow), record.title,
                   departments.get(record.applicant_department_id, "平台"), departments.get(record.department_id, ""),
                   to_local(record.created_at).strftime("%Y-%m-%d %H:%M"),
                   ALL_STATUS_LABELS.get(record.status, record.status), outcome_label(record.flow, record.outcome) or "",
                   "、".join(t.name or t.task_spec for t in tasks), "、".join(deadline_text(t.due_at) for t in tasks if t.due_at))


@sla_pages.get("/records.<fmt>")
@login_required
def records_file(fmt: str):
    query = _download_query(RecordQuery)
    period = period_of(query)
    return table_download(f"records-{period.first}-{period.last}", fmt,
                          one_sheet("业务记录", RECORD_HEADERS, _record_rows(oversight(current_user, query))))


@sla_pages.get("/open.<fmt>")
@login_required
def open_file(fmt: str):
    """The open steps behind a figure as CSV (streamed) or .xlsx."""
    query = _download_query(OpenStepsInput)
    stmt = open_steps(query["state"], query.get("department_id"), query.get("flow"))
    return table_download(f"sla-open-{query['state']}", fmt, one_sheet(OPEN_STATES[query["state"]], OPEN_HEADERS,
                                                                      open_table(stmt)))
