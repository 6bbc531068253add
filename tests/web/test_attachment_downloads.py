"""Sealed letters through the real endpoints: odd names never give 500, a failed submission leaves
no file behind, and a download is sent with the type we detected, never the uploader's, as a
sandboxed attachment the browser will not render as a page."""
from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.catalog.models import Attachment
from app.extensions import db
from tests import factories as f
from tests.flows.conftest import PDF

APPLICATION = {"purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务", "items": ["公民身份号码"],
               "legal_basis": "《母婴保健法》第二十三条", "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}
# A PDF that is also an HTML page: served as text/html it would run its script on our origin.
POLYGLOT = b"%PDF-1.4\n<html><body><script>alert(document.domain)</script></body></html>\n%%EOF\n"


@pytest.fixture()
def folder(app):
    """ATTACHMENT_STORAGE=folder for this test, its folder empty at the start."""
    original = app.config.get("ATTACHMENT_STORAGE")
    app.config["ATTACHMENT_STORAGE"] = "folder"
    directory = Path(app.config["ATTACHMENT_DIR"])
    for leftover in directory.glob("*") if directory.exists() else ():
        leftover.unlink()
    yield directory
    app.config["ATTACHMENT_STORAGE"] = original


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _submit(client, user, entry, letter):
    return client.post("/api/applications", headers=f.bearer(user), content_type="multipart/form-data",
                       data={**APPLICATION, "entry_id": entry.id, "letter": letter})


def test_a_file_name_over_255_characters_is_shortened_not_a_500(client, flow, city, entries, clock):
    response = _submit(client, city.health_applicant, entries.conditional, (io.BytesIO(PDF), "函" * 300 + ".pdf"))
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    letter = db.session.get(Attachment, response.json["application"]["letter_attachment_id"])
    assert len(letter.filename) == 255 and letter.filename.endswith("函.pdf")


def test_a_submission_that_fails_after_storing_its_letter_leaves_no_file(client, city, entries, clock, folder):
    # No flow deployed: the application is refused only after its letter was written.
    response = _submit(client, city.health_applicant, entries.conditional, (io.BytesIO(PDF), "申请函.pdf"))
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _files(folder) == []


def test_a_refused_letter_leaves_no_file(client, flow, city, entries, clock, folder):
    response = _submit(client, city.health_applicant, entries.conditional, (io.BytesIO(b"MZ\x90\x00"), "申请函.pdf"))
    assert response.status_code == 422 and "letter" in response.json["errors"]["json"]
    assert _files(folder) == []


@pytest.mark.parametrize("storage", ["database", "folder"])
def test_download_has_the_detected_type_and_is_a_sandboxed_attachment(client, flow, city, entries, clock,
                                                                      app, storage):
    original = app.config.get("ATTACHMENT_STORAGE")
    app.config["ATTACHMENT_STORAGE"] = storage
    try:
        response = _submit(client, city.health_applicant, entries.conditional,
                           (io.BytesIO(POLYGLOT), "poly 申请函.pdf", "text/html"))
    finally:
        app.config["ATTACHMENT_STORAGE"] = original
    assert response.status_code == 201, response.json
    key = response.json["application"]["business_key"]
    attachment_id = response.json["application"]["letter_attachment_id"]
    f.login(client, "wjw.applicant")
    download = client.get(f"/applications/{key}/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == POLYGLOT
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('poly 申请函.pdf')}" in disposition
    assert 'filename="poly .pdf"' in disposition  # the ASCII fallback for old clients
    assert "sandbox" in [d.strip() for d in download.headers["Content-Security-Policy"].split(";")]


def test_a_stored_name_with_control_characters_still_makes_a_valid_header():
    # rows stored before names were cleaned may hold them; the header must never carry them
    from app.web.workview import content_disposition

    header = content_disposition("a\r\nSet-Cookie: x=1\t.pdf")
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in header)
    assert header.startswith('attachment; filename="a__Set-Cookie: x=1_.pdf"')
