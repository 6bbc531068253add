"""Catalogue and grants over REST."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from marshmallow import fields
from sqlalchemy import select

from app.api.common import api_blueprint, json_object, past_the_end
from app.api.docs import refuses
from app.api.workflow_schemas import UtcDateTime
from app.catalog import labels
from app.catalog.models import CatalogEntry, Grant
from app.catalog.permissions import can_view_entry, can_view_grant, visible_grants
from app.catalog.queries import search_entries
from app.catalog.schemas import CatalogEntryInput
from app.catalog.services import create_entry, update_entry
from app.extensions import db
from app.org.permissions import get_visible
from app.validation import Schema, choice

blp = api_blueprint("catalog_api", __name__, url_prefix="/api/catalog",
                description="政务信息资源目录与授权 / catalogue and grants")


class ItemOut(Schema):
    name = fields.String()
    data_type = fields.String()


class EntryOut(Schema):
    id = fields.Integer()
    resource_code = fields.String()
    name = fields.String()
    provider_department_id = fields.Integer()
    provider_name = fields.Function(lambda e: e.provider.name)
    summary = fields.String()
    resource_format = fields.String()
    share_type = fields.String()
    share_conditions = fields.String(allow_none=True)
    share_scope = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    share_method = fields.String()
    authorisation_mode = fields.String()
    open_attribute = fields.String()
    update_cycle = fields.String()
    sensitive = fields.Boolean()
    basic_data = fields.Boolean(metadata={"description": "基础信息资源的基础信息项（人口、法人、空间地理、电子证照等）"})
    needs_control_parameters = fields.Boolean(metadata={"description": "无条件共享但需要管控参数：由提供部门授权（南通 art. 18）"})
    publish_state = fields.String()
    published_at = UtcDateTime(allow_none=True)
    items = fields.List(fields.Nested(ItemOut))


class EntryQuery(Schema):
    department_id = fields.Integer(metadata={"description": "提供部门"})
    share_type = choice(list(labels.SHARE_TYPE), labels.SHARE_TYPE)
    publish_state = choice(list(labels.PUBLISH_STATE), labels.PUBLISH_STATE)
    q = fields.String(metadata={"description": "关键词：名称、摘要、资源代码、信息项"})


class GrantOut(Schema):
    id = fields.Integer()
    entry_id = fields.Integer()
    resource_code = fields.Function(lambda g: g.entry.resource_code)
    grantee_department_id = fields.Integer()
    purpose = fields.String()
    scope = fields.String(allow_none=True)
    valid_from = UtcDateTime()
    valid_until = UtcDateTime(allow_none=True)
    authorised_by = fields.String()
    status = fields.String()
    last_used_at = UtcDateTime(allow_none=True)


class CatalogEntryPatch(CatalogEntryInput):
    """The same fields, each optional (a distinct name keeps the OpenAPI schemas apart)."""


@blp.route("/entries")
class Entries(MethodView):
    @blp.arguments(EntryQuery, location="query", as_kwargs=True)
    @blp.response(200, EntryOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, department_id=None, share_type=None,
            publish_state=None, q=None):
        """Browse and search the catalogue (only entries you may see)."""
        page = search_entries(
            current_user, department_id=department_id, share_type=share_type,
            publish_state=publish_state, keyword=q,
            page=pagination_parameters.page, per_page=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = page.total
        return page.items

    @refuses(403)
    @blp.response(201, EntryOut)
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": CatalogEntryInput}}})
    def post(self):
        """Register a new entry (draft) for your own department — provider approvers only.

        The body is a catalogue entry: see the field rules in the error messages (422).
        """
        return create_entry(current_user, json_object())


def _entry_or_404(entry_id: int) -> CatalogEntry:
    return get_visible(CatalogEntry, entry_id, can_view_entry)


@blp.route("/entries/<int:entry_id>")
class EntryDetail(MethodView):
    @refuses(403)
    @blp.response(200, EntryOut)
    def get(self, entry_id: int):
        """One catalogue entry."""
        return _entry_or_404(entry_id)

    @refuses(403)
    @blp.response(200, EntryOut)
    @blp.doc(requestBody={"required": True, "content": {
        "application/json": {"schema": CatalogEntryPatch(partial=True)}}})
    def patch(self, entry_id: int):
        """Change an unpublished entry of your own department."""
        entry = _entry_or_404(entry_id)
        return update_entry(current_user, entry, json_object())


@blp.route("/grants")
class Grants(MethodView):
    @blp.response(200, GrantOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Grants you hold or provide (the office sees all)."""
        from sqlalchemy import func

        stmt = visible_grants(current_user, select(Grant))
        pagination_parameters.item_count = db.session.scalar(
            select(func.count()).select_from(stmt.subquery()))
        if past_the_end(pagination_parameters):
            return []
        return db.session.scalars(
            stmt.order_by(Grant.id.desc())
            .offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)
        ).unique().all()


@blp.route("/grants/<int:grant_id>")
class GrantDetail(MethodView):
    @refuses(403)
    @blp.response(200, GrantOut)
    def get(self, grant_id: int):
        """One grant."""
        return get_visible(Grant, grant_id, can_view_grant)
