"""Who the parties of a flow are, and telling them — shared by every flow's service verbs.

A party is a candidate group named in the instance data: `party → (data key of the department,
role)`. `grantees` is every department holding an active grant of the instance's `entry_id`
(南通 arts. 16, 29: subscribers are told of a revocation or a correction).
"""
from __future__ import annotations

from sqlalchemy import select

from app.catalog.models import Grant, GrantStatus
from app.extensions import db
from app.flows.models import PROCESS_ID
from app.notifications import notify_group
from app.notifications.models import NotificationKind
from app.org.models import Department, Role, User
from app.validation import FieldErrors

PARTY_ROLES = {
    "applicant": ("applicant_department_id", Role.APPLICANT.value),
    "provider": ("provider_department_id", Role.PROVIDER_APPROVER.value),
    "office": ("office_department_id", Role.OFFICE_REVIEWER.value),
    "grantee": ("grantee_department_id", Role.APPLICANT.value),
    "rectified": ("rectified_department_id", Role.PROVIDER_APPROVER.value),
}
GRANTEES = "grantees"


def link_for(process_id: str, business_key: str) -> str:
    """Where a notification points: the application page, or the generic case page."""
    if process_id == PROCESS_ID:
        return f"/applications/{business_key}"
    return f"/cases/{business_key}"


def grantee_department_ids(entry_id: int | None) -> list[int]:
    """Departments holding an active grant of the entry, in id order."""
    if entry_id is None:
        return []
    return list(db.session.scalars(select(Grant.grantee_department_id).where(
        Grant.entry_id == entry_id, Grant.status == GrantStatus.ACTIVE.value)
        .distinct().order_by(Grant.grantee_department_id)))


def tell(ctx, parties: str | list[str] | tuple[str, ...], title: str, body: str,
         kind: str = NotificationKind.DECISION, *, grantee_ids: list[int] | None = None) -> None:
    """Notify each party's candidate group, each group once (an objecting applicant is also
    a grantee of the entry).

    `grantee_ids` overrides who the `grantees` are (e.g. the grants a revocation just ended).
    """
    groups: dict[tuple[int, str], None] = {}  # ordered, without repeats
    for party in [parties] if isinstance(parties, str) else parties:
        if party == GRANTEES:
            ids = grantee_ids if grantee_ids is not None else grantee_department_ids(ctx.data.get("entry_id"))
            targets = [(dept_id, Role.APPLICANT.value) for dept_id in ids]
        else:
            key, role = PARTY_ROLES[party]
            targets = [(ctx.data.get(key), role)]
        groups.update((target, None) for target in targets if target[0] is not None)
    link = link_for(ctx.instance.process_id, ctx.business_key)
    for dept_id, role in groups:
        notify_group(dept_id, role, kind, title, body, link, ctx.business_key)


def actor_user(ctx) -> User | None:
    actor = ctx.actor
    return db.session.get(User, actor.user_id) if actor and actor.user_id else None


def office_department(field: str) -> Department:
    """The coordinating office; a field error on `field` when the platform has none yet."""
    office = db.session.scalar(select(Department).where(Department.is_office.is_(True)).order_by(Department.id))
    if office is None:
        raise FieldErrors({field: ["平台尚未配置主管部门，暂不能受理"]})
    return office
