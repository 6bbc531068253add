"""The yearly assessment (宝鸡 arts. 22–24; 西城 art. 32): per department and calendar year, what
it published and kept up to date, how it answered applications, demands and objections, the
rectifications and suspensions it had, and the idle grants withdrawn from its data. One table
(`COLUMNS`) serves the page, the .xlsx, the API and the command, so they show the same figures.

Definitions: a year is a local calendar year; a case counts as received in the year it was
started and as answered / resolved in the year it was closed; a step counts in the year it was
completed (as on the SLA desk, app/sla/figures.py); a department is the case's responsible
department (the provider for applications, demands, objections and idle grants; the notified
department for rectifications).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from marshmallow import fields, validate
from sqlalchemy import String, and_, cast, func, select

from app.audit.models import AuditEntry
from app.catalog.models import CatalogEntry, PublishState
from app.clock import to_local, utcnow
from app.extensions import db
from app.flows.models import Case
from app.org.models import Department
from app.period_input import Period
from app.sla.rollup import counts as step_counts
from app.validation import Schema

Counts = dict[int | None, int]


class YearInput(Schema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2099, error="年份须在 2000 年至 2099 年之间"),
                          metadata={"label": "考核年度", "description": "考核年度，默认上一年"})


def year_of(query: dict) -> int:
    """The year asked for; by default the year before this one (the report due by the end of
    January, 宝鸡 art. 24)."""
    return query.get("year") or to_local(utcnow()).year - 1


def _year(year: int) -> tuple:
    return Period(date(year, 1, 1), date(year, 12, 31)).bounds


def _cases(flow: str, when, *where) -> Callable[[int, dict], Counts]:
    """Per department: the cases of `flow` whose `when` falls in the year (and `where`)."""
    def count(year: int, _memo: dict) -> Counts:
        start, end = _year(year)
        stmt = (select(Case.department_id, func.count()).where(
            Case.flow == flow, Case.business_key.is_not(None), when >= start, when < end, *where)
            .group_by(Case.department_id))
        return dict(db.session.execute(stmt).all())
    return count


def _steps(on_time: bool, flow: str | None = None) -> Callable[[int, dict], Counts]:
    """Per department: its steps completed in the year that had a deadline (or of those, the
    ones completed on time), of one flow or of all — from the SLA desk's daily sums."""
    def count(year: int, memo: dict) -> Counts:
        if flow not in memo:  # one read of the sums per flow, for both of its columns
            memo[flow] = step_counts(Period(date(year, 1, 1), date(year, 12, 31)), flow)
        out: Counts = {}
        for row in memo[flow]:
            out[row.key] = out.get(row.key, 0) + (row.on_time if on_time else row.with_deadline)
        return out
    return count


def _published_entries(year: int, _memo: dict) -> Counts:
    """Entries published now that had been created by the end of the year."""
    _start, end = _year(year)
    return dict(db.session.execute(select(CatalogEntry.provider_department_id, func.count()).where(
        CatalogEntry.publish_state == PublishState.PUBLISHED.value, CatalogEntry.created_at < end)
        .group_by(CatalogEntry.provider_department_id)).all())


def _entry_changes(year: int, _memo: dict) -> Counts:
    """Publications and updates of each department's entries in the year (the audit log)."""
    start, end = _year(year)
    stmt = (select(CatalogEntry.provider_department_id, func.count())
            .join(AuditEntry, and_(AuditEntry.object_type == "catalog_entry",
                                   AuditEntry.object_id == cast(CatalogEntry.id, String)))
            .where(AuditEntry.action.in_(("catalog.entry_published", "catalog.entry_updated")),
                   AuditEntry.at >= start, AuditEntry.at < end)
            .group_by(CatalogEntry.provider_department_id))
    return dict(db.session.execute(stmt).all())


def _suspensions(year: int, _memo: dict) -> Counts:
    start, end = _year(year)
    rows = db.session.execute(select(AuditEntry.object_id, func.count()).where(
        AuditEntry.action == "org.department_suspended", AuditEntry.at >= start, AuditEntry.at < end)
        .group_by(AuditEntry.object_id)).all()
    return {int(object_id): n for object_id, n in rows}


SHARE, DEMAND, OBJECTION = "conditional_share", "unpublished_demand", "data_objection"
RECTIFICATION, IDLE, CATALOGUE = "rectification", "idle_grant_review", "catalogue_review"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    count: Callable[[int, dict], Counts]  # (year, a memo shared by one assessment's columns)
    group: str


CATALOGUE_G, SHARE_G, ASKED_G = "目录编制与更新", "共享申请", "资源需求与数据疑义"
RECTIFY_G, GRANTS_G, TIME_G = "整改与暂停", "授权管理", "办理时效"
COLUMNS: tuple[Column, ...] = (
    Column("published_entries", "已发布目录条目", _published_entries, CATALOGUE_G),
    Column("entry_changes", "本年发布、更新目录次数", _entry_changes, CATALOGUE_G),
    Column("catalogue_steps", "目录审核、更新环节（有期限）", _steps(False, CATALOGUE), CATALOGUE_G),
    Column("catalogue_steps_on_time", "其中按时完成", _steps(True, CATALOGUE), CATALOGUE_G),
    Column("applications_received", "收到共享申请", _cases(SHARE, Case.created_at), SHARE_G),
    Column("application_steps", "申请办理环节（有期限）", _steps(False, SHARE), SHARE_G),
    Column("application_steps_on_time", "其中按期答复", _steps(True, SHARE), SHARE_G),
    Column("applications_refused", "不予共享（办结）", _cases(SHARE, Case.closed_at, Case.status == "refused"), SHARE_G),
    Column("applications_refused_with_reasons", "其中说明理由", _cases(
        SHARE, Case.closed_at, Case.status == "refused", func.length(func.coalesce(Case.reasons, "")) > 0), SHARE_G),
    Column("demands_received", "收到资源需求", _cases(DEMAND, Case.created_at), ASKED_G),
    Column("demands_answered", "资源需求办结", _cases(DEMAND, Case.closed_at), ASKED_G),
    Column("objections_received", "收到数据疑义", _cases(OBJECTION, Case.created_at), ASKED_G),
    Column("objections_resolved", "数据疑义办结", _cases(OBJECTION, Case.closed_at), ASKED_G),
    Column("rectifications", "收到整改通知", _cases(RECTIFICATION, Case.created_at), RECTIFY_G),
    Column("rectifications_missed", "逾期未整改", _cases(
        RECTIFICATION, Case.closed_at, Case.outcome.in_(("overdue", "suspended"))), RECTIFY_G),
    Column("suspensions", "暂停共享资格", _suspensions, RECTIFY_G),
    Column("idle_withdrawals", "收回闲置授权", _cases(IDLE, Case.closed_at, Case.outcome == "withdrawn"), GRANTS_G),
    Column("steps", "全部办理环节（有期限）", _steps(False), TIME_G),
    Column("steps_on_time", "其中按时完成", _steps(True), TIME_G),
)
HEADERS = ("部门", *(c.header for c in COLUMNS), "按时完成率")


def assessment(year: int) -> list[dict]:
    """One row per department (by code): each column's figure, and the on-time rate of all its
    steps that had a deadline (None without any)."""
    memo: dict = {}
    figures: dict[str, Counts] = {c.key: c.count(year, memo) for c in COLUMNS}
    rows = []
    for department in db.session.scalars(select(Department).order_by(Department.is_office.desc(), Department.code)):
        row = {"department_id": department.id, "department": department.name,
               **{key: counts.get(department.id, 0) for key, counts in figures.items()}}
        row["on_time_rate"] = row["steps_on_time"] / row["steps"] if row["steps"] else None
        rows.append(row)
    return rows


def totals(rows: list[dict]) -> dict:
    """The city's totals of every column (the rate recomputed from the totals)."""
    total: dict = {c.key: sum(row[c.key] for row in rows) for c in COLUMNS}
    total["on_time_rate"] = total["steps_on_time"] / total["steps"] if total["steps"] else None
    return total


def table(rows: list[dict]):
    """The rows as cells under HEADERS (the .xlsx and CSV), the city's total last."""
    def cells(name: str, row: dict) -> tuple:
        rate = "" if row["on_time_rate"] is None else f"{row['on_time_rate'] * 100:.1f}%"
        return (name, *(row[c.key] for c in COLUMNS), rate)
    for row in rows:
        yield cells(row["department"], row)
    yield cells("合计", totals(rows))



def column_groups() -> list[tuple[str, int]]:
    """(group, number of columns) in order, for a two-row table header; the rate joins 办理时效."""
    groups: list[tuple[str, int]] = []
    for column in COLUMNS:
        if groups and groups[-1][0] == column.group:
            groups[-1] = (column.group, groups[-1][1] + 1)
        else:
            groups.append((column.group, 1))
    last, n = groups[-1]
    groups[-1] = (last, n + 1)
    return groups
