"""`flask calendar …`: show, due, check, load (SPEC §3)."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from app.clock import LOCAL_TZ, utcnow
from app.legaltime.data import CalendarDataError, validate_directory, year_files
from app.legaltime.periods import UNITS, due
from app.legaltime.service import (
    calendar_dir,
    get_calendar,
    load_year,
    provisional_alerts,
)

calendar_cli = AppGroup("calendar", help="Working-day calendar (节假日安排) and legal deadlines.")


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _calendar_or_exit():
    try:
        return get_calendar()
    except CalendarDataError as exc:
        raise click.ClickException(f"invalid calendar data: {exc}") from exc


@calendar_cli.command("show")
@click.argument("year", type=click.IntRange(2014, 2099))
def show(year: int) -> None:
    """Print every day of YEAR: DATE<TAB>workday|restday|holiday<TAB>name."""
    calendar = _calendar_or_exit()
    if calendar.is_provisional_year(year):
        _warn(f"{year} has no loaded notice: provisional calendar (weekends + statutory festival days)")
    lines = [f"{d.day.isoformat()}\t{d.kind}\t{d.name}" for d in calendar.year_days(year)]
    click.echo("\n".join(lines))


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
        from app.policy.profiles import PolicyError, load_profile

        try:
            close_of_business = load_profile(policy_key).close_of_business
        except PolicyError as exc:
            raise click.BadParameter(str(exc), param_hint="--policy") from None
    result = due(event_at, amount, unit, close_of_business, calendar=_calendar_or_exit())
    click.echo(result.at.astimezone(LOCAL_TZ).isoformat())
    click.echo(f"last day: {result.local_date.isoformat()}  provisional: {str(result.provisional).lower()}")
    if result.provisional:
        _warn("provisional: the period reaches a year whose holiday notice is not loaded; "
              "it will be recomputed when that year is loaded")


@calendar_cli.command("check")
def check() -> None:
    """Validate calendar data and policy profiles; warn about missing notices."""
    from app.policy.profiles import profile_keys, validate_profiles

    directory = calendar_dir()
    problems: list[Exception] = [*validate_directory(directory), *validate_profiles()]
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    years = list(year_files(directory))
    click.echo(f"calendars: {directory} — years {', '.join(map(str, years)) or 'none'}")
    click.echo(f"policy profiles: {', '.join(profile_keys())}")
    today = utcnow().astimezone(LOCAL_TZ).date()
    for alert in provisional_alerts(today, directory):
        _warn(alert)
    if today.year + 1 not in years and today.month < 11:
        click.echo(f"note: the {today.year + 1} notice is not loaded yet (usually published in "
                   "November–December)")
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("ok")


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(file: Path) -> None:
    """Validate FILE, install it as CALENDAR_DIR/YYYY.yaml and recompute provisional deadlines."""
    from app.db import transaction
    from app.legaltime.tracking import recompute_provisional

    try:
        data = load_year(file)
    except CalendarDataError as exc:
        raise click.ClickException(str(exc)) from exc
    with transaction():
        changes = recompute_provisional(data.year)
    click.echo(f"loaded {data.year} from {file} ({len(data.holidays)} holiday ranges, "
               f"{len(data.makeup_workdays)} make-up working days)")
    click.echo(f"{len(changes)} stored deadline(s) changed")
