"""Whether a SQLite database can be written before a writer opens it: SQLite finds out only at the first write, after
opening the file read-only and creating its -wal and -shm files."""

from __future__ import annotations

import os
from pathlib import Path

from casework.store.records import StoreError


class NotWritable(StoreError):
    """A database file, or a -wal or -shm file beside it, that this process cannot write."""


def check_writable(db_path: Path) -> None:
    """Raise `NotWritable` naming the first of the database file and its existing -wal and -shm files that this
    process cannot write. Left to SQLite, a writer on a read-only file failed ("attempt to write a readonly database")
    only after creating -wal and -shm files with the file's read-only mode; once the operator made the file writable
    again, the read-only -shm file still refused every write, under the same message. A file that does not exist is
    SQLite's to create (or to refuse, if its folder cannot be written).

    Asked with `access`, not by opening the file: closing a descriptor of a file drops every POSIX lock this process
    holds on it, those of SQLite's connections too (https://www.sqlite.org/howtocorrupt.html, 2.2), and a process
    may already have the database open. `access` answers for root (who may write anything), for a user without the
    permission and for a read-only mount alike."""
    for path, what in ((db_path, "the database file"), (_beside(db_path, "-wal"), "the database's -wal file"),
                       (_beside(db_path, "-shm"), "the database's -shm file (SQLite's index of the -wal file)")):
        if not path.is_file() or os.access(path, os.W_OK):
            continue
        read_only_mount = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        why = "its file system is mounted read-only" if read_only_mount else "Permission denied"
        raise NotWritable(
            f"{what} {path} cannot be written ({why}), and this command writes to the database: make it writable by "
            "the user running casework (the commands that only read, such as tasks, export and audit verify, read it "
            "as it is); nothing was changed"
        )


def _beside(db_path: Path, suffix: str) -> Path:
    return db_path.with_name(db_path.name + suffix)
