"""A grant's holder is told before its period ends and when it has ended (南通 art. 26; issue:
a grant ended without notice) — the daily notice job and the hourly sweep, on a frozen clock."""
from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.catalog.grants import issue_grant
from app.catalog.models import Grant
from app.extensions import db
from app.flows.grant_notices import expire_due_grants_and_tell, notify_expiring_grants
from tests.factories import commit
from tests.flows.conftest import local


def _grant(entries, city) -> Grant:
    grant = issue_grant(entries.conditional, city.health, purpose="履职", scope="全部", valid_from=local(2026, 9, 1),
                        valid_until=local(2026, 10, 24), authorised_by="provider", business_key="SQ-2026-000009")
    commit()
    return grant  # last day: Friday 23 October


def _titles(flow, user) -> list[str]:
    return [n["title"] for n in flow.notifications(user)]


def test_the_holder_is_told_five_working_days_before_the_last_day_once(flow, entries, city, clock):
    grant = _grant(entries, city)
    clock.move_to(local(2026, 10, 15, 23, 0))  # Thursday: six working days before
    assert notify_expiring_grants() == 0
    clock.move_to(local(2026, 10, 16, 1, 0))  # Friday 16th: five working days before the 23rd
    assert notify_expiring_grants() == 1
    notes = [n for n in flow.notifications(city.health_applicant) if n["title"] == "授权即将到期"]
    assert len(notes) == 1 and "2026年10月23日 24:00" in notes[0]["body"] and "重新申请" in notes[0]["body"]
    assert notify_expiring_grants() == 0  # once
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_id == str(grant.id),
                                                              AuditEntry.action == "grant.expiry_noticed"))


def test_a_grant_the_sweep_ends_is_told_to_its_holder(flow, entries, city, clock):
    grant = _grant(entries, city)
    clock.move_to(local(2026, 10, 24, 0, 30))  # its own flow would have ended it by now
    assert expire_due_grants_and_tell() == 0
    clock.move_to(local(2026, 10, 24, 1, 5))
    assert expire_due_grants_and_tell() == 1
    assert db.session.get(Grant, grant.id).status == "expired"
    assert "授权已到期" in _titles(flow, city.health_applicant)
