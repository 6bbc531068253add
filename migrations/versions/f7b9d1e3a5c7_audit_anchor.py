"""audit log: anchors left by pruning entries past the retention period

Revision ID: f7b9d1e3a5c7
Revises: e6a8c0d2f4b6
Create Date: 2026-12-04 01:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f7b9d1e3a5c7'
down_revision = 'e6a8c0d2f4b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_anchor',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('pruned_rows', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('actor_name', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('audit_anchor')
