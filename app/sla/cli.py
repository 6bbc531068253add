"""`flask sla measure`: fill in on_time / response_workdays for steps completed before the
engine recorded them (migration b1d3f5a7c9e1), in batches; safe to run again. `flask sla report`:
the per-department figures the dashboard shows, as CSV, .xlsx or JSON."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.db import transaction
from app.engine.models import HumanTask
from app.period_input import period_of
from app.sla.export import SUMMARY_HEADERS, summary_table
from app.sla.figures import PeriodInput, summary
from app.sla.measures import measure_steps
from app.tabular import csv_lines, xlsx_file

sla_cli = AppGroup("sla", help="时效统计 / SLA figures")


@sla_cli.command("measure")
def measure() -> None:
    """Measure the completed steps that have no response time yet."""
    with transaction():
        done = measure_steps(HumanTask.response_workdays.is_(None))
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
