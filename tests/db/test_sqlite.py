"""SQLite's connection settings, and the opt-in background WAL checkpointer: it moves committed
pages into the database file, only when the log changed, and forgets removed databases."""
from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import text

from app.db import sqlite as sqlite_checkpoint
from app.extensions import db


def _database(tmp_path):
    path = str(tmp_path / "wal.db")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    sqlite_checkpoint.start_for(connection)
    connection.execute("CREATE TABLE t (x TEXT)")
    for _ in range(50):
        connection.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    return path, connection


def test_application_connections_get_the_backstop_threshold(tmp_path):
    path, connection = _database(tmp_path)
    assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == sqlite_checkpoint.BACKSTOP_PAGES
    assert path in sqlite_checkpoint._files
    connection.close()


def test_a_pass_checkpoints_a_changed_log_once(tmp_path, monkeypatch):
    path, connection = _database(tmp_path)
    sqlite_checkpoint._pass()
    # The 50 rows now live in the database file itself. (The process's background thread may
    # have checkpointed part of the log already, so the file's size before says nothing.)
    assert os.path.getsize(path) > 50 * 4000
    calls = []
    monkeypatch.setattr(sqlite_checkpoint, "_checkpoint", calls.append)
    sqlite_checkpoint._pass()
    assert calls == []  # nothing written since
    connection.execute("INSERT INTO t VALUES ('y')")
    sqlite_checkpoint._pass()
    assert calls == [path]
    connection.close()


def test_a_removed_database_is_forgotten_and_not_recreated(tmp_path):
    path, connection = _database(tmp_path)
    connection.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    sqlite_checkpoint._pass()
    assert path not in sqlite_checkpoint._files and not os.path.exists(path)


def test_the_apps_connections_get_the_pragmas_and_no_thread_by_default(app):
    if app.config["BACKEND"] != "sqlite":
        pytest.skip("SQLite's settings")
    assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
    assert db.session.scalar(text("PRAGMA journal_mode")).lower() in ("wal", "memory")
    assert app.config["SQLITE_CHECKPOINT_THREAD"] is False
    assert db.engine.url.database not in sqlite_checkpoint._files  # not handed to the thread
