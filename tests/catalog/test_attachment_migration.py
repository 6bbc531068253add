"""The attachment-content revision on a database that already holds attachments kept as files:
they keep being read from the folder, with the type their extension gives, and the import moves
them into the database."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import select, text

from app.catalog.attachments import import_folder, open_attachment
from app.catalog.models import Attachment, AttachmentContent
from app.extensions import db
from tests.conftest import make_app, scratch_pg_database
from tests.factories import commit

BEFORE = "b3c1d9e0a7f2"
PDF = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _legacy_rows(now) -> None:
    """What the folder-only code stored: rows naming the uploader's type, files by sha256."""
    db.session.execute(text(
        "INSERT INTO department (id, code, name, level, is_office, suspended, created_at) "
        "VALUES (1, 'gaj', '市公安局', 'city', false, false, :now)"), {"now": now})
    db.session.execute(text(
        "INSERT INTO user_account (id, username, display_name, department_id, password_hash, active, created_at) "
        "VALUES (1, 'gaj.applicant', 'gaj', 1, 'x', true, :now)"), {"now": now})
    for id_, name, content, claimed in ((1, "poly.pdf", PDF, "text/html"), (2, "again.PDF", PDF, "text/html"),
                                        (3, "seal.png", PNG, "image/svg+xml")):
        db.session.execute(text(
            "INSERT INTO attachment (id, sha256, filename, content_type, size, department_id, uploaded_by_id, "
            "created_at) VALUES (:id, :sha, :name, :type, :size, 1, 1, :now)"),
            {"id": id_, "sha": hashlib.sha256(content).hexdigest(), "name": name, "type": claimed,
             "size": len(content), "now": now})
    commit()


def _upgrade_with_legacy_files(url: str, tmp_path_factory) -> None:
    application = make_app(url, tmp_path_factory)
    with application.app_context():
        upgrade(revision=BEFORE)
        _legacy_rows(datetime(2026, 11, 1, tzinfo=UTC))
        folder = Path(application.config["ATTACHMENT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for content in (PDF, PNG):
            (folder / hashlib.sha256(content).hexdigest()).write_bytes(content)
        upgrade()
        assert application.config["ATTACHMENT_STORAGE"] == "database"
        rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert [r.content_type for r in rows] == ["application/pdf", "application/pdf", "image/png"]
        assert db.session.scalar(select(db.func.count()).select_from(AttachmentContent)) == 2
        assert [open_attachment(r).read() for r in rows] == [PDF, PDF, PNG]  # read from the folder
        assert import_folder() == (2, [])
        for content in (PDF, PNG):
            (folder / hashlib.sha256(content).hexdigest()).unlink()
        db.session.expire_all()
        assert [open_attachment(r).read() for r in rows] == [PDF, PDF, PNG]  # now from the database
        db.session.remove()
        db.engine.dispose()


def test_sqlite_keeps_folder_attachments_readable(tmp_path, tmp_path_factory):
    _upgrade_with_legacy_files(f"sqlite:///{tmp_path / 'm.db'}", tmp_path_factory)


def test_postgresql_keeps_folder_attachments_readable(pg_database, tmp_path_factory):
    with scratch_pg_database("dsp_att") as url:
        _upgrade_with_legacy_files(url, tmp_path_factory)

