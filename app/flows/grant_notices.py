"""Telling a grant's holder its period is ending (issue: a grant ended without notice).

A daily job (registered in app/flows/__init__.py) tells the grantee department's applicants,
`grant_expiry_notice` working days (profile) before a grant's last day, that it ends and that
they must apply again to go on using the data (南通 art. 26); once per grant, audited. At the
end itself the flow's `expire_grant` verb, or the sweep for grants without a running flow,
tells them again.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.audit.log import record
from app.catalog.grants import expire_due_grants
from app.catalog.models import Grant, GrantStatus
from app.clock import to_local, utcnow
from app.db import transaction
from app.extensions import db
from app.legaltime import get_calendar
from app.legaltime.periods import deadline_text, last_day
from app.notifications.models import NotificationKind
from app.notifications.service import notify_group
from app.org.models import Role
from app.policy import active_policy


def _notice_day(grant: Grant, lead: int):
    return get_calendar().sub_working_days(last_day(grant.valid_until), lead).day


def notify_expiring_grants(now: datetime | None = None) -> int:
    """Tell the holders of grants whose notice day has come; the number told."""
    now = now or utcnow()
    lead, today = active_policy().grant_expiry_notice, to_local(now).date()
    candidates = _candidates(now)
    due = [g for g in candidates if _notice_day(g, lead) <= today]
    with transaction():
        for grant in due:
            grant.expiry_noticed_at = now
            notify_group(grant.grantee_department_id, Role.APPLICANT.value, NotificationKind.DECISION,
                         "授权即将到期",
                         f"{grant.entry.name}的共享授权（{grant.business_key or grant.id}）将于"
                         f"{deadline_text(grant.valid_until)}到期；如需继续使用，请及时重新申请（南通细则第二十六条）",
                         business_key=grant.business_key)
            record("grant.expiry_noticed", "grant", grant.id, after={"valid_until": grant.valid_until})
    return len(due)


def tell_expired(grant: Grant) -> None:
    """The grant's period is over: its holder is told, and that it may apply again."""
    notify_group(grant.grantee_department_id, Role.APPLICANT.value, NotificationKind.DECISION, "授权已到期",
                 f"{grant.entry.name}的共享授权（{grant.business_key or grant.id}）已于"
                 f"{deadline_text(grant.valid_until)}到期；如需继续使用，请重新申请（南通细则第二十六条）",
                 business_key=grant.business_key)


# A grant's own flow ends it at the instant its period ends (and tells its holder); the sweep
# takes only those still active this long after, whose flow no longer does (a cancelled
# instance, a parked timer), so nobody is told twice.
SWEEP_GRACE = timedelta(hours=1)


def expire_due_grants_and_tell(now: datetime | None = None) -> int:
    """The hourly sweep for grants whose flow no longer ends them: ended, and their holders told."""
    return expire_due_grants((now or utcnow()) - SWEEP_GRACE, on_expired=tell_expired)


def _candidates(now: datetime) -> list[Grant]:
    """Active grants with an end, not told yet, not over yet."""
    return list(db.session.scalars(select(Grant).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.valid_until.is_not(None), Grant.valid_until > now,
        Grant.expiry_noticed_at.is_(None))))
