"""Content-addressed file store for document contents: each file is named by the SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from casework.durable import fsync_directory, make_folder


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_of(digest)
        if self.intact(digest):  # same bytes, same name: storing twice is a no-op
            return digest
        # Missing, or a file that no longer holds these bytes (a bad disk, an edit): writing them again repairs it.
        try:
            make_folder(target.parent)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                # Atomic rename: readers never see half a file, and a crash leaves at worst a stray temp file.
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            fsync_directory(target.parent)
        except OSError as exc:
            if exc.filename is not None:
                raise
            # A write or fsync names no file: "No space left on device" alone did not say that the blob folder
            # (perhaps another disk than the database's, CASEWORK_BLOBS) was the one full.
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        data = self.path_of(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"blob {sha256} is corrupt on disk")
        return data

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
