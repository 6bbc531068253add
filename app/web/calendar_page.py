"""The working-day calendar page: a year as a 12-month grid, holidays and make-up days marked."""
from __future__ import annotations

import calendar as _stdlib_calendar

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import login_required

from app.clock import to_local, utcnow
from app.legaltime.calendar import PROVISIONAL_MAX_YEAR, PROVISIONAL_MIN_YEAR
from app.legaltime.service import get_calendar

calendar_page = Blueprint("calendar_page", __name__)


@calendar_page.get("/calendar")
@calendar_page.get("/calendar/<int:year>")
@login_required
def year_view(year: int | None = None):
    today = to_local(utcnow()).date()
    if year is None:
        return redirect(url_for("calendar_page.year_view", year=today.year))
    if not PROVISIONAL_MIN_YEAR <= year <= PROVISIONAL_MAX_YEAR:
        abort(404)
    cal = get_calendar()
    days = {info.day: info for info in cal.year_days(year)}
    months = []
    for month in range(1, 13):
        weeks = [[days[d] if d.month == month else None for d in week]
                 for week in _stdlib_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)]
        months.append({"month": month, "weeks": weeks})
    data = cal.data.get(year)
    counts = {"workday": 0, "restday": 0, "holiday": 0}
    for info in days.values():
        counts[info.kind] += 1
    return render_template(
        "calendar/year.html", year=year, months=months, today=today, data=data,
        provisional=cal.is_provisional_year(year), counts=counts,
        notices=sorted(data.notices.values(), key=lambda n: n.issued) if data else [],
        prev_year=year - 1 if year > PROVISIONAL_MIN_YEAR else None,
        next_year=year + 1 if year < PROVISIONAL_MAX_YEAR else None,
        can_load=provisional_and_loadable(cal, year),
    )


def provisional_and_loadable(cal, year: int) -> bool:
    """An administrator may enter this year's notice (app/web/calendar_admin.py)."""
    from flask_login import current_user

    from app.org.permissions import can_manage_org

    return cal.is_provisional_year(year) and can_manage_org(current_user)


def register_calendar(app) -> None:
    """Install the legal-time feature: this page and the `flask calendar` CLI group."""
    from app.legaltime.cli import calendar_cli
    from app.policy import cli as _policy_commands  # noqa: F401  (adds due/check to the group)

    app.register_blueprint(calendar_page)
    app.cli.add_command(calendar_cli)
