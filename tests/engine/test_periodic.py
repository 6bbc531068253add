"""Periodic product jobs run on the scheduler, one process at a time."""
import hashlib

from sqlalchemy import create_engine, text

from app.engine.scheduler import PERIODIC_JOBS, register_periodic, run_periodic
from app.extensions import db
from tests.factories import commit


def test_a_periodic_job_runs_and_commits(app):
    calls = []
    register_periodic("test_job", lambda: calls.append(1), 60)
    try:
        assert run_periodic(app, "test_job") is True
        assert calls == [1]
    finally:
        PERIODIC_JOBS.pop("test_job")


def test_a_periodic_job_already_running_elsewhere_is_skipped(app):
    if app.config["BACKEND"] != "postgresql":
        return  # SQLite has a single writer; the advisory lock is PostgreSQL's
    calls = []
    register_periodic("test_job", lambda: calls.append(1), 60)
    key = int.from_bytes(hashlib.sha256(b"test_job").digest()[:8], "big", signed=True)
    other = create_engine(db.engine.url)
    try:
        with other.begin() as conn:  # another scheduler process holds the job's lock
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            assert run_periodic(app, "test_job") is False
        assert calls == []
        assert run_periodic(app, "test_job") is True
        assert calls == [1]
    finally:
        PERIODIC_JOBS.pop("test_job")
        other.dispose()


def test_the_lock_holds_across_the_commits_a_job_makes(app):
    if app.config["BACKEND"] != "postgresql":
        return  # SQLite has a single writer; the advisory lock is PostgreSQL's
    key = int.from_bytes(hashlib.sha256(b"test_job").digest()[:8], "big", signed=True)
    other = create_engine(db.engine.url)
    seen = []

    def job():
        commit()  # e.g. one case opened and committed; the next one follows
        with other.begin() as conn:  # another scheduler trying the same job now
            seen.append(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    register_periodic("test_job", job, 60)
    try:
        assert run_periodic(app, "test_job") is True
        assert seen == [False]
        with other.begin() as conn:  # released when the job is done
            assert conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
    finally:
        PERIODIC_JOBS.pop("test_job")
        other.dispose()


def test_the_product_registers_its_periodic_jobs(app):
    assert {"propose_idle_grants", "expire_due_grants"} <= set(PERIODIC_JOBS)
