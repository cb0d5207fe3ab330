"""The blob store takes a document's bytes as a stream, a chunk at a time: a document of gigabytes is never in
memory whole, and what a failed or refused stream leaves is nothing, not half a blob or a temporary file."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from casework.store.blobs import (
    CHUNK,
    BlobStore,
    DocumentLimitSettingError,
    NotBytes,
    TooLarge,
    max_document_bytes,
)
from casework.store.testing import Reader

# More than two chunks, and not a whole number of them.
BIG = bytes(range(256)) * (CHUNK // 256 * 2) + b"tail"


def _files(root: Path) -> list[str]:
    """Every file under the blob folder, temporary ones (`.tmp-*`) included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_stream_is_stored_a_chunk_at_a_time_under_its_digest(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    source = Reader(BIG)
    digest, size = blobs.put_stream(source)  # type: ignore[arg-type]
    assert (digest, size) == (hashlib.sha256(BIG).hexdigest(), len(BIG))
    assert source.largest_read == CHUNK  # never asked for the whole
    assert blobs.path_of(digest).read_bytes() == BIG and blobs.intact(digest) is True
    assert _files(tmp_path / "blobs") == [f"{digest[:2]}/{digest}"]  # no temporary file left
    assert blobs.put(b"") == hashlib.sha256(b"").hexdigest() and blobs.get(hashlib.sha256(b"").hexdigest()) == b""


def test_bytes_already_stored_are_not_written_again_and_a_damaged_blob_is_repaired(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(BIG)
    path = blobs.path_of(digest)
    before = path.stat()
    assert blobs.put_stream(io.BytesIO(BIG)) == (digest, len(BIG))
    after = path.stat()
    # The same file, untouched: not replaced by a copy of itself (a backup's hard link to it stays one).
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _files(tmp_path / "blobs") == [f"{digest[:2]}/{digest}"]
    path.write_bytes(b"x" * len(BIG))  # damaged on disk
    assert blobs.put_stream(io.BytesIO(BIG)) == (digest, len(BIG))
    assert blobs.intact(digest) is True and _files(tmp_path / "blobs") == [f"{digest[:2]}/{digest}"]


def test_a_stream_failing_midway_leaves_no_blob_and_no_temporary_file(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    kept = blobs.put(b"stored before")
    for error in (OSError(errno.EIO, "Input/output error"), RuntimeError("upload dropped")):
        with pytest.raises(type(error)) as failed:
            blobs.put_stream(Reader(BIG, fail_after=CHUNK + 10, error=error))  # type: ignore[arg-type]
        assert failed.value is error or failed.value.__cause__ is error
        assert _files(tmp_path / "blobs") == [f"{kept[:2]}/{kept}"]


def test_a_read_error_names_the_file_being_read_not_the_blob_folder(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    source = Reader(BIG, fail_after=CHUNK + 10)
    source.name = str(tmp_path / "video.mp4")  # what a file opened by its name has
    with pytest.raises(OSError) as failed:
        blobs.put_stream(source)  # type: ignore[arg-type]
    assert (failed.value.errno, failed.value.filename) == (errno.EIO, str(tmp_path / "video.mp4"))
    assert _files(tmp_path / "blobs") == []


def test_content_that_is_not_bytes_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    text = tmp_path / "notes.txt"
    text.write_text("not bytes")
    with text.open() as as_text:
        for content in ("not bytes", 42, as_text):
            with pytest.raises(NotBytes, match="bytes or a file opened in binary mode"):
                blobs.put_content(content)  # type: ignore[arg-type]
    # A file object that reads text though it is no TextIOBase: found on the first read, nothing kept.
    with pytest.raises(NotBytes, match="must be read as bytes, not str"):
        blobs.put_stream(io.StringIO("not bytes"))  # type: ignore[arg-type]
    assert _files(tmp_path / "blobs") == []
    with text.open("rb") as binary:
        assert blobs.put_content(binary) == (hashlib.sha256(b"not bytes").hexdigest(), 9)
    assert os.listdir(tmp_path / "blobs") != []


class Endless(io.RawIOBase):
    """A source that never ends, as /dev/zero or an upload that keeps coming: counts what was read from it, and
    fails the test once read past `enough` (rather than filling the disk)."""

    def __init__(self, enough: int) -> None:
        self.read_bytes, self.enough = 0, enough

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        assert self.read_bytes < self.enough, "read on far past the limit"
        buffer[:] = b"\0" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def test_content_past_the_limit_is_refused_while_streaming_and_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    limit = CHUNK + 10
    source = Endless(enough=limit + 2 * CHUNK)
    with pytest.raises(TooLarge, match=r"larger than 1,048,586 bytes, the most a document may be "
                                       r"\(CASEWORK_MAX_DOCUMENT_MB\); nothing stored") as refused:
        blobs.put_stream(source, limit)  # type: ignore[arg-type]
    assert refused.value.limit == limit
    assert source.read_bytes <= limit + CHUNK  # a chunk past the limit at most
    assert _files(tmp_path / "blobs") == []  # no blob, no temporary file
    with pytest.raises(TooLarge):
        blobs.put_content(BIG[:limit + 1], limit)
    assert _files(tmp_path / "blobs") == []
    # Exactly the limit is taken, from a stream or as bytes.
    assert blobs.put_content(io.BytesIO(BIG[:limit]), limit)[1] == limit
    assert blobs.put_content(BIG[1:limit + 1], limit)[1] == limit


def test_the_limit_is_casework_max_document_mb_in_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEWORK_MAX_DOCUMENT_MB", raising=False)
    assert max_document_bytes() == 50 * 1024 * 1024
    for raw, limit in ((" 3 ", 3 * 1024 * 1024), ("0", None)):
        monkeypatch.setenv("CASEWORK_MAX_DOCUMENT_MB", raw)
        assert max_document_bytes() == limit
    for raw in ("-1", "1.5", "50MB", "2000000"):
        monkeypatch.setenv("CASEWORK_MAX_DOCUMENT_MB", raw)
        with pytest.raises(DocumentLimitSettingError, match=r"is not a number of MiB: give a whole number from 1 to"):
            max_document_bytes()


def test_a_blob_is_read_back_a_chunk_at_a_time_and_bytes_of_another_digest_raise_after_the_last(
    tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(BIG)
    chunks = list(blobs.chunks(digest))
    assert b"".join(chunks) == BIG and max(map(len, chunks)) == CHUNK
    blobs.path_of(digest).write_bytes(BIG[:-1] + b"!")  # one byte changed on disk
    read = []
    with pytest.raises(ValueError, match=f"blob {digest} is corrupt on disk"):
        for chunk in blobs.chunks(digest):
            read.append(chunk)
    assert b"".join(read) == BIG[:-1] + b"!"  # what was read before it is not to be trusted
    with pytest.raises(FileNotFoundError):
        next(blobs.chunks("0" * 64))
