"""Every response carries a strict Content-Security-Policy, and no page needs an exception to it:
no inline script, no inline event handler, no `javascript:` URL — in the templates and in what the
pages (including the Swagger UI page at /api/docs) actually send. The browser half of this check
is tests/web/test_csp_browser.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import factories as f

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
REQUIRED = {
    "default-src": "'self'", "script-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
    "frame-ancestors": "'none'", "form-action": "'self'", "img-src": "'self' data:",
}
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = (d.strip().split(None, 1) for d in header.split(";") if d.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def _no_inline_code(html: str, where: str) -> None:
    assert not INLINE_SCRIPT.search(html), f"{where}: inline <script>: {INLINE_SCRIPT.search(html).group(0)}"
    assert not EVENT_HANDLER.search(html), f"{where}: inline event handler: {EVENT_HANDLER.search(html).group(0)}"
    assert not JS_URL.search(html), f"{where}: javascript: URL"


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_templates_hold_no_inline_script(template):
    _no_inline_code((TEMPLATES / template).read_text(encoding="utf-8"), template)


def _check(response, path: str) -> None:
    policy = _policy(response)
    for directive, value in REQUIRED.items():
        assert policy.get(directive) == value, f"{path}: {directive} is {policy.get(directive)!r}"
    assert "'unsafe-inline'" not in policy.get("style-src", "") and "style-src" in policy, path
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], path
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"  # the same as frame-ancestors 'none'
    if response.mimetype == "text/html":
        _no_inline_code(response.get_data(as_text=True), path)


def test_signed_out_pages_and_errors_carry_the_policy(client):
    for path, status in (("/sign-in", 200), ("/no-such-page", 404), ("/api/docs", 200),
                         ("/api/openapi.json", 200), ("/api/me", 401)):
        response = client.get(path)
        assert response.status_code == status, path
        _check(response, path)


def test_the_api_docs_page_loads_swagger_ui_from_files(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert re.search(r'<script src="/static/js/api-docs\.js"', html)
    assert client.get("/static/js/api-docs.js").status_code == 200


def test_signed_in_pages_carry_the_policy(client, flow, city, entries, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    task = flow.task(key, "formal_review")
    f.login(client, "dsj.reviewer")
    for path in ("/", "/tasks/", f"/tasks/{task['id']}", f"/applications/{key}", "/catalog/",
                 f"/catalog/{entries.conditional.id}", "/calendar/2026", "/notifications/", "/cases/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _check(response, path)
