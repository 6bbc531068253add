"""one name per concept: one `decision` field; a case's `applicant`

A case's filing department and user are its applicant (`applicant_department_id`,
`applicant_user_id`: the columns and the instance data key were `requester_*`).

The task forms used to record their choice under eleven names (formal_review_result,
amend_action, negotiation_outcome, idle_action, demand_answer, reroute_action, verification,
verification_result, catalogue_review_result, revise_action, decision); now it is `decision`
everywhere, with imperative values (negotiation agree|fail|abandon, objection correct|confirm).

So that instances already running finish on the version they started on, this revision
rewrites what was stored under the old names:
- the gateway conditions of the stored diagram versions (only the exact expressions the
  shipped diagrams used; their content hash is recomputed — the product changes them, not an
  editor; a rewritten version identical to one already stored hands its instances over to it);
- the instance data in every instance's state (workflow data, task data and task-data deltas),
  the completion data of the human tasks and the completion events of the timeline.

Revision ID: f1a2b3c4d5e6
Revises: e5a7c3f19b42
Create Date: 2026-12-03 14:00:00

"""
import json

import sqlalchemy as sa
from alembic import op

from app.engine.stored_rewrite import rewrite_definitions

revision = 'f1a2b3c4d5e6'
down_revision = 'e5a7c3f19b42'
branch_labels = None
depends_on = None

# Data keys renamed as they are (no value changes).
KEYS = {"requester_user_id": "applicant_user_id"}
# Old decision name → value renames (a value not listed keeps its spelling).
FIELDS = {
    "formal_review_result": {}, "amend_action": {},
    "negotiation_outcome": {"agreed": "agree", "failed": "fail", "abandoned": "abandon"},
    "idle_action": {}, "demand_answer": {}, "reroute_action": {}, "verification": {},
    "verification_result": {"corrected": "correct", "confirmed": "confirm"},
    "catalogue_review_result": {}, "revise_action": {},
}
CONDITIONS = {
    "formal_review_result == 'accept'": "decision == 'accept'",
    "amend_action == 'resubmit'": "decision == 'resubmit'",
    "negotiation_outcome == 'agreed'": "decision == 'agree'",
    "negotiation_outcome == 'failed'": "decision == 'fail'",
    "idle_action == 'withdraw'": "decision == 'withdraw'",
    "demand_answer == 'will_publish'": "decision == 'will_publish'",
    "demand_answer == 'not_in_remit'": "decision == 'not_in_remit'",
    "reroute_action == 'reroute'": "decision == 'reroute'",
    "verification == 'accept'": "decision == 'accept'",
    "verification_result == 'corrected'": "decision == 'correct'",
    "catalogue_review_result == 'approve'": "decision == 'approve'",
    "revise_action == 'resubmit'": "decision == 'resubmit'",
}
_END = "</bpmn:conditionExpression>"

instance = sa.table("process_instance", sa.column("id", sa.Integer), sa.column("state", sa.Text))
human_task = sa.table("human_task", sa.column("id", sa.Integer), sa.column("completion_data", sa.JSON))
task_event = sa.table("task_event", sa.column("id", sa.Integer), sa.column("data", sa.JSON))


def renamed(data):
    """`data` with the old decision names as `decision` (None when nothing changed). The new
    name, when already there, is kept: every gateway reads the decision its task just wrote."""
    if not isinstance(data, dict) or not (FIELDS.keys() | KEYS.keys()) & data.keys():
        return None
    out = dict(data)
    for old, new in KEYS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    for old, values in FIELDS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault("decision", values.get(value, value) if isinstance(value, str) else value)
    return out


def _renamed_state(state: dict) -> bool:
    changed = False
    for holder, key in [(state, "data"), *((task, "data") for task in state.get("tasks", {}).values())]:
        new = renamed(holder.get(key))
        if new is not None:
            holder[key], changed = new, True
    for task in state.get("tasks", {}).values():
        delta = task.get("delta") or {}
        new = renamed(delta.get("updates"))
        if new is not None:
            delta["updates"], changed = new, True
        deletions = delta.get("deletions") or []
        if FIELDS.keys() & set(deletions):
            delta["deletions"] = sorted({"decision" if d in FIELDS else d for d in deletions})
            changed = True
    return changed


def rename_definitions(conn) -> int:
    return rewrite_definitions(conn, {f">{old}{_END}": f">{new}{_END}" for old, new in CONDITIONS.items()})


def rename_data(conn) -> int:
    count = 0
    for row in conn.execute(sa.select(instance.c.id, instance.c.state)).all():
        if not any(f'"{name}"' in row.state for name in (*FIELDS, *KEYS)):
            continue
        state = json.loads(row.state)
        if _renamed_state(state):
            conn.execute(instance.update().where(instance.c.id == row.id).values(
                state=json.dumps(state, ensure_ascii=False, separators=(",", ":"))))
            count += 1
    for table, column in ((human_task, human_task.c.completion_data), (task_event, task_event.c.data)):
        for row_id, data in conn.execute(sa.select(table.c.id, column).where(column.is_not(None))).all():
            new = renamed(data)
            if new is not None:
                conn.execute(table.update().where(table.c.id == row_id).values({column.name: new}))
                count += 1
    return count


def rename_columns() -> None:
    with op.batch_alter_table("workflow_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_case_requester_department_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_case_requester_user_id"))
        batch_op.alter_column("requester_department_id", new_column_name="applicant_department_id")
        batch_op.alter_column("requester_user_id", new_column_name="applicant_user_id")
    with op.batch_alter_table("workflow_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflow_case_applicant_department_id"), ["applicant_department_id"])
        batch_op.create_index(batch_op.f("ix_workflow_case_applicant_user_id"), ["applicant_user_id"])


def upgrade():
    rename_columns()
    conn = op.get_bind()
    rename_definitions(conn)
    rename_data(conn)


def downgrade():
    # The old names cannot be told apart again once they are one; the code before this
    # revision reads only the old names, so going back means restoring a backup.
    raise NotImplementedError("one decision field: downgrade by restoring the database backup")
