"""Working-day calendar data: one YAML file per year in ``calendars/``.

Each file transcribes the State Council General Office's yearly notice
(国务院办公厅关于XXXX年部分节假日安排的通知) — holiday ranges (放假调休) and make-up working
days (调休上班) — with the notice cited. SPEC §3.5: every date is filed under its own calendar
year, so the 2019 notice's 2018-12-29..31 live in 2018.yaml and cite the 2019 notice.

File layout (see calendars/README.md)::

    year: 2024
    notices:
      notice-2024: {title: 国务院办公厅关于2024年部分节假日安排的通知, number: 国办发明电〔2023〕7号,
                    date: 2023-10-25}
    holidays:
      - {festival: spring_festival, name: 春节, start: 2024-02-10, end: 2024-02-17,
         notice: notice-2024, note: optional}
    makeup_workdays:
      - {date: 2024-02-04, festival: spring_festival, name: 春节, notice: notice-2024}

`load_year_file` validates and refuses bad data with a `CalendarDataError` that names the file,
the field and the date.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import yaml

FILE_NAME = re.compile(r"^(\d{4})\.yaml$")
FESTIVAL_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
# The festivals a notice arranges (国务院令第795号), as the year files name them; the administrator's
# form offers these (a file may use another key, e.g. 2020's spring_festival_extension).
FESTIVALS = {
    "new_year": "元旦", "spring_festival": "春节", "qingming": "清明节", "labour_day": "劳动节",
    "dragon_boat": "端午节", "mid_autumn": "中秋节", "national_day": "国庆节",
    "mid_autumn_national_day": "中秋节、国庆节",
}
WEEKDAY_ZH = "一二三四五六日"


class CalendarDataError(ValueError):
    """A calendar file is unreadable or breaks a rule; the message names file, field and date."""

    def __init__(self, file: str | Path, field: str, message: str, day: date | None = None,
                 zh: str | None = None):
        self.file = str(file)
        self.field = field
        self.day = day
        self.zh = zh or message  # what the administrator's form shows beside the field
        where = f"{self.file}: {field}"
        if day is not None:
            where += f" ({day.isoformat()})"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Notice:
    key: str
    title: str
    number: str | None  # e.g. 国办发明电〔2023〕7号; None when not verified (never guessed)
    issued: date


@dataclass(frozen=True)
class HolidayRange:
    festival: str  # English key, e.g. spring_festival
    name: str  # Chinese name, e.g. 春节
    start: date
    end: date
    notice: Notice
    note: str | None = None

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class MakeupWorkday:
    day: date
    festival: str
    name: str
    notice: Notice


@dataclass(frozen=True)
class YearData:
    year: int
    source: str  # file path, for messages
    notices: dict[str, Notice]
    holidays: tuple[HolidayRange, ...]
    makeup_workdays: tuple[MakeupWorkday, ...]


def _date(value, file, field) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarDataError(file, field, f"expected a date YYYY-MM-DD, got {value!r}",
                            zh="请填写日期（年-月-日）")


def _text(item: dict, key: str, file, field, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CalendarDataError(file, f"{field}.{key}", "required field is missing or empty", zh="必填")
        return None
    if not isinstance(value, str):
        raise CalendarDataError(file, f"{field}.{key}", f"expected text, got {value!r}", zh="应为文字")
    return value.strip()


def _mapping(value, file, field) -> dict:
    if not isinstance(value, dict):
        raise CalendarDataError(file, field, "required mapping is missing or not a mapping", zh="缺少此项")
    return value


def _festival(item: dict, file, field) -> str:
    key = _text(item, "festival", file, field)
    if not FESTIVAL_KEY.match(key):
        raise CalendarDataError(file, f"{field}.festival",
                                f"festival key must be lower_snake_case English, got {key!r}",
                                zh="节日代码应为小写英文与下划线")
    return key


def parse_year(raw, source: str | Path, expected_year: int | None = None) -> YearData:
    """Validate one year's parsed YAML document; raise CalendarDataError on the first problem."""
    file = str(source)
    doc = _mapping(raw, file, "(document)")
    year = _year(doc, file, expected_year)
    notices = _notices(doc, file)
    ranges = _holiday_ranges(doc, file, year, notices)
    makeups = _makeup_workdays(doc, file, year, notices, {d for r in ranges for d in r.days()})
    return YearData(year, file, notices, tuple(ranges), tuple(makeups))


def _year(doc: dict, file: str, expected_year: int | None) -> int:
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2099:
        raise CalendarDataError(file, "year", f"required 4-digit year, got {year!r}", zh="年份应为四位数字")
    if expected_year is not None and year != expected_year:
        raise CalendarDataError(file, "year", f"file is named for {expected_year} but says {year}",
                                zh=f"这是 {expected_year} 年的安排，文件却写的是 {year} 年")
    return year


def _notices(doc: dict, file: str) -> dict[str, Notice]:
    notices: dict[str, Notice] = {}
    for key, item in _mapping(doc.get("notices"), file, "notices").items():
        field = f"notices.{key}"
        item = _mapping(item, file, field)
        number = _text(item, "number", file, field, required=False)
        if "number" not in item:
            raise CalendarDataError(file, f"{field}.number",
                                    "required field is missing (write null if not verified)",
                                    zh="缺少文号（未核实时写 null）")
        notices[str(key)] = Notice(str(key), _text(item, "title", file, field), number,
                                   _date(item.get("date"), file, f"{field}.date"))
    if not notices:
        raise CalendarDataError(file, "notices", "at least one notice must be cited", zh="至少要有一份通知")
    return notices


def _notice_of(item: dict, file: str, field: str, notices: dict[str, Notice]) -> Notice:
    key = _text(item, "notice", file, field)
    if key not in notices:
        raise CalendarDataError(file, f"{field}.notice",
                                f"cites {key!r}, which is not listed under notices", zh=f"引用的通知 {key} 不存在")
    return notices[key]


def _own_year(day: date, year: int, file: str, field: str) -> date:
    if day.year != year:
        raise CalendarDataError(file, field, f"date belongs to {day.year}.yaml, not {year}.yaml "
                                "(every date is filed under its own calendar year)", day,
                                zh=f"{day.isoformat()} 属于 {day.year} 年：跨年的假期请拆开，分别填在各自年份")
    return day


def _list(doc: dict, key: str, file: str, missing: str) -> list:
    value = doc.get(key)
    if not isinstance(value, list):
        raise CalendarDataError(file, key, missing, zh="缺少此项")
    return value


def _holiday_ranges(doc: dict, file: str, year: int, notices: dict[str, Notice]) -> list[HolidayRange]:
    ranges: list[HolidayRange] = []
    for i, item in enumerate(_list(doc, "holidays", file, "required list is missing")):
        field = f"holidays[{i}]"
        item = _mapping(item, file, field)
        start = _own_year(_date(item.get("start"), file, f"{field}.start"), year, file, f"{field}.start")
        end = _own_year(_date(item.get("end"), file, f"{field}.end"), year, file, f"{field}.end")
        if end < start:
            raise CalendarDataError(file, f"{field}.end", f"range ends before it starts ({start})", end,
                                    zh=f"结束日期早于开始日期（{start.isoformat()}）")
        ranges.append(HolidayRange(_festival(item, file, field), _text(item, "name", file, field),
                                   start, end, _notice_of(item, file, field, notices),
                                   _text(item, "note", file, field, required=False)))
    ranges.sort(key=lambda r: r.start)
    for before, after in pairwise(ranges):
        if after.start <= before.end:
            raise CalendarDataError(file, "holidays", f"ranges overlap: {before.name} "
                                    f"{before.start}..{before.end} and {after.name} "
                                    f"{after.start}..{after.end}", after.start,
                                    zh=f"放假时间重叠：{before.name} {before.start}—{before.end} 与 "
                                       f"{after.name} {after.start}—{after.end}")
    return ranges


def _makeup_workdays(doc: dict, file: str, year: int, notices: dict[str, Notice],
                     off_days: set[date]) -> list[MakeupWorkday]:
    makeups: list[MakeupWorkday] = []
    seen: set[date] = set()
    raw = _list(doc, "makeup_workdays", file, "required list is missing (write [] if none)")
    for i, item in enumerate(raw):
        field = f"makeup_workdays[{i}]"
        item = _mapping(item, file, field)
        day = _own_year(_date(item.get("date"), file, f"{field}.date"), year, file, f"{field}.date")
        _check_makeup_day(day, file, f"{field}.date", off_days, seen)
        seen.add(day)
        makeups.append(MakeupWorkday(day, _festival(item, file, field), _text(item, "name", file, field),
                                     _notice_of(item, file, field, notices)))
    makeups.sort(key=lambda m: m.day)
    return makeups


def _check_makeup_day(day: date, file: str, field: str, off_days: set[date], seen: set[date]) -> None:
    if day.weekday() < 5:
        raise CalendarDataError(file, field, "a make-up working day (调休上班) must be a "
                                f"Saturday or Sunday, this is 星期{WEEKDAY_ZH[day.weekday()]}", day,
                                zh=f"调休上班日应为星期六或星期日，{day.isoformat()} 是星期{WEEKDAY_ZH[day.weekday()]}")
    if day in off_days:
        raise CalendarDataError(file, field, "make-up working day lies inside a holiday range", day,
                                zh=f"{day.isoformat()} 在放假时间之内，不能同时是调休上班日")
    if day in seen:
        raise CalendarDataError(file, field, "make-up working day listed twice", day,
                                zh=f"{day.isoformat()} 重复填写")


def load_year_file(path: str | Path, expected_year: int | None = None) -> YearData:
    """Read and validate one YAML file. ``expected_year`` defaults to the one in its name."""
    path = Path(path)
    if expected_year is None:
        match = FILE_NAME.match(path.name)
        expected_year = int(match.group(1)) if match else None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarDataError(path, "(file)", f"cannot read: {exc.strerror or exc}", zh="文件无法读取") from exc
    return parse_year_text(text, path, expected_year)


def parse_year_text(text: str, source: str | Path, expected_year: int | None = None) -> YearData:
    """Validate one year's YAML text (a file's, or what the administrator entered or uploaded)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarDataError(source, "(file)", f"not valid YAML: {exc}", zh="文件不是有效的 YAML") from exc
    return parse_year(raw, source, expected_year)


def year_files(directory: str | Path) -> dict[int, Path]:
    """The ``YYYY.yaml`` files of a calendar directory, by year (other files are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    found = {}
    for path in directory.iterdir():
        match = FILE_NAME.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def load_directory(directory: str | Path) -> dict[int, YearData]:
    """Validate every year file of ``directory``; the first invalid file raises."""
    return {year: load_year_file(path, year) for year, path in year_files(directory).items()}


def validate_directory(directory: str | Path) -> list[CalendarDataError]:
    """Every problem in ``directory`` (one per invalid file), for `flask calendar check`."""
    problems = []
    for year, path in year_files(directory).items():
        try:
            load_year_file(path, year)
        except CalendarDataError as exc:
            problems.append(exc)
    return problems
