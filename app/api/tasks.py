"""Task inbox and task actions over REST (claim / release / delegate / complete)."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import fields

from app.api.common import api_blueprint, json_object, paginated
from app.api.docs import refuses
from app.api.workflow_schemas import TaskOut
from app.engine import inbox
from app.engine.models import HumanTask, ProcessInstance
from app.extensions import db
from app.flows import tasks as service
from app.flows.base import actor_for
from app.flows.permissions import can_view_task
from app.validation import Schema, choice

blp = api_blueprint("tasks_api", __name__, url_prefix="/api/tasks",
                    description="待办任务 / task inbox and actions")

VIEWS = {"mine": "我的待办", "groups": "组内待办", "due_soon": "即将到期", "overdue": "已逾期", "done": "已办"}


class TaskQuery(Schema):
    view = choice(list(VIEWS), VIEWS, load_default="mine")
    process_id = fields.String(metadata={"description": "按流程筛选"})


class DelegateIn(Schema):
    to_user_id = fields.Integer(required=True)
    note = fields.String(load_default=None, allow_none=True)


class CompleteOut(Schema):
    task = fields.Nested(TaskOut)
    next_tasks = fields.List(fields.Nested(TaskOut), metadata={"description": "该业务当前的待办"})


def _query(view: str):
    actor = actor_for(current_user)
    return {"mine": inbox.mine, "groups": inbox.my_groups, "due_soon": inbox.due_soon,
            "overdue": inbox.overdue, "done": inbox.done}[view](actor)


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQuery, location="query", as_kwargs=True)
    @blp.response(200, TaskOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters, view="mine", process_id=None):
        """Your inbox, sorted by due date: mine | groups | due_soon | overdue | done."""
        stmt = _query(view)
        if process_id:
            stmt = stmt.join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id).where(
                ProcessInstance.process_id == process_id)
        return paginated(stmt, pagination_parameters)


@blp.route("/<int:task_id>")
class TaskDetail(MethodView):
    @refuses(403)
    @blp.response(200, TaskOut)
    def get(self, task_id: int):
        """One task (its candidate group, assignee, office supervisors)."""
        task = service.get_task(task_id)
        if not can_view_task(current_user, task):
            abort(403, message="无权查看此任务")
        return task


@blp.route("/<int:task_id>/claim")
class Claim(MethodView):
    @refuses(403, 409)
    @blp.response(200, TaskOut)
    def post(self, task_id: int):
        """Claim a task of your group (409 if someone else already holds it)."""
        return service.claim_task(current_user, task_id)


@blp.route("/<int:task_id>/release")
class Release(MethodView):
    @refuses(403, 409)
    @blp.response(200, TaskOut)
    def post(self, task_id: int):
        """Put a task you hold back into the group's queue."""
        return service.release_task(current_user, task_id)


@blp.route("/<int:task_id>/delegate")
class Delegate(MethodView):
    @refuses(403, 409)
    @blp.arguments(DelegateIn)
    @blp.response(200, TaskOut)
    def post(self, data, task_id: int):
        """Hand a task to a colleague of your department holding the task's role."""
        return service.delegate_task(current_user, task_id, data["to_user_id"], data.get("note"))


@blp.route("/<int:task_id>/complete")
class Complete(MethodView):
    @refuses(403, 409)
    @blp.response(200, CompleteOut)
    @blp.doc(requestBody={"description": "该任务表单的字段（见 bpmn/README.md）",
                          "content": {"application/json": {"schema": {"type": "object"}}}})
    def post(self, task_id: int):
        """Complete a task with its form data: 422 field errors, 409 if already completed by someone else."""
        task = service.complete_task(current_user, task_id, json_object())
        return {"task": task, "next_tasks": db.session.scalars(
            inbox.for_instance(task.instance_id).where(HumanTask.state == "ready")).all()}
