"""Attachments (sealed application letters, 南通 arts. 20, 24): stored on disk by content hash.

The file name on disk is the sha256 of the content, so a file is stored once however often it
is attached, and a stored file cannot be altered without its name no longer matching.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from app.audit.log import record
from app.catalog.models import Attachment
from app.extensions import db
from app.org.models import User
from app.validation import FieldErrors

_CHUNK = 1024 * 1024
# Content sniffing: the extension must agree with the first bytes for the common types.
_MAGIC = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".zip": (b"PK\x03\x04",),
    ".ofd": (b"PK\x03\x04",),
}


def _storage_dir() -> Path:
    path = Path(current_app.config["ATTACHMENT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_name(filename: str, field: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    suffix = Path(name).suffix.lower()
    allowed = current_app.config["ATTACHMENT_TYPES"]
    if not name:
        raise FieldErrors({field: ["请选择要上传的文件"]})
    if suffix not in allowed:
        raise FieldErrors({field: [f"不支持的文件类型，仅允许：{'、'.join(sorted(allowed))}"]})
    return name


def _copy_hashing(stream: BinaryIO, target: BinaryIO, field: str) -> tuple[str, int, bytes]:
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := stream.read(_CHUNK):
        if not head:
            head = chunk[:8]
        size += len(chunk)
        if size > limit:
            raise FieldErrors({field: [f"文件超过 {limit // (1024 * 1024)} MB 的大小限制"]})
        digest.update(chunk)
        target.write(chunk)
    if size == 0:
        raise FieldErrors({field: ["文件为空"]})
    return digest.hexdigest(), size, head


def store_attachment(stream: BinaryIO, filename: str, content_type: str, uploader: User,
                     owner_type: str | None = None, owner_id: str | None = None,
                     field: str = "file") -> Attachment:
    """Validate, store and register one file; the caller commits with its own change."""
    name = _check_name(filename, field)
    directory = _storage_dir()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            sha, size, head = _copy_hashing(stream, out, field)
        magic = _MAGIC.get(Path(name).suffix.lower())
        if magic and not head.startswith(magic):
            raise FieldErrors({field: ["文件内容与扩展名不符"]})
        os.replace(tmp, directory / sha)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    attachment = Attachment(
        sha256=sha, filename=name, content_type=content_type or "application/octet-stream",
        size=size, department_id=uploader.department_id, uploaded_by_id=uploader.id,
        owner_type=owner_type, owner_id=owner_id,
    )
    db.session.add(attachment)
    db.session.flush()
    record("attachment.stored", "attachment", attachment.id, actor=uploader,
           after={"filename": name, "sha256": sha, "size": size})
    return attachment


def open_attachment(attachment: Attachment) -> BinaryIO:
    """Open a stored file, refusing one whose content no longer matches its hash."""
    path = _storage_dir() / attachment.sha256
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise OSError(f"附件 {attachment.id} 内容已被篡改")
    return io.BytesIO(data)
