"""Conditional-share applications (SPEC §4.1) and grant use over REST."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields

from app.api.common import api_blueprint, form_with_letter, paginated
from app.api.docs import refuses
from app.api.idempotency import CREATED_HEADERS, idempotency_doc, idempotent, prepared
from app.api.workflow_schemas import ApplicationDetailOut, ApplicationOut, GrantBrief
from app.catalog.grants import record_use
from app.catalog.models import CatalogEntry, Grant
from app.catalog.permissions import can_view_grant
from app.db import transaction
from app.extensions import db
from app.flows import application_actions as actions
from app.flows import applications as service
from app.flows import records
from app.flows.conditional_share import ApplicationDraftForm, ApplicationForm
from app.flows.models import PROCESS_ID, Application
from app.flows.permissions import can_view_record
from app.org.permissions import get_visible, visible_or_abort
from app.safe_input import as_id
from app.validation import Schema, choice

blp = api_blueprint("applications_api", __name__, url_prefix="/api",
                    description="有条件共享申请与授权使用 / share applications and grant use")

VIEWS = {"all": "全部可见", "mine": "我的申请（含草稿）", "department": "本部门申请的", "provided": "本部门提供的"}


class ApplicationQuery(Schema):
    view = choice(list(VIEWS), VIEWS, load_default="all")
    status = fields.String(metadata={"description": "按状态筛选；draft 为本部门的草稿"})


class DraftOut(ApplicationOut):
    letter_filename = fields.Function(lambda a: a.letter.filename if a.letter else None,
                                      metadata={"description": "已上传的盖章申请函文件名"})


def _entry(data: dict) -> CatalogEntry | None:
    entry_id = as_id(data.get("entry_id"))
    return db.session.get(CatalogEntry, entry_id) if entry_id else None


def _draft(draft_id: int) -> Application:
    """A draft of your department: 404 when missing, 403 when another department's, 409 once submitted."""
    draft = get_visible(Application, draft_id, can_view_record)
    if not draft.is_draft:
        abort(409, message="该申请已提交，不再是草稿")
    return draft


def _submitted(application: Application):
    """The 201 of a submitted application, read inside its transaction."""
    return prepared(ApplicationDetailOut(), records.view(application),
                    location=url_for(".ApplicationDetail", business_key=application.business_key))


def _draft_saved(draft: Application, status: int = 201):
    """A saved draft's answer, read inside its transaction (a new one's names it in `Location`)."""
    return prepared(DraftOut(), draft, status,
                    location=url_for(".DraftDetail", draft_id=draft.id) if status == 201 else None)


_DRAFT_BODY = {"description": "JSON，或 multipart/form-data（letter 为盖章申请函扫描件）",
               "content": {"application/json": {"schema": ApplicationDraftForm},
                           "multipart/form-data": {"schema": ApplicationDraftForm}}}


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(ApplicationQuery, location="query", as_kwargs=True)
    @blp.response(200, ApplicationOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, view="all", status=None):
        """Applications you may see: `mine`, your `department`'s, those it `provided`, or `all`.

        Drafts (status `draft`, no business key) are listed for the drafting department only.
        """
        stmt = records.listed(current_user, view, [PROCESS_ID], status)
        return paginated(stmt.order_by(Application.id.desc()), pagination_parameters)

    @refuses(403, 409)
    @blp.response(201, ApplicationDetailOut, headers=CREATED_HEADERS)
    @blp.doc(requestBody={"description": "JSON，或 multipart/form-data（letter 为盖章申请函扫描件）",
                          "content": {"application/json": {"schema": ApplicationForm},
                                      "multipart/form-data": {"schema": ApplicationForm}}})
    @idempotency_doc(blp)
    def post(self):
        """Submit an application: entry_id, purpose, requested_scope, items, legal_basis, requested_valid_from,
        requested_valid_until.

        422 with field errors; 403 when you are not an applicant or your department is suspended.
        `Location` names the new application; a repeat with the same `Idempotency-Key` returns
        the first answer and creates nothing.
        """
        data, letter = form_with_letter()
        return idempotent(lambda: _submitted(
            service.start_application(current_user, _entry(data), data, letter)))


@blp.route("/applications/drafts")
class Drafts(MethodView):
    @refuses(403)
    @blp.response(201, DraftOut, headers=CREATED_HEADERS)
    @blp.doc(requestBody=_DRAFT_BODY)
    @idempotency_doc(blp)
    def post(self):
        """Save a draft: only entry_id is required; other fields are optional but type-checked.

        A draft has no business key and no process instance; only your department sees it
        (`GET /api/applications?status=draft`). A suspended department may save drafts.
        `Location` names the new draft; a repeat with the same `Idempotency-Key` returns the
        first answer and creates nothing.
        """
        data, letter = form_with_letter()
        return idempotent(lambda: _draft_saved(service.save_draft(current_user, _entry(data), data, letter)))


@blp.route("/applications/drafts/<int:draft_id>")
class DraftDetail(MethodView):
    @refuses(403, 409)
    @blp.response(200, DraftOut)
    def get(self, draft_id: int):
        """One draft of your department (403 for another department's, 409 once submitted)."""
        return _draft(draft_id)

    @refuses(403, 409)
    @blp.response(200, DraftOut)
    @blp.doc(requestBody=_DRAFT_BODY)
    def patch(self, draft_id: int):
        """Change the given fields (a blank or null one is cleared); a `letter` file replaces the stored one."""
        data, letter = form_with_letter(keep_missing_items=True)
        with transaction():
            draft = service.save_draft(current_user, None, data, letter, draft=_draft(draft_id))
            return _draft_saved(draft, 200)

    @refuses(403, 409)
    @blp.response(204)
    def delete(self, draft_id: int):
        """Delete a draft (audited); a submitted application cannot be deleted (409)."""
        service.delete_draft(current_user, _draft(draft_id))


@blp.route("/applications/drafts/<int:draft_id>/submit")
class DraftSubmit(MethodView):
    @refuses(403, 409)
    @blp.response(201, ApplicationDetailOut, headers=CREATED_HEADERS)
    @blp.doc(requestBody={**_DRAFT_BODY, "required": False})
    @idempotency_doc(blp)
    def post(self, draft_id: int):
        """Submit a draft: the same checks as `POST /api/applications` (422 field errors, 403 when
        suspended). An optional body overrides stored fields; the stored letter is kept unless a
        new `letter` is uploaded. On error the draft stays a draft and nothing is started.

        A repeat with the same `Idempotency-Key` returns the first answer (not 409).
        """
        data, letter = form_with_letter(keep_missing_items=True)
        return idempotent(lambda: _submitted(service.start_application(
            current_user, None, data, letter, draft=_draft(draft_id))))


@blp.route("/applications/<key:business_key>")
class ApplicationDetail(MethodView):
    @refuses(403)
    @blp.response(200, ApplicationDetailOut)
    def get(self, business_key: str):
        """State, current tasks, history timeline and grant of one application."""
        return records.view(visible_or_abort(records.by_key(business_key, Application), can_view_record,
                                             missing=f"申请 {business_key} 不存在",
                                             forbidden="无权查看其他部门的申请"))


class WithdrawIn(Schema):
    reasons = fields.String(required=True, metadata={"description": "撤回原因"})


class UrgedOut(Schema):
    urged = fields.Integer(metadata={"description": "催办的待办环节数"})


def _own_application(business_key: str) -> Application:
    return visible_or_abort(records.by_key(business_key, Application), can_view_record,
                            missing=f"申请 {business_key} 不存在", forbidden="无权查看其他部门的申请")


@blp.route("/applications/<key:business_key>/withdraw")
class ApplicationWithdraw(MethodView):
    @refuses(403, 409)
    @blp.arguments(WithdrawIn)
    @blp.response(200, ApplicationDetailOut)
    def post(self, body, business_key: str):
        """撤回: the applicant's department withdraws its application while no decision has been
        made (409 after one, or once it is over); its open steps end and the provider is told."""
        with transaction():
            application = actions.withdraw_application(current_user, _own_application(business_key),
                                                       body.get("reasons"))
            return prepared(ApplicationDetailOut(), records.view(application), 200)


@blp.route("/applications/<key:business_key>/letter")
class ApplicationLetter(MethodView):
    @refuses(403, 409)
    @blp.response(200, ApplicationDetailOut)
    @blp.doc(requestBody={"description": "multipart/form-data：letter 为新的盖章申请函扫描件", "required": True,
                          "content": {"multipart/form-data": {"schema": {
                              "type": "object", "properties": {"letter": {"type": "string", "format": "binary"}}}}}})
    def post(self, business_key: str):
        """补正: replace the sealed letter of an application returned for amendment (409 otherwise)."""
        _data, letter = form_with_letter()
        with transaction():
            application = actions.replace_letter(current_user, _own_application(business_key), letter)
            return prepared(ApplicationDetailOut(), records.view(application), 200)


@blp.route("/applications/<key:business_key>/urge")
class ApplicationUrge(MethodView):
    @refuses(403, 409)
    @blp.response(200, UrgedOut)
    def post(self, business_key: str):
        """催办: remind the holders of the application's open steps in other departments — at
        most once a working day per application (409 otherwise)."""
        return {"urged": actions.urge_application(current_user, _own_application(business_key))}


@blp.route("/grants/<int:grant_id>/use")
class GrantUse(MethodView):
    @refuses(403)
    @blp.response(200, GrantBrief)
    def post(self, grant_id: int):
        """Record one use of a grant; refused (403) when expired, withdrawn or the department is suspended."""
        grant = get_visible(Grant, grant_id, can_view_grant)
        return record_use(grant, current_user)  # GrantRefused is a 403 (app/errors.py)
