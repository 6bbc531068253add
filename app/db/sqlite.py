"""The embedded SQLite database: its pragmas, and (opt-in) WAL checkpoints off the request path.

Every connection enforces foreign keys and uses WAL, so readers never block the writer and a
commit costs one sync instead of two.

In WAL mode a commit appends pages to the log; every so often the pages are copied back into
the database file (a checkpoint), which also syncs the file. SQLite runs that checkpoint
inside whichever commit crosses the threshold, so one user's step in a hundred paid several
milliseconds (bench/engine_bench.py). Here one daemon thread per process checkpoints every
database file it writes once a second instead (PASSIVE: it never blocks readers or writers),
and the commit-time threshold stays only as a backstop for bursts or a stalled thread. The
thread is opt-in (SQLITE_CHECKPOINT_THREAD, set by `make run`): tests and command-line tools
keep SQLite's own checkpointing and start no thread.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from functools import partial
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
# Pages (4 KB) the log may hold before a commit checkpoints anyway: ~40 MB.
BACKSTOP_PAGES = 10_000

# Database files this process writes, with their log's modification time at the last pass.
_files: dict[str, int] = {}
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _checkpoint(path: str) -> None:
    # A short-lived connection: the thread holds no file open between checkpoints; mode=rw
    # never creates a database that was removed meanwhile.
    connection = sqlite3.connect(f"{Path(path).as_uri()}?mode=rw", uri=True,
                                 isolation_level=None, timeout=5)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:  # busy now: try again next time
        log.debug("WAL checkpoint of %s skipped: %s", path, exc)
    finally:
        connection.close()


def _log_mtime(path: str) -> int:
    try:
        return os.stat(path + "-wal").st_mtime_ns
    except OSError:
        return 0


def _pass() -> None:
    with _lock:
        files = list(_files.items())
    for path, seen in files:
        if not os.path.exists(path):  # the database was removed (tests, benches)
            with _lock:
                _files.pop(path, None)
            continue
        written = _log_mtime(path)
        if written and written != seen:  # the log changed since the last pass
            _checkpoint(path)
            with _lock:
                _files[path] = _log_mtime(path)


def _run() -> None:
    while True:
        time.sleep(INTERVAL_SECONDS)
        try:
            _pass()
        except Exception:  # never let the thread die: commits would checkpoint at the backstop
            log.exception("WAL checkpoint pass failed")


def _on_connect(dbapi_connection, _record, *, checkpoint_thread: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    if checkpoint_thread:
        start_for(dbapi_connection)


def register(engine: Engine, *, checkpoint_thread: bool) -> None:
    """Put the pragmas (and, when asked, the checkpoint thread) on a SQLite engine's connections."""
    event.listen(engine, "connect", partial(_on_connect, checkpoint_thread=checkpoint_thread))


def start_for(dbapi_connection) -> None:
    """Hand checkpoints of this connection's database file to the background thread
    (in-memory databases have no log)."""
    global _thread
    row = dbapi_connection.execute("PRAGMA database_list").fetchone()
    path = row[2] if row else ""
    if not path:
        return
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    with _lock:
        _files.setdefault(path, -1)
        # After a fork the parent's thread does not exist in the child: start one there.
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, daemon=True, name="sqlite-checkpoint")
            _thread.start()
