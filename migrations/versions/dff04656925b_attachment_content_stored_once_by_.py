"""attachment content stored once by sha256, in the database by default

`attachment_content` holds each content once, keyed by its sha256; `data` is the bytes
(ATTACHMENT_STORAGE=database, the new default) or NULL when the file is kept in ATTACHMENT_DIR.
Attachments stored before this revision were files in that folder: each gets its content row
with NULL data, so it keeps being read from the folder in either mode until
`flask attachments import-folder` copies it into the database.

`attachment.content_type` held what the uploader's browser claimed; it becomes the type the
extension allow-list (app/catalog/attachments.py FILE_TYPES) gives, which is what was checked
against the file's first bytes when it was stored.

Revision ID: dff04656925b
Revises: e5a7c3f1d902
Create Date: 2026-12-02 18:04:03.210705

"""
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = 'dff04656925b'
down_revision = 'e5a7c3f1d902'
branch_labels = None
depends_on = None

# FILE_TYPES as of this revision (a migration does not import the application's code).
_TYPES = {
    ".pdf": "application/pdf", ".ofd": "application/ofd", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".png": "image/png", ".zip": "application/zip",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def upgrade():
    op.create_table('attachment_content',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_attachment_content'))
    )
    op.execute("INSERT INTO attachment_content (sha256, size, data, created_at) "
               "SELECT sha256, max(size), NULL, min(created_at) FROM attachment GROUP BY sha256")
    cases = " ".join(f"WHEN lower(filename) LIKE '%{ext}' THEN '{mime}'" for ext, mime in _TYPES.items())
    op.execute(f"UPDATE attachment SET content_type = CASE {cases} ELSE 'application/octet-stream' END")
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_attachment_sha256_attachment_content'), 'attachment_content',
                                    ['sha256'], ['sha256'])


def downgrade():
    # Before this revision every attachment was a file in ATTACHMENT_DIR: put back those the
    # database holds, so none is lost.
    from flask import current_app

    folder = Path(current_app.config["ATTACHMENT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    rows = op.get_bind().execute(sa.text("SELECT sha256 FROM attachment_content WHERE data IS NOT NULL"))
    for (sha,) in rows.all():
        data = op.get_bind().execute(sa.text("SELECT data FROM attachment_content WHERE sha256 = :s"),
                                     {"s": sha}).scalar()
        (folder / sha).write_bytes(data)
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attachment_sha256_attachment_content'), type_='foreignkey')
    op.drop_table('attachment_content')
