"""Administrators load a year's State Council holiday notice in the browser (SPEC §3.6): enter it
in a form or upload its YAML file, see what loading it changes (days, deadlines, instances), then
confirm — the same validation and recompute as `flask calendar check` / `flask calendar load`."""
from __future__ import annotations

from datetime import date

import yaml
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.clock import to_local, utcnow
from app.extensions import db
from app.legaltime.calendar import PROVISIONAL_MAX_YEAR, PROVISIONAL_MIN_YEAR
from app.legaltime.data import FESTIVALS, CalendarDataError, parse_year, parse_year_text
from app.legaltime.loading import load_notice, preview_notice
from app.legaltime.service import get_calendar, missing_years
from app.web.access import administrators_only
from app.web.errors import FORM_ERRORS_STATUS

calendar_admin = administrators_only(Blueprint("calendar_admin", __name__, url_prefix="/admin/calendars"))
HOLIDAY_ROWS = 10   # a notice arranges seven festivals; room for split or extra ranges
MAKEUP_ROWS = 12
MAX_UPLOAD = 256 * 1024
# The festivals in the order a notice lists them, prefilled on a new year's form.
NOTICE_ORDER = ["new_year", "spring_festival", "qingming", "labour_day", "dragon_boat", "mid_autumn", "national_day"]


def _today() -> date:
    return to_local(utcnow()).date()


def _loadable_or_404(year: int) -> None:
    """A year without a notice yet; a loaded year's file is changed on the command line only."""
    if not PROVISIONAL_MIN_YEAR <= year <= PROVISIONAL_MAX_YEAR or year in get_calendar().data:
        abort(404)


@calendar_admin.get("/")
def index():
    calendar, today = get_calendar(), _today()
    wanted = sorted({*missing_years(today), today.year + 1} - set(calendar.data))
    return render_template("calendar_admin/index.html", years=sorted(calendar.data.values(), key=lambda d: -d.year),
                           wanted=wanted, today=today)


def _blank_form(year: int) -> dict:
    holidays = [{"festival": key, "name": FESTIVALS[key], "start": "", "end": ""} for key in NOTICE_ORDER]
    return {"notice_title": f"国务院办公厅关于{year}年部分节假日安排的通知", "notice_number": "", "notice_date": "",
            "holidays": _padded(holidays, HOLIDAY_ROWS, {"festival": "", "name": "", "start": "", "end": ""}),
            "makeups": _padded([], MAKEUP_ROWS, {"date": "", "festival": ""})}


def _padded(rows: list[dict], size: int, blank: dict) -> list[dict]:
    return rows + [dict(blank) for _row in range(max(0, size - len(rows)))]


def _posted_form() -> dict:
    f = request.form
    return {
        "notice_title": f.get("notice_title", "").strip(), "notice_number": f.get("notice_number", "").strip(),
        "notice_date": f.get("notice_date", "").strip(),
        "holidays": [{k: f.get(f"holidays-{i}-{k}", "").strip() for k in ("festival", "name", "start", "end")}
                     for i in range(HOLIDAY_ROWS)],
        "makeups": [{k: f.get(f"makeups-{i}-{k}", "").strip() for k in ("date", "festival")}
                    for i in range(MAKEUP_ROWS)],
    }


def _iso(value: str):
    """A date the validator reads as a date (YAML writes it unquoted); anything else stays text
    and is refused by the validator beside its field."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return value


def _document(year: int, form: dict) -> tuple[dict, dict[str, str]]:
    """The year file the form describes (blank rows left out), and where each of its entries came
    from on the form, so the validator's field paths name the form's fields."""
    key = f"notice-{year}"
    where = {f"notices.{key}.title": "notice_title", f"notices.{key}.number": "notice_number",
             f"notices.{key}.date": "notice_date", f"notices.{key}": "notice_title"}
    holidays, makeups = [], []
    for i, row in enumerate(form["holidays"]):
        if not (row["start"] or row["end"]):
            continue  # a festival row left empty: not arranged this year (or not yet entered)
        where.update({f"holidays[{len(holidays)}].{k}": f"holidays-{i}-{k}" for k in ("festival", "name", "start", "end")})
        where[f"holidays[{len(holidays)}]"] = f"holidays-{i}-start"
        holidays.append({"festival": row["festival"], "name": row["name"] or FESTIVALS.get(row["festival"], ""),
                         "start": _iso(row["start"]), "end": _iso(row["end"]), "notice": key})
    for i, row in enumerate(form["makeups"]):
        if not row["date"]:
            continue
        where.update({f"makeup_workdays[{len(makeups)}].{k}": f"makeups-{i}-{k}" for k in ("date", "festival", "name")})
        makeups.append({"date": _iso(row["date"]), "festival": row["festival"],
                        "name": FESTIVALS.get(row["festival"], row["festival"]), "notice": key})
    document = {"year": year, "notices": {key: {
        "title": form["notice_title"], "number": form["notice_number"] or None, "date": _iso(form["notice_date"])}},
        "holidays": holidays, "makeup_workdays": makeups}
    return document, where


def _field_errors(exc: CalendarDataError, where: dict[str, str]) -> dict[str, list[str]]:
    return {where.get(exc.field, "document"): [exc.zh]}


def _text_of(document: dict) -> str:
    header = "# 经管理员在网页录入（政务信息资源共享审批平台）；格式见 calendars/README.md\n"
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@calendar_admin.route("/<int:year>/notice", methods=["GET", "POST"])
def notice(year: int):
    """The notice as a form; posting it validates and shows the preview (nothing loaded yet)."""
    _loadable_or_404(year)
    if request.method == "GET":
        return render_template("calendar_admin/notice_form.html", year=year, form=_blank_form(year),
                               errors={}, festivals=FESTIVALS)
    form = _posted_form()
    if request.form.get("edit"):  # back from the preview, to change something
        return render_template("calendar_admin/notice_form.html", year=year, form=form, errors={},
                               festivals=FESTIVALS)
    document, where = _document(year, form)
    if not document["holidays"]:
        errors = {"document": [_("请至少填写一段放假时间")]}
    else:
        try:
            data = parse_year(document, f"{year}.yaml", year)
        except CalendarDataError as exc:
            errors = _field_errors(exc, where)
        else:
            return _preview(data, _text_of(document), form=form)
    return render_template("calendar_admin/notice_form.html", year=year, form=form, errors=errors,
                           festivals=FESTIVALS), FORM_ERRORS_STATUS


@calendar_admin.post("/<int:year>/upload")
def upload(year: int):
    """A YAML file in the format of calendars/ (e.g. prepared by the office), checked the same way."""
    _loadable_or_404(year)
    file = request.files.get("file")
    content = file.read(MAX_UPLOAD + 1) if file else b""
    errors = {}
    if not content:
        errors = {"file": [_("请选择要上传的文件")]}
    elif len(content) > MAX_UPLOAD:
        errors = {"file": [_("文件过大（上限 256 KB）")]}
    else:
        try:
            text = content.decode("utf-8")
            return _preview(parse_year_text(text, f"{year}.yaml", year), text)
        except UnicodeDecodeError:
            errors = {"file": [_("文件应为 UTF-8 编码的 YAML")]}
        except CalendarDataError as exc:
            errors = {"file": [f"{exc.field}：{exc.zh}"]}
    return render_template("calendar_admin/notice_form.html", year=year, form=_blank_form(year), errors=errors,
                           festivals=FESTIVALS), FORM_ERRORS_STATUS


def _instances(preview) -> dict[int, object]:
    from app.engine.models import ProcessInstance
    from app.sla.deadlines import OWNER_TYPE

    ids = {int(c.deadline.owner_id) for c in preview.moves if c.deadline.owner_type == OWNER_TYPE}
    if not ids:
        return {}
    rows = db.session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids))).all()
    return {row.id: row for row in rows}


def _preview(data, text: str, errors: dict | None = None, form: dict | None = None):
    """What loading would change, with the confirmation; `form`: the entries, kept for 返回修改."""
    preview = preview_notice(data)
    return render_template("calendar_admin/preview.html", year=data.year, preview=preview, text=text,
                           instances=_instances(preview), errors=errors or {}, form=form)


@calendar_admin.post("/<int:year>/load")
def load(year: int):
    """Confirmed: install the previewed text and recompute (the same function as the command)."""
    _loadable_or_404(year)
    text = request.form.get("document", "")
    try:
        data = parse_year_text(text, f"{year}.yaml", year)
    except CalendarDataError as exc:
        flash(_("数据有误，未加载：%(e)s", e=exc.zh), "error")
        return redirect(url_for("calendar_admin.notice", year=year))
    if request.form.get("confirm") != "yes":
        return _preview(data, text, {"confirm": [_("请先勾选确认")]}), FORM_ERRORS_STATUS
    changes = load_notice(text, f"{year}.yaml（{current_user.username} 网页录入）", year, actor=current_user)[1]
    flash(_("已加载 %(y)s 年节假日安排；%(n)s 个期限已重新计算", y=year, n=len(changes)), "success")
    return redirect(url_for("calendar_page.year_view", year=year))
