"""one record model: an application is a Case (joined-table inheritance)

Every flow's record is a row of `workflow_case`; a conditional-share application adds its own
row in `application` (what the applicant asked for: `requested_scope`, `requested_valid_from`,
`requested_valid_until` — `scope`, `valid_from`, `valid_until` in `share_application`, which
goes) under the same id. Its provider is the case's `department_id` (the department that must
act), its last decision the case's `outcome`/`reasons` (`last_outcome`/`last_reasons` before),
the step that decided it `stage`.

Applications get new ids from the case sequence (cases keep theirs). The old id is kept as
`application.former_id`: audit entries written before this revision name an application
as ("share_application", former id) and the hash-chained log is never rewritten. Attachments
that belonged to a "share_application" now belong to the "workflow_case" with the same
business key (a draft's letter: "draft-<new id>"). Running instances find their record by
business key, so their stored data needs no change.

Revision ID: a7c2e9d41b08
Revises: f1a2b3c4d5e6
Create Date: 2026-12-03 19:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c2e9d41b08'
down_revision = 'f1a2b3c4d5e6'
branch_labels = None
depends_on = None

_OLD_COLUMNS = ("id", "business_key", "instance_id", "entry_id", "applicant_department_id",
                "provider_department_id", "applicant_user_id", "purpose", "scope", "items",
                "legal_basis", "valid_from", "valid_until", "letter_attachment_id", "status",
                "last_stage", "last_outcome", "last_reasons", "grant_id", "created_at", "updated_at",
                "closed_at", "policy_key")

# typed where SQLite would hand back text the typed insert below does not take
_TYPES = {"items": sa.JSON, "valid_from": sa.Date, "valid_until": sa.Date, "requested_valid_from": sa.Date,
          "requested_valid_until": sa.Date, "created_at": sa.DateTime(timezone=True),
          "updated_at": sa.DateTime(timezone=True), "closed_at": sa.DateTime(timezone=True)}
old_application = sa.table("share_application", *(sa.column(c, _TYPES.get(c)) for c in _OLD_COLUMNS))
entry = sa.table("catalog_entry", sa.column("id", sa.Integer), sa.column("name", sa.String))
case = sa.table(
    "workflow_case", sa.column("id", sa.Integer), sa.column("business_key", sa.String),
    sa.column("flow", sa.String), sa.column("instance_id", sa.Integer), sa.column("status", sa.String),
    sa.column("outcome", sa.String), sa.column("reasons", sa.Text), sa.column("title", sa.String),
    sa.column("applicant_department_id", sa.Integer), sa.column("applicant_user_id", sa.Integer),
    sa.column("department_id", sa.Integer), sa.column("entry_id", sa.Integer),
    sa.column("grant_id", sa.Integer), sa.column("details", sa.JSON),
    sa.column("letter_attachment_id", sa.Integer), sa.column("policy_key", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("closed_at", sa.DateTime(timezone=True)))
attachment = sa.table("attachment", sa.column("id", sa.Integer), sa.column("owner_type", sa.String),
                      sa.column("owner_id", sa.String))


def _create_application_table():
    op.create_table(
        'application',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.Text(), nullable=False),
        sa.Column('requested_scope', sa.Text(), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('legal_basis', sa.Text(), nullable=False),
        sa.Column('requested_valid_from', sa.Date(), nullable=True),
        sa.Column('requested_valid_until', sa.Date(), nullable=True),
        sa.Column('stage', sa.String(length=32), nullable=True),
        sa.Column('former_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['id'], ['workflow_case.id'], name=op.f('fk_application_id_workflow_case')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_application')))
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_former_id'), ['former_id'], unique=False)


def _move(conn, rows, titles) -> None:
    new_table = sa.table("application", *(sa.column(c, _TYPES.get(c)) for c in (
        "id", "purpose", "requested_scope", "items", "legal_basis", "requested_valid_from",
        "requested_valid_until", "stage", "former_id")))
    drafts = []
    for row in rows:
        new_id = conn.execute(case.insert().returning(case.c.id).values(
            business_key=row.business_key, flow="conditional_share", instance_id=row.instance_id,
            status=row.status, outcome=row.last_outcome, reasons=row.last_reasons,
            title=(titles.get(row.entry_id) or "")[:200], applicant_department_id=row.applicant_department_id,
            applicant_user_id=row.applicant_user_id, department_id=row.provider_department_id,
            entry_id=row.entry_id, grant_id=row.grant_id, details={},
            letter_attachment_id=row.letter_attachment_id, policy_key=row.policy_key,
            created_at=row.created_at, updated_at=row.updated_at, closed_at=row.closed_at)).scalar_one()
        conn.execute(new_table.insert().values(
            id=new_id, purpose=row.purpose, requested_scope=row.scope, items=row.items,
            legal_basis=row.legal_basis, requested_valid_from=row.valid_from,
            requested_valid_until=row.valid_until, stage=row.last_stage, former_id=row.id))
        if row.business_key is None:  # a draft's letter is owned by the draft's id until submission
            drafts.append((row.id, new_id))
    # in two passes, so that an old id equal to another draft's new one is not taken twice
    for old_id, new_id in drafts:
        conn.execute(attachment.update().where(attachment.c.owner_type == "share_application",
                                               attachment.c.owner_id == f"draft-{old_id}")
                     .values(owner_id=f"moving-draft-{new_id}"))
    for _old_id, new_id in drafts:
        conn.execute(attachment.update().where(attachment.c.owner_id == f"moving-draft-{new_id}")
                     .values(owner_id=f"draft-{new_id}"))
    conn.execute(attachment.update().where(attachment.c.owner_type == "share_application")
                 .values(owner_type="workflow_case"))


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(old_application).order_by(old_application.c.id)).all()
    titles = dict(conn.execute(sa.select(entry.c.id, entry.c.name)).all())
    op.drop_table('share_application')  # its indexes go with it; the rows are in `rows`
    with op.batch_alter_table('workflow_case', schema=None) as batch_op:
        batch_op.alter_column('business_key', existing_type=sa.String(length=64), nullable=True)
    _create_application_table()
    _move(conn, rows, titles)


def downgrade():
    # Ids were renumbered and attachments re-owned; going back means restoring the backup.
    raise NotImplementedError("one record model: downgrade by restoring the database backup")
