"""one number series per record type: record_number counters

Business numbers came from the record's row id, so every record type shared one series once
applications and cases became one table (and the first objection was YY-2026-000002 even
before). Each (prefix, year) now has its own counter; this revision starts each series after
the highest number already given in it, so no key is given twice.

Revision ID: d4f6a8c0e2b4
Revises: c3e5f7a9b1d2
Create Date: 2026-12-03 19:40:00

"""
import re

import sqlalchemy as sa
from alembic import op

revision = 'd4f6a8c0e2b4'
down_revision = 'c3e5f7a9b1d2'
branch_labels = None
depends_on = None

KEY = re.compile(r"^([A-Z]{1,8})-(\d{4})-(\d+)$")
case = sa.table("workflow_case", sa.column("business_key", sa.String))


def highest_numbers(keys) -> dict[tuple[str, int], int]:
    """(prefix, year) → the highest number among `keys` written as PREFIX-YEAR-NUMBER."""
    out: dict[tuple[str, int], int] = {}
    for key in keys:
        found = KEY.match(key or "")
        if found:
            series = (found.group(1), int(found.group(2)))
            out[series] = max(out.get(series, 0), int(found.group(3)))
    return out


def upgrade():
    counters = op.create_table(
        'record_number',
        sa.Column('prefix', sa.String(length=8), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('prefix', 'year', name=op.f('pk_record_number')))
    keys = op.get_bind().execute(sa.select(case.c.business_key)).scalars()
    rows = [{"prefix": p, "year": y, "last": n} for (p, y), n in sorted(highest_numbers(keys).items())]
    if rows:
        op.bulk_insert(counters, rows)


def downgrade():
    op.drop_table('record_number')
