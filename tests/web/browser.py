"""A real server and Debian's Chromium for the browser tests (no browser download).

The app runs in a background thread (werkzeug `make_server`, a random free port on 127.0.0.1)
on a fresh SQLite file: schema from `db.create_all()`, the demo city from `app.demo.seed.seed()`,
the flows from `deploy_directory(BPMN_DIR)` — what `make run` serves, minus the scheduler.
"""
from __future__ import annotations

import io
import os
import re
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server

from app import create_app
from app.clock import LOCAL_TZ
from app.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% sealed application letter (test)\n%%EOF\n"
DEMO_PASSWORD = "Demo@2026pass"


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


class LiveServer:
    def __init__(self, tmp: Path, **config):
        self.app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'browser.db'}",
            "SECRET_KEY": "browser-test-secret",
            "ATTACHMENT_DIR": str(tmp / "attachments"),
            "SCHEDULER_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            **config,
        })
        with self.app.app_context():
            from app.demo.seed import seed
            from app.engine import deploy_directory
            from app.flows import register_flows
            from app.sla import register_sla

            register_sla()

            register_flows(self.app)  # engine tests may have swapped script functions process-wide
            db.create_all()
            seed()
            deploy_directory(self.app.config["BPMN_DIR"])
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        with self.app.app_context():
            db.engine.dispose()

    @contextmanager
    def context(self):
        with self.app.app_context():
            yield
            db.session.remove()


# The browser tests run on a travelling clock from here: Wednesday 18 November 2026, 10:00.
STORY_START = datetime(2026, 11, 18, 10, 0, tzinfo=LOCAL_TZ)


def earlier_work(server: LiveServer) -> None:
    """Applications filed earlier, through the same services the pages call, so the provider's
    inbox holds an overdue, a due-soon and on-time reviews (10 wd each, 南通 art. 22)."""
    from sqlalchemy import select

    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask
    from app.flows.applications import start_application
    from app.flows.tasks import complete_task
    from app.org.models import User

    plan = [("rsj.applicant", "GA-001", datetime(2026, 10, 27, 10, 0), "社会保险参保资格核验"),   # due 10 Nov: overdue
            ("mzj.applicant", "GA-003", datetime(2026, 11, 5, 10, 0), "最低生活保障家庭车辆核查"),  # due 19 Nov: due soon
            ("zjj.applicant", "GA-001", datetime(2026, 11, 13, 10, 0), "住房保障申请人身份核验"),   # due 27 Nov
            ("swj.applicant", "GA-003", datetime(2026, 11, 16, 15, 0), "车船税征收管理")]          # due 30 Nov
    with server.context():
        reviewer = db.session.scalar(select(User).where(User.username == "dsj.reviewer"))
        for username, code, filed, purpose in plan:
            filed = filed.replace(tzinfo=LOCAL_TZ)
            with time_machine.travel(filed, tick=False):
                user = db.session.scalar(select(User).where(User.username == username))
                entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == code))
                letter = FileStorage(io.BytesIO(PDF), "申请函.pdf", content_type="application/pdf")
                application = start_application(user, entry, {
                    "entry_id": entry.id, "purpose": purpose, "requested_scope": f"{user.department.name}相关业务",
                    "items": [entry.items[0].name, entry.items[1].name],
                    "legal_basis": "《政务信息资源共享管理暂行办法》第十条",
                    "requested_valid_from": filed.date().isoformat(), "requested_valid_until": filed.date().replace(year=filed.year + 1).isoformat(),
                }, letter)
                review = db.session.scalar(select(HumanTask).where(
                    HumanTask.instance_id == application.instance_id, HumanTask.state == "ready"))
                complete_task(reviewer, review.id, {"decision": "accept"})


# Runs in the page: every input/select/textarea has a label; collects the interactive elements.
A11Y_SCRIPT = """
() => {
  const visible = el => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const problems = [];
  const describe = el => el.outerHTML.slice(0, 160);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const labelled = (el.labels && el.labels.length && [...el.labels].some(l => l.textContent.trim()))
      || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\\s+/).some(id => id && document.getElementById(id)
                                                               && document.getElementById(id).textContent.trim());
    if (!labelled) problems.push('no label: ' + describe(el));
  }
  let n = 0;
  const interactive = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')) {
    if ((el.type === 'hidden') || !visible(el) || el.disabled) continue;
    if (el.tabIndex < 0) { problems.push('not focusable: ' + describe(el)); continue; }
    if (el.tagName === 'A' || el.tagName === 'BUTTON') {
      const name = (el.textContent || '').trim() || el.getAttribute('aria-label') || el.title;
      if (!name) problems.push('no accessible name: ' + describe(el));
    }
    el.dataset.a11y = String(++n);
    interactive.push(el.dataset.a11y);
  }
  return {problems, interactive};
}
"""


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Session:
    """One user's browser tab; records every console error and uncaught page error."""

    def __init__(self, browser, server):
        self.server = server
        self.context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console: {msg.text} @ {self.page.url}"))
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc} @ {self.page.url}"))

    @contextmanager
    def expect_status(self, status: int):
        """A step that answers `status` on purpose (the 404 page is visited on purpose):
        Chromium logs that response as a console error; exactly that one is expected, nothing else."""
        before = len(self.errors)
        yield
        new, self.errors[before:] = self.errors[before:], []
        expected = [e for e in new if f"status of {status}" in e]
        assert len(expected) == 1, new
        self.errors.extend(e for e in new if e not in expected)

    def nav(self, name: str):
        self.page.get_by_role("navigation", name="主导航").get_by_role("link", name=re.compile(name)).click()

    def go(self, path: str):
        self.page.goto(self.server.url + path)
        return self.page

    def sign_in(self, username: str):
        page = self.go("/sign-in")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r".*/$"))
        return page

    def shot(self, name: str, full_page: bool = False) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture()
def session(browser, server):
    sessions = []

    def open_session(username: str | None = None) -> Session:
        s = Session(browser, server)
        sessions.append(s)
        if username:
            s.sign_in(username)
        return s

    yield open_session
    for s in sessions:
        s.close()
