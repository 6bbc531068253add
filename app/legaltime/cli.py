"""`flask calendar …`: show and load (SPEC §3); `due` and `check`, which also read the policy
profiles, are added to the group by app/policy/cli.py."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.legaltime.data import CalendarDataError
from app.legaltime.service import get_calendar

calendar_cli = AppGroup("calendar", help="Working-day calendar (节假日安排) and legal deadlines.")


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def calendar_or_exit():
    try:
        return get_calendar()
    except CalendarDataError as exc:
        raise click.ClickException(f"invalid calendar data: {exc}") from exc


@calendar_cli.command("show")
@click.argument("year", type=click.IntRange(2014, 2099))
def show(year: int) -> None:
    """Print every day of YEAR: DATE<TAB>workday|restday|holiday<TAB>name."""
    calendar = calendar_or_exit()
    if calendar.is_provisional_year(year):
        warn(f"{year} has no loaded notice: provisional calendar (weekends + statutory festival days)")
    lines = [f"{d.day.isoformat()}\t{d.kind}\t{d.name}" for d in calendar.year_days(year)]
    click.echo("\n".join(lines))


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(file: Path) -> None:
    """Validate FILE, install it as CALENDAR_DIR/YYYY.yaml and recompute provisional deadlines."""
    from app.legaltime.data import FILE_NAME
    from app.legaltime.loading import load_notice

    named = FILE_NAME.match(file.name)
    try:
        data, changes = load_notice(file.read_text(encoding="utf-8"), file,
                                    int(named.group(1)) if named else None)
    except CalendarDataError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"loaded {data.year} from {file} ({len(data.holidays)} holiday ranges, "
               f"{len(data.makeup_workdays)} make-up working days)")
    click.echo(f"{len(changes)} stored deadline(s) changed")
