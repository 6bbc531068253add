"""audit log: an index on the object an entry is about (the viewer's search by object, a
department's usage log, a record's amendment history)

Revision ID: c2e4a6b8d0f2
Revises: b1d3f5a7c9e1
Create Date: 2026-12-04 03:50:00

"""
from alembic import op

revision = 'c2e4a6b8d0f2'
down_revision = 'b1d3f5a7c9e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_entry_object', 'audit_entry', ['object_type', 'object_id'])


def downgrade():
    op.drop_index('ix_audit_entry_object', table_name='audit_entry')
