"""Who may see and act on records (applications and cases) and their tasks (SPEC §1, §7): a department
never sees another department's drafts, applications or tasks beyond what its role allows."""
from __future__ import annotations

from sqlalchemy import Select, and_, or_, select, true

from app.catalog.models import Grant
from app.extensions import db
from app.flows.models import ApplicationStatus, Case
from app.org.models import Role, User
from app.org.permissions import is_office_member

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


def _party_condition(user: User):
    """A record concerns a department that asked, that must act (an application's provider),
    whose grant it is about, or — for a revocation — that holds a grant of the entry (南通
    art. 16: subscribers are told)."""
    dept = user.department_id
    held = select(Grant.entry_id).where(Grant.grantee_department_id == dept)
    own_grants = select(Grant.id).where(Grant.grantee_department_id == dept)
    return or_(Case.applicant_department_id == dept, Case.department_id == dept,
               Case.grant_id.in_(own_grants), and_(Case.flow == "revocation", Case.entry_id.in_(held)))


def _visible_condition(user: User):
    """The parties' departments see a record, the office sees all; a draft application is seen
    by the drafting (applicant's) department only — not the provider, not the office."""
    own = Case.applicant_department_id == user.department_id
    submitted = Case.status != ApplicationStatus.DRAFT.value
    return or_(own, and_(submitted, true() if is_office_member(user) else _party_condition(user)))


def visible_records(user: User, stmt: Select) -> Select:
    return stmt.where(_visible_condition(user))


def can_view_record(user: User, record: Case) -> bool:
    found = db.session.scalar(select(Case.id).where(Case.id == record.id, _visible_condition(user)))
    return found is not None


def can_edit_draft(user: User, application) -> bool:
    """Save, submit or delete a draft: an applicant of the drafting department."""
    return application.applicant_department_id == user.department_id and user.has_role(Role.APPLICANT)
