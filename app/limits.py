"""Time limits: every request, scheduler job and database statement ends within a known bound.

A BPMN step that spins, a statement waiting on a lock, a verb that never returns: whatever the
cause, the caller gets an answer (503 "系统繁忙，请稍后重试") within its limit, its transaction
is rolled back, and the process goes on serving. Three layers, each for what the others cannot
reach:

1. **The database ends its own statements.** Every PostgreSQL connection the app opens carries
   `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` as startup
   options (libpq `options=-c name=value`, see `engine_options`): no round trip per request,
   and they hold for every statement on the connection — the ORM's, the row batch's
   multi-statement queries on the raw DBAPI connection (app/db/rowbatch.py), the scheduler's
   lock connection. Being the session's defaults they survive a pool reset and `RESET ALL`.
   A statement the server ends reaches the caller as a DBAPIError (57014 query_canceled,
   55P03 lock_not_available, 25P03 idle_in_transaction_session_timeout; on SQLite
   "interrupted" or "database is locked"), which `init_app` maps to 503 after rolling back.

2. **A watchdog thread per process ends Python code that overruns.** gunicorn's gthread worker
   cannot do it: its `--timeout` watches the worker's main thread, which keeps beating while a
   request thread loops or waits. A request (`LimitedFlask.full_dispatch_request`) or
   scheduler job (`TimeLimit`) registers its deadline; when it passes, the watchdog
   a. cancels the statement running on each database connection the thread has checked out
      (psycopg `cancel_safe()`, bounded to 2 s; sqlite3 `interrupt()`; both made to be called
      from another thread; done under the watchdog's lock, which a connection's return to the
      pool takes too, so a cancel never reaches the next user of the connection). A thread
      waiting on the database gets 57014 and unwinds through the ordinary error path:
      rollback, 503, its connection back in the pool clean — it is given `GRACE` for that;
   b. raises `TimeLimitExceeded` in the thread (`PyThreadState_SetAsyncExc`) — but only while
      the thread is not inside code where an exception at an arbitrary bytecode could break
      state other threads share: stdlib lock handling (threading, queue, logging), the
      connection pool, SQLAlchemy's connection and session-transaction code, the database
      driver, this module (`_UNSAFE`); there it looks again a few milliseconds later.
      `TimeLimitExceeded` is a BaseException, like KeyboardInterrupt, so no `except
      Exception` (SpiffWorkflow's, a verb's, a loop's) swallows it; the engine's unit of work
      rolls back on BaseException; the request answers 503, and its session's connections are
      invalidated (closed, not pooled): after an interruption at an arbitrary point nothing
      says they are clean. Limits nest (a scheduler poll, and each timer step in it);
   c. repeats (a) and (b) every `GRACE` seconds while the thread stays in its limit;
   d. `STUCK_AFTER` seconds past the deadline gives the thread up (e.g. blocked in a C call
      that released the GIL — a socket read, a sleep — which takes no exception until it
      returns): logs its stack and calls `on_stuck` — in a gunicorn worker
      (gunicorn.conf.py) a graceful restart of the worker.

3. **gunicorn bounds the rest** (gunicorn.conf.py): `timeout` kills a worker whose heartbeat
   stops, which is what a C call holding the GIL (a giant integer power) does — no Python
   watchdog runs then; `graceful_timeout` (a little above the request limit, so in-flight
   requests end with their own 503 first) bounds SIGTERM before the arbiter's SIGKILL. The
   server rolls back the transactions of a killed worker's connections.

Asynchronous exceptions and safety: the exception class is raised at the thread's next check
of the eval loop (not inside a C call: a thread blocked in the driver is freed by (a)); `with`
on a C-level lock is safe in CPython 3.11 (no check between `__enter__` and the protected
block), explicit acquire()/try patterns are not — hence `_UNSAFE`. A limit's `stop()` drops an
exception raised but not yet delivered, so one never escapes into the next request; should it
land inside `stop()` itself, the caller's `except TimeLimitExceeded` calls `stop()` again.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType

from flask import Flask, request
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

GRACE = 1.0  # between two attempts to stop the same overrunning thread
STUCK_AFTER = 10.0  # past its deadline, a thread that is still running is given up
_RETRY = 0.02  # looking again at a thread that was in code not to interrupt


class TimeLimitExceeded(BaseException):
    """Raised in a thread whose time limit ran out (see the module docstring)."""


# ---------------------------------------------------------------- 1. database session settings

_PG_SETTINGS = (("statement_timeout", "DB_STATEMENT_TIMEOUT_MS"),
                ("lock_timeout", "DB_LOCK_TIMEOUT_MS"),
                ("idle_in_transaction_session_timeout", "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"))
# What a statement ended by the server (or by our own cancel) looks like.
_BUSY_SQLSTATES = frozenset({"57014", "55P03", "25P03"})
_SQLITE_BUSY = frozenset({"interrupted", "database is locked"})


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS with the PostgreSQL time limits as connection startup options
    (a limit of 0 is not sent: the server's or role's own setting applies). Options already in
    the URL or in connect_args come after ours, so an operator's explicit choice wins."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return options
    ours = " ".join(f"-c {name}={int(config[key])}" for name, key in _PG_SETTINGS
                    if int(config.get(key) or 0) > 0)
    if not ours:
        return options
    connect_args = dict(options.get("connect_args") or {})
    given = connect_args.get("options") or url.query.get("options")
    connect_args["options"] = f"{ours} {given}" if given else ours
    options["connect_args"] = connect_args
    return options


def is_busy(exc: BaseException) -> bool:
    """True for a statement the database ended: over its time limit, cancelled by the
    watchdog, or waiting too long for a lock — worth retrying, not a bug."""
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and str(orig) in _SQLITE_BUSY


# ---------------------------------------------------------------- 2. the watchdog

# Modules in which an asynchronous exception could leave shared state broken (see docstring).
_UNSAFE = ("threading", "queue", "logging", "importlib", "concurrent", "weakref",
           "sqlalchemy.pool", "sqlalchemy.util.queue", "sqlalchemy.util._concurrency_py3k",
           "sqlalchemy.event", "sqlalchemy.engine.base", "sqlalchemy.engine.default",
           "sqlalchemy.orm.session", "sqlalchemy.orm.unitofwork", "sqlalchemy.orm.persistence",
           "psycopg", "psycopg_pool", "sqlite3", "app.db.rowbatch", __name__)

# Called (in the watchdog thread) with a limit whose thread did not stop STUCK_AFTER seconds
# past its deadline; gunicorn.conf.py and `flask scheduler run` set `stop_process`. None: log only.
on_stuck: Callable[[TimeLimit], None] | None = None


class TimeLimit:
    """`with TimeLimit(seconds, what):` — the block is stopped by `seconds` with
    TimeLimitExceeded (its running statement cancelled first); 0 seconds: no limit. Catch it
    outside the block and call `stop()` there again (it may have landed before the block's own
    exit could stop the limit), then `discard_session()`. Limits nest: `expired` tells whether
    it was this one that ran out."""

    __slots__ = ("seconds", "what", "ident", "deadline", "boundary", "active", "expired",
                 "cancelled_at", "next_raise", "raised_at", "escalated")

    def __init__(self, seconds: float, what: str):
        self.seconds, self.what = float(seconds), what
        self.ident = 0
        self.deadline = 0.0
        self.boundary: FrameType | None = None
        self.active = self.expired = self.escalated = False
        self.cancelled_at: float | None = None  # the watchdog's last cancel of its statements
        self.next_raise = 0.0  # when the watchdog may next raise TimeLimitExceeded
        self.raised_at: float | None = None

    def __enter__(self) -> TimeLimit:
        _watchdog.start(self, sys._getframe(1))
        return self

    def __exit__(self, *_exc) -> bool:
        self.stop()
        return False

    def start(self) -> TimeLimit:
        _watchdog.start(self, sys._getframe(1))
        return self

    def stop(self) -> None:
        """End the limit (idempotent); an exception raised for it but not delivered yet is dropped."""
        _watchdog.stop(self)


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> int:
    value = ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(None)  # NULL: clear
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), value)


def _unsafe(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__") or ""
    return any(name == unsafe or name.startswith(unsafe + ".") for unsafe in _UNSAFE)


def _interruptible(frame: FrameType | None, boundary: FrameType | None) -> bool:
    """Whether no frame from the thread's current one up to the limit's start is in `_UNSAFE`
    (the frame that started the limit counts only while it is the current one: it may be
    stopping the limit)."""
    if frame is boundary:
        return frame is None or not _unsafe(frame)
    while frame is not None and frame is not boundary:
        if _unsafe(frame):
            return False
        frame = frame.f_back
    return True


def _cancel(dbapi_connection) -> None:
    """Cancel what runs on a connection, from another thread (a no-op when it is idle)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.interrupt()
        return
    info = getattr(dbapi_connection, "info", None)
    status = getattr(getattr(info, "transaction_status", None), "name", None)
    if status == "ACTIVE":  # psycopg: a statement is running
        dbapi_connection.cancel_safe(timeout=2.0)


class _Watchdog:
    def __init__(self):
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked worker gets its own thread

    def _reset(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.limits: dict[int, list[TimeLimit]] = {}  # thread ident -> its limits, outermost first
        self.held: dict[int, list] = {}  # thread ident -> pool entries it has checked out
        self.thread: threading.Thread | None = None
        self.wake_at: float | None = None  # None: waiting for a limit to start

    # -- called by the limited threads
    def start(self, limit: TimeLimit, boundary: FrameType) -> None:
        if limit.seconds <= 0:  # no limit
            return
        limit.ident = threading.get_ident()
        limit.boundary = boundary
        limit.deadline = time.monotonic() + limit.seconds
        with self.cond:
            self.limits.setdefault(limit.ident, []).append(limit)
            limit.active = True
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="time-limit-watchdog",
                                               daemon=True)
                self.thread.start()
            elif self.wake_at is None or limit.deadline < self.wake_at:
                self.cond.notify()

    def stop(self, limit: TimeLimit) -> None:
        with self.cond:
            if not limit.active:
                return
            limit.active = False
            limit.boundary = None
            stack = self.limits.get(limit.ident)
            if stack is not None and limit in stack:
                stack.remove(limit)
                if not stack:
                    del self.limits[limit.ident]
            if limit.raised_at is not None:
                _set_async_exc(limit.ident, None)

    def checked_out(self, record) -> None:
        ident = threading.get_ident()
        with self.cond:
            record.info[_HOLDER] = ident
            self.held.setdefault(ident, []).append(record)

    def checked_in(self, record) -> None:
        # Under the lock: a cancel in progress finishes before the connection can be reused.
        with self.cond:
            ident = record.info.pop(_HOLDER, None)
            held = self.held.get(ident)
            if held is not None:
                if record in held:
                    held.remove(record)
                if not held:
                    del self.held[ident]

    # -- the watchdog thread
    def _run(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                self.wake_at = self._look(now)
                timeout = None if self.wake_at is None else max(self.wake_at - time.monotonic(), 0.0)
                self.cond.wait(timeout)

    def _look(self, now: float) -> float | None:
        """Act on every thread past a deadline; return when to look next."""
        wake: list[float] = []
        frames = None
        for ident, stack in list(self.limits.items()):
            if frames is None:
                frames = sys._current_frames()
            if ident not in frames:  # the thread is gone (it cannot be without stop(); be sure)
                del self.limits[ident]
                self.held.pop(ident, None)
                continue
            overrun = next((limit for limit in stack if limit.deadline <= now), None)
            if overrun is None:
                wake.append(min(limit.deadline for limit in stack))
                continue
            for limit in stack:
                limit.expired = limit.expired or limit.deadline <= now
            wake.extend(self._stop(ident, overrun, frames[ident], stack[0].boundary, now))
        return min(wake) if wake else None

    def _stop(self, ident: int, overrun: TimeLimit, frame, boundary, now: float) -> list[float]:
        """One overrun limit: cancel its statements, raise in its thread once it can take an
        exception, escalate when it stays stuck. Returns when to look at it again."""
        interruptible = _interruptible(frame, boundary)
        if overrun.cancelled_at is None or now - overrun.cancelled_at >= GRACE:
            if overrun.cancelled_at is None:
                log.warning("%s: over its time limit of %gs, stopping it", overrun.what,
                            overrun.seconds)
            overrun.cancelled_at = now
            if self._cancel_statements(ident) and not interruptible:
                # Most likely waiting on the database: let it unwind from the cancelled
                # statement by the ordinary error path, which keeps its connection.
                overrun.next_raise = max(overrun.next_raise, now + GRACE)
        wake = [overrun.cancelled_at + GRACE]
        if now >= overrun.next_raise:
            if interruptible:
                overrun.raised_at = now
                overrun.next_raise = now + GRACE
                _set_async_exc(ident, TimeLimitExceeded)
            else:
                overrun.next_raise = now + _RETRY
        wake.append(overrun.next_raise)
        if not overrun.escalated:
            if now >= overrun.deadline + STUCK_AFTER:
                overrun.escalated = True
                self._give_up(overrun, frame)
            else:
                wake.append(overrun.deadline + STUCK_AFTER)
        return wake

    def _cancel_statements(self, ident: int) -> bool:
        """Cancel what runs on the thread's connections; False when it holds none."""
        held = [record.dbapi_connection for record in self.held.get(ident, ())]
        for connection in held:
            if connection is None:
                continue
            try:
                _cancel(connection)
            except Exception:
                log.warning("could not cancel the statement of a stopped thread", exc_info=True)
        return any(connection is not None for connection in held)

    def _give_up(self, limit: TimeLimit, frame: FrameType | None) -> None:
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(gone)\n"
        log.critical("%s: still running %gs after its time limit of %gs; stuck in:\n%s",
                     limit.what, STUCK_AFTER, limit.seconds, stack)
        if on_stuck is not None:
            try:
                on_stuck(limit)
            except Exception:
                log.exception("on_stuck failed")


_watchdog = _Watchdog()
_HOLDER = "time_limit_holder"


def _pool_checkout(_dbapi_connection, record, _proxy) -> None:
    _watchdog.checked_out(record)


def _pool_checkin(_dbapi_connection, record) -> None:
    _watchdog.checked_in(record)


def stop_process(graceful_timeout: float) -> None:
    """Give up a process that has a thread stuck beyond help (an `on_stuck`): SIGTERM to itself
    (a gunicorn worker stops taking requests, lets the others finish and is replaced by the
    arbiter; a `flask scheduler run` process ends for its supervisor to restart), then, should
    the stuck thread keep the interpreter from exiting, leave after `graceful_timeout`."""
    def leave() -> None:
        time.sleep(graceful_timeout)
        log.critical("process %s: exiting with a stuck thread", os.getpid())
        os._exit(70)

    log.critical("process %s: stopping (a thread is stuck past its time limit)", os.getpid())
    threading.Thread(target=leave, name="time-limit-exit", daemon=True).start()
    os.kill(os.getpid(), signal.SIGTERM)


# ---------------------------------------------------------------- 3. in the Flask app

class Busy(ServiceUnavailable):
    """503: the request ran out of time (its work rolled back); retrying later may succeed."""

    def __init__(self):
        super().__init__(_("系统繁忙，请稍后重试。"))
        self.data = {"message": self.description, "headers": {"Retry-After": "1"}}


class LimitedFlask(Flask):
    """Flask whose every request ends within REQUEST_TIME_LIMIT seconds (0: unlimited)."""

    def full_dispatch_request(self):
        seconds = self.config.get("REQUEST_TIME_LIMIT") or 0
        if seconds <= 0:
            return super().full_dispatch_request()
        limit = TimeLimit(seconds, f"request {request.method} {request.path}").start()
        try:
            try:
                return super().full_dispatch_request()
            finally:
                limit.stop()
        except TimeLimitExceeded:
            limit.stop()
            log.error("%s stopped after its time limit of %gs", limit.what, seconds, exc_info=True)
            discard_session()
            return self.finalize_request(busy_response(), from_error_handler=True)

    def wsgi_app(self, environ, start_response):
        try:
            return super().wsgi_app(environ, start_response)
        except TimeLimitExceeded:  # landed outside the dispatch (e.g. in a teardown)
            log.error("request stopped by its time limit after its answer was made", exc_info=True)
            return Response(_BARE_BUSY, 503, {"Retry-After": "1"},
                            content_type="text/plain; charset=utf-8")(environ, start_response)


_BARE_BUSY = "系统繁忙，请稍后重试。"


def discard_session() -> None:
    """After TimeLimitExceeded: close the session, invalidating its connections (closed, not
    pooled) — an interruption at an arbitrary point leaves nothing known to be clean."""
    from app.extensions import db

    try:
        db.session().invalidate()
    except Exception:
        log.warning("could not invalidate the session of a stopped thread", exc_info=True)


def busy_response():
    """The 503 page or JSON body, through the app's one HTTP error dispatcher (app/api)."""
    from flask import current_app

    try:
        response = current_app.make_response(current_app.handle_http_exception(Busy()))
    except Exception:  # e.g. the database itself is down: no page that needs it
        log.warning("503 page failed; answering in plain text", exc_info=True)
        response = Response(_BARE_BUSY, 503, content_type="text/plain; charset=utf-8")
    response.headers["Retry-After"] = "1"
    return response


def init_app(app: Flask) -> None:
    """Before the database extension is bound: connection settings, 503 mapping, pool tracking."""
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    if not event.contains(Pool, "checkout", _pool_checkout):
        event.listen(Pool, "checkout", _pool_checkout)
        event.listen(Pool, "checkin", _pool_checkin)

    @app.errorhandler(DBAPIError)
    def _database_busy(exc: DBAPIError):
        if not is_busy(exc):
            raise exc
        from app.extensions import db

        log.warning("%s %s: the database ended a statement (%s)", request.method, request.path,
                    str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
        db.session.rollback()
        return busy_response()
