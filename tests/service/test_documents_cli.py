"""`casework case attach|documents|document`: a document attached through the service (audited), listed, and read
back byte for byte, its bytes checked against the recorded SHA-256 (a blob edited on disk is refused by name)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import casework
from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.service.documents_cli import media_type_of
from casework.store import Store
from casework.store.blobs import CHUNK
from casework.store.testing import fill_up, small_disk

__all__ = ["small_disk"]

runner = CliRunner()
Stored = tuple[str, dict[str, str], Path]
# Bytes no text codec would leave alone: every byte value, a NUL, CR LF and a lone CR.
CONTENT = bytes(range(256)) + b"\r\n\r\x00end"
# A PDF's signature, then more than two of the chunks documents are streamed in, and not a whole number of them.
BIG = b"%PDF-1.7\n" + CONTENT * (2 * CHUNK // len(CONTENT) + 1)


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Stored:
    """(database URL, environment, blob folder) of a store with the demo's claim model deployed."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs"),
           "COLUMNS": "400", "CASEWORK_TIMEZONE": "Europe/Amsterdam"}
    return db_url, env, tmp_path / "blobs"


def _cw(stored: Stored, *args: str) -> Any:
    db_url, env, _ = stored
    return runner.invoke(app, [*args, "--db", db_url], env=env)


def _start(stored: Stored) -> str:
    started = _cw(stored, "case", "start", "insuranceClaim", "--as", "ann")
    assert started.exit_code == 0, started.output
    return str(started.stdout.strip())


def _events(db_url: str, case_id: str) -> list[Any]:
    with Store.open(db_url) as store:
        return store.events(case_id)


def _counts(stored: Stored, case_id: str) -> tuple[int, int, list[str]]:
    """(events, documents, blob files) of the case: what a refused command must leave as it was."""
    with Store.open(stored[0]) as store:
        events, documents = len(store.events(case_id)), len(store.documents(case_id))
    blobs = sorted(p.name for p in stored[2].rglob("*") if p.is_file()) if stored[2].exists() else []
    return events, documents, blobs


def test_a_document_attached_is_audited_listed_and_read_back_byte_identical(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    scan = tmp_path / "police report.pdf"
    scan.write_bytes(CONTENT)
    attached = _cw(stored, "case", "attach", case_id, str(scan), "--as", "ann", "--reason", "sent by the police")
    assert attached.exit_code == 0, attached.output
    digest = hashlib.sha256(CONTENT).hexdigest()
    assert attached.stdout.strip() == (f"attached 'police report.pdf' version 1 ({len(CONTENT)} bytes, "
                                       f"application/pdf) to case {case_id} by ann (sha256 {digest})")
    event = _events(stored[0], case_id)[-1]
    assert (event.type, event.actor, event.reason) == ("document_attached", "ann", "sent by the police")
    assert (event.payload["name"], event.payload["sha256"], event.payload["version"]) == ("police report.pdf",
                                                                                          digest, 1)
    history = _cw(stored, "case", "history", case_id)
    assert "document_attached" in history.stdout and "sent by the police" in history.stdout

    second = tmp_path / "second.bin"
    second.write_bytes(b"the corrected report")
    again = _cw(stored, "case", "attach", case_id, str(second), "--name", "police report.pdf", "--as", "bob")
    assert again.exit_code == 0 and "version 2 (20 bytes, application/pdf)" in again.stdout, again.output

    listed = _cw(stored, "case", "documents", case_id)
    assert listed.exit_code == 0, listed.output
    rows = [line.split("│")[1:-1] for line in listed.stdout.splitlines() if "police report.pdf" in line]
    assert [[cell.strip() for cell in row[:5]] for row in rows] == [
        ["police report.pdf", "1", str(len(CONTENT)), "application/pdf", "ann"],
        ["police report.pdf", "2", "20", "application/pdf", "bob"],
    ]
    assert all(row[5].strip().endswith(("CET", "CEST")) for row in rows)  # the organisation's clock, labelled

    out = tmp_path / "out" / "first.pdf"
    out.parent.mkdir()
    first = _cw(stored, "case", "document", case_id, "police report.pdf", "--version", "1", "-o", str(out))
    assert first.exit_code == 0, first.output
    assert out.read_bytes() == CONTENT
    latest = _cw(stored, "case", "document", case_id, "police report.pdf", "-o", "-")
    assert latest.exit_code == 0 and latest.stdout_bytes == b"the corrected report", latest.output
    _verified(stored)


def test_without_o_it_is_written_under_its_name_here_and_an_existing_file_is_kept_without_force(
    stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _start(stored)
    source = tmp_path / "photo.jpg"
    source.write_bytes(CONTENT)
    assert _cw(stored, "case", "attach", case_id, str(source), "--as", "ann").exit_code == 0
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    written = _cw(stored, "case", "document", case_id, "photo.jpg")
    assert written.exit_code == 0, written.output
    assert (here / "photo.jpg").read_bytes() == CONTENT
    (here / "photo.jpg").write_bytes(b"mine")
    kept = _cw(stored, "case", "document", case_id, "photo.jpg")
    assert kept.exit_code == 2 and "photo.jpg exists: give --force" in kept.stderr, kept.output
    assert (here / "photo.jpg").read_bytes() == b"mine"
    replaced = _cw(stored, "case", "document", case_id, "photo.jpg", "--force")
    assert replaced.exit_code == 0, replaced.output
    assert (here / "photo.jpg").read_bytes() == CONTENT
    assert sorted(os.listdir(here)) == ["photo.jpg"]  # no temporary file left behind


def test_a_blob_edited_on_disk_is_refused_naming_the_document(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    source = tmp_path / "invoice.txt"
    source.write_bytes(b"repair: 1,200 EUR")
    assert _cw(stored, "case", "attach", case_id, str(source), "--as", "ann").exit_code == 0
    blob = stored[2] / hashlib.sha256(b"repair: 1,200 EUR").hexdigest()[:2] / hashlib.sha256(
        b"repair: 1,200 EUR").hexdigest()
    blob.write_bytes(b"repair: 9,200 EUR")  # same size, other bytes
    out = tmp_path / "invoice-out.txt"
    for target in (str(out), "-"):
        result = _cw(stored, "case", "document", case_id, "invoice.txt", "-o", target)
        assert result.exit_code == 2 and result.stdout == "", result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: document 'invoice.txt' version 1 of case {case_id}: its stored bytes"), line
        assert "no longer match the SHA-256" in line
    assert not out.exists()
    blob.unlink()
    missing = _cw(stored, "case", "document", case_id, "invoice.txt", "-o", str(out))
    assert missing.exit_code == 2 and "'invoice.txt' version 1" in missing.stderr and "missing" in missing.stderr
    assert not out.exists()


def test_a_document_larger_than_a_chunk_round_trips_to_a_file_and_to_standard_output(stored: Stored,
                                                                                      tmp_path: Path) -> None:
    case_id = _start(stored)
    scan = tmp_path / "scan"  # no extension: a PDF by its first bytes, which is all attach reads before storing
    scan.write_bytes(BIG)
    attached = _cw(stored, "case", "attach", case_id, str(scan), "--as", "ann")
    assert attached.exit_code == 0, attached.output
    digest = hashlib.sha256(BIG).hexdigest()
    assert f"({len(BIG):,} bytes, application/pdf)" in attached.stdout and f"(sha256 {digest})" in attached.stdout
    event = _events(stored[0], case_id)[-1]
    assert (event.payload["sha256"], event.payload["size"]) == (digest, len(BIG))
    out = tmp_path / "out"
    out.mkdir()
    written = _cw(stored, "case", "document", case_id, "scan", "-o", str(out / "scan.pdf"))
    assert written.exit_code == 0 and f"({len(BIG):,} bytes, application/pdf)" in written.stdout, written.output
    assert (out / "scan.pdf").read_bytes() == BIG and os.listdir(out) == ["scan.pdf"]
    piped = _cw(stored, "case", "document", case_id, "scan", "-o", "-")
    assert piped.exit_code == 0 and piped.stdout_bytes == BIG, piped.stderr
    _verified(stored)


def test_a_large_blob_edited_on_disk_is_refused_for_both_outputs_with_nothing_written(stored: Stored,
                                                                                      tmp_path: Path) -> None:
    case_id = _start(stored)
    video = tmp_path / "video.mp4"
    video.write_bytes(BIG)
    assert _cw(stored, "case", "attach", case_id, str(video), "--as", "ann").exit_code == 0
    digest = hashlib.sha256(BIG).hexdigest()
    blob = stored[2] / digest[:2] / digest
    edited = bytearray(BIG)
    edited[len(BIG) - 5] ^= 1  # one bit, in the last chunk: found only once every chunk has been read
    blob.write_bytes(bytes(edited))
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.mp4").write_bytes(b"mine")
    for args in (("-o", str(out / "new.mp4")), ("-o", str(out / "kept.mp4"), "--force"), ("-o", "-")):
        result = _cw(stored, "case", "document", case_id, "video.mp4", *args)
        assert result.exit_code == 2 and result.stdout_bytes == b"", result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: document 'video.mp4' version 1 of case {case_id}: its stored bytes"), line
        assert line.endswith("no longer match the SHA-256 recorded when it was attached (edited or damaged on "
                             "disk); nothing written"), line
    # no new file, no temporary one, and the file --force would have replaced as it was
    assert os.listdir(out) == ["kept.mp4"] and (out / "kept.mp4").read_bytes() == b"mine"


def test_attach_to_an_ended_case_records_nothing(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    with Store.open(stored[0], audit_key=Path(stored[1]["CASEWORK_AUDIT_KEY"])) as store, \
            CaseService(store) as service:
        service.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    source = tmp_path / "late.txt"
    source.write_bytes(b"too late")
    before = _counts(stored, case_id)
    result = _cw(stored, "case", "attach", case_id, str(source), "--as", "ann")
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error: nothing recorded: "), result.stderr
    assert "ended" in result.stderr
    # the case's log and documents as they were (a blob nothing refers to may stay: harmless, and not listed)
    assert _counts(stored, case_id)[:2] == before[:2]


def test_attach_to_a_suspended_case_is_recorded_and_its_plan_stays_on_hold(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    held = _cw(stored, "case", "suspend", case_id, "--as", "ann", "--reason", "waiting for documents")
    assert held.exit_code == 0, held.output
    with Store.open(stored[0]) as store:
        before = store.case(case_id)
    assert before is not None and before.status == "suspended"
    scan = tmp_path / "police_report.pdf"
    for version, content in enumerate((b"%PDF-1.4 report", b"%PDF-1.4 report, signed"), start=1):
        scan.write_bytes(content)
        attached = _cw(stored, "case", "attach", case_id, str(scan), "--as", "bob", "--reason", "sent by the police")
        assert attached.exit_code == 0, attached.output
        assert attached.stdout.startswith(f"attached 'police_report.pdf' version {version} ("), attached.stdout
        assert attached.stderr == (f"note: case {case_id} is still suspended: its plan goes on once it is resumed "
                                   f"(`casework case resume {case_id} --as NAME --reason TEXT`)\n")
    events = _events(stored[0], case_id)
    assert [(e.type, e.actor, e.reason, e.payload.get("version")) for e in events[-2:]] == [
        ("document_attached", "bob", "sent by the police", 1), ("document_attached", "bob", "sent by the police", 2)]
    with Store.open(stored[0]) as store:
        after = store.case(case_id)
        items = store.tasks(case_id=case_id)
    assert after is not None and after.status == "suspended" and after.version == before.version + 2
    assert {t.state for t in items} == {"suspended"}  # nothing started while the case is on hold
    # Case data waits with the plan: sentries hear it.
    refused = _cw(stored, "case", "set-data", case_id, "--data", '{"policeReport": {"number": "PR-1"}}', "--as", "bob")
    assert refused.exit_code == 2 and refused.stderr == ("error: nothing recorded: the case is suspended; resume it "
                                                         "first\n"), refused.output
    listed = _cw(stored, "case", "documents", case_id)
    assert listed.exit_code == 0 and listed.stdout.count("police_report.pdf") == 2, listed.output
    resumed = _cw(stored, "case", "resume", case_id, "--as", "ann", "--reason", "the report arrived")
    assert resumed.exit_code == 0, resumed.output
    # A running case takes a document with no note.
    again = _cw(stored, "case", "attach", case_id, str(scan), "--name", "copy.pdf", "--as", "bob")
    assert again.exit_code == 0 and again.stderr == "", again.output


@pytest.mark.parametrize(("args", "error"), [
    (("attach", "{case}", "{missing}", "--as", "ann"), "error: cannot read "),
    (("attach", "{case}", "{folder}", "--as", "ann"), "is a folder, not a file"),
    (("attach", "{case}", "{file}", "--name", " ", "--as", "ann"), "'--name': must not be empty"),
    (("attach", "{case}", "{file}", "--media-type", "not a type", "--as", "ann"), "'not a type' is not a media type"),
    (("attach", "{case}", "{file}", "--media-type", "text", "--as", "ann"), "'text' is not a media type"),
    (("attach", "{case}", "{file}", "--media-type", "text/plain; charset", "--as", "ann"), "is not a media type"),
    (("attach", "no-such-case", "{file}", "--as", "ann"), "error: no case no-such-case"),
    (("documents", "no-such-case"), "error: no case no-such-case"),
    (("document", "{case}", "nothing.pdf"), "error: no document 'nothing.pdf' on case"),
    (("document", "{case}", "a.txt", "--version", "3"), "has no version 3 (it has 1)"),
    (("document", "{case}", "a.txt", "-o", "{folder}"), "is a folder: give a file name"),
])
def test_bad_input_is_one_line_and_changes_nothing(
    stored: Stored, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    case_id = _start(stored)
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    assert _cw(stored, "case", "attach", case_id, str(source), "--as", "ann").exit_code == 0
    before = _counts(stored, case_id)
    names = {"case": case_id, "missing": str(tmp_path / "missing.pdf"), "folder": str(tmp_path),
             "file": str(source)}
    result = _cw(stored, "case", *(arg.format(**names) for arg in args))
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert error in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _counts(stored, case_id) == before


def test_a_media_type_given_is_recorded_with_its_parameters_and_without_the_spaces_around_it(
    stored: Stored, tmp_path: Path
) -> None:
    case_id = _start(stored)
    source = tmp_path / "notes"
    source.write_bytes(b"plain")
    result = _cw(stored, "case", "attach", case_id, str(source), "--media-type", " text/plain; charset=utf-8 ",
                 "--as", "ann")
    assert result.exit_code == 0, result.output
    with Store.open(stored[0]) as store:
        (row,) = store.documents(case_id)
    assert row.media_type == "text/plain; charset=utf-8"


def test_a_document_name_that_is_not_a_file_name_needs_o(stored: Stored, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = _start(stored)
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    assert _cw(stored, "case", "attach", case_id, str(source), "--name", "../escape.txt", "--as", "ann").exit_code == 0
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = _cw(stored, "case", "document", case_id, "../escape.txt")
    assert result.exit_code == 2 and "give -o FILE" in result.stderr, result.output
    assert not (tmp_path / "escape.txt").exists()


def test_media_type_by_name_else_a_pdf_by_its_signature_else_bytes() -> None:
    assert media_type_of("photo.JPG", b"") == "image/jpeg"
    assert media_type_of("scan", b"%PDF-1.7 ...") == "application/pdf"
    assert media_type_of("notes", b"hello") == "application/octet-stream"


def _verified(stored: Stored) -> None:
    verified = _cw(stored, "audit", "verify")
    assert verified.exit_code == 0 and verified.stdout.startswith("audit: "), verified.output


def test_a_document_cut_short_by_a_full_disk_on_standard_output_is_an_error(
    stored: Stored, tmp_path: Path, small_disk: Path
) -> None:
    # With PYTHONUNBUFFERED (set in many container images) standard output is the raw file: a write the full disk
    # cut short said so only by its count, and the document ended at 64 KiB with exit status 0.
    case_id = _start(stored)
    source = tmp_path / "scan.pdf"
    source.write_bytes(BIG[:300_000])
    assert _cw(stored, "case", "attach", case_id, str(source), "--as", "ann").exit_code == 0
    filler = fill_up(small_disk)
    os.truncate(filler, filler.stat().st_size - 64 * 1024)  # room for part of the document
    db_url, env, _ = stored
    out_path = small_disk / "scan.pdf"
    for unbuffered in ("1", ""):
        with out_path.open("wb") as out:
            done = subprocess.run([sys.executable, "-m", "casework", "case", "document", case_id, "scan.pdf", "-o",
                                   "-", "--db", db_url], stdout=out, stderr=subprocess.PIPE, text=True, timeout=300,
                                  env={**os.environ, **env, "PYTHONUNBUFFERED": unbuffered,
                                       "PYTHONPATH": str(Path(casework.__file__).parents[1])})
        assert done.returncode == 2, (unbuffered, done.stderr)
        assert done.stderr.startswith("error: cannot write standard output: No space left on device"), done.stderr
        assert 0 < out_path.stat().st_size < 300_000
        out_path.unlink()


def test_a_document_past_the_limit_is_refused_in_one_line_with_nothing_stored(stored: Stored, tmp_path: Path) -> None:
    # /dev/zero has no end: without a limit it was written to the blob folder until its disk was full.
    case_id = _start(stored)
    before = _counts(stored, case_id)
    db_url, env, _ = stored
    limited = {**env, "CASEWORK_MAX_DOCUMENT_MB": "1"}
    result = runner.invoke(app, ["case", "attach", case_id, "/dev/zero", "--as", "ann", "--db", db_url], env=limited)
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr == ("error: /dev/zero is larger than 1 MiB, the most a document may be "
                             "(CASEWORK_MAX_DOCUMENT_MB); nothing stored: set CASEWORK_MAX_DOCUMENT_MB higher to "
                             "attach it\n")
    assert _counts(stored, case_id) == before  # no event, no row, no blob or temporary file

    # A pipe on standard input that never ends, in a process of its own (a pipe cannot be given to CliRunner).
    producer = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(b'y' * 65536)"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert producer.stdout is not None
    try:
        done = subprocess.run([sys.executable, "-m", "casework", "case", "attach", case_id, "/dev/stdin", "--as",
                               "ann", "--db", db_url], stdin=producer.stdout, capture_output=True, text=True,
                              timeout=300, env={**os.environ, **limited,
                                                "PYTHONPATH": str(Path(casework.__file__).parents[1])})
    finally:
        producer.stdout.close()
        producer.kill()
        producer.wait()
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith("error: /dev/stdin is larger than 1 MiB") and done.stderr.count("\n") == 1
    assert _counts(stored, case_id) == before

    exactly = tmp_path / "exactly.bin"
    exactly.write_bytes(b"x" * CHUNK)  # the limit itself is taken
    result = runner.invoke(app, ["case", "attach", case_id, str(exactly), "--as", "ann", "--db", db_url], env=limited)
    assert result.exit_code == 0 and "(1,048,576 bytes," in result.stdout, result.output


def test_a_document_limit_that_is_not_a_number_is_refused_before_anything_is_read(stored: Stored,
                                                                                  tmp_path: Path) -> None:
    case_id = _start(stored)
    before = _counts(stored, case_id)
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    db_url, env, _ = stored
    result = runner.invoke(app, ["case", "attach", case_id, str(source), "--as", "ann", "--db", db_url],
                           env={**env, "CASEWORK_MAX_DOCUMENT_MB": "50MB"})
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr == ("error: CASEWORK_MAX_DOCUMENT_MB='50MB' is not a number of MiB: give a whole number "
                             "from 1 to 1,048,576 (0 sets no limit); the default is 50\n")
    assert _counts(stored, case_id) == before
