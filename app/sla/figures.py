"""The SLA figures supervisors read (issue 15), from what each completion recorded
(`app/sla/measures.py`): the steps of a period, and per department the on-time rate and the
response time in working days. Definitions, stated once:

- a step belongs to the period when it was completed in it (local dates, both ends included);
- `on_time_rate` = steps completed on time ÷ completed steps that have a deadline (None if none);
- `median` / `p90` of `response_workdays`: nearest rank (the ⌈p·n⌉-th smallest), from a
  per-department histogram the database counts — never a pass over the rows in Python; finished
  days are read from their daily sums (app/sla/rollup.py), so the cost does not grow with history.
"""
from __future__ import annotations

import math
from datetime import date, timedelta

from marshmallow import ValidationError, fields, validate
from sqlalchemy import Select, and_, case, exists, func, select, true
from sqlalchemy.orm import contains_eager

from app.clock import utcnow
from app.engine.models import EventType, HumanTask, ProcessDefinition, ProcessInstance, TaskEvent, TaskState
from app.extensions import db
from app.legaltime import get_calendar
from app.org.models import Role
from app.org.permissions import is_office_member
from app.period_input import Period
from app.period_input import PeriodInput as DatePeriodInput
from app.sla.remaining import due_soon_horizon
from app.sla.rollup import counts
from app.validation import Schema


class PeriodInput(DatePeriodInput):
    """The figures' period, optionally narrowed to one flow."""

    flow = fields.String(validate=lambda v: _deployed(v), metadata={"description": "流程标识（BPMN 流程 id）"})


GRAINS = {"week": "按周", "month": "按月"}
OPEN_STATES = {"open": "当前待办", "due_soon": "即将到期", "overdue": "已逾期", "escalated": "已督办"}


class TrendInput(PeriodInput):
    """The trend's period and its grain (by default weeks for up to two months, else months)."""

    grain = fields.String(validate=validate.OneOf(list(GRAINS), error="只能按周或按月"),
                          metadata={"label": "统计粒度", "choices": GRAINS, "description": "week（按周）或 month（按月）"})


class OpenStepsInput(Schema):
    """The open steps behind a figure of a department's open work."""

    state = fields.String(load_default="open", validate=validate.OneOf(list(OPEN_STATES), error="没有这种状态"),
                          metadata={"label": "待办状态", "choices": OPEN_STATES})
    department_id = fields.Integer(data_key="department", validate=validate.Range(min=1, error="部门编号无效"),
                                   metadata={"description": "办理部门编号"})
    flow = fields.String(validate=lambda v: _deployed(v), metadata={"description": "流程标识（BPMN 流程 id）"})


class StepsInput(PeriodInput):
    """The steps behind a figure: a period, optionally one department and only the late ones."""

    department_id = fields.Integer(data_key="department", validate=validate.Range(min=1, error="部门编号无效"),
                                   metadata={"description": "办理部门编号"})
    late = fields.Boolean(load_default=False, metadata={"description": "只列逾期完成的环节"})


def _deployed(process_id: str) -> bool:
    """A flow the figures can be narrowed to: one that has been deployed."""
    if db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.process_id == process_id).limit(1)):
        return True
    raise ValidationError(f"没有名为 {process_id} 的业务流程")


def may_read_figures(user) -> bool:
    """The office watches every department (南通 art. 31(7); 宝鸡 arts. 22–24): its supervisors
    and reviewers read the figures; nobody else."""
    return bool(is_office_member(user) and (user.has_role(Role.SUPERVISOR) or user.has_role(Role.OFFICE_REVIEWER)))


def completed_steps(period: Period, flow: str | None = None, department_id: int | None = None,
                    late: bool = False) -> Select:
    """The human steps completed in `period` (optionally of one flow / department, only the late
    ones), newest first, each with its instance loaded."""
    start, end = period.bounds
    stmt = (select(HumanTask).join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
            .options(contains_eager(HumanTask.instance))
            .where(HumanTask.state == TaskState.COMPLETED, HumanTask.completed_at >= start,
                   HumanTask.completed_at < end))
    if late:
        stmt = stmt.where(HumanTask.on_time.is_(False))
    if flow:
        stmt = stmt.where(ProcessInstance.process_id == flow)
    if department_id is not None:
        stmt = stmt.where(HumanTask.candidate_department_id == department_id)
    return stmt.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())


def provisional_years(period: Period) -> list[int]:
    """The years of `period` without a loaded holiday notice: its working days are counted on
    the provisional calendar (SPEC §3.6) and counted again when the notice is loaded
    (app/sla/measures.py `remeasure_year`), so its figures are provisional."""
    calendar = get_calendar()
    return [y for y in range(period.first.year, period.last.year + 1) if calendar.is_provisional_year(y)]


def nearest_rank(histogram: dict[int, int], p: float) -> int | None:
    """The ⌈p·n⌉-th smallest value of a {value: count} histogram."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(math.ceil(p * total), 1), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


def open_conditions(now) -> dict[str, object]:
    """What each open-work figure counts, stated once for the counts and the lists behind them."""
    horizon = due_soon_horizon(now)
    escalated = exists(select(TaskEvent.id).where(TaskEvent.human_task_id == HumanTask.id,
                                                  TaskEvent.event_type == EventType.ESCALATED))
    return {"open": true(), "due_soon": and_(HumanTask.due_at > now, HumanTask.due_at <= horizon),
            "overdue": HumanTask.due_at <= now, "escalated": escalated}


def _of_flow(stmt: Select, flow: str | None) -> Select:
    return stmt.where(HumanTask.process_id == flow) if flow else stmt


def open_work(flow: str | None = None, now=None, by_flow: bool = False) -> dict[object, dict]:
    """Per department (or per (department, flow) pair), the open steps now: open, due soon (the profile's rule),
    overdue, and escalated (its 督办 has started) — counted over the open steps only."""
    conditions = open_conditions(now or utcnow())
    sums = [func.sum(case((cond, 1), else_=0)) for cond in conditions.values()]
    keys = (HumanTask.candidate_department_id, HumanTask.process_id) if by_flow else (HumanTask.candidate_department_id,)
    stmt = _of_flow(select(*keys, *sums).where(HumanTask.state == TaskState.READY).group_by(*keys), flow)
    return {(tuple(row[:len(keys)]) if by_flow else row[0]):
            dict(zip(conditions, (int(n or 0) for n in row[len(keys):]), strict=True))
            for row in db.session.execute(stmt)}


def open_steps(state: str, department_id: int | None = None, flow: str | None = None, now=None) -> Select:
    """The open steps behind one open-work figure, the most overdue first, instances loaded."""
    stmt = (select(HumanTask).join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
            .options(contains_eager(HumanTask.instance))
            .where(HumanTask.state == TaskState.READY, open_conditions(now or utcnow())[state]))
    if flow:
        stmt = stmt.where(ProcessInstance.process_id == flow)
    if department_id is not None:
        stmt = stmt.where(HumanTask.candidate_department_id == department_id)
    return stmt.order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.id)


NO_OPEN_WORK = {"open": 0, "due_soon": 0, "overdue": 0, "escalated": 0}


def figures(period: Period, flow: str | None = None, by: str = "department") -> dict[object, dict]:
    """Per `by` (app/sla/rollup.py BY): completed, with a deadline, on time, late, on_time_rate,
    median and p90 response working days of the steps completed in the period. Finished days
    are read from their daily sums (app/sla/rollup.py), today from the steps."""
    return _figures_of(counts(period, flow, by), lambda key: key)


def _figures_of(rows, key_of) -> dict[object, dict]:
    """The figures of counted rows, grouped by `key_of(row.key)`."""
    totals: dict[object, list[int]] = {}
    histograms: dict[object, dict[int, int]] = {}
    for row in rows:
        key = key_of(row.key)
        total = totals.setdefault(key, [0, 0, 0, 0])
        for i, n in enumerate((row.completed, row.with_deadline, row.on_time, row.late)):
            total[i] += n
        if row.response_workdays is not None:
            histogram = histograms.setdefault(key, {})
            histogram[row.response_workdays] = histogram.get(row.response_workdays, 0) + row.completed
    return {key: {"completed": done, "with_deadline": with_deadline, "on_time": on_time, "late": late,
                  "on_time_rate": on_time / with_deadline if with_deadline else None,
                  "median_response_workdays": nearest_rank(histograms.get(key, {}), 0.5),
                  "p90_response_workdays": nearest_rank(histograms.get(key, {}), 0.9)}
            for key, (done, with_deadline, on_time, late) in totals.items()}


NO_FIGURES = {"completed": 0, "with_deadline": 0, "on_time": 0, "late": 0, "on_time_rate": None,
              "median_response_workdays": None, "p90_response_workdays": None}


def summary(period: Period, flow: str | None = None) -> list[dict]:
    """Per department (the step's candidate department): its figures in the period and its
    open work now."""
    return desk(period, flow)[0]


def desk(period: Period, flow: str | None = None) -> tuple[list[dict], list[dict]]:
    """The summary per department and per flow, from one read of the sums and one of the
    open steps, each grouped by (department, flow)."""
    rows = counts(period, flow, "department_flow")
    done_by_dept, done_by_flow = _figures_of(rows, lambda k: k[0]), _figures_of(rows, lambda k: k[1])
    open_by: dict[tuple, dict] = open_work(flow, by_flow=True)
    current_dept: dict[object, dict] = {}
    current_flow: dict[object, dict] = {}
    for (dept, process_id), work in open_by.items():
        for bucket, key in ((current_dept, dept), (current_flow, process_id)):
            into = bucket.setdefault(key, dict(NO_OPEN_WORK))
            for name, n in work.items():
                into[name] += n
    departments = [{"department_id": d, **done_by_dept.get(d, NO_FIGURES), **current_dept.get(d, NO_OPEN_WORK)}
                   for d in sorted(set(done_by_dept) | set(current_dept), key=lambda d: (d is None, d or 0))]
    flows = [{"flow": f, **done_by_flow.get(f, NO_FIGURES), **current_flow.get(f, NO_OPEN_WORK)}
             for f in sorted(set(done_by_flow) | set(current_flow), key=lambda f: f or "")]
    return departments, flows


def by_step(period: Period, department_id: int | None, flow: str | None = None) -> list[dict]:
    """Per step (user task) of one department (every department when None): its figures."""
    done = figures(period, flow, "department_step")
    rows = [{"department_id": dept, "step": step, **values} for (dept, step), values in done.items()
            if department_id is None or dept == department_id]
    return sorted(rows, key=lambda r: (r["department_id"] is None, r["department_id"] or 0, r["step"]))


def grain_of(query: dict, period: Period) -> str:
    return query.get("grain") or ("week" if (period.last - period.first).days <= 62 else "month")


def buckets(period: Period, grain: str) -> list[Period]:
    """The weeks (Monday to Sunday) or calendar months that `period` touches, clipped to it."""
    out, first = [], period.first
    while first <= period.last:
        if grain == "week":
            end = first + timedelta(days=6 - first.weekday())
        else:
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        out.append(Period(first, min(end, period.last)))
        first = end + timedelta(days=1)
    return out


def trend(period: Period, grain: str, flow: str | None = None) -> list[dict]:
    """Per week or month of `period`: steps completed, with a deadline, on time, late, and the
    on-time rate — summed from the period's daily counts (app/sla/rollup.py)."""
    spans = buckets(period, grain)
    sums = [[0, 0, 0, 0] for _ in spans]
    for row in counts(period, flow, by="day"):
        i = next(i for i, span in enumerate(spans) if span.first <= row.key <= span.last)
        for j, n in enumerate((row.completed, row.with_deadline, row.on_time, row.late)):
            sums[i][j] += n
    return [{"first": span.first, "last": span.last, "completed": done, "with_deadline": with_deadline,
             "on_time": on_time, "late": late, "on_time_rate": on_time / with_deadline if with_deadline else None}
            for span, (done, with_deadline, on_time, late) in zip(spans, sums, strict=True)]
