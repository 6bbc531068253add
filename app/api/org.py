"""Departments, users, and the caller's own account over REST."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from marshmallow import fields
from sqlalchemy import select

from app.api.common import api_blueprint
from app.api.docs import refuses
from app.errors import Forbidden
from app.extensions import db
from app.org.models import Department, User
from app.org.permissions import can_manage_org
from app.org.schemas import DepartmentIn, DepartmentPatch, UserIn, UserPatch
from app.org.services import issue_api_token, save_department, save_user
from app.validation import Schema

blp = api_blueprint("org_api", __name__, url_prefix="/api", description="部门与用户 / departments and users")



class DepartmentOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)
    is_office = fields.Boolean()
    suspended = fields.Boolean()


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    department_id = fields.Integer()
    active = fields.Boolean()
    roles = fields.Function(lambda u: sorted(r.value for r in u.roles))


class TokenOut(Schema):
    token = fields.String(metadata={"description": "只显示一次，请妥善保存"})


def _admin_only() -> None:
    if not can_manage_org(current_user):
        raise Forbidden("只有系统管理员可以管理部门和用户")


@blp.route("/departments")
class Departments(MethodView):
    @blp.response(200, DepartmentOut(many=True))
    def get(self):
        """All departments (everyone needs them to address applications)."""
        return db.session.scalars(select(Department).order_by(Department.code)).all()

    @refuses(403)
    @blp.arguments(DepartmentIn)
    @blp.response(201, DepartmentOut)
    def post(self, data):
        """Create a department — administrators only."""
        return save_department(current_user, data)


@blp.route("/departments/<int:department_id>")
class DepartmentDetail(MethodView):
    @refuses(403)
    @blp.arguments(DepartmentPatch(partial=True))
    @blp.response(200, DepartmentOut)
    def patch(self, data, department_id: int):
        """Change a department — administrators only."""
        return save_department(current_user, data, db.get_or_404(Department, department_id))


@blp.route("/users")
class Users(MethodView):
    @refuses(403)
    @blp.response(200, UserOut(many=True))
    def get(self):
        """All accounts — administrators only."""
        _admin_only()
        return db.session.scalars(select(User).order_by(User.username)).all()

    @refuses(403)
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    def post(self, data):
        """Create an account — administrators only."""
        return save_user(current_user, data)


@blp.route("/users/<int:user_id>")
class UserDetail(MethodView):
    @refuses(403)
    @blp.arguments(UserPatch(partial=True))
    @blp.response(200, UserOut)
    def patch(self, data, user_id: int):
        """Change an account — administrators only."""
        return save_user(current_user, data, db.get_or_404(User, user_id))


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserOut)
    def get(self):
        """The signed-in account."""
        return current_user


@blp.route("/me/token")
class MyToken(MethodView):
    @blp.response(201, TokenOut)
    def post(self):
        """Issue a new personal API token (the previous one stops working)."""
        return {"token": issue_api_token(current_user, current_user)}
