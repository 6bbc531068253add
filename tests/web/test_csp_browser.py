"""The Content-Security-Policy in a real browser (Debian's Chromium through Playwright): the pages
work under it — sign-in, a task page with its BPMN diagram, Swagger UI at /api/docs, the calendar —
and not one thing on them is refused. Every `securitypolicyviolation` event and every console
message about the policy fails the test; a deliberate inline script at the end shows the check
sees a violation when there is one."""
from __future__ import annotations

import re

import pytest

from tests.web.browser import Session
from tests.web.test_browser import server  # noqa: F401  (the story's server, a fixture)

pytestmark = pytest.mark.browser

# Installed before any script of the page runs: collects what the policy refused.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at '
                              + e.sourceFile + ':' + e.lineNumber + ' ' + (e.sample || ''));
});
"""


class PolicyWatch:
    def __init__(self, s: Session):
        self.session, self.page = s, s.page
        self.console: list[str] = []
        self.page.add_init_script(RECORD_VIOLATIONS)
        self.page.on("console", lambda msg: re.search(r"Content Security Policy|Refused to", msg.text)
                     and self.console.append(f"{msg.type}: {msg.text} @ {self.page.url}"))

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations") + self.console

    def assert_clean(self, where: str) -> None:
        found = self.violations()
        assert found == [], f"{where}: " + "\n".join(found)


@pytest.fixture()
def watched(browser, server):  # noqa: F811
    opened: list[Session] = []

    def open_watched() -> PolicyWatch:
        s = Session(browser, server)
        opened.append(s)
        return PolicyWatch(s)

    yield open_watched
    for s in opened:
        s.close()  # fails on any console error as well


def _task_with_diagram(server) -> int:  # noqa: F811
    from sqlalchemy import select

    from app.engine.models import HumanTask
    from app.extensions import db

    with server.context():
        return db.session.scalar(select(HumanTask.id).where(HumanTask.task_spec == "provider_review",
                                                           HumanTask.state == "ready").limit(1))


def test_pages_work_under_the_policy_without_a_single_violation(watched, server):  # noqa: F811
    watch = watched()
    page = watch.page
    response = page.goto(server.url + "/sign-in")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    watch.assert_clean("/sign-in")
    watch.session.sign_in("gaj.approver")
    watch.assert_clean("signed in")

    task_id = _task_with_diagram(server)
    page.goto(server.url + f"/tasks/{task_id}")
    page.wait_for_selector("#diagram.loaded")
    assert page.locator("#diagram .djs-element").count() > 3  # bpmn-js drew the flow
    page.get_by_label("不同意").check()  # app.js reveals the fields the decision needs
    assert page.get_by_label("不予共享的理由").is_visible()
    page.get_by_role("button", name="提交办理结果").click()
    assert page.locator("#confirm-dialog").is_visible()  # the confirmation dialog, from app.js
    page.keyboard.press("Escape")
    watch.assert_clean("task page")

    page.goto(server.url + "/api/docs")
    page.wait_for_selector(".swagger-ui .information-container .title")
    assert "政务信息资源共享审批平台 API" in page.locator(".swagger-ui .title").first.inner_text()
    page.locator(".opblock-summary").first.click()  # an operation opens: Swagger UI runs
    page.wait_for_selector(".opblock.is-open")
    watch.assert_clean("/api/docs")

    page.goto(server.url + "/calendar/2026")
    assert page.locator("table.cal-month").count() == 12
    watch.assert_clean("/calendar/2026")

    # The check itself: an inline script is refused, and that is seen.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.ran") is None
    assert any("script-src" in v for v in watch.violations())
    watch.console.clear()
    page.evaluate("window.__cspViolations = []")
    watch.session.errors.clear()  # the refusal's console error is the one expected
