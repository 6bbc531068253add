"""human tasks: completed on time, and the response time in working days (SLA figures, issue 15)

Revision ID: b1d3f5a7c9e1
Revises: a9c1e3f5b7d9
Create Date: 2026-12-04 02:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b1d3f5a7c9e1'
down_revision = 'a9c1e3f5b7d9'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMN: a batch copy would drop the table task events refer to
    op.add_column('human_task', sa.Column('on_time', sa.Boolean(), nullable=True))
    op.add_column('human_task', sa.Column('response_workdays', sa.Integer(), nullable=True))
    op.create_index('ix_human_task_completed', 'human_task', ['state', 'completed_at'])
    # on time needs no calendar: filled here, so a period's rate is right at once; the working
    # days of earlier steps come from `flask sla measure`
    op.execute("UPDATE human_task SET on_time = (completed_at <= due_at) "
               "WHERE state = 'completed' AND due_at IS NOT NULL AND completed_at IS NOT NULL")


def downgrade():
    op.drop_index('ix_human_task_completed', table_name='human_task')
    op.drop_column('human_task', 'response_workdays')
    op.drop_column('human_task', 'on_time')
