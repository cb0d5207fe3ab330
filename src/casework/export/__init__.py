"""Event-log export for process mining (XES, OCEL 2.0, CSV) and import of historical logs."""

from __future__ import annotations

import io
import os
import stat
from contextlib import closing
from pathlib import Path
from typing import BinaryIO, TextIO

from casework.display import quoted
from casework.durable import replace_file
from casework.export.activities import activities
from casework.export.csvlog import write_csv
from casework.export.ocel import write_ocel
from casework.export.xes import write_xes
from casework.store import Store

FORMATS = ("xes", "ocel", "csv")


class ExportPathError(ValueError):
    """The output path cannot be written to; nothing was written."""


def _names_a_descriptor(path: Path) -> bool:
    """Whether `path` is, or links through, /proc/.../fd or /dev/fd: a name for an open file descriptor
    (/dev/stdout is a link to /proc/self/fd/1)."""
    current = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's own limit on links followed
        parts = current.parts
        if (parts[1:2] == ("proc",) and "fd" in parts) or parts[1:3] == ("dev", "fd"):
            return True
        if not current.is_symlink():
            return False
        current = Path(os.path.abspath(current.parent / os.readlink(current)))
    return False


def output_target(path: Path) -> tuple[Path, bool]:
    """Where an export to `path` goes: (the file to write, whether to write it in place).

    A regular file (or a new one) is written beside its real location and moved over it, so a failed export leaves
    the old file whole; a symbolic link is followed, not replaced by the new file. Anything else that exists (a
    pipe, a terminal) cannot be replaced, only written to; so can a file named through a file descriptor
    (/dev/stdout redirected to a file), which the shell opened as it was asked to (`>>` appends)."""
    try:
        mode = os.stat(path).st_mode  # follows links
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ExportPathError(f"cannot write {path}: {exc.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ExportPathError(f"{path} is a directory: give the file to write")
    if mode is not None and (not stat.S_ISREG(mode) or _names_a_descriptor(path)):
        return path, True
    real = path.resolve()  # the link's target (a dangling link's too), where the new file must go
    if not real.parent.is_dir():
        raise ExportPathError(f"cannot write {path}: no directory {real.parent}")
    if not os.access(real.parent, os.W_OK | os.X_OK):
        # the new file is made beside the old one: the folder's permissions, not the file's, refuse it
        raise ExportPathError(f"cannot write {path}: its folder {real.parent} cannot be written here (the export is "
                              "written beside the file and then moved over it)")
    return real, False


def export_to(store: Store, fmt: str, out: TextIO) -> tuple[int, int]:
    """Write the whole log in `fmt` to `out`; returns (traces or objects, events written)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {quoted(fmt)}: choose one of {', '.join(FORMATS)}")
    with closing(store.iter_events(order="case")) as events:
        acts = activities(events)
        if fmt == "xes":
            return write_xes(out, acts)
        if fmt == "csv":
            return write_csv(out, acts)
        return write_ocel(out, acts, store.iter_case_summaries(), store.iter_documents)


def export(store: Store, fmt: str, path: Path) -> tuple[int, int]:
    """Write the whole log in `fmt` to `path` (atomically for a file: a failed export leaves no partial file; see
    `output_target`). Returns (traces or objects, events written)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {quoted(fmt)}: choose one of {', '.join(FORMATS)}")
    target, in_place = output_target(path)
    if in_place:
        # Appending: to a pipe or a terminal that is all writing is; to a file the shell opened for the descriptor,
        # it keeps what `>>` asked to keep (and after `>` there is nothing to keep).
        with target.open("a", encoding="utf-8", newline="") as out:
            return export_to(store, fmt, out)
    mode = _replaceable_mode(target)

    def write(raw: BinaryIO) -> tuple[int, int]:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            return export_to(store, fmt, out)
        finally:
            out.flush()
            out.detach()  # `replace_file` makes the file durable and closes it

    return replace_file(target, write, mode)


def _replaceable_mode(target: Path) -> int | None:
    """The permissions the new file keeps from the one it replaces (None: there is none); a file this user may not
    write is refused, as the shell's `>` would refuse it, rather than replaced by a file of the default mode."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return None
    if not os.access(target, os.W_OK):
        raise ExportPathError(f"cannot write {target}: it is read-only")
    return mode


__all__ = ["FORMATS", "ExportPathError", "export", "export_to", "output_target"]
