"""Where a page may send the browser next: only to a path of this site."""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import url_for

MAX_NEXT = 2000


def _is_local_path(target: str) -> bool:
    """A path of ours: starts with one "/", names no scheme or host, and has no backslash,
    whitespace or control character. Browsers drop tab/CR/LF inside a URL and read "\\" as
    "/", so "/\\t/evil.example" or "/\\\\evil.example" would be followed to another site."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(c == "\\" or c.isspace() or unicodedata.category(c)[0] in "CZ" for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """`target` when it is a same-site relative path, else the home page; never raises.

    The check runs on the value and on each percent-decoded form of it too: "/%09/evil.example"
    is harmless as sent, but anything that decodes it once more makes it "//evil.example".
    """
    home = url_for("main.home")
    if not isinstance(target, str) or not 0 < len(target) <= MAX_NEXT:
        return home
    value = target
    while _is_local_path(value):
        decoded = unquote(value)  # invalid UTF-8 becomes U+FFFD: harmless, never an error
        if decoded == value:
            return target
        value = decoded  # shorter each round, so the loop ends
    return home
