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
    # steps completed before: `flask sla measure` fills both in


def downgrade():
    op.drop_column('human_task', 'response_workdays')
    op.drop_column('human_task', 'on_time')
