"""`flask sla measure`: fill in on_time / response_workdays for steps completed before the
engine recorded them (migration b1d3f5a7c9e1), in batches; safe to run again. `flask sla report`:
the per-department figures the dashboard shows, as CSV, .xlsx or JSON."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from app.clock import as_utc
from app.db import transaction
from app.engine.models import HumanTask, TaskState
from app.extensions import db
from app.legaltime.period_input import period_of
from app.sla.export import SUMMARY_HEADERS, summary_table
from app.sla.figures import PeriodInput, summary
from app.sla.measures import response_workdays
from app.tabular import csv_lines, xlsx_file

sla_cli = AppGroup("sla", help="时效统计 / SLA figures")
BATCH = 1000


@sla_cli.command("measure")
def measure() -> None:
    """Measure the completed steps that have no response time yet."""
    done, last_id = 0, 0
    while True:  # keyset batches: each row is read once, and the loop ends with the table
        with transaction():
            rows = db.session.scalars(select(HumanTask).where(
                HumanTask.id > last_id, HumanTask.state == TaskState.COMPLETED,
                HumanTask.completed_at.is_not(None), HumanTask.response_workdays.is_(None))
                .order_by(HumanTask.id).limit(BATCH)).all()
            for row in rows:
                row.on_time = None if row.due_at is None else as_utc(row.completed_at) <= as_utc(row.due_at)
                row.response_workdays = response_workdays(row.created_at, row.completed_at)
        done += len(rows)
        if len(rows) < BATCH:
            break
        last_id = rows[-1].id
    click.echo(f"已计算 {done} 个已办环节的时效")


@sla_cli.command("report")
@click.option("--from", "first", metavar="YYYY-MM-DD", help="起始日期（含），默认本月1日")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="截止日期（含），默认今天")
@click.option("--flow", help="流程标识（BPMN 流程 id）")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("wb"), default="-", help="写入文件（默认标准输出）")
def report(first: str | None, last: str | None, flow: str | None, fmt: str, output) -> None:
    """Print the per-department figures the dashboard shows."""
    try:
        query = PeriodInput().load({k: v for k, v in {"from": first, "to": last, "flow": flow}.items() if v})
    except ValidationError as exc:
        raise click.UsageError("；".join(f"{k}: {'；'.join(v)}" for k, v in exc.messages.items())) from None
    period = period_of(query)
    rows = summary(period, query.get("flow"))
    if fmt == "json":
        text = json.dumps({"period_from": period.first.isoformat(), "period_to": period.last.isoformat(),
                           "departments": rows}, ensure_ascii=False, indent=2) + "\n"
        output.write(text.encode())
    elif fmt == "xlsx":
        output.write(xlsx_file([("各部门时效", SUMMARY_HEADERS, summary_table(rows))]).read())
    else:
        output.write("".join(csv_lines(SUMMARY_HEADERS, summary_table(rows))).lstrip("\ufeff").encode())
