"""Grants (授权): issue, use, end. Whether a grant authorises use is decided here only."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from app.audit.log import record
from app.catalog.models import CatalogEntry, Grant, GrantStatus, PublishState
from app.clock import as_utc, to_local, utcnow
from app.db import transaction
from app.errors import Forbidden
from app.extensions import db
from app.legaltime.periods import add_months
from app.org.models import Department, User


class GrantRefused(Forbidden):
    """Use of a grant is refused (403); the message says why, in Chinese."""


def issue_grant(entry: CatalogEntry, grantee: Department, *, purpose: str, scope: str | None,
                valid_from: datetime, valid_until: datetime | None, authorised_by: str,
                authorised_by_user: User | None = None, business_key: str | None = None,
                items: list[str] | None = None) -> Grant:
    """Create an active grant; the caller's transaction commits it with the step that decided it."""
    # stored as UTC: SQLite keeps a datetime's wall time and drops its offset
    valid_from, valid_until = as_utc(valid_from), as_utc(valid_until) if valid_until is not None else None
    if valid_until is not None and valid_until <= valid_from:
        raise ValueError("授权截止时间必须晚于起始时间")
    grant = Grant(
        entry_id=entry.id, grantee_department_id=grantee.id, purpose=purpose, scope=scope,
        valid_from=valid_from, valid_until=valid_until, authorised_by=authorised_by,
        authorised_by_user_id=authorised_by_user.id if authorised_by_user else None,
        status=GrantStatus.ACTIVE.value, business_key=business_key, items=items,
    )
    db.session.add(grant)
    db.session.flush()
    record("grant.issued", "grant", grant.id, actor=authorised_by_user, after={
        "entry": entry.resource_code, "grantee": grantee.code, "purpose": purpose, "scope": scope,
        "valid_from": valid_from, "valid_until": valid_until, "authorised_by": authorised_by,
        "business_key": business_key, "items": items,
    })
    return grant


def refusal_reason(grant: Grant, at: datetime | None = None) -> str | None:
    """Why `grant` does not authorise use at `at` — None when it does."""
    at = at or utcnow()
    if grant.grantee.suspended:
        # 宝鸡 art. 29: a department that missed its rectification loses the right to use shared data
        return "使用部门已被暂停共享数据使用资格，整改完成并经主管部门解除后方可使用"
    if grant.entry.publish_state == PublishState.REVOKED.value:
        return "该资源已撤销发布，授权已终止"
    if grant.status != GrantStatus.ACTIVE.value:
        return {"expired": "授权已到期，请重新申请（南通细则第二十六条）",
                "withdrawn": "授权已被提供部门收回",
                "suspended": "授权已暂停"}.get(grant.status, "授权无效")
    if as_utc(grant.valid_from) > at:
        return "授权尚未生效"
    if grant.valid_until is not None and as_utc(grant.valid_until) <= at:
        # The expiry job may not have run yet; the period itself decides.
        return "授权已到期，请重新申请（南通细则第二十六条）"
    return None


def authorises(grant: Grant, at: datetime | None = None) -> bool:
    return refusal_reason(grant, at) is None


def record_use(grant: Grant, user: User) -> Grant:
    """Record one use of a grant (for the 3-month idle rule, 南通 art. 26); refused when invalid."""
    if user.department_id != grant.grantee_department_id:
        raise GrantRefused("只有被授权部门可以使用此授权")
    reason = refusal_reason(grant)
    if reason:
        raise GrantRefused(reason)
    with transaction():
        grant.last_used_at = utcnow()
        record("grant.used", "grant", grant.id, actor=user)
    return grant


def end_grant(grant: Grant, status: GrantStatus, reason: str, actor: User | None = None) -> None:
    """Expire, withdraw or suspend a grant (in the caller's transaction)."""
    if grant.status == status.value:
        return
    before = {"status": grant.status}
    grant.status = status.value
    record(f"grant.{status.value}", "grant", grant.id, actor=actor, before=before,
           after={"status": status.value, "reason": reason})


def expire_due_grants(now: datetime | None = None, on_expired: Callable[[Grant], None] | None = None) -> int:
    """End every active grant whose period is over (南通 art. 26: the user must re-apply);
    `on_expired(grant)` runs for each in the same transaction (the flows tell the holder)."""
    now = now or utcnow()
    due = db.session.scalars(select(Grant).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.valid_until.is_not(None), Grant.valid_until <= now,
    )).all()
    with transaction():
        for grant in due:
            end_grant(grant, GrantStatus.EXPIRED, "授权期限届满")
            if on_expired is not None:
                on_expired(grant)
    return len(due)


def idle_since(grant: Grant) -> datetime:
    """Since when a grant has been unused: its last use, or its start if never used."""
    return as_utc(grant.last_used_at or grant.valid_from)


def is_idle(since: datetime, months: int, now: datetime | None = None) -> bool:
    """Unused for longer than `months` months since `since` (南通 art. 26), by the Civil Code
    month rule on local dates: the period ends on the corresponding day `months` later
    (民法典 art. 202); the grant is idle from the day after."""
    return add_months(to_local(since).date(), months) < to_local(now or utcnow()).date()
