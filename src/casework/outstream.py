"""Standard output for the bytes a command streams out (a document, an export), each write taken whole or failed."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


@contextmanager
def binary_stdout() -> Iterator[BinaryIO]:
    """Standard output as a buffered binary stream, flushed at the end (what was written before goes first).

    With PYTHONUNBUFFERED set, as container images often have it, `sys.stdout.buffer` is the raw file itself, whose
    `write` may take only some of the bytes (the disk is full) and say so only by the count it returns: the rest was
    lost without an error, and `case document -o - > FILE` ended well with the document cut short. A buffered
    writer writes all the bytes or raises."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        fd = None
    if fd is None:  # not a file (a test's captured output): the stream it is
        out: BinaryIO = sys.stdout.buffer
        yield out
        out.flush()
        return
    with open(fd, "wb", closefd=False) as out:  # closing it flushes, and leaves standard output open
        yield out
