"""Files that must survive a crash once written."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def fsync_directory(folder: Path) -> None:
    """Make a file's new name in `folder` durable: fsyncing the file keeps its bytes, not the entry that names it."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def make_folder(folder: Path) -> None:
    """Create `folder` and whichever of its parents are missing, each one's name made durable in its parent. With
    `mkdir(parents=True)` alone only the file's own folder was fsynced: after a power cut a new folder could be gone
    with the file in it (a document's bytes whose row had committed, a new audit key)."""
    missing: list[Path] = []
    while not folder.is_dir() and folder != folder.parent:
        if folder.exists():  # mkdir would say "File exists", which does not tell what is wrong with it
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)  # exist_ok: another process may make it meanwhile; fsyncing its name again is harmless
        fsync_directory(new.parent)


def new_file_beside(target: Path) -> tuple[Path, int]:
    """A new, empty file in `target`'s folder, to be written and then moved over `target`, and its descriptor
    (FileExistsError only if no unused name was found). Made with O_EXCL, which follows no link, under a name no one
    can guess: in a folder others can write, a link planted at a fixed name (`claims.csv.partial` -> the user's
    ~/.bashrc) was opened and written through, and then moved over the target."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.partial")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to `>`
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused name for a new file beside {target}")


def replace_file(target: Path, write: Callable[[BinaryIO], T], mode: int | None = None) -> T:
    """Write a new file beside `target` with `write`, make it durable, then move it over `target`, and return what
    `write` returned. A reader sees the old file or the whole new one; after a crash the name holds one of them
    whole (the bytes are fsynced before the rename, the folder after it: a rename made durable before the bytes left
    an empty file under the name). `mode`: the new file's permissions (those of the file it replaces), set on the
    open file rather than by a name someone could swap. `target` is written as given: resolve a link first to write
    through it."""
    tmp, fd = new_file_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            result = write(out)
            out.flush()
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        tmp.replace(target)
        fsync_directory(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return result
