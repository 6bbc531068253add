"""Administration pages: departments and accounts (SPEC §6, administrators only)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.catalog.queries import page_of
from app.extensions import db
from app.org.models import ROLE_LABELS, Department, User
from app.org.schemas import LEVELS, DepartmentIn, UserIn
from app.org.services import save_department, save_user
from app.validation import FieldErrors, load
from app.web.access import administrators_only
from app.web.errors import FORM_ERRORS_STATUS

admin = administrators_only(Blueprint("admin", __name__, url_prefix="/admin"))
PER_PAGE = 30


def _department_form() -> dict:
    form = {k: request.form.get(k, "").strip() for k in ("code", "name", "level")}
    form["parent_id"] = request.form.get("parent_id") or None
    form["is_office"] = request.form.get("is_office") == "y"
    return form


def _user_form() -> dict:
    form = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "department_id")}
    form["roles"] = request.form.getlist("roles")
    form["active"] = request.form.get("active") == "y"
    if request.form.get("password"):
        form["password"] = request.form["password"]
    return form


@admin.get("/departments")
def departments():
    rows = db.session.scalars(select(Department).order_by(Department.is_office.desc(), Department.code)).all()
    return render_template("admin/departments.html", departments=rows, levels=LEVELS)


@admin.route("/departments/new", methods=["GET", "POST"])
@admin.route("/departments/<int:department_id>", methods=["GET", "POST"])
def department_form(department_id: int | None = None):
    dept = db.get_or_404(Department, department_id) if department_id else None
    errors: dict = {}
    form = dept.audit_view() if dept else {"level": "municipal"}
    if request.method == "POST":
        form = _department_form()
        try:
            save_department(current_user, load(DepartmentIn(), form, partial=False), dept)
        except FieldErrors as exc:  # refused before anything was written
            errors = exc.errors
        else:
            flash(_("部门已保存"), "success")
            return redirect(url_for("admin.departments"))
    others = db.session.scalars(select(Department).where(Department.id != (department_id or 0))
                                .order_by(Department.code)).all()
    return render_template("admin/department_form.html", dept=dept, form=form, errors=errors,
                           levels=LEVELS, parents=others), FORM_ERRORS_STATUS


@admin.get("/users")
def users():
    page = page_of(select(User).order_by(User.username), request.args.get("page", 1, type=int), PER_PAGE)
    return render_template("admin/users.html", page=page,
                           role_labels=ROLE_LABELS)


@admin.route("/users/new", methods=["GET", "POST"])
@admin.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_form(user_id: int | None = None):
    account = db.get_or_404(User, user_id) if user_id else None
    errors: dict = {}
    form = account.audit_view() if account else {"active": True, "roles": []}
    if request.method == "POST":
        form = _user_form()
        try:
            save_user(current_user, load(UserIn(), form, partial=account is not None), account)
        except FieldErrors as exc:  # refused before anything was written
            errors = exc.errors
        else:
            flash(_("账号已保存"), "success")
            return redirect(url_for("admin.users"))
    depts = db.session.scalars(select(Department).order_by(Department.code)).all()
    return render_template("admin/user_form.html", account=account, form=form, errors=errors,
                           departments=depts, role_labels=ROLE_LABELS), FORM_ERRORS_STATUS
