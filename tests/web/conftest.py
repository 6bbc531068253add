"""Fixtures of the workplace tests: the conditional-share drivers of tests/flows (imported, so
they are fixtures here too) and the deployed flow. Browser tests (marked `browser`) use none of
these: they run their own server (tests/web/browser.py)."""
from __future__ import annotations

import pytest

from app.engine import deploy
from app.flows import register_flows
from app.sla import register_sla
from tests.flows.conftest import (  # noqa: F401  (fixtures)
    BPMN_FILE,
    calendars_without_2027,
    cases,
    clock,
    entries,
    flow,
    profile,
    second,
)
from tests.web.browser import browser, session  # noqa: F401  (fixtures of the browser tests)


@pytest.fixture()
def deployed(app):
    register_sla()
    register_flows(app)  # engine tests may have swapped the script functions process-wide
    deploy(BPMN_FILE)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian's Chromium through Playwright (tests/web/browser.py)")


@pytest.fixture()
def no_csrf(app):
    """Form posts without a CSRF token for this test only (the setting is the app's, shared by
    every test of the backend: it is put back)."""
    before = app.config.get("WTF_CSRF_ENABLED", True)
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = before
