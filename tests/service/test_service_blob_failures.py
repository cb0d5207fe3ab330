"""The blob folder (documents' bytes) fails under `add_document`: missing, full, or holding bytes no row names."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from helpers_service import T0, claim_xml
from typer.testing import CliRunner

from casework.audit.verify import verify
from casework.cli import app
from casework.service import CaseService
from casework.store import Store
from casework.store.testing import fill_up, small_disk

__all__ = ["small_disk"]


def _service(tmp_path: Path, blobs: Path) -> CaseService:
    store = Store.open(f"sqlite:///{tmp_path / 'casework.db'}", audit_key=tmp_path / "k", blob_dir=blobs)
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    return svc


def _verified(store: Store) -> None:
    report = verify(store)
    assert report.ok and report.complete, (report.problems, report.blobs_unchecked)


def test_a_full_blob_folder_names_itself_and_records_no_document(tmp_path: Path, small_disk: Path) -> None:
    svc = _service(tmp_path, small_disk / "blobs")
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    version = store.case_head(case_id).version  # type: ignore[union-attr]
    filler = fill_up(small_disk)
    with pytest.raises(OSError) as failed:
        svc.add_document(case_id, "photo.jpg", b"\xff" * 300_000, media_type="image/jpeg", actor="ann")
    # Named, so that the one-line error says which disk is full (it said "No space left on device" alone).
    assert failed.value.errno == errno.ENOSPC and str(small_disk / "blobs") in str(failed.value.filename)
    assert store.documents(case_id) == [] and store.case_head(case_id).version == version  # type: ignore[union-attr]
    assert [p.name for p in (small_disk / "blobs").rglob("*") if p.is_file()] == []  # no half-written file left
    filler.unlink()
    row = svc.add_document(case_id, "photo.jpg", b"\xff" * 300_000, media_type="image/jpeg", actor="ann")
    assert row.version == 1 and store.blobs.get(row.sha256) == b"\xff" * 300_000
    svc.close()
    _verified(store)
    store.close()


def test_demo_with_a_full_blob_folder_says_which_folder_in_one_line(tmp_path: Path, small_disk: Path) -> None:
    fill_up(small_disk)
    env = {"CASEWORK_BLOBS": str(small_disk / "blobs"), "CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    result = CliRunner().invoke(app, ["demo", "--db", f"sqlite:///{tmp_path / 'casework.db'}"], env=env)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    # The folder, not a blob's file: the bytes are streamed, and their name (their SHA-256) is known at the end only.
    assert result.stderr == f"error: cannot use {small_disk / 'blobs'}: No space left on device\n", result.stderr
    with Store.open(f"sqlite:///{tmp_path / 'casework.db'}", audit_key=tmp_path / "k",
                    blob_dir=small_disk / "blobs") as store:
        assert store.documents() == []  # no row without its bytes
        _verified(store)


def test_a_missing_blob_folder_is_made_again_and_bytes_without_a_row_break_nothing(tmp_path: Path) -> None:
    blobs = tmp_path / "gone" / "blobs"
    svc = _service(tmp_path, blobs)
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    # What a crash between the bytes and the row leaves: a blob no row names, and a temporary file.
    orphan = store.blobs.put(b"written, never recorded")
    (store.blobs.path_of(orphan).parent / ".tmp-cut-short").write_bytes(b"writ")
    _verified(store)
    row = svc.add_document(case_id, "notes.txt", b"written, never recorded", media_type="text/plain", actor="ann")
    assert row.sha256 == orphan and store.blobs.get(orphan) == b"written, never recorded"
    svc.close()
    _verified(store)
    store.close()
