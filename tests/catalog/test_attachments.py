"""Attachments: content addressed by sha256, stored once — in the database (the default: every web
host sees it) or in a folder (ATTACHMENT_STORAGE=folder) — with type, content, size and name rules,
and nothing left behind by a transaction that rolls back."""
import hashlib
import io
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from app.catalog.attachments import clean_filename, open_attachment, store_attachment
from app.catalog.models import Attachment, AttachmentContent
from app.extensions import db
from app.org.models import User
from app.validation import FieldErrors
from tests.factories import commit

PDF = b"%PDF-1.7\n" + b"sealed letter " * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture(params=["database", "folder"])
def storage(request, app):
    """Run the test once with each storage mode."""
    original = app.config["ATTACHMENT_STORAGE"]
    app.config["ATTACHMENT_STORAGE"] = request.param
    yield request.param
    app.config["ATTACHMENT_STORAGE"] = original


def _files(app) -> list[str]:
    folder = Path(app.config["ATTACHMENT_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _clear_folder(app) -> None:
    for name in _files(app):
        (Path(app.config["ATTACHMENT_DIR"]) / name).unlink()


@pytest.fixture(autouse=True)
def _empty_folder(app):
    # The folder is the session's (one per backend app); each test starts with it empty.
    _clear_folder(app)
    yield
    _clear_folder(app)


def test_default_storage_is_the_database(app):
    assert app.config["ATTACHMENT_STORAGE"] == "database"


def test_stores_content_once_by_hash_and_reads_back(app, city, storage):
    first = store_attachment(io.BytesIO(PDF), "申请函.pdf", city.police_applicant)
    again = store_attachment(io.BytesIO(PDF), "再次上传.pdf", city.health_applicant)
    commit()
    sha = hashlib.sha256(PDF).hexdigest()
    assert first.sha256 == again.sha256 == sha and first.size == len(PDF) and first.id != again.id
    assert _count(AttachmentContent) == 1  # stored once however often attached
    stored = db.session.scalar(select(AttachmentContent.data).where(AttachmentContent.sha256 == sha))
    if storage == "database":
        assert stored == PDF and _files(app) == []  # nothing on this host's disk
    else:
        assert stored is None and _files(app) == [sha]
        assert (Path(app.config["ATTACHMENT_DIR"]) / sha).read_bytes() == PDF
    assert open_attachment(first).read() == PDF and open_attachment(again).read() == PDF


@pytest.mark.parametrize(("name", "content", "message"), [
    ("letter.exe", b"MZ....", "不支持的文件类型"),
    ("letter.pdf", b"not a pdf at all", "文件内容与扩展名不符"),
    ("letter.png", PDF, "文件内容与扩展名不符"),
    ("letter.pdf", b"", "文件为空"),
    ("", PDF, "请选择要上传的文件"),
    ("\x00\u202e\t ", PDF, "请选择要上传的文件"),  # nothing left once cleaned
    ("../../etc/passwd", PDF, "不支持的文件类型"),
])
def test_refuses_bad_files_and_stores_nothing(app, city, storage, name, content, message):
    with pytest.raises(FieldErrors) as err:
        store_attachment(io.BytesIO(content), name, city.police_applicant, field="letter")
    assert message in err.value.errors["letter"][0]
    assert _count(Attachment) == 0 and _count(AttachmentContent) == 0
    assert _files(app) == []  # no half-written file


def test_refuses_oversized_files(app, city, storage):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    try:
        with pytest.raises(FieldErrors) as err:
            store_attachment(io.BytesIO(PDF * 2), "big.pdf", city.police_applicant)
        assert "大小限制" in err.value.errors["file"][0]
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 20 * 1024 * 1024
    assert _files(app) == [] and _count(AttachmentContent) == 0


def test_detects_tampered_content(app, city, storage):
    att = store_attachment(io.BytesIO(PDF), "a.pdf", city.police_applicant)
    commit()
    if storage == "folder":
        (Path(app.config["ATTACHMENT_DIR"]) / att.sha256).write_bytes(PDF + b"x")
    else:
        db.session.execute(update(AttachmentContent).values(data=PDF + b"x"))
        commit()
    with pytest.raises(OSError, match="篡改"):
        open_attachment(att)


def test_missing_content_is_an_oserror(app, city):
    app.config["ATTACHMENT_STORAGE"] = "folder"
    try:
        att = store_attachment(io.BytesIO(PDF), "a.pdf", city.police_applicant)
        commit()
    finally:
        app.config["ATTACHMENT_STORAGE"] = "database"
    (Path(app.config["ATTACHMENT_DIR"]) / att.sha256).unlink()
    with pytest.raises(OSError):
        open_attachment(att)


# ---- nothing left behind by a rollback -------------------------------------------------------------

def test_rollback_leaves_no_content(app, city, storage):
    store_attachment(io.BytesIO(PDF), "申请函.pdf", city.police_applicant)
    assert _count(AttachmentContent) == 1
    db.session.rollback()
    assert _count(Attachment) == 0 and _count(AttachmentContent) == 0
    assert _files(app) == []


def test_a_session_closed_without_commit_leaves_no_file(app, city, storage):
    store_attachment(io.BytesIO(PDF), "申请函.pdf", city.police_applicant)
    db.session.remove()  # the end of a request that never committed
    assert _files(app) == [] and _count(AttachmentContent) == 0


def test_rollback_keeps_content_another_attachment_stored_before(app, city, storage):
    kept = store_attachment(io.BytesIO(PDF), "先前的申请函.pdf", city.police_applicant)
    commit()
    store_attachment(io.BytesIO(PDF), "同一内容.pdf", city.health_applicant)
    store_attachment(io.BytesIO(PNG), "新内容.png", city.health_applicant)
    db.session.rollback()
    assert _count(Attachment) == 1 and _count(AttachmentContent) == 1
    assert open_attachment(kept).read() == PDF
    if storage == "folder":
        assert _files(app) == [kept.sha256]  # the new content's file went with its transaction


def test_commit_keeps_the_file_and_later_rollbacks_do_not_touch_it(app, city, storage):
    att = store_attachment(io.BytesIO(PDF), "申请函.pdf", city.police_applicant)
    commit()
    db.session.rollback()  # a later, unrelated transaction of the same session
    assert open_attachment(att).read() == PDF


def test_two_uploads_of_new_content_at_once_keep_the_file_of_the_one_that_commits(app, city):
    """PostgreSQL: the second transaction waits on the first one's content row; the first rolls
    back (removing the file it wrote), the second then owns the content and its file stays."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    app.config["ATTACHMENT_STORAGE"] = "folder"
    user_id, done = city.health_applicant.id, {}

    def second_upload():
        with app.app_context():
            try:
                att = store_attachment(io.BytesIO(PDF), "同时上传.pdf", db.session.get(User, user_id))
                commit()
                done["id"] = att.id
            finally:
                db.session.remove()

    try:
        store_attachment(io.BytesIO(PDF), "申请函.pdf", city.police_applicant)
        other = threading.Thread(target=second_upload)
        other.start()
        _wait_until_a_backend_waits_on_a_lock()
        db.session.rollback()
        other.join(timeout=30)
        assert "id" in done
        assert _files(app) == [hashlib.sha256(PDF).hexdigest()]
        assert open_attachment(db.session.get(Attachment, done["id"])).read() == PDF
    finally:
        app.config["ATTACHMENT_STORAGE"] = "database"


def _wait_until_a_backend_waits_on_a_lock() -> None:
    deadline = time.monotonic() + 20
    with db.engine.connect() as conn:
        while not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                    "AND datname = current_database()")).scalar():
            assert time.monotonic() < deadline, "the second upload never waited"
            conn.rollback()
            time.sleep(0.01)


# ---- content stored before the database kept it ---------------------------------------------------

def test_content_kept_in_the_folder_is_read_in_database_mode_and_imported(app, city, runner):
    app.config["ATTACHMENT_STORAGE"] = "folder"
    try:
        att = store_attachment(io.BytesIO(PDF), "旧附件.pdf", city.police_applicant)
        commit()
    finally:
        app.config["ATTACHMENT_STORAGE"] = "database"
    assert open_attachment(att).read() == PDF  # database mode still reads what the folder holds
    result = runner.invoke(args=["attachments", "import-folder"])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(AttachmentContent.data)) == PDF
    _clear_folder(app)  # the folder may now go: the database has it
    assert open_attachment(att).read() == PDF
    again = runner.invoke(args=["attachments", "import-folder"])
    assert again.exit_code == 0 and "0" in again.output


def test_folder_kept_content_uploaded_again_in_database_mode_goes_into_the_database(app, city):
    app.config["ATTACHMENT_STORAGE"] = "folder"
    try:
        store_attachment(io.BytesIO(PDF), "旧附件.pdf", city.police_applicant)
        commit()
    finally:
        app.config["ATTACHMENT_STORAGE"] = "database"
    again = store_attachment(io.BytesIO(PDF), "新上传.pdf", city.health_applicant)
    commit()
    assert db.session.scalar(select(AttachmentContent.data)) == PDF and _count(AttachmentContent) == 1
    _clear_folder(app)
    assert open_attachment(again).read() == PDF


def test_import_refuses_a_file_whose_content_does_not_match(app, city, runner):
    app.config["ATTACHMENT_STORAGE"] = "folder"
    try:
        att = store_attachment(io.BytesIO(PDF), "旧附件.pdf", city.police_applicant)
        commit()
    finally:
        app.config["ATTACHMENT_STORAGE"] = "database"
    (Path(app.config["ATTACHMENT_DIR"]) / att.sha256).write_bytes(PDF + b"x")
    result = runner.invoke(args=["attachments", "import-folder"])
    assert result.exit_code == 1 and att.sha256 in result.output
    db.session.expire_all()
    assert db.session.scalar(select(AttachmentContent.data)) is None


# ---- names and types ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "clean"), [
    ("申请函.pdf", "申请函.pdf"),
    ("C:\\Users\\张三\\Desktop\\申请函.pdf", "申请函.pdf"),  # a browser may send the whole path
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("e\u0301tude.pdf", "\u00e9tude.pdf"),  # NFC
    ("申请\x00函\x1b[31m.pdf", "申请函[31m.pdf"),  # control characters
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),  # a right-to-left override hides the real extension
    ("  申请   函\t\n第一版 .pdf ", "申请 函 第一版 .pdf"),  # whitespace collapsed, ends trimmed
    ("..申请函.pdf..", "申请函.pdf"),  # no hidden or dot-ended names
])
def test_file_names_are_normalised(raw, clean):
    assert clean_filename(raw) == clean


def test_long_file_names_are_shortened_keeping_the_extension(app, city, storage):
    att = store_attachment(io.BytesIO(PDF), "长" * 300 + ".PDF", city.police_applicant)
    commit()
    limit = Attachment.__table__.c.filename.type.length
    assert len(att.filename) == min(255, limit) and att.filename == "长" * (min(255, limit) - 4) + ".PDF"
    db.session.expire_all()
    assert db.session.get(Attachment, att.id).filename == att.filename


def test_stores_the_detected_type_never_the_uploaders(app, city, storage):
    pdf = store_attachment(io.BytesIO(PDF), "poly.pdf", city.police_applicant)
    png = store_attachment(io.BytesIO(PNG), "seal.png", city.police_applicant)
    commit()
    assert (pdf.content_type, png.content_type) == ("application/pdf", "image/png")
