"""The background WAL checkpointer moves committed pages into the database file, only when
the log changed, and forgets removed databases."""
from __future__ import annotations

import os
import sqlite3

from app import sqlite_checkpoint


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
