"""The app as gunicorn serves it (wsgi.py without BPMN deploy), plus a route that loops in
Python, for tests/serving/test_gunicorn.py only."""
import time

from sqlalchemy import text

from app import create_app
from app.extensions import db

app = create_app()


@app.get("/api/probe/spin")
def spin():
    db.session.execute(text("SELECT 1"))
    end = time.monotonic() + 20  # bounded: without the watchdog the test fails, not hangs
    while time.monotonic() < end:
        pass
    return "finished"


@app.get("/api/probe/ok")
def ok():
    return "ok"
