"""Attachments (sealed application letters, 南通 arts. 20, 24): content addressed by its sha256.

The content of a file is stored once however often it is attached, in `attachment_content`
keyed by its sha256, and checked against that hash whenever it is read, so stored content
cannot be altered unnoticed. Where the bytes live is ATTACHMENT_STORAGE:

- `database` (the default): in the content row itself — every web host sees the same files,
  and a rollback takes the bytes with it;
- `folder`: in ATTACHMENT_DIR, one file named by the sha256 (the row's `data` is NULL). A file
  written by a transaction that rolls back is removed again (`_remove_unless_committed`).

Content stored in the folder stays readable in either mode; `flask attachments import-folder`
copies it into the database, as does an upload of the same content in database mode. The file's type is the one `FILE_TYPES` says for its extension,
after its first bytes agreed; what the uploader's browser claimed is never stored or served.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.audit.log import record
from app.catalog.models import Attachment, AttachmentContent
from app.clock import utcnow
from app.db import transaction
from app.extensions import db
from app.org.models import User
from app.validation import FieldErrors


@dataclass(frozen=True)
class FileType:
    mime: str
    magic: tuple[bytes, ...]  # the content must start with one of these


_ZIP = (b"PK\x03\x04",)  # OOXML and OFD (GB/T 33190) documents are zip packages
# The one list of what may be attached: extension → the type we store and serve → first bytes.
FILE_TYPES: dict[str, FileType] = {
    ".pdf": FileType("application/pdf", (b"%PDF-",)),
    ".ofd": FileType("application/ofd", _ZIP),
    ".jpg": FileType("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": FileType("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": FileType("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".docx": FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    ".xlsx": FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    ".zip": FileType("application/zip", _ZIP),
}
STORAGE_MODES = ("database", "folder")
_CHUNK = 1024 * 1024
_HEAD = 16  # enough bytes for the longest magic above
# A name's length limit: file systems take 255, and so does the column.
MAX_NAME = min(255, Attachment.__table__.c.filename.type.length)
# Control and format characters (NUL, ESC, bidi overrides that disguise an extension, lone
# surrogates the database cannot store) are dropped from names.
_DROPPED = {"Cc", "Cf", "Cs"}


def clean_filename(raw: str | None) -> str:
    """The name to keep for an uploaded file: Unicode NFC, no directory parts, no control or
    format characters, whitespace collapsed, no leading/trailing dots or spaces, and at most
    MAX_NAME characters — a longer stem is cut, the extension kept. May be '' (nothing left)."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"\s+", " ", name)  # before dropping controls: a tab or newline separates words
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED).strip(" .")
    if len(name) > MAX_NAME:
        stem, suffix = os.path.splitext(name)
        if len(suffix) >= MAX_NAME // 2:  # not an extension anyone uses: the type check refuses it
            suffix = ""
        name = stem[:MAX_NAME - len(suffix)].rstrip(" .") + suffix
    return name


def file_type(filename: str) -> FileType | None:
    return FILE_TYPES.get(Path(filename).suffix.lower())


def served_type(attachment: Attachment) -> str:
    """The Content-Type to send: the detected type stored with it, if it is one of ours."""
    known = {t.mime for t in FILE_TYPES.values()}
    return attachment.content_type if attachment.content_type in known else "application/octet-stream"


def _check_name(filename: str | None, field: str) -> tuple[str, FileType]:
    name = clean_filename(filename)
    if not name:
        raise FieldErrors({field: ["请选择要上传的文件"]})
    kind = file_type(name)
    if kind is None:
        raise FieldErrors({field: [f"不支持的文件类型，仅允许：{'、'.join(sorted(FILE_TYPES))}"]})
    return name, kind


def _storage() -> str:
    mode = current_app.config["ATTACHMENT_STORAGE"]
    if mode not in STORAGE_MODES:
        raise RuntimeError(f"ATTACHMENT_STORAGE={mode!r}: use one of {', '.join(STORAGE_MODES)}")
    return mode


def _folder() -> Path:
    return Path(current_app.config["ATTACHMENT_DIR"])


def _copy_hashing(stream: BinaryIO, target: BinaryIO, field: str) -> tuple[str, int, bytes]:
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := stream.read(_CHUNK):
        if len(head) < _HEAD:
            head += chunk[:_HEAD - len(head)]
        size += len(chunk)
        if size > limit:
            raise FieldErrors({field: [f"文件超过 {limit // (1024 * 1024)} MB 的大小限制"]})
        digest.update(chunk)
        target.write(chunk)
    if size == 0:
        raise FieldErrors({field: ["文件为空"]})
    return digest.hexdigest(), size, head


def _check_content(head: bytes, kind: FileType, field: str) -> None:
    if not head.startswith(kind.magic):
        raise FieldErrors({field: ["文件内容与扩展名不符"]})


def store_attachment(stream: BinaryIO, filename: str, uploader: User,
                     owner_type: str | None = None, owner_id: str | None = None,
                     field: str = "file") -> Attachment:
    """Validate, store and register one file in the session's transaction; the caller commits
    with its own change. Raises FieldErrors (naming `field`) for a file we do not take."""
    name, kind = _check_name(filename, field)
    if _storage() == "database":
        buffer = io.BytesIO()
        sha, size, head = _copy_hashing(stream, buffer, field)
        _check_content(head, kind, field)
        in_folder = _kept_in_folder(sha)
        if in_folder is None:
            _insert_content(sha, size, buffer.getvalue())
        elif in_folder:  # stored before in the folder: the database keeps it from now on
            db.session.execute(update(AttachmentContent).where(AttachmentContent.sha256 == sha)
                               .values(data=buffer.getvalue()))
    else:
        sha, size = _store_in_folder(stream, kind, field)
    attachment = Attachment(
        sha256=sha, filename=name, content_type=kind.mime, size=size,
        department_id=uploader.department_id, uploaded_by_id=uploader.id,
        owner_type=owner_type, owner_id=owner_id,
    )
    db.session.add(attachment)
    db.session.flush()
    record("attachment.stored", "attachment", attachment.id, actor=uploader,
           after={"filename": name, "sha256": sha, "size": size, "content_type": kind.mime})
    return attachment


def _kept_in_folder(sha: str) -> bool | None:
    """Whether known content is kept in the folder (True) or the database (False); None: unknown."""
    held = db.session.scalar(select(AttachmentContent.data.is_(None)).where(AttachmentContent.sha256 == sha))
    return None if held is None else bool(held)


def _insert_content(sha: str, size: int, data: bytes | None) -> bool:
    """Insert the content row unless it is there; True when this transaction inserted it.
    On PostgreSQL a second transaction inserting the same sha256 waits for the first to end,
    so exactly one of them owns (writes, and on rollback removes) a folder file."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (insert(AttachmentContent.__table__).values(sha256=sha, size=size, data=data, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["sha256"]).returning(AttachmentContent.sha256))
    return db.session.execute(stmt).first() is not None  # no row back: it was there


def _store_in_folder(stream: BinaryIO, kind: FileType, field: str) -> tuple[str, int]:
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            sha, size, head = _copy_hashing(stream, out, field)
        _check_content(head, kind, field)
        path = folder / sha
        if _insert_content(sha, size, None):
            # New content: the file belongs to this transaction (no committed row names it).
            with _folder_lock(folder):
                os.replace(tmp, path)
                identity = _identity(path)
            _remove_unless_committed(db.session(), path, identity)
        elif _kept_in_folder(sha) and not path.exists():  # its file went missing: same bytes, put back
            with _folder_lock(folder):
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return sha, size


# session.info key: the folder files written in the session's open transactions, as
# (outermost transaction, path, the file's identity) triples; see _remove_unless_committed.
_WRITTEN = "attachment_files_written"


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Putting a file in place and removing a rolled-back one take turns (for microseconds):
    the transaction that waited on a rolled-back one's content row may be putting its own file
    there while the rolled-back one removes its file, and must not lose it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_unless_committed(session: Session, path: Path, identity: tuple[int, int] | None) -> None:
    """Remove `path` when the session's current (outermost) transaction ends without committing
    — rolled back, or the session closed — so a failed request leaves no file behind.

    The first file a session writes installs two listeners on that one session (not on every
    session): its commit keeps the files of the committed transaction, the end of a transaction
    removes those still listed. When the explicit transaction() context manager lands, this
    becomes its on-rollback hook."""
    written = session.info.get(_WRITTEN)
    if written is None:
        written = session.info[_WRITTEN] = []
        event.listen(session, "after_commit", _keep_committed_files)
        event.listen(session, "after_transaction_end", _remove_files_not_committed)
    written.append((session.get_transaction(), path, identity))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _keep_committed_files(session: Session) -> None:
    if session.in_nested_transaction():  # a released savepoint is not the commit
        return
    committed = session.get_transaction()
    session.info[_WRITTEN] = [w for w in session.info[_WRITTEN] if w[0] is not committed]


def _remove_files_not_committed(session: Session, ended) -> None:
    written = session.info[_WRITTEN]
    if any(w[0] is ended for w in written):
        session.info[_WRITTEN] = [w for w in written if w[0] is not ended]
        for _, path, identity in (w for w in written if w[0] is ended):
            # Only the file this transaction wrote: once its content row is gone, another
            # transaction waiting on that row may already have put its own file there.
            with _folder_lock(path.parent):
                if _identity(path) == identity:
                    path.unlink(missing_ok=True)


def open_attachment(attachment: Attachment) -> BinaryIO:
    """The stored content, refusing one that no longer matches its hash (OSError, also when it is
    missing)."""
    data = db.session.scalar(select(AttachmentContent.data).where(AttachmentContent.sha256 == attachment.sha256))
    if data is None:  # kept in the folder
        data = (_folder() / attachment.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise OSError(f"附件 {attachment.id} 内容已被篡改")
    return io.BytesIO(data)


def import_folder() -> tuple[int, list[str]]:
    """Copy content kept in the folder into the database, each after its hash is checked; the
    files stay (remove them once every host runs in database mode). Commits per file. Returns
    how many were imported and the sha256 of those that could not be (missing or altered)."""
    pending = db.session.scalars(select(AttachmentContent.sha256).where(AttachmentContent.data.is_(None))).all()
    imported, problems = 0, []
    for sha in pending:
        try:
            data = (_folder() / sha).read_bytes()
        except OSError:
            problems.append(sha)
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            problems.append(sha)
            continue
        with transaction():  # one file per commit: an interrupted import keeps what it did
            db.session.get(AttachmentContent, sha).data = data
        imported += 1
    return imported, problems
