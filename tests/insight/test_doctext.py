"""Documents' text is extracted once and stored: `suggest similar` and `suggest intake` read the stored text, and
read a document whose text is not stored once, then store it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from test_extraction import CLAIM_PDF
from test_suggest_intake_cli import claim
from test_suggest_similar_cli import forget_texts, store
from typer.testing import CliRunner

from casework.cli import app
from casework.insight.extraction import TEXT_VERSION
from casework.insight.sample_pdf import text_pdf
from casework.store import Store
from casework.store.url import create_store_engine

runner = CliRunner()
__all__ = ["claim", "store"]  # fixtures


def _blob(env: dict[str, str], sha256: str) -> Path:
    return Path(env["CASEWORK_BLOBS"]) / sha256[:2] / sha256


def _texts(url: str) -> list[tuple[str, int, str | None]]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(  # type: ignore[misc]
                "SELECT sha256, page_count, error FROM document_texts ORDER BY sha256")]
    finally:
        engine.dispose()


def _sql(url: str, statement: str, **params: Any) -> None:
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def _documents(url: str, case_id: str) -> list[Any]:
    with Store.open(url) as st:
        return st.documents(case_id)


def _similar(url: str, env: dict[str, str], case_id: str) -> tuple[dict[str, Any], str]:
    result = runner.invoke(app, ["suggest", "similar", case_id, "--db", url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown, result.stderr


def _why(shown: dict[str, Any]) -> set[str]:
    return {term for match in shown["similar"] for term in match["why"]}


def test_similar_compares_the_stored_text_without_reading_the_blob(
    store: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = store
    (letter,) = _documents(url, ids["open"])
    assert [sha for sha, _, _ in _texts(url)] == [letter.sha256]  # stored when it was attached
    _blob(env, letter.sha256).unlink()  # the bytes gone: only the stored text can say what the letter is about
    shown, _ = _similar(url, env, ids["open"])
    assert shown["similar"][0]["case"] == ids["hail"] and {"hail", "bonnet", "dented"} <= _why(shown)
    assert shown["documents_by_kind_only"] == 0


def test_similar_reads_a_document_not_stored_once_and_stores_its_text(
    store: tuple[str, dict[str, str], dict[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import similar_cli

    url, env, ids = store
    forget_texts(url)
    (letter,) = _documents(url, ids["open"])
    first, _ = _similar(url, env, ids["open"])
    assert {"hail", "bonnet"} <= _why(first)
    assert _texts(url) == [(letter.sha256, 1, None)]  # read from the blob, and stored
    _blob(env, letter.sha256).unlink()
    monkeypatch.setattr(similar_cli, "DOCUMENTS_SECONDS", 0)  # no time to read anything: stored text is no reading
    second, err = _similar(url, env, ids["open"])
    assert second == first and "kind alone" not in err


def test_a_read_only_copy_is_compared_and_left_as_it_was(tmp_path: Path) -> None:
    from test_suggest_similar_cli import _closed

    from casework.demo import demo_model_xml
    from casework.service import CaseService

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    with Store.open(url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as st, \
            CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        _closed(svc, {"cause": "hail storm dented the bonnet"}, withdrawn=True, reason="hail", days=4, started=0)
        _closed(svc, {"cause": "burst pipe"}, withdrawn=False, reason="plumber", days=9, started=1)
        open_id = svc.start_case("insuranceClaim", {"amount": 1}, actor="ann").case_id
        st.add_document(open_id, "letter.txt", b"hail on the bonnet", media_type="text/plain", created_by="ann",
                        now=dt.datetime.now(dt.UTC))  # no text stored
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as conn:  # a copy made with the sqlite3 shell's .backup
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    before = path.read_bytes()
    shown, err = _similar(url, env, open_id)
    assert "bonnet" in _why(shown)  # read from the blob for this query
    assert "the text of 1 documents read now was not stored (the database file is in delete journal mode" in err
    assert path.read_bytes() == before


def test_intake_reads_the_stored_text_once_the_bytes_match(claim: tuple[str, dict[str, str], str]) -> None:
    url, env, case_id = claim
    (form,) = _documents(url, case_id)
    assert _texts(url) == [(form.sha256, 2, None)]  # the two pages, stored when it was attached
    # The stored page says something else than the bytes do: what intake shows comes from the store.
    _sql(url, "UPDATE document_text_pages SET text = replace(text, 'Ann Smith', 'Bea Stored') WHERE page = 1")
    shown = _intake(url, env, case_id)
    assert {f["field"]: f["value"] for f in shown["fill"]}["claimant"] == "Bea Stored"
    # and only while the bytes are those the case recorded: checked as before
    _blob(env, form.sha256).write_bytes(b"edited")
    edited = _intake(url, env, case_id)
    assert edited["fill"] == [] and edited["problems"][0] == (
        f"claim_form.pdf: its stored bytes cannot be read (blob {form.sha256} is corrupt on disk); it was not "
        "searched")


def test_intake_reads_a_document_not_stored_once_and_stores_its_text(
    claim: tuple[str, dict[str, str], str],
) -> None:
    url, env, case_id = claim
    forget_texts(url)
    first = _intake(url, env, case_id)
    (form,) = _documents(url, case_id)
    assert _texts(url) == [(form.sha256, 2, None)]
    _sql(url, "UPDATE document_text_pages SET text = replace(text, 'Ann Smith', 'Bea Stored') WHERE page = 1")
    second = _intake(url, env, case_id)
    assert {f["field"]: f["value"] for f in first["fill"]}["claimant"] == "Ann Smith"
    assert {f["field"]: f["value"] for f in second["fill"]}["claimant"] == "Bea Stored"


def test_intake_reads_a_text_file_too_large_to_hold_from_a_stream_and_says_a_pdf_is_too_large(
    claim: tuple[str, dict[str, str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import doctext

    url, env, case_id = claim
    (form,) = _documents(url, case_id)
    forget_texts(url)  # attached before texts were stored
    monkeypatch.setattr(doctext, "INDEX_BYTES", 10)  # the PDF is too large to hold
    reason = doctext.too_large_reason()
    shown = _intake(url, env, case_id)
    assert shown["fill"] == [] and shown["problems"] == [f"claim_form.pdf: {reason}"]
    assert _texts(url) == [(form.sha256, 0, reason)]  # stored: the next query says why without reading it
    typed = tmp_path / "claim_form.txt"
    typed.write_text("Policy number: AB-123456\nClaimant: Ann Smith\nClaimed amount: EUR 12,500.00\n")
    assert runner.invoke(app, ["case", "attach", case_id, str(typed), "--as", "ann", "--db", url],
                         env=env).exit_code == 0
    (_, text_file) = _documents(url, case_id)
    assert (text_file.sha256, 1, None) in _texts(url)  # read from a stream at the attach
    found = _intake(url, env, case_id)
    assert {f["field"]: (f["value"], f["document"]) for f in found["fill"]}["claimant"] == ("Ann Smith",
                                                                                          "claim_form.txt")


def test_an_unreadable_document_is_stored_with_its_reason_and_intake_says_it(
    claim: tuple[str, dict[str, str], str], tmp_path: Path,
) -> None:
    url, env, case_id = claim
    photo = tmp_path / "claim_form.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    result = runner.invoke(app, ["case", "attach", case_id, str(photo), "--as", "ann", "--db", url], env=env)
    assert result.exit_code == 0, result.output
    (_, png) = _documents(url, case_id)
    reason = ("cannot read it: it is neither a PDF nor text (its bytes look like an image, an archive or another "
              "binary format)")
    assert (png.sha256, 0, reason) in _texts(url)
    assert f"claim_form.png: {reason}" in _intake(url, env, case_id)["problems"]


def test_index_documents_stores_what_is_missing_once(claim: tuple[str, dict[str, str], str], tmp_path: Path) -> None:
    url, env, case_id = claim
    encrypted = tmp_path / "sealed.pdf"
    encrypted.write_bytes(_encrypted_pdf())
    assert runner.invoke(app, ["case", "attach", case_id, str(encrypted), "--as", "ann", "--db", url],
                         env=env).exit_code == 0
    with Store.open(url, blob_dir=env["CASEWORK_BLOBS"]) as st:  # the same bytes again, and a text, with no event
        st.add_document(case_id, "copy.pdf", text_pdf(CLAIM_PDF), media_type="application/pdf", created_by="ann",
                        now=dt.datetime.now(dt.UTC))
        st.add_document(case_id, "note.txt", b"call back on Monday", media_type="text/plain", created_by="ann",
                        now=dt.datetime.now(dt.UTC))
    forget_texts(url)
    first = runner.invoke(app, ["suggest", "index-documents", "--db", url], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("index-documents: 2 texts extracted, 0 already stored, 1 unreadable (stored with "
                                   "the reason), 0 whose bytes are missing or damaged")
    assert "  1 unreadable: cannot read PDF: it is encrypted and opens only with a password" in first.stdout
    stored = _texts(url)
    assert len(stored) == 3 and sum(1 for _, _, error in stored if error) == 1
    again = runner.invoke(app, ["suggest", "index-documents", "--db", url], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("index-documents: 0 texts extracted, 3 already stored, 0 unreadable")
    assert _texts(url) == stored
    with Store.open(url) as st:
        texts = st.document_texts([sha for sha, _, _ in stored], TEXT_VERSION)
    assert "call back on Monday" in {page for found in texts.values() for text in found for page in text.pages}


def test_index_documents_stores_a_pdf_too_large_to_hold_as_unreadable_with_the_reason(
    claim: tuple[str, dict[str, str], str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import doctext

    url, env, case_id = claim
    (form,) = _documents(url, case_id)
    forget_texts(url)
    monkeypatch.setattr(doctext, "INDEX_BYTES", 10)
    result = runner.invoke(app, ["suggest", "index-documents", "--db", url], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "index-documents: 0 texts extracted, 0 already stored, 1 unreadable (stored with the reason), 0 whose bytes "
        "are missing or damaged (the same bytes on several documents count once)",
        f"  1 unreadable: {doctext.too_large_reason()}"]
    assert _texts(url) == [(form.sha256, 0, doctext.too_large_reason())]


def test_index_documents_prune_removes_older_extractors_texts_and_keeps_the_current_ones(
    claim: tuple[str, dict[str, str], str],
) -> None:
    url, env, case_id = claim
    (form,) = _documents(url, case_id)
    with Store.open(url) as st:
        current = st.document_texts([form.sha256], TEXT_VERSION)
        # as an older extractor left them: the attached form's own text, and that of bytes no document holds now
        st.put_document_texts([replace(text, extractor=TEXT_VERSION - 1, pages=("old",), page_count=1)
                               for text in current[form.sha256]]
                              + [replace(current[form.sha256][0], sha256="a" * 64, extractor=TEXT_VERSION - 1)])
    assert len(_texts(url)) == 3
    pruned = runner.invoke(app, ["suggest", "index-documents", "--prune", "--db", url], env=env)
    assert pruned.exit_code == 0, pruned.output
    assert pruned.stdout.splitlines()[-1] == (f"prune: 2 texts of an extractor older than version {TEXT_VERSION} "
                                              "removed, with their 3 pages, in 1 transaction")
    assert pruned.stdout.startswith("index-documents: 0 texts extracted, 1 already stored")
    assert _texts(url) == [(form.sha256, 2, None)]
    with Store.open(url) as st:
        assert st.document_texts([form.sha256], TEXT_VERSION) == current
    again = runner.invoke(app, ["suggest", "index-documents", "--prune", "--db", url], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == (f"prune: no text of an extractor older than version {TEXT_VERSION} "
                                             "is stored")


def _encrypted_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _intake(url: str, env: dict[str, str], case_id: str) -> dict[str, Any]:
    result = runner.invoke(app, ["suggest", "intake", case_id, "--case-type", "insurance_claim", "--db", url,
                                 "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def _damaged_start() -> bytes:
    # a PDF whose signature was lost: read as a PDF only if its name or type says so, else as text
    return text_pdf(CLAIM_PDF).replace(b"%PDF-1.4", b"%PDX-1.4", 1)


SAMPLES = {"empty": b"", "utf16": "Claimant: Ann Smith\r\n".encode("utf-16"), "pdf": text_pdf(CLAIM_PDF),
           "blank-pdf": text_pdf([[]]), "damaged-start": _damaged_start(),
           "png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "cut": text_pdf(CLAIM_PDF)[:300]}
NAMES = pytest.mark.parametrize(("name", "media_type"), [("form.pdf", "application/pdf"), ("form.txt", "text/plain"),
                                                         ("form", "application/pdf")])


@pytest.mark.parametrize("data", SAMPLES.values(), ids=SAMPLES.keys())
@NAMES
def test_a_stored_text_gives_what_reading_the_bytes_gives(data: bytes, name: str, media_type: str) -> None:
    from casework.insight.doctext import choose, document_text, extract
    from casework.insight.extraction import ExtractionError, read_document

    try:
        expected: object = read_document(name, data, "form", media_type)
    except ExtractionError as exc:
        expected = str(exc)
    # every reading the same bytes were stored under, whatever name held them first
    stored = [extract("0" * 64, data, other, kind)[0] for other, kind in (("a.pdf", "application/pdf"),
                                                                          ("a.txt", "text/plain"))]
    text = choose(stored, name, media_type)
    assert text is not None
    try:
        got: object = document_text(text, name, "form", media_type)
    except ExtractionError as exc:
        got = str(exc)
    assert got == expected


# Longer than the head read of a text file in the test below (its last character split there), or holding a PDF
# object's marker that a stream's chunks split, and no PDF signature.
LONG = {"long-utf8": "Claimant: Ann Smith, ünïcode ✓ policy AB-1.\n".encode() * 12,
        "long-utf16": "Claimant: Ann Smith\r\n".encode("utf-16") * 10,
        "long-utf32": ("Claimant: Ann Smith\n" * 3).encode("utf-32"),  # its head holds fewer characters than kept
        "marker": b"notes " * 40 + b"trailer\nstartxref\n123\n%%EOF\n"}


@pytest.mark.parametrize("data", [*SAMPLES.values(), *LONG.values()], ids=[*SAMPLES, *LONG])
@NAMES
def test_a_document_too_large_to_hold_is_read_from_a_stream_as_whole_or_stored_as_a_pdf_too_large(
    data: bytes, name: str, media_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import doctext, extraction
    from casework.store import blobs as blob_store

    # every document (but the empty one) too large to hold; a text file's head 201 bytes, read 4 at a time
    monkeypatch.setattr(doctext, "INDEX_BYTES", 10)
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 50)
    monkeypatch.setattr(extraction, "TEXT_HEAD_BYTES", 200)
    monkeypatch.setattr(doctext, "TEXT_HEAD_BYTES", 200)
    monkeypatch.setattr(blob_store, "CHUNK", 4)
    blobs = blob_store.BlobStore(tmp_path / "blobs")
    sha256 = blobs.put(data)
    whole, _ = doctext.extract(sha256, data, name, media_type)
    if data:
        monkeypatch.setattr(blobs, "get", _never_whole)
    streamed, complete = doctext.read_text(blobs, sha256, name, media_type, len(data))
    assert complete
    if data and extraction.reads_as_pdf(data, extraction.said_pdf(name, media_type)):
        assert streamed == replace(whole, form="", pages=(), page_count=0, unread_pages=0, unread_reason="",
                                      notes=(), error=doctext.too_large_reason(), extracted_at=streamed.extracted_at)
        assert streamed.error == ("cannot read PDF: it is larger than 10 bytes, the most of a PDF that is read (a PDF "
                                  "is read with all its bytes in memory): enter its fields by hand, or attach a "
                                  "smaller copy")
    else:
        assert streamed == replace(whole, extracted_at=streamed.extracted_at)
    if data in LONG.values() and not streamed.error:
        assert streamed.notes == ("only its first 50 characters were searched, the most intake searches in one "
                                  "document",)


def _never_whole(sha256: str) -> bytes:
    raise AssertionError(f"the bytes of {sha256} were read whole")
