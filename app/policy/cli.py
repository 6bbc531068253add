"""The `flask calendar` commands that read the policy profiles as well as the calendar:
`due --policy` (a profile's close of business) and `check` (calendar data and profiles); and
`flask audit prune`, which the profile's retention period bounds."""
from __future__ import annotations

import sys
from datetime import date, datetime

import click

from app.audit.cli import audit_cli
from app.audit.retention import prunable, prune_before
from app.clock import LOCAL_TZ, to_local, utcnow
from app.legaltime.cli import calendar_cli, calendar_or_exit, warn
from app.legaltime.data import validate_directory, year_files
from app.legaltime.periods import UNITS, due, start_of_day
from app.legaltime.service import calendar_dir, provisional_alerts
from app.policy.in_force import active_policy
from app.policy.profiles import PolicyError, load_profile, profile_keys, validate_profiles
from app.policy.retention import retention_start


def _parse_event(value: str) -> datetime:
    try:
        event = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 date-time: {value!r} "
                                 "(e.g. 2026-09-30T10:00:00+08:00)", param_hint="EVENT") from None
    if event.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add one, e.g. +08:00 or Z",
                                 param_hint="EVENT")
    return event


@calendar_cli.command("due")
@click.argument("event")
@click.argument("amount", type=click.IntRange(min=1))
@click.argument("unit", type=click.Choice(UNITS))
@click.option("--policy", "policy_key", default=None,
              help="Apply this policy profile's close of business (default: 24:00).")
def due_command(event: str, amount: int, unit: str, policy_key: str | None) -> None:
    """Deadline of AMOUNT UNIT (workday|month) after EVENT (ISO-8601 with offset)."""
    event_at = _parse_event(event)
    close_of_business = None
    if policy_key is not None:
        try:
            close_of_business = load_profile(policy_key).close_of_business
        except PolicyError as exc:
            raise click.BadParameter(str(exc), param_hint="--policy") from None
    result = due(event_at, amount, unit, close_of_business, calendar=calendar_or_exit())
    click.echo(result.at.astimezone(LOCAL_TZ).isoformat())
    click.echo(f"last day: {result.local_date.isoformat()}  provisional: {str(result.provisional).lower()}")
    if result.provisional:
        warn("provisional: the period reaches a year whose holiday notice is not loaded; "
              "it will be recomputed when that year is loaded")


@calendar_cli.command("check")
def check() -> None:
    """Validate calendar data and policy profiles; warn about missing notices."""
    directory = calendar_dir()
    problems: list[Exception] = [*validate_directory(directory), *validate_profiles()]
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    years = list(year_files(directory))
    click.echo(f"calendars: {directory} — years {', '.join(map(str, years)) or 'none'}")
    click.echo(f"policy profiles: {', '.join(profile_keys())}")
    today = utcnow().astimezone(LOCAL_TZ).date()
    for alert in provisional_alerts(today, directory):
        warn(alert)
    if today.year + 1 not in years and today.month < 11:
        click.echo(f"note: the {today.year + 1} notice is not loaded yet (usually published in "
                   "November–December)")
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("ok")


@audit_cli.command("prune")
@click.option("--before", "before", required=True, metavar="YYYY-MM-DD",
              help="删除此日（本地时间）之前的审计记录 / delete entries before this local date")
@click.option("--yes", is_flag=True, help="不再确认 / do not ask")
def prune_audit(before: str, yes: bool) -> None:
    """Delete audit entries before a date — never inside the profile's log_retention_years."""
    try:
        cutoff = start_of_day(date.fromisoformat(before))
    except ValueError:
        raise click.BadParameter(f"不是 YYYY-MM-DD 日期：{before!r}", param_hint="--before") from None
    policy = active_policy()
    keep_from = retention_start(policy)
    if cutoff > keep_from:
        click.echo(f"辖区配置 {policy.key}：审计日志至少保存 {policy.log_retention_years} 年（log_retention_years），"
                   f"只能清理 {to_local(keep_from).date()} 之前的记录；未删除任何记录", err=True)
        sys.exit(1)
    target = prunable(cutoff)
    if not target.rows:
        click.echo(f"没有 {before} 之前的审计记录")
        return
    if not yes:
        click.confirm(f"将永久删除 {target.rows} 条 {before} 之前的审计记录（哈希链由锚点接续校验），确定？",
                      abort=True)
    removed = prune_before(cutoff, keep_from, actor_name="flask audit prune")
    click.echo(f"已删除 {removed} 条审计记录；哈希链自 #{target.last_id + 1} 起校验")
