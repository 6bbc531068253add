"""SLA desk: daily sums of finished days' completed steps (issue 15: figures whose cost does not
grow with history); an index on when records were filed (the oversight list) and a partial
index of the open steps, with their flow copied onto them (the open-work counts)

Revision ID: d3f5b7c9e1a3
Revises: c2e4a6b8d0f2
Create Date: 2026-12-04 04:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'd3f5b7c9e1a3'
down_revision = 'c2e4a6b8d0f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sla_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('flow', sa.String(length=128), nullable=False),
        sa.Column('step', sa.String(length=128), nullable=False),
        sa.Column('response_workdays', sa.Integer(), nullable=False),
        sa.Column('completed', sa.Integer(), nullable=False),
        sa.Column('with_deadline', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.Column('late', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department_id', 'flow', 'step', 'response_workdays'),
    )
    op.create_table('sla_day_summed', sa.Column('day', sa.Date(), nullable=False), sa.PrimaryKeyConstraint('day'))
    op.create_index('ix_workflow_case_created_at', 'workflow_case', ['created_at'])
    # plain ADD COLUMN (a batch copy would drop the table task events refer to), then filled in
    op.add_column('human_task', sa.Column('process_id', sa.String(length=128), nullable=True))
    op.execute("UPDATE human_task SET process_id = "
               "(SELECT process_id FROM process_instance WHERE process_instance.id = human_task.instance_id)")
    if op.get_bind().dialect.name == 'postgresql':  # INCLUDE columns: spelled out (Alembic's index op lacks them)
        op.execute("CREATE INDEX ix_human_task_open ON human_task (candidate_department_id, due_at) "
                   "INCLUDE (id, process_id) WHERE state = 'ready'")
    else:
        op.create_index('ix_human_task_open', 'human_task', ['candidate_department_id', 'due_at'],
                        sqlite_where=sa.text("state = 'ready'"))


def downgrade():
    op.drop_index('ix_human_task_open', table_name='human_task')
    op.drop_column('human_task', 'process_id')
    op.drop_index('ix_workflow_case_created_at', table_name='workflow_case')
    op.drop_table('sla_day_summed')
    op.drop_table('sla_day')
