"""The calendar in use: where its data lives, caching, loading a new year, administrator alerts."""
from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from flask import current_app, has_app_context

from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.data import (
    YearData,
    load_directory,
    load_year_file,
    year_files,
)

REPO_CALENDAR_DIR = Path(__file__).resolve().parents[2] / "calendars"

_cache: dict[str, tuple[tuple, float, WorkingDayCalendar]] = {}
_RECHECK_SECONDS = 2.0
_cache_lock = threading.Lock()


def calendar_dir() -> Path:
    """``CALENDAR_DIR`` of the current app, else the repository's calendars/."""
    if has_app_context():
        return Path(current_app.config.get("CALENDAR_DIR") or REPO_CALENDAR_DIR)
    return REPO_CALENDAR_DIR


def _signature(directory: Path) -> tuple:
    """Changes whenever a year file is added, replaced or removed — also by another process
    (several web workers / schedulers share one CALENDAR_DIR)."""
    entries = []
    for year, path in year_files(directory).items():
        stat = path.stat()
        entries.append((year, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def get_calendar(directory: str | Path | None = None) -> WorkingDayCalendar:
    """The working-day calendar built from ``directory`` (default: calendar_dir()), cached and
    rebuilt when the directory's year files change (e.g. after `load_year`)."""
    directory = Path(directory) if directory is not None else calendar_dir()
    key = str(directory)
    cached = _cache.get(key)
    now = time.monotonic()
    # A deadline step asks several times; listing and stat-ing the directory each time would
    # cost more than the arithmetic. This process's `load_year` invalidates at once; a file
    # replaced by another process is seen within _RECHECK_SECONDS.
    if cached is not None and now - cached[1] < _RECHECK_SECONDS:
        return cached[2]
    signature = _signature(directory)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None or cached[0] != signature:
            cached = (signature, now, WorkingDayCalendar(load_directory(directory)))
        else:
            cached = (signature, now, cached[2])
        _cache[key] = cached
    return cached[2]


def invalidate_calendar(directory: str | Path | None = None) -> None:
    directory = Path(directory) if directory is not None else calendar_dir()
    target = directory.resolve()
    for key in list(_cache):  # cached under however callers spelled the path
        if Path(key).resolve() == target:
            _cache.pop(key, None)


def install_year_text(text: str, data: YearData, directory: str | Path | None = None) -> Callable[[], None]:
    """Install validated ``text`` as ``<CALENDAR_DIR>/<year>.yaml`` (replacing any previous file
    atomically) and drop the cached calendar. Returns an undo that puts the previous state back,
    for a caller whose recompute then fails (a load applies wholly or not at all)."""
    directory = Path(directory) if directory is not None else calendar_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{data.year}.yaml"
    previous = target.read_bytes() if target.exists() else None
    _write_atomically(target, text.encode("utf-8"))
    invalidate_calendar(directory)

    def undo() -> None:
        if previous is None:
            target.unlink(missing_ok=True)
        else:
            _write_atomically(target, previous)
        invalidate_calendar(directory)
    return undo


def _write_atomically(target: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_year(source: str | Path, directory: str | Path | None = None) -> YearData:
    """Validate the file ``source`` and install it as ``<CALENDAR_DIR>/<year>.yaml``.

    Callers that store deadlines then run `recompute_provisional(year)`; `loading.load_notice`
    does both (the command line and the administrator's page).
    """
    source = Path(source)
    data = load_year_file(source)  # the year is the document's own; a source named YYYY.yaml must agree
    install_year_text(source.read_text(encoding="utf-8"), data, directory)
    return data


def missing_years(today: date, directory: str | Path | None = None) -> list[int]:
    """Years an administrator must load: this year, and next year from November onwards
    (the notice usually appears in November–December, SPEC §3.6)."""
    loaded = set(year_files(directory if directory is not None else calendar_dir()))
    wanted = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    return [y for y in wanted if y not in loaded]


def provisional_alerts(today: date, directory: str | Path | None = None) -> list[str]:
    """Chinese messages for the administrators' pages (SPEC §3.6)."""
    alerts = []
    for year in missing_years(today, directory):
        message = f"{year}年节假日安排尚未加载，涉及{year}年的期限为临时计算结果"
        if year > today.year:
            message += f"；请在国务院办公厅发布《关于{year}年部分节假日安排的通知》后及时加载"
        alerts.append(message)
    return alerts
