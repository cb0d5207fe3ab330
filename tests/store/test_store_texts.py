"""Documents' extracted text in the store: kept by the SHA-256 of the bytes, the extractor's version and the reading,
read back in bulk and cut by the database; and a database of the schema before it (0007) gains the tables when a
command that writes opens it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import inspect
from test_store_upgrade import _at_revision, _revision
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store
from casework.store.migrate import head_revision
from casework.store.records import StoredText
from casework.store.url import create_store_engine

T0 = dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC)


def _text(content: bytes, pages: tuple[str, ...] = (), *, read_as: str = "any", error: str | None = None,
          extractor: int = 1) -> StoredText:
    return StoredText(hashlib.sha256(content).hexdigest(), extractor, read_as, "" if error else "pdf", pages,
                      len(pages), 3 if pages else 0, "intake reads at most 2 pages" if pages else "",
                      ("a note", "ünïcode ✓") if pages else (), error, T0)


def test_texts_round_trip_with_pages_reasons_and_readings(db_url: str, tmp_path: Path) -> None:
    letter = _text(b"letter", ("Claimant: Ann Smith\nPolicy: AB-1", "page two ✓ 日本"))
    sealed = _text(b"sealed", error="cannot read PDF: it is encrypted and opens only with a password")
    as_pdf = _text(b"odd", ("as a PDF",), read_as="pdf")
    as_text = _text(b"odd", ("as text",), read_as="text")
    older = _text(b"letter", ("an older extractor's text",), extractor=0)
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        assert store.put_document_texts([letter, sealed, as_pdf, as_text, older]) == 5
        # the same key again keeps what is stored: the same bytes give the same text
        assert store.put_document_texts([_text(b"letter", ("something else",)), sealed]) == 0
        found = store.document_texts([letter.sha256, sealed.sha256, as_pdf.sha256, "0" * 64, letter.sha256], 1)
        cut = store.document_texts([letter.sha256], 1, max_pages=1, max_chars=10)
        none = store.document_texts([letter.sha256], 1, max_pages=0)
    assert found[letter.sha256] == [letter] and found[sealed.sha256] == [sealed]
    assert sorted(found[as_pdf.sha256], key=lambda t: t.read_as) == [as_pdf, as_text]
    assert "0" * 64 not in found
    # the first pages, each cut to the characters asked for, by the database; the rest of the text as stored
    (short,) = cut[letter.sha256]
    assert short.pages == ("Claimant: ",) and short.page_count == 2 and short.notes == letter.notes
    assert none[letter.sha256][0].pages == ()


def test_texts_are_read_and_written_in_chunks_past_one_statement(db_url: str, tmp_path: Path) -> None:
    many = [_text(str(i).encode(), (f"page of {i}",)) for i in range(1_201)]
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        assert store.put_document_texts(many[:600]) == 600
        assert store.put_document_texts(many) == 601
        found = store.document_texts([text.sha256 for text in many], 1, max_pages=1)
    assert len(found) == 1_201 and all(found[text.sha256] == [text] for text in many)


def test_a_database_of_the_schema_before_gains_the_text_tables_and_its_documents_their_texts(
    db_url: str, tmp_path: Path,
) -> None:
    blobs = tmp_path / "blobs"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k"), "CASEWORK_BLOBS": str(blobs)}
    _at_revision(db_url, "0007")  # as the casework before this one left it
    engine = create_store_engine(db_url)
    try:
        with engine.connect() as conn:
            assert "document_texts" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
    # a read-only command refuses it, as before; one that writes migrates it
    similar = CliRunner().invoke(app, ["suggest", "similar", "c1", "--db", db_url], env=env)
    assert similar.exit_code == 2 and "has an older schema (revision 0007" in similar.output
    started = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", db_url],
                                 env=env)
    assert started.exit_code == 0, started.output
    assert _revision(db_url) == head_revision()
    with Store.open(db_url, audit_key=tmp_path / "k", blob_dir=blobs) as store:
        case_id = store.case_listing(limit=1)[0].id
        store.add_document(case_id, "note.txt", b"call back", media_type="text/plain", created_by="ann", now=T0)
    indexed = CliRunner().invoke(app, ["suggest", "index-documents", "--db", db_url], env=env)
    assert indexed.exit_code == 0, indexed.output
    assert indexed.stdout.startswith("index-documents: 1 texts extracted, 0 already stored")


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\nc1,Open,2026-01-01T09:00:00\nc1,Close,2026-01-01T10:00:00\n")
    return log


def _rows(url: str) -> list[tuple[object, ...]]:
    """Every text's key and page count, and every page's key, as the database holds them."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            texts = conn.exec_driver_sql("SELECT sha256, extractor, read_as, page_count FROM document_texts "
                                         "ORDER BY sha256, extractor, read_as").all()
            pages = conn.exec_driver_sql("SELECT sha256, extractor, read_as, page FROM document_text_pages "
                                         "ORDER BY sha256, extractor, read_as, page").all()
    finally:
        engine.dispose()
    return [tuple(r) for r in texts] + [("page", *r) for r in pages]


def test_prune_removes_older_extractors_texts_a_bounded_batch_per_transaction_and_nothing_else(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.store import texts as store_texts

    monkeypatch.setattr(store_texts, "PRUNE_TEXTS", 3)
    monkeypatch.setattr(store_texts, "PRUNE_PAGES", 4)
    current = [_text(f"doc {i}".encode(), tuple(f"page {n}" for n in range(i % 3))) for i in range(5)]
    newer = [_text(b"doc 0", ("a newer extractor's text",), extractor=2)]  # a newer casework sharing the database
    old = [_text(f"doc {i}".encode(), tuple(f"old page {n}" for n in range(i % 4)), extractor=0) for i in range(9)]
    old += [_text(b"doc 1", ("as a PDF",), read_as="pdf", extractor=0),  # one content read two ways
            _text(b"doc 2", ("as text",), read_as="text", extractor=0),
            _text(b"long", tuple(f"page {n}" for n in range(7)), extractor=0)]  # more pages than a batch takes
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        store.put_document_texts(current + newer + old)
        kept = _rows(db_url)
        batches = list(store.prune_document_texts(1))
        again = list(store.prune_document_texts(1))
        left = {sha: store.document_texts([sha], 0) for sha in {text.sha256 for text in old}}
        still = store.document_texts([text.sha256 for text in current], 1)
    assert sum(gone for gone, _ in batches) == len(old) == 12
    assert sum(pages for _, pages in batches) == sum(len(text.pages) for text in old) == 21
    # bounded: at most 3 texts, and 4 pages unless one content's have more (its older texts go together)
    assert len(batches) >= 5 and all(gone <= 3 and (pages <= 4 or (gone, pages) == (1, 7)) for gone, pages in batches)
    assert (1, 7) in batches
    assert again == [] and all(found == {} for found in left.values())
    assert _rows(db_url) == [row for row in kept if row[1] != 0 and (row[0] != "page" or row[2] != 0)]
    assert still == {text.sha256: [text] for text in current}
