"""catalogue entries: basic data (宝鸡 art. 15(2)) and unconditional data needing control parameters (南通 art. 18)

Revision ID: a9c1e3f5b7d9
Revises: f7b9d1e3a5c7
Create Date: 2026-12-04 01:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a9c1e3f5b7d9'
down_revision = 'f7b9d1e3a5c7'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (SQLite has it): a batch copy of catalog_entry would have to drop the
    # table that applications and grants refer to.
    op.add_column('catalog_entry', sa.Column('basic_data', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('catalog_entry', sa.Column('needs_control_parameters', sa.Boolean(), server_default=sa.false(),
                                             nullable=False))


def downgrade():
    op.drop_column('catalog_entry', 'needs_control_parameters')
    op.drop_column('catalog_entry', 'basic_data')
