"""Files that must survive a crash once written."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(folder: Path) -> None:
    """Make a file's new name in `folder` durable: fsyncing the file keeps its bytes, not the entry that names it."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
