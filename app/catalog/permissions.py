"""Who may see and edit catalogue entries and grants (SPEC §7)."""
from __future__ import annotations

from sqlalchemy import Select, or_

from app.catalog.models import CatalogEntry, Grant, PublishState
from app.org.models import Role, User
from app.org.permissions import is_office_member


def visible_entries(user: User, stmt: Select) -> Select:
    """Restrict a catalogue query to what `user` may see.

    Published and revoked entries are public inside the platform; drafts only to their own
    department; entries under review also to the coordinating office, which reviews them
    (南通 art. 10).
    """
    own = CatalogEntry.provider_department_id == user.department_id
    public = CatalogEntry.publish_state.in_([PublishState.PUBLISHED.value, PublishState.REVOKED.value])
    if is_office_member(user):
        return stmt.where(or_(public, own, CatalogEntry.publish_state == PublishState.UNDER_REVIEW.value))
    return stmt.where(or_(public, own))


def can_view_entry(user: User, entry: CatalogEntry) -> bool:
    if entry.publish_state in (PublishState.PUBLISHED.value, PublishState.REVOKED.value):
        return True
    if entry.provider_department_id == user.department_id:
        return True
    return entry.publish_state == PublishState.UNDER_REVIEW.value and is_office_member(user)


def can_edit_entry(user: User, entry: CatalogEntry) -> bool:
    """Only the provider's approvers edit their entries, and only before publication."""
    return (
        entry.provider_department_id == user.department_id
        and user.has_role(Role.PROVIDER_APPROVER)
        and entry.publish_state in (PublishState.DRAFT.value, PublishState.UNDER_REVIEW.value)
    )


def visible_grants(user: User, stmt: Select) -> Select:
    """Grantee and provider see a grant; the office supervises all of them."""
    if is_office_member(user):
        return stmt
    return stmt.join(CatalogEntry, Grant.entry_id == CatalogEntry.id).where(
        or_(Grant.grantee_department_id == user.department_id,
            CatalogEntry.provider_department_id == user.department_id)
    )


def can_view_grant(user: User, grant: Grant) -> bool:
    return (
        is_office_member(user)
        or grant.grantee_department_id == user.department_id
        or grant.entry.provider_department_id == user.department_id
    )
