"""Attachments: stored by sha256 on disk, with type, content and size limits."""
import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.catalog.attachments import open_attachment, store_attachment
from app.catalog.models import Attachment
from app.extensions import db
from app.validation import FieldErrors

PDF = b"%PDF-1.7\n" + b"sealed letter " * 100


def test_stores_by_hash_and_reads_back(app, city):
    att = store_attachment(io.BytesIO(PDF), "申请函.pdf", "application/pdf", city.police_applicant)
    db.session.commit()
    assert att.sha256 == hashlib.sha256(PDF).hexdigest() and att.size == len(PDF)
    assert (Path(app.config["ATTACHMENT_DIR"]) / att.sha256).read_bytes() == PDF
    assert open_attachment(att).read() == PDF


@pytest.mark.parametrize(("name", "content", "message"), [
    ("letter.exe", b"MZ....", "不支持的文件类型"),
    ("letter.pdf", b"not a pdf at all", "文件内容与扩展名不符"),
    ("letter.pdf", b"", "文件为空"),
    ("", PDF, "请选择要上传的文件"),
])
def test_refuses_bad_files_and_stores_nothing(app, city, name, content, message):
    with pytest.raises(FieldErrors) as err:
        store_attachment(io.BytesIO(content), name, "application/pdf", city.police_applicant, field="letter")
    assert message in err.value.errors["letter"][0]
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert list(Path(app.config["ATTACHMENT_DIR"]).glob(".upload-*")) == []  # no half-written file


def test_refuses_oversized_files(app, city):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    try:
        with pytest.raises(FieldErrors) as err:
            store_attachment(io.BytesIO(PDF * 2), "big.pdf", "application/pdf", city.police_applicant)
        assert "大小限制" in err.value.errors["file"][0]
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 20 * 1024 * 1024


def test_detects_a_tampered_file(app, city):
    att = store_attachment(io.BytesIO(PDF), "a.pdf", "application/pdf", city.police_applicant)
    (Path(app.config["ATTACHMENT_DIR"]) / att.sha256).write_bytes(PDF + b"x")
    with pytest.raises(OSError, match="篡改"):
        open_attachment(att)
