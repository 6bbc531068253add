"""Input rules for departments and accounts, shared by the admin pages and the REST API."""
from __future__ import annotations

from marshmallow import fields, validate

from app.org.models import ROLE_LABELS, Role
from app.validation import Schema, choice, required_text

_ROLE_VALUES = [r.value for r in Role]
_ROLE_NAMES = {r.value: label for r, label in ROLE_LABELS.items()}
LEVELS = {"municipal": "市级", "district": "区县级"}


class DepartmentIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_\-]{2,32}$", error="部门代码只能包含字母、数字、_ 和 -，长度 2–32"))
    name = required_text(120)
    level = choice(list(LEVELS), LEVELS,
                   load_default="municipal")
    parent_id = fields.Integer(load_default=None, allow_none=True)
    is_office = fields.Boolean(load_default=False)


class DepartmentPatch(DepartmentIn):
    """Same rules; every field optional (a distinct name keeps the OpenAPI schemas apart)."""


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_.\-]{3,64}$", error="用户名只能包含小写字母、数字和 _ . -，长度 3–64"))
    display_name = required_text(64)
    department_id = fields.Integer(required=True)
    password = fields.String(load_only=True)
    active = fields.Boolean(load_default=True)
    roles = fields.List(choice(_ROLE_VALUES, _ROLE_NAMES), required=True,
                        validate=validate.Length(min=1, error="至少选择一个角色"))


class UserPatch(UserIn):
    """Same rules; every field optional."""


