"""Who may see and do what (SPEC §7): the rules of roles and departments, and the checks that
load an object for the signed-in user. Each package keeps the rules of its own records —
catalogue entries and grants in app/catalog/permissions.py, applications, cases and tasks in
app/flows/permissions.py. Web and API both call these functions; neither decides alone.
"""
from __future__ import annotations

from flask_login import current_user

from app.errors import Forbidden, NotFound
from app.extensions import db
from app.org.models import Role, User


def is_office_member(user: User) -> bool:
    return bool(user.department and user.department.is_office)


def is_admin(user: User) -> bool:
    return user.has_role(Role.ADMINISTRATOR)


def require_role(user: User, *roles: Role) -> None:
    if not any(user.has_role(r) for r in roles):
        raise Forbidden("没有执行此操作的权限")


def can_manage_org(user: User) -> bool:
    return is_admin(user)


def get_visible(model, object_id: int, may_view) -> object:
    """Load one object for `current_user`: NotFound when missing, Forbidden when another
    department's (404 / 403 on pages and in the API, app/errors.py)."""
    return visible_or_abort(db.session.get(model, object_id), may_view)


def visible_or_abort(obj, may_view, *, missing: str = "记录不存在或已被删除",
                     forbidden: str = "无权查看其他部门的数据"):
    """`obj` (None when not found) if `current_user` may see it: else NotFound, or Forbidden
    when another department's."""
    if obj is None:
        raise NotFound(missing)
    if not may_view(current_user, obj):
        raise Forbidden(forbidden)
    return obj


def ensure(allowed: bool, message: str = "没有执行此操作的权限") -> None:
    """Forbidden (403) when a check fails."""
    if not allowed:
        raise Forbidden(message)




def may_read_audit_log(user: User) -> bool:
    """The office's supervisors read and check the whole log (宝鸡 arts. 21–22)."""
    return bool(is_office_member(user) and user.has_role(Role.SUPERVISOR))


def may_receive_usage_log(user: User, department_id: int) -> bool:
    """A department's usage log goes to the office's supervisors and to the department itself
    (宝鸡 art. 21: 使用日志 pushed to the providing and using departments), there to its
    approvers and administrators."""
    if may_read_audit_log(user):
        return True
    return user.department_id == department_id and (
        user.has_role(Role.PROVIDER_APPROVER) or user.has_role(Role.ADMINISTRATOR))
