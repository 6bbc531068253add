"""The security headers every page carries (set in register_web)."""
from __future__ import annotations

# Every page: scripts and styles only from our own files (no inline script or event handler
# anywhere, tests/web/test_security_headers.py), no plugins, no <base>, never framed, forms
# post only to us; data: images are Swagger UI's and bpmn-js's icons.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "img-src 'self' data:",
))
