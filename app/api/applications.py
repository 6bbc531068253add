"""Conditional-share applications (SPEC §4.1) and grant use over REST."""
from __future__ import annotations

import contextlib

from flask import request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields
from sqlalchemy import func, select

from app.api import api_blueprint
from app.api.workflow_schemas import ApplicationDetailOut, ApplicationOut, GrantBrief
from app.catalog.grants import GrantRefused, record_use
from app.catalog.models import CatalogEntry, Grant
from app.extensions import db
from app.flows import applications as service
from app.flows.forms import ApplicationForm
from app.flows.models import Application
from app.org.permissions import can_view_application, can_view_grant, get_visible, visible_applications
from app.validation import Schema, choice

blp = api_blueprint("applications_api", __name__, url_prefix="/api",
                    description="有条件共享申请与授权使用 / share applications and grant use")

VIEWS = {"all": "全部可见", "mine": "我提交的", "department": "本部门申请的", "provided": "本部门提供的"}


class ApplicationQuery(Schema):
    view = choice(list(VIEWS), VIEWS, load_default="all")
    status = fields.String(metadata={"description": "按状态筛选"})


def _form_input() -> tuple[dict, object | None]:
    """JSON, or multipart with the sealed letter in the `letter` file field (南通 art. 20)."""
    if request.mimetype == "multipart/form-data":
        data = request.form.to_dict()
        data["items"] = request.form.getlist("items")
        return data, request.files.get("letter")
    return request.get_json(silent=True) or {}, None


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(ApplicationQuery, location="query", as_kwargs=True)
    @blp.response(200, ApplicationOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, view="all", status=None):
        """Applications you may see: `mine`, your `department`'s, those it `provided`, or `all`."""
        stmt = visible_applications(current_user, select(Application))
        if view == "mine":
            stmt = stmt.where(Application.applicant_user_id == current_user.id)
        elif view == "department":
            stmt = stmt.where(Application.applicant_department_id == current_user.department_id)
        elif view == "provided":
            stmt = stmt.where(Application.provider_department_id == current_user.department_id)
        if status:
            stmt = stmt.where(Application.status == status)
        pagination_parameters.item_count = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
        return db.session.scalars(stmt.order_by(Application.id.desc())
                                  .offset(pagination_parameters.first_item)
                                  .limit(pagination_parameters.page_size)).all()

    @blp.response(201, ApplicationDetailOut)
    @blp.doc(requestBody={"description": "JSON，或 multipart/form-data（letter 为盖章申请函扫描件）",
                          "content": {"application/json": {"schema": ApplicationForm},
                                      "multipart/form-data": {"schema": ApplicationForm}}})
    def post(self):
        """Submit an application: entry_id, purpose, scope, items, legal_basis, valid_from, valid_until.

        422 with field errors; 403 when you are not an applicant or your department is suspended.
        """
        data, letter = _form_input()
        entry = None
        with contextlib.suppress(TypeError, ValueError):
            entry = db.session.get(CatalogEntry, int(data.get("entry_id")))
        application = service.start_application(current_user, entry, data, letter)
        return service.view(application)


@blp.route("/applications/<string:business_key>")
class ApplicationDetail(MethodView):
    @blp.response(200, ApplicationDetailOut)
    def get(self, business_key: str):
        """State, current tasks, history timeline and grant of one application."""
        application = service.by_key(business_key)
        if application is None:
            abort(404, message=f"申请 {business_key} 不存在")
        if not can_view_application(current_user, application):
            abort(403, message="无权查看其他部门的申请")
        return service.view(application)


@blp.route("/grants/<int:grant_id>/use")
class GrantUse(MethodView):
    @blp.response(200, GrantBrief)
    def post(self, grant_id: int):
        """Record one use of a grant; refused (403) when expired, withdrawn or the department is suspended."""
        grant = get_visible(Grant, grant_id, can_view_grant)
        try:
            return record_use(grant, current_user)
        except GrantRefused as exc:
            db.session.rollback()
            abort(403, message=str(exc))
