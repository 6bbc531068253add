"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (what `make run` serves).

Time limits, in the order they act (app/limits.py explains the layers):
- REQUEST_TIME_LIMIT (30 s): the app's watchdog ends a request that overruns it with a 503,
  in any worker type — gthread's `timeout` below does not watch request threads;
- `timeout` (30 s, gunicorn's default): the arbiter kills a worker whose heartbeat stopped, i.e.
  one whose GIL a C call holds (e.g. a giant integer power: nothing in Python can interrupt
  that); the worker's main thread beats every second otherwise, whatever its requests do;
- `graceful_timeout` (request limit + 5 s): after SIGTERM a worker stops accepting, its
  in-flight requests finish or end with their 503 by their limit, then it exits; what is still
  running then is SIGKILLed by the arbiter. SIGTERM therefore ends gunicorn within
  graceful_timeout, and the database rolls back what a killed worker left open.
Override with GUNICORN_TIMEOUT / GUNICORN_GRACEFUL_TIMEOUT, WEB_CONCURRENCY (workers) and
GUNICORN_THREADS; the command line's own options win over this file.
"""
import os

_request_limit = float(os.environ.get("REQUEST_TIME_LIMIT") or 30)

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or _request_limit + 5)
accesslog = "-"


def post_worker_init(worker):
    """A request thread the watchdog cannot stop (stuck in C, not waiting on the database):
    the worker gives itself up — a graceful restart, the others' requests finishing first."""
    from app import limits

    limits.on_stuck = lambda _limit: limits.stop_process(worker.cfg.graceful_timeout)
