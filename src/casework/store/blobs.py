"""Content-addressed file store for document contents: each file is named by the SHA-256 of its bytes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from casework.durable import fsync_directory, make_folder

T = TypeVar("T")
# How much of a document is in memory at a time while it is stored or read back.
CHUNK = 1 << 20
MIB = 1 << 20
# The largest document a case takes, in MiB: without a bound `case attach CASE /dev/zero` (or an upload that never
# ends) wrote until the blob folder's disk was full. 50 MiB holds a long scanned PDF or a phone video clip.
MAX_DOCUMENT_ENV = "CASEWORK_MAX_DOCUMENT_MB"
DEFAULT_MAX_DOCUMENT_MB = 50
_MAX_SETTING_MB = 1 << 20  # 1 TiB: a larger figure is a typo, not a document


class NotBytes(TypeError):
    """What a document's content was read from gave something other than bytes (a file opened as text)."""


class DocumentLimitSettingError(ValueError):
    """CASEWORK_MAX_DOCUMENT_MB is not a whole number of MiB."""


class TooLarge(ValueError):
    """A document's content is longer than the limit it was stored under; nothing was stored."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the document is larger than {limit_text(limit)}, the most a document may be "
                         f"({MAX_DOCUMENT_ENV}); nothing stored: set {MAX_DOCUMENT_ENV} higher to take it")


def limit_text(limit: int) -> str:
    return f"{limit // MIB:,} MiB" if limit % MIB == 0 else f"{limit:,} bytes"


def max_document_bytes() -> int | None:
    """The most bytes a document attached to a case may have: $CASEWORK_MAX_DOCUMENT_MB MiB (default 50; 0: no
    limit). `DocumentLimitSettingError` for anything but a whole number up to 1,048,576 (1 TiB)."""
    raw = os.environ.get(MAX_DOCUMENT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DOCUMENT_MB * MIB
    if not raw.isdigit() or int(raw) > _MAX_SETTING_MB:
        raise DocumentLimitSettingError(
            f"{MAX_DOCUMENT_ENV}={raw!r} is not a number of MiB: give a whole number from 1 to {_MAX_SETTING_MB:,} "
            f"(0 sets no limit); the default is {DEFAULT_MAX_DOCUMENT_MB}")
    return int(raw) * MIB or None


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        """Store `content` and return its SHA-256 (`put_stream` of it: one way to write a blob)."""
        return self.put_content(content)[0]

    def put_content(self, content: bytes | BinaryIO, limit: int | None = None) -> tuple[str, int]:
        """Store a document's content, its bytes or a file object opened in binary mode (streamed, `put_stream`),
        and return (SHA-256, size). `NotBytes` (nothing stored) for anything else, `TooLarge` (nothing stored) for
        content longer than `limit` bytes."""
        if isinstance(content, bytes):
            if limit is not None and len(content) > limit:
                raise TooLarge(limit)
            digest = hashlib.sha256(content).hexdigest()
            if self.intact(digest):  # known before a byte is written: the same bytes again write nothing
                return digest, len(content)
            return self.put_stream(io.BytesIO(content))
        if isinstance(content, io.TextIOBase) or not callable(getattr(content, "read", None)):
            raise NotBytes(f"a document's content must be bytes or a file opened in binary mode, not "
                           f"{type(content).__name__}")
        return self.put_stream(content, limit)

    def put_stream(self, source: BinaryIO, limit: int | None = None) -> tuple[str, int]:
        """Store the bytes read from `source` to its end, a chunk at a time, and return (SHA-256, size): a document
        of gigabytes is never in memory whole. `TooLarge` (nothing stored) once more than `limit` bytes are read: a
        source that never ends (/dev/zero, a pipe) is read no further than a chunk past it. `NotBytes` (nothing
        stored) if `source` reads anything but bytes;
        what reading it raises is raised as it is (an `OSError` with no file name names `source`'s, if it has one);
        a failed write raises an `OSError` naming the blob folder. Either way no temporary file is left."""
        hasher = hashlib.sha256()
        size = 0
        try:
            # The name is the digest, known once the last byte is read: the bytes go to a temporary file in the
            # blob folder itself (one file system, so the rename below is atomic), in no digest's subfolder yet.
            make_folder(self.root)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        except OSError as exc:
            named = _named(exc, self.root)
            if named is exc:
                raise
            raise named from exc
        try:
            fh = os.fdopen(fd, "wb")
            try:
                while chunk := _read(source):
                    hasher.update(chunk)
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLarge(limit)
                    _written(self.root, fh.write, chunk)
                _written(self.root, fh.flush)
                _written(self.root, os.fsync, fh.fileno())
            finally:
                # After a failed write, closing flushes and fails again: the first error says what happened.
                with contextlib.suppress(OSError):
                    fh.close()
            digest = hasher.hexdigest()
            target = self.path_of(digest)
            if self.intact(digest):  # same bytes, same name: storing twice is a no-op
                return digest, size
            # Missing, or a file that no longer holds these bytes (a bad disk, an edit): writing them again repairs
            # it. Atomic rename: readers never see half a file, and a crash leaves at worst a stray temp file.
            _written(target, make_folder, target.parent)
            _written(target, os.replace, tmp, target)
            _written(target, fsync_directory, target.parent)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return digest, size

    def get(self, sha256: str) -> bytes:
        data = self.path_of(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"blob {sha256} is corrupt on disk")
        return data

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The bytes, CHUNK at a time: a reader of a document larger than memory allows keeps what it needs of each.
        Raises as `get` does, the `ValueError` for bytes of another digest only after the last chunk: what a reader
        made of them stands once the iteration ends without it."""
        hasher = hashlib.sha256()
        with self.path_of(sha256).open("rb") as fh:
            while chunk := fh.read(CHUNK):
                hasher.update(chunk)
                yield chunk
        if hasher.hexdigest() != sha256:
            raise ValueError(f"blob {sha256} is corrupt on disk")

    def verify(self, sha256: str) -> None:
        """Raise as `get` does (`FileNotFoundError`, `ValueError` for other bytes) unless the file holds bytes of
        that digest; read in slices, never whole."""
        with self.path_of(sha256).open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != sha256:
            raise ValueError(f"blob {sha256} is corrupt on disk")

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    def intact(self, sha256: str) -> bool | None:
        """True if the file named `sha256` holds bytes of that digest, False if it holds others (corrupt or
        edited), None if there is no such file. Read in slices: a document may be larger than memory allows."""
        try:
            with self.path_of(sha256).open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except FileNotFoundError:
            return None
        return digest == sha256


def _read(source: BinaryIO) -> bytes:
    try:
        chunk = source.read(CHUNK)
    except OSError as exc:
        name = getattr(source, "name", None)
        # "Input/output error" alone would not say it was the file being attached, not the blob folder, that failed.
        if exc.filename is None and isinstance(name, str):
            raise OSError(exc.errno, exc.strerror, name) from exc
        raise
    if chunk is None:  # a non-blocking stream with nothing yet: taking it for the end would store a cut document
        raise NotBytes("the content's stream is non-blocking and had no bytes ready: give a blocking one")
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise NotBytes(f"a document's content must be read as bytes, not {type(chunk).__name__} (open it in binary "
                       "mode)")
    return bytes(chunk) if not isinstance(chunk, bytes) else chunk


def _written(where: Path, step: Callable[..., T], *args: object) -> T:
    try:
        return step(*args)
    except OSError as exc:
        named = _named(exc, where)
        if named is exc:
            raise
        raise named from exc


def _named(exc: OSError, where: Path) -> OSError:
    """`exc`, naming `where` if it named no file: "No space left on device" alone did not say that the blob folder
    (perhaps another disk than the database's, CASEWORK_BLOBS) was the one full."""
    return exc if exc.filename is not None else OSError(exc.errno, exc.strerror, str(where))
