"""Attaching a document is a change of the case like any other: an event in its hash-chained log, written in the
same transaction as the document's row."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from helpers_service import T0, assert_stored_state_is_the_log

from casework.audit.timetravel import state_at
from casework.audit.verify import verify
from casework.engine import CommandRejected, commands
from casework.service import CaseService, DocumentTooLarge, InvalidInput, NotFound
from casework.store.blobs import CHUNK
from casework.store.storable import NotStorable
from casework.store.testing import Reader


def test_attaching_a_document_is_audited_with_its_content_digest(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    first = svc.add_document(case_id, "police_report.pdf", b"%PDF draft", media_type="application/pdf",
                             actor="ann", reason="sent by the claimant")
    second = svc.add_document(case_id, "police_report.pdf", b"%PDF signed", media_type="application/pdf",
                              actor="bob", now=T0 + timedelta(hours=2))
    photo = svc.add_document(case_id, " photo.jpg ", b"\xff\xd8", media_type="image/jpeg", actor="ann")
    assert (first.version, second.version, photo.version, photo.name) == (1, 2, 1, "photo.jpg")
    assert svc.store.documents(case_id) == [photo, first, second]  # the rows, exactly as returned
    assert svc.store.blobs.get(second.sha256) == b"%PDF signed"

    attached = [e for e in svc.store.events(case_id) if e.type == "document_attached"]
    assert [(e.actor, e.reason, e.payload["name"], e.payload["version"]) for e in attached] == [
        ("ann", "sent by the claimant", "police_report.pdf", 1),
        ("bob", None, "police_report.pdf", 2),
        ("ann", None, "photo.jpg", 1),
    ]
    assert attached[1].payload == {"id": second.id, "name": "police_report.pdf", "version": 2,
                                   "sha256": second.sha256, "size": len(b"%PDF signed"),
                                   "media_type": "application/pdf"}
    assert attached[1].at == "2024-05-01T11:00:00Z" and second.created_at == T0 + timedelta(hours=2)
    assert svc.state(case_id).documents == {"police_report.pdf": 2, "photo.jpg": 1}
    # before the second version arrived, the case knew the first only
    assert state_at(svc.store, case_id, seq=attached[0].seq).documents == {"police_report.pdf": 1}
    assert_stored_state_is_the_log(svc.store, case_id)
    assert verify(svc.store).ok


def test_a_suspended_case_takes_a_document_and_its_plan_stays_on_hold(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.SuspendCase(actor="ann", reason="waiting for documents"))
    held = {i.id: i.state for i in svc.state(case_id).items.values()}
    row = svc.add_document(case_id, "police_report.pdf", b"%PDF report", media_type="application/pdf", actor="bob",
                           reason="sent by the police", now=T0 + timedelta(hours=1))
    state = svc.state(case_id)
    assert (row.version, state.status, state.documents) == (1, "suspended", {"police_report.pdf": 1})
    assert {i.id: i.state for i in state.items.values()} == held
    assert svc.store.documents(case_id) == [row] and svc.store.blobs.get(row.sha256) == b"%PDF report"
    last = svc.store.events(case_id)[-1]
    assert (last.type, last.actor, last.reason, last.at) == ("document_attached", "bob", "sent by the police",
                                                             "2024-05-01T10:00:00Z")
    assert_stored_state_is_the_log(svc.store, case_id)
    assert verify(svc.store).ok


def test_a_document_the_case_cannot_take_leaves_no_row_and_no_event(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    before = (svc.store.counts(), svc.store.documents())
    with pytest.raises(CommandRejected, match="has ended"):
        svc.add_document(case_id, "late.pdf", b"x", media_type="application/pdf", actor="ann")
    with pytest.raises(NotFound):
        svc.add_document("no-such-case", "x.pdf", b"x", media_type="application/pdf", actor="ann")
    for name, media_type, message in (("", "text/plain", "a document needs a name"),
                                      ("a\x00b", "text/plain", "NUL"),
                                      ("n" * 501, "text/plain", "document name"),
                                      ("x.txt", "", "a document needs its id and media type"),
                                      ("x.txt", "not a type", "'not a type' is not a media type"),
                                      ("x.txt", "text/", "is not a media type")):
        with pytest.raises((InvalidInput, CommandRejected), match=message):
            svc.add_document(svc.start_case("claim", {"amount": 1}).case_id, name, b"x", media_type=media_type,
                             actor="ann")
    assert svc.store.documents() == before[1] == []
    assert list(svc.store.iter_events(types=["document_attached"])) == []
    assert [e.type for e in svc.store.events(case_id)][-1] != "document_attached"


def test_a_replayed_case_gets_its_documents_back_and_old_snapshots_still_read(svc: CaseService) -> None:
    from casework.engine import Event, replay
    from casework.engine.state import CaseState

    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.add_document(case_id, "form.pdf", b"form", media_type="application/pdf", actor="ann")
    _, definition = svc.definition("claim")
    events = [Event.from_dict(e.engine_dict()) for e in svc.store.events(case_id)]
    assert replay(definition, case_id, events).documents == {"form.pdf": 1}
    # a snapshot written before documents were events has no "documents" key; one without documents still has none
    other = svc.state(svc.start_case("claim", {"amount": 10}).case_id).to_dict()
    assert "documents" not in other and CaseState.from_dict(other).documents == {}


def test_versions_written_before_documents_were_events_are_counted(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    # a row alone, as every database from before documents were events holds them (and Store.add_document writes)
    old = svc.store.add_document(case_id, "claim_form.pdf", b"v1", media_type="application/pdf", created_by="ann",
                                 now=T0)
    new = svc.add_document(case_id, "claim_form.pdf", b"v2", media_type="application/pdf", actor="bob")
    assert (old.version, new.version) == (1, 2)
    assert [d.version for d in svc.store.documents(case_id)] == [1, 2]
    assert svc.state(case_id).documents == {"claim_form.pdf": 2}
    assert verify(svc.store).ok


def test_a_name_or_media_type_that_is_not_text_is_bad_input(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    for name, media_type in ((None, "text/plain"), ("x.txt", None), (b"x.txt", "text/plain")):
        with pytest.raises(InvalidInput, match="must be text"):
            svc.add_document(case_id, name, b"x", media_type=media_type, actor="ann")  # type: ignore[arg-type]
    assert svc.store.documents(case_id) == []


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("UPDATE documents SET sha256 = :other WHERE name = 'report.pdf'", "row's sha256 differ from the event"),
        ("UPDATE documents SET created_by = 'mallory' WHERE name = 'report.pdf'", "row's author differ"),
        ("UPDATE documents SET version = 7 WHERE name = 'report.pdf'", "row's version differ"),
        ("DELETE FROM documents WHERE name = 'report.pdf'", "was attached but its row is gone (row deleted)"),
    ],
)
def test_verify_checks_document_rows_against_their_events(svc: CaseService, sql: str, named: str) -> None:
    from sqlalchemy import text

    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.add_document(case_id, "report.pdf", b"the report", media_type="application/pdf", actor="ann")
    other = svc.store.blobs.put(b"another report")
    report = verify(svc.store)
    assert report.ok and (report.documents, report.unaudited_documents) == (1, 0)
    with svc.store.engine.begin() as conn:
        conn.execute(text(sql), {"other": other} if ":other" in sql else {})
    broken = verify(svc.store)
    assert not broken.ok and named in str(broken.first) and broken.first.case_id == case_id  # type: ignore[union-attr]


def test_verify_names_missing_bytes_and_counts_rows_no_event_vouches_for(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    row = svc.add_document(case_id, "report.pdf", b"the report", media_type="application/pdf", actor="ann")
    svc.store.add_document(case_id, "legacy.pdf", b"old", media_type="application/pdf", created_by="ann", now=T0)
    report = verify(svc.store)
    assert report.ok and (report.documents, report.unaudited_documents) == (1, 1)
    assert report.summary().endswith(" events, ok")  # the contract line; what it did not cover comes after it
    assert report.notes() == ["note: 1 documents predate audited attachments: their rows are not covered"]
    svc.store.blobs.path_of(row.sha256).unlink()
    broken = verify(svc.store)
    assert not broken.ok and "its bytes (sha256 " in str(broken.first) and "not in the blob store" in str(broken.first)


def test_verify_reads_the_bytes_and_attaching_them_again_repairs_a_corrupt_blob(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    row = svc.add_document(case_id, "report.pdf", b"the report", media_type="application/pdf", actor="ann")
    blob = svc.store.blobs.path_of(row.sha256)
    blob.write_bytes(b"the rep0rt")  # a bad disk, or an edit: the file keeps its name
    broken = verify(svc.store)
    assert not broken.ok and broken.first is not None and broken.first.case_id == case_id
    assert "report.pdf' v1: the blob store's file for its bytes" in broken.first.what
    assert "holds other bytes (corrupt or edited)" in broken.first.what
    svc.add_document(case_id, "copy.pdf", b"the report", media_type="application/pdf", actor="bob")
    assert blob.read_bytes() == b"the report" and verify(svc.store).ok


# More than two of the blob store's chunks, and not a whole number of them.
BIG = bytes(range(256)) * (CHUNK // 256 * 2) + b"end"


def _blob_files(svc: CaseService) -> list[str]:
    root = svc.store.blobs.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_file_object_is_streamed_into_the_blob_store_a_chunk_at_a_time(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    source = Reader(BIG)
    row = svc.add_document(case_id, "video.mp4", source, media_type="video/mp4", actor="ann")  # type: ignore[arg-type]
    digest = hashlib.sha256(BIG).hexdigest()
    assert (row.sha256, row.size) == (digest, len(BIG)) and source.largest_read == CHUNK
    (event,) = [e for e in svc.store.events(case_id) if e.type == "document_attached"]
    assert (event.payload["sha256"], event.payload["size"]) == (digest, len(BIG))
    assert svc.store.blobs.path_of(digest).read_bytes() == BIG
    # The unaudited row too, from a file opened as attaching one from disk does.
    scan = tmp_path / "scan.tif"
    scan.write_bytes(BIG[:CHUNK + 1])
    with scan.open("rb") as fh:
        legacy = svc.store.add_document(case_id, "scan.tif", fh, media_type="image/tiff", created_by="ann", now=T0)
    assert (legacy.sha256, legacy.size) == (hashlib.sha256(BIG[:CHUNK + 1]).hexdigest(), CHUNK + 1)
    assert _blob_files(svc) == sorted([digest, legacy.sha256]) and verify(svc.store).ok


def test_a_stream_that_fails_midway_records_nothing(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    events = len(svc.store.events(case_id))
    with pytest.raises(OSError, match="Input/output error"):
        svc.add_document(case_id, "video.mp4", Reader(BIG, fail_after=CHUNK + 7),  # type: ignore[arg-type]
                         media_type="video/mp4", actor="ann")
    text = tmp_path / "notes.txt"
    text.write_text("opened as text")
    with text.open() as as_text:
        for content in (as_text, "a string", None):
            with pytest.raises(InvalidInput, match="bytes or a file opened in binary mode"):
                svc.add_document(case_id, "notes.txt", content, media_type="text/plain",  # type: ignore[arg-type]
                                 actor="ann")
    # A wrapper reading text, though no TextIOBase (a named temporary file in text mode): found on its first read.
    with tempfile.NamedTemporaryFile("w+", dir=tmp_path) as wrapped:
        wrapped.write("text")
        wrapped.seek(0)
        with pytest.raises(InvalidInput, match="must be read as bytes, not str"):
            svc.add_document(case_id, "notes.txt", wrapped, media_type="text/plain",  # type: ignore[arg-type]
                             actor="ann")
    # no row, no event, and no blob or temporary file
    assert svc.store.documents(case_id) == [] and len(svc.store.events(case_id)) == events
    assert _blob_files(svc) == []


def test_a_document_past_the_limit_is_refused_with_nothing_stored(svc: CaseService,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    events = len(svc.store.events(case_id))
    monkeypatch.setenv("CASEWORK_MAX_DOCUMENT_MB", "1")
    for content in (Reader(BIG), BIG):
        with pytest.raises(DocumentTooLarge, match=r"larger than 1 MiB") as refused:
            svc.add_document(case_id, "video.mp4", content, media_type="video/mp4",  # type: ignore[arg-type]
                             actor="ann")
        assert refused.value.limit == CHUNK and isinstance(refused.value, InvalidInput)
    assert svc.store.documents(case_id) == [] and len(svc.store.events(case_id)) == events
    assert _blob_files(svc) == []
    row = svc.add_document(case_id, "video.mp4", BIG[:CHUNK], media_type="video/mp4", actor="ann")
    assert row.size == CHUNK


def test_a_name_typed_in_either_unicode_form_is_one_document(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    # "café" typed with é, then with e and a combining accent (as a Mac names its files): they read the same, so
    # they are one name, and the second is its next version; the row alone (`Store.add_document`) counts alike.
    first = svc.add_document(case_id, "caf\u00e9.txt", b"one", media_type="text/plain", actor="ann")
    second = svc.add_document(case_id, "cafe\u0301.txt", b"two", media_type="text/plain", actor="ann")
    third = svc.store.add_document(case_id, "cafe\u0301.txt", b"three", media_type="text/plain", created_by="ann",
                                   now=T0)
    assert [(d.name, d.version) for d in (first, second, third)] == [("caf\u00e9.txt", 1), ("caf\u00e9.txt", 2),
                                                                   ("caf\u00e9.txt", 3)]
    assert svc.state(case_id).documents == {"caf\u00e9.txt": 2}
    assert verify(svc.store).ok


@pytest.mark.parametrize("name", ["report\u202efdp.exe", "re\u200bport.pdf", "report\n.pdf"])
def test_a_document_name_with_a_character_that_does_not_show_is_bad_input_and_stores_nothing(
        svc: CaseService, name: str) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    events = len(svc.store.events(case_id))
    with pytest.raises(InvalidInput, match=r"the document name contains U\+[0-9A-F]{4} "):
        svc.add_document(case_id, name, b"payload never stored", media_type="text/plain", actor="ann")
    assert svc.store.documents(case_id) == [] and len(svc.store.events(case_id)) == events
    assert not svc.store.blobs.exists(hashlib.sha256(b"payload never stored").hexdigest())
    with pytest.raises(NotStorable, match=r"the document name contains U\+"):
        svc.store.add_document(case_id, name, b"x", media_type="text/plain", created_by="ann", now=T0)
    assert svc.store.documents(case_id) == []


def test_a_business_key_is_checked_and_kept_in_nfc(svc: CaseService) -> None:
    first = svc.start_case("claim", {"amount": 10}, business_key="CL-caf\u00e9")
    again = svc.start_case("claim", {"amount": 10}, business_key="CL-cafe\u0301")
    assert (again.case_id, again.created) == (first.case_id, False)
    with pytest.raises(InvalidInput, match=r"the business key contains U\+202E \(RIGHT-TO-LEFT OVERRIDE\)"):
        svc.start_case("claim", {"amount": 10}, business_key="CL-\u202e1001")
    assert svc.store.case_ids() == [first.case_id]
