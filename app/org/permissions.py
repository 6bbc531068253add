"""Who may see and do what — the one place these rules live (SPEC §7).

A department never sees another department's drafts, grants, applications or tasks beyond
what its role and grants allow. Web and API both call these functions; neither decides alone.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from flask_smorest import abort as smorest_abort
from sqlalchemy import Select, and_, or_, select

from app.catalog.models import CatalogEntry, Grant, PublishState
from app.errors import Forbidden
from app.extensions import db
from app.org.models import Role, User

__all__ = ["Forbidden"]  # raised by the checks here; web and API turn it into 403


def is_office_member(user: User) -> bool:
    return bool(user.department and user.department.is_office)


def is_admin(user: User) -> bool:
    return user.has_role(Role.ADMINISTRATOR)


def require_role(user: User, *roles: Role) -> None:
    if not any(user.has_role(r) for r in roles):
        raise Forbidden("没有执行此操作的权限")


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


def can_manage_org(user: User) -> bool:
    return is_admin(user)


def get_visible(model, object_id: int, may_view) -> object:
    """Load one object for `current_user`: 404 when missing, 403 when another department's."""
    return visible_or_abort(db.session.get(model, object_id), may_view)


def visible_or_abort(obj, may_view, *, missing: str | None = None, forbidden: str | None = None):
    """`obj` (None when not found) if `current_user` may see it: else 404, or 403 when another
    department's. The messages are for the API's error body; a page shows its own text."""
    if obj is None:
        _refuse(404, missing)
    if not may_view(current_user, obj):
        _refuse(403, forbidden)
    return obj


def _refuse(code: int, message: str | None) -> None:
    if message:
        smorest_abort(code, message=message)
    abort(code)


def ensure(allowed: bool) -> None:
    """Abort with 403 (web/API) when a check fails."""
    if not allowed:
        abort(403)


# ---- workflow tasks and share applications (SPEC §1: candidate group = department + role) ----

def in_candidate_group(user: User, task) -> bool:
    """`user` belongs to the task's candidate group (the same rule as the engine's inbox query)."""
    if task.candidate_department_id is None and task.candidate_role is None:
        return False
    if task.candidate_department_id is not None and task.candidate_department_id != user.department_id:
        return False
    return task.candidate_role is None or task.candidate_role in {r.value for r in user.roles}


def can_claim_task(user: User, task) -> bool:
    return in_candidate_group(user, task)


def can_act_on_task(user: User, task) -> bool:
    """Complete or delegate: the assignee, or a member of the candidate group."""
    return task.assignee_id == user.id or in_candidate_group(user, task)


def can_release_task(user: User, task) -> bool:
    return task.assignee_id is not None and task.assignee_id == user.id


def can_delegate_task(user: User, task, target: User) -> bool:
    """Delegation stays inside the department and the candidate role (SPEC §1)."""
    return (target.active and target.id != user.id
            and target.department_id == (task.candidate_department_id or user.department_id)
            and (task.candidate_role is None or task.candidate_role in {r.value for r in target.roles}))


def can_view_task(user: User, task) -> bool:
    return (task.assignee_id == user.id or task.completed_by == user.id
            or in_candidate_group(user, task) or is_office_member(user))


def visible_applications(user: User, stmt: Select) -> Select:
    """Applicant's and provider's departments see an application; the office sees all.
    A draft is seen by the drafting (applicant's) department only — not the provider, not the office."""
    from app.flows.models import Application, ApplicationStatus

    own = Application.applicant_department_id == user.department_id
    submitted = Application.status != ApplicationStatus.DRAFT.value
    if is_office_member(user):
        return stmt.where(or_(own, submitted))
    return stmt.where(or_(own, and_(submitted, Application.provider_department_id == user.department_id)))


def can_view_application(user: User, application) -> bool:
    if application.is_draft:
        return application.applicant_department_id == user.department_id
    return (is_office_member(user) or application.applicant_department_id == user.department_id
            or application.provider_department_id == user.department_id)


def can_edit_draft(user: User, application) -> bool:
    """Save, submit or delete a draft: an applicant of the drafting department."""
    return application.applicant_department_id == user.department_id and user.has_role(Role.APPLICANT)


def _case_party_condition(user: User):
    """A case concerns a department that asked, that must act, whose grant it is about, or —
    for a revocation — that holds a grant of the entry (南通 art. 16: subscribers are told)."""
    from app.flows.models import Case

    dept = user.department_id
    held = select(Grant.entry_id).where(Grant.grantee_department_id == dept)
    own_grants = select(Grant.id).where(Grant.grantee_department_id == dept)
    return or_(Case.requester_department_id == dept, Case.department_id == dept,
               Case.grant_id.in_(own_grants), and_(Case.flow == "revocation", Case.entry_id.in_(held)))


def visible_cases(user: User, stmt: Select) -> Select:
    """Case flows (revocation, demand, rectification …): the parties' departments; the office sees all."""
    if is_office_member(user):
        return stmt
    return stmt.where(_case_party_condition(user))


def can_view_case(user: User, case) -> bool:
    from app.flows.models import Case

    if is_office_member(user):
        return True
    return db.session.scalar(select(Case.id).where(Case.id == case.id, _case_party_condition(user))) is not None
