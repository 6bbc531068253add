"""APScheduler jobs: fire due timers and refresh SLA states every N seconds, plus the
product's periodic jobs (register_periodic).

In-process: `start_scheduler(app)` (wsgi.py's `boot` starts it when SCHEDULER_ENABLED=1).
Separate process: `flask scheduler run` (blocking). Running several at once is safe: timer
claims never double-fire (see timers.py) and a periodic job runs in one process at a time.

Every job runs within SCHEDULER_JOB_TIME_LIMIT seconds (app/limits.py): one that overruns is
stopped, rolled back and logged, and the scheduler goes on with its next run.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text

from app import limits
from app.clock import utcnow
from app.extensions import db
from app.limits import TimeLimit, TimeLimitExceeded

log = logging.getLogger(__name__)
JOB_ID = "engine_timers"


def run_due_work(app, worker_id: str | None = None) -> tuple[int, int]:
    """One poll: fire due timers, then refresh SLA states. Returns (timers fired, tasks changed)."""
    from app.engine.timers import default_worker_id, fire_due_timers, refresh_sla_states

    with app.app_context():
        limit = _job_limit(app, JOB_ID)
        try:
            with limit:
                fired = fire_due_timers(worker_id=worker_id or default_worker_id())
                changed = refresh_sla_states()
            if fired or changed:
                log.info("engine poll: %s timers fired, %s SLA states changed", fired, changed)
            return fired, changed
        except TimeLimitExceeded:
            _stopped(limit)
            return 0, 0
        except Exception:
            log.exception("engine poll failed")
            db.session.rollback()
            return 0, 0
        finally:
            db.session.remove()


# Product jobs that run on the same schedulers (e.g. the daily idle-grant proposal):
# name -> (function(), interval in seconds). Registered at app start by the product packages.
PERIODIC_JOBS: dict[str, tuple[Callable[[], object], int]] = {}


def register_periodic(name: str, fn: Callable[[], object], every_seconds: int) -> None:
    PERIODIC_JOBS[name] = (fn, every_seconds)


def run_periodic(app, name: str) -> bool:
    """Run one periodic job; with several schedulers only one runs it at a time (a PostgreSQL
    advisory lock named after the job; SQLite has a single writer anyway). Returns True if run."""
    fn, _every = PERIODIC_JOBS[name]
    with app.app_context():
        limit = _job_limit(app, f"periodic:{name}")
        try:
            with limit, _job_lock(name) as acquired:
                if not acquired:
                    return False
                fn()  # commits its own units of work (app.db.transaction)
                return True
        except TimeLimitExceeded:
            _stopped(limit)
            return False
        except Exception:
            log.exception("periodic job %s failed", name)
            db.session.rollback()
            return False
        finally:
            db.session.remove()


def _job_limit(app, job: str) -> TimeLimit:
    return TimeLimit(app.config.get("SCHEDULER_JOB_TIME_LIMIT") or 0, f"scheduler job {job}")


def _stopped(limit: TimeLimit) -> None:
    limit.stop()  # again: the exception may have landed before the block's exit stopped it
    log.error("%s stopped after its time limit of %gs; its open transaction was rolled back",
              limit.what, limit.seconds, exc_info=True)
    limits.discard_session()


@contextlib.contextmanager
def _job_lock(name: str) -> Iterator[bool]:
    """The job's lock on PostgreSQL: session-level, on a connection of its own, so it holds
    across the commits a job makes (the idle-grant sweep commits each case it opens). The
    connection is in autocommit: it holds a lock, not a transaction, so it is never "idle in
    transaction" while the job runs (the server would end it)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        acquired = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                except BaseException:
                    conn.invalidate()  # closing the connection is what releases the lock then
                    raise


def _add_job(scheduler, app) -> None:
    scheduler.add_job(run_due_work, "interval", args=[app], id=JOB_ID, replace_existing=True,
                      seconds=int(app.config.get("SCHEDULER_INTERVAL_SECONDS", 15)),
                      max_instances=1, coalesce=True, next_run_time=utcnow())
    for name, (_fn, every) in PERIODIC_JOBS.items():
        scheduler.add_job(run_periodic, "interval", args=[app, name], id=f"periodic:{name}",
                          replace_existing=True, seconds=every, max_instances=1, coalesce=True,
                          next_run_time=utcnow())


def start_scheduler(app) -> BackgroundScheduler:
    """Start (once per app) a background scheduler thread polling for due work."""
    existing = app.extensions.get("engine_scheduler")
    if existing is not None:
        return existing
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_job(scheduler, app)
    scheduler.start()
    app.extensions["engine_scheduler"] = scheduler
    atexit.register(lambda: scheduler.shutdown(wait=False) if scheduler.running else None)
    return scheduler


def run_blocking(app) -> None:
    """Run the poll loop in the foreground until interrupted (`flask scheduler run`)."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add_job(scheduler, app)
    # A job thread stuck past its time limit: end the process for its supervisor to restart
    # (APScheduler would never run that job again while its one allowed instance hangs).
    limits.on_stuck = lambda _limit: limits.stop_process(5)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
