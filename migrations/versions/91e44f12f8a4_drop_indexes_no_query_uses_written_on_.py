"""drop indexes no query uses (written on every workflow step)

Every workflow step inserts or updates rows of these tables; each index is one more page
written per step (about 19% of a minimal step's bytes on SQLite, bench/engine_bench.py).
spiff_task_id is only ever looked up together with instance_id, whose index serves; a
notification's kind and business_key and a history row's event_type are shown, not searched.

Revision ID: 91e44f12f8a4
Revises: d2f8c0e275c5
Create Date: 2026-11-22 19:56:38.942946

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '91e44f12f8a4'
down_revision = 'd2f8c0e275c5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_human_task_spiff_task_id'))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_business_key'))
        batch_op.drop_index(batch_op.f('ix_notification_kind'))

    with op.batch_alter_table('task_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_event_event_type'))

    with op.batch_alter_table('workflow_timer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workflow_timer_spiff_task_id'))


def downgrade():
    with op.batch_alter_table('workflow_timer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workflow_timer_spiff_task_id'), ['spiff_task_id'], unique=False)

    with op.batch_alter_table('task_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_event_event_type'), ['event_type'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_business_key'), ['business_key'], unique=False)

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_human_task_spiff_task_id'), ['spiff_task_id'], unique=False)
