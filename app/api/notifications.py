"""The signed-in user's notifications (新待办、催办、督办、办理结果)."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields

from app.api.common import api_blueprint, paginated
from app.api.workflow_schemas import NotificationOut
from app.notifications import for_user, is_read, mark_read, unread_count
from app.validation import Schema

blp = api_blueprint("notifications_api", __name__, url_prefix="/api/notifications",
                    description="消息通知 / notifications")


class NotificationQuery(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "只看未读"})


class CountOut(Schema):
    unread = fields.Integer()


def _out(row) -> dict:
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "link": row.link,
            "business_key": row.business_key, "created_at": row.created_at, "read": is_read(current_user, row)}


@blp.route("")
class Notifications(MethodView):
    @blp.arguments(NotificationQuery, location="query", as_kwargs=True)
    @blp.response(200, NotificationOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, unread=False):
        """Your notifications and your groups', newest first."""
        stmt = for_user(current_user, unread_only=unread)
        return [_out(r) for r in paginated(stmt, pagination_parameters)]


@blp.route("/unread-count")
class UnreadCount(MethodView):
    @blp.response(200, CountOut)
    def get(self):
        """How many unread notifications you have."""
        return {"unread": unread_count(current_user)}


@blp.route("/<int:notification_id>/read")
class MarkRead(MethodView):
    @blp.response(200, CountOut)
    def post(self, notification_id: int):
        """Mark one notification read; answers the remaining unread count."""
        if not mark_read(current_user, notification_id):
            abort(404, message="通知不存在")
        return {"unread": unread_count(current_user)}
