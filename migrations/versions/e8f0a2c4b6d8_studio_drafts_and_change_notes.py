"""Administrator's studio (issue 16): server-side drafts of a flow's diagram, one per flow and
administrator, and the change note of each deployed version

Revision ID: e8f0a2c4b6d8
Revises: d3f5b7c9e1a3
Create Date: 2026-12-04 18:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e8f0a2c4b6d8'
down_revision = 'd3f5b7c9e1a3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'process_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=128), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('bpmn_xml', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_draft')),
        sa.UniqueConstraint('process_id', 'owner_id', name='uq_process_draft_owner'),
    )
    # plain ADD COLUMN: a batch copy would drop the table instances refer to
    op.add_column('process_definition', sa.Column('change_note', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('process_definition', 'change_note')  # SQLite 3.35+ drops a column in place
    op.drop_table('process_draft')
