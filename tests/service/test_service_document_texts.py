"""A document attached through the service has its text extracted and stored right after the attach is durable;
a file that cannot be read is stored with the reason, and nothing about its text can fail the attach."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text

from casework.audit.verify import verify
from casework.insight.extraction import TEXT_VERSION, read_document
from casework.service import CaseService
from casework.store.records import DocumentRow, StoredText


def _stored(svc: CaseService, row: DocumentRow) -> list[StoredText]:
    return svc.store.document_texts([row.sha256], TEXT_VERSION).get(row.sha256, [])


def _attached(svc: CaseService, case_id: str, row: DocumentRow, data: bytes) -> None:
    """The attach stands whole: row, bytes and event, and the case's log verifies."""
    assert svc.store.documents(case_id)[-1] == row or row in svc.store.documents(case_id)
    assert svc.store.blobs.get(row.sha256) == data
    assert [e.payload["sha256"] for e in svc.store.events(case_id) if e.type == "document_attached"][-1] == row.sha256
    assert svc.state(case_id).documents[row.name] == row.version
    assert verify(svc.store).ok


def _blank_pdf(password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_attached_document_has_its_text_stored_as_the_reader_reads_it(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    letter = "Claimant: Ann Smith\r\nPolicy number: AB-123456\n".encode("utf-16")
    row = svc.add_document(case_id, "letter.txt", io.BytesIO(letter), media_type="text/plain", actor="ann")
    (stored,) = _stored(svc, row)
    read = read_document("letter.txt", letter, "letter", "text/plain")
    assert (stored.read_as, stored.form, stored.pages, stored.notes, stored.error) == (
        "any", "text", read.pages, read.notes, None)
    assert stored.pages == ("Claimant: Ann Smith\nPolicy number: AB-123456\n",)
    scan = svc.add_document(case_id, "scan.pdf", _blank_pdf(), media_type="application/pdf", actor="ann")
    (page,) = _stored(svc, scan)
    assert (page.form, page.pages, page.notes) == (
        "pdf", ("",), ("no text was found in it (a scanned page has none without a text layer)",))
    # the same bytes on another case are read once: its text is the one stored
    other = svc.start_case("claim", {"amount": 20}).case_id
    again = svc.add_document(other, "copy.txt", letter, media_type="text/plain", actor="bob")
    assert _stored(svc, again) == [stored]


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("sealed.pdf", _blank_pdf("secret"), "cannot read PDF: it is encrypted and opens only with a password"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64, "cannot read it: it is neither a PDF nor text"),
    ("cut.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R", "cannot read PDF: it is cut short or damaged"),
])
def test_a_file_whose_text_cannot_be_read_is_attached_and_the_reason_stored(
    svc: CaseService, name: str, data: bytes, reason: str,
) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    row = svc.add_document(case_id, name, data, media_type="application/octet-stream", actor="ann")
    _attached(svc, case_id, row, data)
    (stored,) = _stored(svc, row)
    assert stored.error is not None and stored.error.startswith(reason) and stored.pages == ()


def test_a_text_that_cannot_be_stored_leaves_the_attach_whole_and_is_read_when_needed(
    svc: CaseService, caplog: pytest.LogCaptureFixture,
) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    with svc.store.engine.begin() as conn:  # the text tables gone (or refusing writes): storing a text fails
        conn.execute(text("DROP TABLE document_text_pages"))
        conn.execute(text("DROP TABLE document_texts"))
    with caplog.at_level(logging.WARNING, logger="casework.insight.doctext"):
        row = svc.add_document(case_id, "letter.txt", b"Claimant: Ann Smith", media_type="text/plain", actor="ann")
    _attached(svc, case_id, row, b"Claimant: Ann Smith")
    assert "the text of document 'letter.txt' of case" in caplog.text and "is read when needed" in caplog.text


def test_a_reader_that_fails_leaves_the_attach_whole_and_no_text_stored(
    svc: CaseService, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import doctext

    def broken(*args: object, **kwargs: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")  # as pypdf on deeply nested objects

    monkeypatch.setattr(doctext, "read_content", broken)
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    row = svc.add_document(case_id, "form.pdf", _blank_pdf(), media_type="application/pdf", actor="ann")
    _attached(svc, case_id, row, _blank_pdf())
    assert _stored(svc, row) == []  # not a reason: nothing says the bytes cannot be read; a reader tries again


def test_a_document_too_large_to_hold_is_read_from_a_stream_or_stored_as_too_large(
    svc: CaseService, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import doctext

    # Read whole, a document's text would hold it in memory whole: the attach streams a document of any size, and a
    # text file's text is its first bytes', read as they stream by; a PDF is read whole or not at all.
    monkeypatch.setattr(doctext, "INDEX_BYTES", 10)
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    letter, scan = b"Claimant: Ann Smith", _blank_pdf()
    with monkeypatch.context() as whole:
        whole.setattr(svc.store.blobs, "get", _never_whole)
        row = svc.add_document(case_id, "letter.txt", letter, media_type="text/plain", actor="ann")
    _attached(svc, case_id, row, letter)
    with monkeypatch.context() as whole:
        whole.setattr(svc.store.blobs, "get", _never_whole)
        pdf = svc.add_document(case_id, "scan.pdf", scan, media_type="application/pdf", actor="ann")
    _attached(svc, case_id, pdf, scan)
    (stored,) = _stored(svc, row)
    assert (stored.pages, stored.error) == (read_document("letter.txt", letter, "letter").pages, None)
    (too_large,) = _stored(svc, pdf)
    assert (too_large.pages, too_large.error) == ((), doctext.too_large_reason())


def _never_whole(sha256: str) -> bytes:
    raise AssertionError(f"the bytes of {sha256} were read whole")
