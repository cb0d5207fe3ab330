"""Files that must survive a crash once written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_directory(folder: Path) -> None:
    """Make a file's new name in `folder` durable: fsyncing the file keeps its bytes, not the entry that names it."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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
