"""`flask demo seed`: an idempotent demo city (departments, one user per role, catalogue)."""
from __future__ import annotations

from sqlalchemy import select

from app.audit.log import record
from app.catalog import labels
from app.catalog.models import CatalogEntry, PublishState
from app.catalog.services import create_entry
from app.clock import utcnow
from app.db import transaction
from app.demo import data as demo_data
from app.extensions import db
from app.org.models import Department, Role, User
from app.org.services import save_department, save_user

OFFICE_ROLES = {"reviewer": Role.OFFICE_REVIEWER, "supervisor": Role.SUPERVISOR,
                "admin": Role.ADMINISTRATOR}
DEPT_ROLES = {"applicant": Role.APPLICANT, "approver": Role.PROVIDER_APPROVER}
_ROLE_NAMES = {"reviewer": "审核员", "supervisor": "督查员", "admin": "管理员",
               "applicant": "经办人", "approver": "审核人"}


def _department(code: str, name: str, is_office: bool) -> Department:
    found = db.session.scalar(select(Department).where(Department.code == code))
    return found or save_department(None, {"code": code, "name": name, "is_office": is_office})


def _user(dept: Department, suffix: str, role: Role) -> User:
    username = f"{dept.code}.{suffix}"
    found = db.session.scalar(select(User).where(User.username == username))
    return found or save_user(None, {
        "username": username, "display_name": f"{dept.name.removeprefix('市')}{_ROLE_NAMES[suffix]}",
        "department_id": dept.id, "password": demo_data.DEMO_PASSWORD, "roles": [role.value],
    })


def _entry(approver: User, row: tuple) -> None:
    _dept, code, name, share_type, method, fmt, cycle, mode, items, extra = row
    if db.session.scalar(select(CatalogEntry.id).where(CatalogEntry.resource_code == code)):
        return
    with transaction():  # one entry per commit: a seed run again skips what it made
        entry = create_entry(approver, {
            "resource_code": code, "name": name, "share_type": share_type, "share_method": method,
            "resource_format": fmt, "update_cycle": cycle, "authorisation_mode": mode,
            "summary": f"{name}，由{approver.department.name}提供，{labels.UPDATE_CYCLE[cycle]}更新。",
            "items": [{"name": n, "data_type": t} for n, t in items], **extra,
        })
        before = entry.audit_view()
        entry.publish_state = PublishState.PUBLISHED.value
        entry.published_at = utcnow()
        record("catalog.entry_published", "catalog_entry", entry.id, before=before,
               after=entry.audit_view(), actor_name="demo-seed")


def seed() -> dict[str, int]:
    office = _department(*demo_data.OFFICE, is_office=True)
    for suffix, role in OFFICE_ROLES.items():
        _user(office, suffix, role)
    approvers: dict[str, User] = {}
    for code, name in demo_data.DEPARTMENTS:
        dept = _department(code, name, is_office=False)
        _user(dept, "applicant", Role.APPLICANT)
        approvers[code] = _user(dept, "approver", Role.PROVIDER_APPROVER)
    for row in demo_data.ENTRIES:
        _entry(approvers[row[0]], row)
    return {
        "departments": db.session.scalar(select(db.func.count(Department.id))),
        "users": db.session.scalar(select(db.func.count(User.id))),
        "entries": db.session.scalar(select(db.func.count(CatalogEntry.id))),
    }
