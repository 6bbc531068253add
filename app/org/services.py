"""Departments and users: create and update, always with an audit row (SPEC §7)."""
from __future__ import annotations

from sqlalchemy import false, select, update

from app.audit.log import record
from app.db import transaction
from app.errors import Forbidden
from app.extensions import db
from app.org.auth import current_session_hash, end_sessions
from app.org.models import OFFICE_ONLY_ROLES, Department, Role, User, UserRole
from app.org.passwords import hash_password, new_api_token
from app.org.permissions import can_manage_org
from app.validation import FieldErrors

MIN_PASSWORD = 10


def _require_admin(actor: User | None) -> None:
    # actor None = the command line / seeding, which runs with operator rights
    if actor is not None and not can_manage_org(actor):
        raise Forbidden("只有系统管理员可以管理部门和用户")


def _unique(model, column, value, own_id, field: str, message: str) -> None:
    clash = db.session.scalar(select(model.id).where(column == value))
    if clash is not None and clash != own_id:
        raise FieldErrors({field: [message]})


def save_department(actor: User | None, data: dict, department: Department | None = None) -> Department:
    """Create (department None) or update a department; `data` is already schema-checked."""
    _require_admin(actor)
    dept = department or Department()
    before = department.audit_view() if department else None
    if "code" in data:
        _unique(Department, Department.code, data["code"], dept.id, "code", "部门代码已存在")
    if "name" in data:
        _unique(Department, Department.name, data["name"], dept.id, "name", "部门名称已存在")
    if data.get("parent_id") is not None and data["parent_id"] == dept.id:
        raise FieldErrors({"parent_id": ["上级部门不能是自己"]})
    if data.get("parent_id") is not None and db.session.get(Department, data["parent_id"]) is None:
        raise FieldErrors({"parent_id": ["上级部门不存在"]})
    if data.get("is_office"):
        other = db.session.scalar(select(Department.id).where(Department.is_office.is_(True)))
        if other is not None and other != dept.id:
            raise FieldErrors({"is_office": ["已存在主管部门，一个平台只有一个主管部门"]})
    with transaction():
        for key in ("code", "name", "level", "parent_id", "is_office"):
            if key in data:
                setattr(dept, key, data[key])
        db.session.add(dept)
        db.session.flush()
        record("org.department_updated" if before else "org.department_created", "department",
               dept.id, before=before, after=dept.audit_view(), actor=actor)
    return dept


def _check_roles(roles: list[str], department: Department) -> list[Role]:
    parsed = [Role(r) for r in roles]
    if not department.is_office and any(r in OFFICE_ONLY_ROLES for r in parsed):
        raise FieldErrors({"roles": ["主管部门审核人、监督、系统管理员角色只能授予主管部门的用户"]})
    return parsed


def _set_roles(account: User, roles: list[Role]) -> None:
    # Keep rows that stay: replacing them all would insert before deleting and hit the
    # (user, role) unique constraint.
    wanted = {r.value for r in roles}
    account.role_rows = [row for row in account.role_rows if row.role in wanted]
    have = {row.role for row in account.role_rows}
    account.role_rows.extend(UserRole(role=r) for r in sorted(wanted - have))


LAST_ADMINISTRATOR = "至少需要保留一名启用的系统管理员：请先将其他账号设为系统管理员"


def _keep_an_administrator(account: User, roles: list[Role], active: bool) -> None:
    """Refuse a change that would leave no active administrator (nobody could then manage
    accounts). Two administrators demoting each other at once go one after the other, and the
    second sees the first's change: PostgreSQL locks the administrators' rows (FOR UPDATE);
    SQLite has no row locks, so the database's write lock is taken before reading."""
    if not (account.id and account.active and account.has_role(Role.ADMINISTRATOR)):
        return
    if active and Role.ADMINISTRATOR in roles:
        return
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(User.__table__).where(false()).values(active=User.__table__.c.active))
    admins = db.session.scalars(
        select(User.id).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMINISTRATOR.value, User.active.is_(True))
        .order_by(User.id).with_for_update()).all()
    if not set(admins) - {account.id}:
        raise FieldErrors({"roles" if active else "active": [LAST_ADMINISTRATOR]})


def save_user(actor: User | None, data: dict, user: User | None = None) -> User:
    """Create (user None) or update an account; passwords are stored hashed only.

    A new password or deactivation ends the account's sessions (but the actor's own current
    one when it changes its own password); the last active administrator stays one.
    """
    _require_admin(actor)
    account = user or User()
    before = user.audit_view() if user else None
    if "username" in data:
        _unique(User, User.username, data["username"], account.id, "username", "用户名已存在")
    dept_id = data.get("department_id", account.department_id)
    department = db.session.get(Department, dept_id) if dept_id else None
    if department is None:
        raise FieldErrors({"department_id": ["部门不存在"]})
    if user is None and not data.get("password"):
        raise FieldErrors({"password": ["新用户必须设置密码"]})
    if data.get("password") and len(data["password"]) < MIN_PASSWORD:
        raise FieldErrors({"password": [f"密码至少 {MIN_PASSWORD} 位"]})
    roles = _check_roles(data.get("roles", [r.value for r in account.roles]), department)
    active = data.get("active", account.active if user else True)
    _keep_an_administrator(account, roles, active)
    with transaction():
        if user is not None and (data.get("password") or not active):
            own = actor is not None and actor.id == account.id and active
            end_sessions(account.id, keep=current_session_hash() if own else None)
        for key in ("username", "display_name", "department_id", "active"):
            if key in data:
                setattr(account, key, data[key])
        if data.get("password"):
            account.password_hash = hash_password(data["password"])
        _set_roles(account, roles)
        db.session.add(account)
        db.session.flush()
        record("org.user_updated" if before else "org.user_created", "user", account.id,
               before=before, after=account.audit_view(), actor=actor)
    return account


def issue_api_token(actor: User, user: User) -> str:
    """A new token replaces the old one; it is returned once and only its hash kept."""
    if actor.id != user.id:
        _require_admin(actor)
    with transaction():
        token, digest = new_api_token()
        user.api_token_hash = digest
        record("org.api_token_issued", "user", user.id, actor=actor)
    return token


# ---- suspension of the qualification to use shared data (宝鸡 art. 29; SPEC §4.4) -------------

def suspension_refusal(department: Department, action: str) -> str | None:
    """Why a suspended department may not `action` (e.g. "提出共享申请"); None when it may."""
    if not department.suspended:
        return None
    reason = f"（{department.suspended_reason}）" if department.suspended_reason else ""
    return f"本部门已被暂停共享数据使用资格{reason}，整改完成并经主管部门解除前不能{action}"


def suspend_department(department: Department, reason: str, actor: User | None = None) -> None:
    """Suspend a department's qualification to use shared data, in the caller's transaction.

    Its grants stop authorising use (app.catalog.grants.refusal_reason) and it cannot start
    applications or demands until `lift_suspension`.
    """
    before = department.audit_view()
    department.suspended = True
    department.suspended_reason = reason[:500]
    record("org.department_suspended", "department", department.id, before=before,
           after=department.audit_view(), actor=actor)


def lift_suspension(department: Department, note: str | None = None, actor: User | None = None) -> None:
    """Reinstate a suspended department (the office accepted its rectification)."""
    if not department.suspended:
        return
    before = department.audit_view()
    department.suspended = False
    department.suspended_reason = None
    after = department.audit_view()
    after["note"] = note
    record("org.suspension_lifted", "department", department.id, before=before, after=after, actor=actor)


def department_names() -> dict[int, str]:
    """Every department's name by id, in id order (lists and exports name departments by it)."""
    return dict(db.session.execute(select(Department.id, Department.name).order_by(Department.id)).all())
