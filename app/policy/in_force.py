"""The profile in force: the shipped YAML file with the administrator's changes (PolicyOverride
rows, app/policy/changes.py) applied, validated by the same `parse_profile` as the file.

Read through a short-lived cache: a deadline is computed on every step, so the rows are looked
at no more than once per RECHECK_SECONDS; a change saved in this process is seen at once, one
saved by another web host or scheduler within that time."""
from __future__ import annotations

import copy
import threading
import time

import yaml
from flask import current_app, has_app_context
from sqlalchemy import select

from app.extensions import db
from app.policy.models import PolicyOverride
from app.policy.profiles import (
    DEFAULT_PROFILE,
    KEY,
    Policy,
    PolicyError,
    load_profile,
    parse_profile,
    profile_dir,
)

RECHECK_SECONDS = 2.0
_cache: dict[str, tuple[float, tuple, Policy]] = {}
_lock = threading.Lock()


def active_policy() -> Policy:
    """The profile named by config POLICY_PROFILE (default nantong), as in force."""
    key = current_app.config.get("POLICY_PROFILE", DEFAULT_PROFILE) if has_app_context() else DEFAULT_PROFILE
    return in_force(key)


def resolve_policy(policy: Policy | str | None) -> Policy:
    if policy is None:
        return active_policy()
    if isinstance(policy, str):
        return in_force(policy)
    return policy


def file_document(key: str) -> dict:
    """The profile file as parsed YAML (validated: a bad file raises PolicyError)."""
    load_profile(key)
    path = profile_dir() / f"{key}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def with_changes(document: dict, changes: dict[tuple[str, str], dict]) -> dict:
    """The document with each (section, name) entry replaced by its changed item."""
    changed = copy.deepcopy(document)
    for (section, name), item in changes.items():
        changed.setdefault(section, {})[name] = dict(item)
    return changed


def overrides(key: str) -> list[PolicyOverride]:
    return list(db.session.scalars(select(PolicyOverride).where(PolicyOverride.profile_key == key)
                                   .order_by(PolicyOverride.id)))


def in_force(key: str) -> Policy:
    """The file's profile with its changes; outside an app (no database) the file alone."""
    base = load_profile(key)  # re-read when the file changes; validates the key
    if not has_app_context() or not KEY.match(key):
        return base
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < RECHECK_SECONDS and cached[2].source == base.source:
        return cached[2]
    rows = overrides(key)
    signature = (id(base), tuple((r.id, r.changed_at) for r in rows))
    if cached is not None and cached[1] == signature:
        policy = cached[2]
    elif not rows:
        policy = base
    else:
        changes = {(r.section, r.name): r.item for r in rows}
        try:
            policy = parse_profile(with_changes(file_document(key), changes), base.source, expected_key=key)
        except PolicyError:  # a shipped file changed under saved rows: the file stands, the log says why
            current_app.logger.exception("policy changes for %s no longer fit the profile file", key)
            policy = base
    with _lock:
        _cache[key] = (now, signature, policy)
    return policy


def forget() -> None:
    """Drop the cache (after a change is committed; between tests)."""
    with _lock:
        _cache.clear()
