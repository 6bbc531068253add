"""gunicorn with gunicorn.conf.py (the gthread worker, as `make run` serves): a request looping
in Python ends with 503 at REQUEST_TIME_LIMIT although gthread's own timeout never watches
request threads, and SIGTERM ends gunicorn within its graceful timeout, the stuck request
answered first."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1.0
GRACEFUL = LIMIT + 5  # what gunicorn.conf.py derives


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 30) -> tuple[int, float]:
    began = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.monotonic() - began


@pytest.fixture()
def served(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "REQUEST_TIME_LIMIT": str(LIMIT), "SECRET_KEY": "test-secret",
           "SCHEDULER_ENABLED": "0", "WEB_CONCURRENCY": "1"}
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket",
         "--bind", f"127.0.0.1:{port}", "tests.serving.limits_wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if _get(f"{base}/api/probe/ok", timeout=1)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
        time.sleep(0.1)
    yield process, base
    if process.poll() is None:
        process.kill()
        process.wait()
    log.close()


def test_a_stuck_request_gets_503_and_sigterm_ends_gunicorn_within_its_grace(served):
    process, base = served
    status, took = _get(f"{base}/api/probe/spin")
    assert status == 503 and LIMIT <= took < LIMIT + 1.5, (status, took)
    assert _get(f"{base}/api/probe/ok")[0] == 200  # the worker goes on serving

    stuck: list = []
    request = threading.Thread(target=lambda: stuck.append(_get(f"{base}/api/probe/spin")))
    request.start()
    time.sleep(0.3)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=GRACEFUL + 5)
    exited = time.monotonic() - began
    request.join(timeout=5)
    assert stuck and stuck[0][0] == 503  # answered before the worker left
    assert exited < GRACEFUL, exited
