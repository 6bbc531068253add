"""An administrator changes the active profile's deadlines and switches from the browser: checked
as the profile file is checked (`parse_profile`), stored as PolicyOverride rows, audited, in
force for steps that start afterwards (a step's due date is fixed when it starts)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app.audit.log import record
from app.clock import utcnow
from app.db import transaction
from app.errors import Conflict
from app.extensions import db
from app.policy import in_force
from app.policy.models import PolicyOverride
from app.policy.profiles import DEADLINE_NAMES, SWITCH_NAMES, Policy, parse_profile

Entry = tuple[str, str]  # (section, name): ("deadlines", "provider_review"), ("switches", "formal_review")


@dataclass(frozen=True)
class Edit:
    section: str
    name: str
    before: dict
    after: dict


def items_of(policy: Policy) -> dict[Entry, dict]:
    """Every editable entry of a profile, as its file writes it."""
    items: dict[Entry, dict] = {}
    for name in DEADLINE_NAMES:
        rule = policy.deadlines[name]
        items["deadlines", name] = {"amount": rule.amount, "unit": rule.unit, "article": rule.article, "note": rule.note}
    for name in SWITCH_NAMES:
        switch = policy.switches[name]
        items["switches", name] = {"value": switch.value, "article": switch.article, "note": switch.note}
    return items


def proposed(key: str, items: dict[Entry, dict]) -> tuple[Policy, list[Edit]]:
    """The profile with `items` in force, and what differs from now. Raises PolicyError naming
    the field (deadlines.<name>.amount …) when an item breaks a rule of the profile format."""
    current = in_force.in_force(key)
    before = items_of(current)
    changed = {entry: item for entry, item in items.items() if before.get(entry) != item}
    document = in_force.with_changes(in_force.file_document(key), {**_saved(key), **changed})
    policy = parse_profile(document, current.source, expected_key=key)
    return policy, [Edit(s, n, before[s, n], item) for (s, n), item in changed.items()]


def _saved(key: str) -> dict[Entry, dict]:
    return {(r.section, r.name): r.item for r in in_force.overrides(key)}


def save(key: str, edits: list[Edit], actor) -> None:
    """Store the edits (one transaction, audited per entry); in force at once in this process."""
    rows = {(r.section, r.name): r for r in in_force.overrides(key)}
    try:
        _write(key, edits, rows, actor)
    except IntegrityError:  # another administrator saved the same entry first: nothing written
        raise Conflict("另一位管理员刚刚保存了同一项规定，请刷新后重试") from None
    in_force.forget()


def _write(key: str, edits: list[Edit], rows: dict[Entry, PolicyOverride], actor) -> None:
    with transaction():
        for edit in edits:
            row = rows.get((edit.section, edit.name))
            if row is None:
                row = PolicyOverride(profile_key=key, section=edit.section, name=edit.name)
                db.session.add(row)
            row.item, row.changed_by, row.changed_at = dict(edit.after), actor.id, utcnow()
            record("policy.changed", "policy_profile", f"{key}:{edit.section}.{edit.name}",
                   before=edit.before, after=edit.after, actor=actor)
