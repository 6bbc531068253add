"""Administrator's policy changes (issue 16): a profile's deadlines and switches as changed in
the browser, applied over the shipped profile file

Revision ID: a4c6e8f0b2d4
Revises: e8f0a2c4b6d8
Create Date: 2026-12-04 21:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a4c6e8f0b2d4'
down_revision = 'e8f0a2c4b6d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'policy_override',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('profile_key', sa.String(length=32), nullable=False),
        sa.Column('section', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('item', sa.JSON(), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_override')),
        sa.UniqueConstraint('profile_key', 'section', 'name', name='uq_policy_override_entry'),
    )


def downgrade():
    op.drop_table('policy_override')
