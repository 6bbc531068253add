"""The SLA figures as tables with Chinese headers, for the CSV downloads and `flask sla report`:
one function per table, so the page, the file and the command show the same figures."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Select

from app.clock import to_local
from app.extensions import db
from app.legaltime.periods import deadline_text
from app.org.services import department_names

SUMMARY_HEADERS = ("办理部门", "已完成", "有期限", "按时", "逾期完成", "按时完成率", "办理用时中位数（工作日）",
                   "办理用时P90（工作日）", "当前待办", "即将到期", "已逾期", "已督办")
FLOW_HEADERS = ("业务类型", *SUMMARY_HEADERS[1:])
TREND_HEADERS = ("期间起", "期间止", "已完成", "有期限", "按时", "逾期完成", "按时完成率")
OPEN_HEADERS = ("业务编号", "流程", "环节", "办理部门", "到达时间", "办理期限")
STEP_HEADERS = ("业务编号", "流程", "环节", "办理部门", "到达时间", "完成时间", "办理期限", "按时", "办理用时（工作日）")


def _blank(value):
    return "" if value is None else value


def _rate(value) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _figure_cells(name: str, r: dict) -> tuple:
    return (name, r["completed"], r["with_deadline"], r["on_time"], r["late"], _rate(r["on_time_rate"]),
            _blank(r["median_response_workdays"]), _blank(r["p90_response_workdays"]),
            r["open"], r["due_soon"], r["overdue"], r["escalated"])


def summary_table(rows: list[dict]) -> Iterator[tuple]:
    names = department_names()
    for r in rows:
        yield _figure_cells(names.get(r["department_id"], ""), r)


def flows_table(rows: list[dict], label: Callable[[str], str]) -> Iterator[tuple]:
    for r in rows:
        yield _figure_cells(label(r["flow"]), r)


def trend_table(buckets: list[dict]) -> Iterator[tuple]:
    for b in buckets:
        yield (b["first"].isoformat(), b["last"].isoformat(), b["completed"], b["with_deadline"], b["on_time"],
               b["late"], _rate(b["on_time_rate"]))


def open_table(stmt: Select, batch: int = 1000) -> Iterator[tuple]:
    """The open steps of `stmt`, in batches."""
    names = department_names()
    for task in db.session.scalars(stmt.execution_options(yield_per=batch)):
        yield (task.instance.business_key, task.instance.process_id, task.name or task.task_spec,
               names.get(task.candidate_department_id, ""), _when(task.created_at),
               deadline_text(task.due_at) if task.due_at else "")


def _when(value) -> str:
    return "" if value is None else to_local(value).strftime("%Y-%m-%d %H:%M")


def steps_table(stmt: Select, batch: int = 1000) -> Iterator[tuple]:
    """Every step of `stmt`, fetched in batches (a year of steps never sits in memory at once)."""
    names = department_names()
    for task in db.session.scalars(stmt.execution_options(yield_per=batch)):
        on_time = "" if task.on_time is None else ("是" if task.on_time else "否")
        yield (task.instance.business_key, task.instance.process_id, task.name or task.task_spec,
               names.get(task.candidate_department_id, ""), _when(task.created_at), _when(task.completed_at),
               deadline_text(task.due_at) if task.due_at else "", on_time, _blank(task.response_workdays))
