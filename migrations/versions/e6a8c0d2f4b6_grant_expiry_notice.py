"""grants: when the holder was told the period is ending; the information items granted

Revision ID: e6a8c0d2f4b6
Revises: d4f6a8c0e2b4
Create Date: 2026-12-03 20:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e6a8c0d2f4b6'
down_revision = 'd4f6a8c0e2b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_noticed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('items', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('grant', schema=None) as batch_op:
        batch_op.drop_column('items')
        batch_op.drop_column('expiry_noticed_at')
