"""A file written durably into folders made for it: each new folder's name is fsynced in its parent too, or a power
cut could take the folder, and the file acknowledged in it, away."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from casework.audit import witness
from casework.audit.checkpoints import load_or_create_key
from casework.store.blobs import BlobStore

CHECKPOINT = {"id": 1, "last_event_id": 1, "running_hash": "0" * 64, "signature": "s", "public_key": "p"}


def _blob(folder: Path) -> Path:
    digest = BlobStore(folder).put(b"document bytes")
    return folder / digest[:2] / digest


def _key(folder: Path) -> Path:
    load_or_create_key(folder / "audit.key")
    return folder / "audit.key"


def _witness(folder: Path) -> Path:
    witness.record(folder / "audit.key.witness", "tag", CHECKPOINT)
    return folder / "audit.key.witness"


@pytest.mark.parametrize("write", [_blob, _key, _witness], ids=["blob", "audit key", "witness line"])
def test_every_folder_made_for_a_durable_file_is_fsynced_in_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], Path]
) -> None:
    synced: list[Path] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to name what is fsynced")
    monkeypatch.setattr(os, "fsync", fsync)
    written = write(tmp_path / "new" / "deeper")
    assert written.is_file()
    # Every folder from the file up to the one that already existed, each in the folder that holds its name.
    for folder in [p for p in written.parents if p.is_relative_to(tmp_path)]:
        assert folder in synced, (folder, synced)
