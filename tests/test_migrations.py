"""`flask db upgrade` from empty builds the whole schema, and models and migrations agree."""
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect

from app.extensions import db
from tests.conftest import make_app, scratch_pg_database

_STATE_COMPRESSION = ("SELECT attcompression FROM pg_attribute WHERE attname = 'state' "
                      "AND attrelid = 'process_instance'::regclass")


def _diff(url: str, tmp_path_factory) -> list:
    application = make_app(url, tmp_path_factory)
    with application.app_context():
        upgrade()
        if db.engine.dialect.name == "postgresql":
            _assert_state_uses_lz4_where_available()
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(ctx, db.metadata)
        db.engine.dispose()
    return diff


def _assert_state_uses_lz4_where_available() -> None:
    from app.engine.models import LZ4_AVAILABLE

    with db.engine.connect() as conn:
        expected = "l" if conn.exec_driver_sql(LZ4_AVAILABLE).scalar() else ""
        assert conn.exec_driver_sql(_STATE_COMPRESSION).scalar() == expected


def test_tables_created_from_the_models_compress_state_like_the_migration(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("column compression is PostgreSQL's")
    _assert_state_uses_lz4_where_available()


def test_upgrade_from_empty_sqlite_matches_models(tmp_path, tmp_path_factory):
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}", tmp_path_factory) == []


def test_upgrade_from_empty_postgresql_matches_models(pg_database, tmp_path_factory):
    with scratch_pg_database("dsp_mig") as url:
        assert _diff(url, tmp_path_factory) == []


@pytest.mark.skipif(os.name != "posix", reason="uses the flask command")
def test_flask_db_check_command(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "FLASK_APP": "app:create_app"}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    check = subprocess.run([*flask, "db", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
