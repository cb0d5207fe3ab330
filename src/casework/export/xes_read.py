"""Read an XES event log (IEEE 1849-2016, plain or gzip) as the rows `casework import-log` imports.

Each trace is a case (its `concept:name` the case id), each event a row: `concept:name` the activity,
`time:timestamp` the time (an xs:dateTime; one with an offset keeps its instant), `org:resource` the resource if
there is one. Where an event has a `lifecycle:transition`, only `complete` events are rows (compared without case:
BPI logs write COMPLETE), so that a log of start/complete pairs imports as the CSV logs hold it, one row per activity
done; events of other transitions are not checked. Every other attribute, meta-attributes, and the defaults of
`<global>` declarations are ignored: an event needs its own name and time.

The file is streamed (defusedxml's iterparse, each element dropped once it is read), so memory holds one event and
the rows of a trace read before the trace's name, not the file. A document type declaration is refused, whatever it
holds: an XES log needs none, and one is how entity expansion and external files get in.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden

# (where in the file, case id, activity, timestamp as written, resource or None)
XesRow = tuple[str, str, str, str, str | None]

_PROBE = 4096  # bytes read to tell XML from CSV: a byte order mark and blank lines at most, in practice
_BLANK = b" \t\r\n"


class XesError(ValueError):
    """The file is not an XES log casework can import; its message is one line."""


@contextmanager
def _open(path: Path) -> Iterator[io.BufferedIOBase]:
    """The file's bytes, gunzipped if it is gzip (by its magic bytes, as `logfile.open_log_text` tells)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gzipped else path.open("rb")) as fh:
        yield fh


def is_xml(path: Path) -> bool:
    """Whether the file (gunzipped) begins with `<` once a UTF-8 byte order mark and blank space are passed: an XML
    document (`<?xml`, `<log`, a comment), which no CSV log's header is."""
    with _open(path) as fh:
        head = fh.read(_PROBE)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(_BLANK).startswith(b"<")


def _local(tag: str) -> str:
    """The element's name without its namespace: logs are written with the XES namespace and without."""
    return tag.rpartition("}")[2]


def _where(trace: int, name: str | None, event: int | None = None) -> str:
    text = f"trace {trace}" + ("" if name is None else f" ({name!r})")
    return text if event is None else f"{text}, event {event}"


def _event_row(event: Element, trace: int, name: str | None, number: int) -> tuple[str, str, str | None] | None:
    """(activity, timestamp, resource) of an event to import, None for one of another lifecycle transition."""
    values: dict[str, str] = {}
    for attribute in event:  # its own attributes only: a nested one is a meta-attribute of its parent
        key = attribute.get("key")
        if key in ("concept:name", "time:timestamp", "org:resource", "lifecycle:transition"):
            values[key] = attribute.get("value", "")
    transition = values.get("lifecycle:transition")
    if transition is not None and transition.strip().lower() != "complete":
        return None
    activity = values.get("concept:name", "").strip()
    if not activity:
        raise XesError(f"{_where(trace, name, number)}: no concept:name (the activity)")
    timestamp = values.get("time:timestamp", "").strip()
    if not timestamp:
        raise XesError(f"{_where(trace, name, number)}: no time:timestamp")
    return activity, timestamp, values.get("org:resource", "").strip() or None


@dataclass
class LeftOut:
    """What reading a log passed over: events of another lifecycle transition than `complete`."""

    events: int = 0


def xes_rows(path: Path, left_out: LeftOut | None = None) -> Generator[XesRow, None, None]:
    """The rows of the log's completed events, trace by trace in the file's order; `left_out` counts the events of
    other transitions. Raises `XesError` for a file that is no XES log, holds a DTD or is cut short (after the rows
    before the fault: a caller keeps nothing of a log until it is read to its end), `OSError`/`EOFError`/
    `gzip.BadGzipFile` for one that cannot be read."""
    with _open(path) as fh:
        try:
            yield from _rows(fh, left_out if left_out is not None else LeftOut())
        except DTDForbidden:
            raise XesError("refused: the file declares a document type (<!DOCTYPE ...>); an XES log needs none, "
                           "and casework reads none (it could expand entities or fetch other files)") from None
        except DefusedXmlException as exc:  # entities or external references, were a DTD let through
            raise XesError(f"refused: {type(exc).__name__}") from None
        except ParseError as exc:
            raise XesError(f"not well-formed XML ({exc}): a file cut short, or not XES") from None


def _rows(fh: io.BufferedIOBase, left_out: LeftOut) -> Iterator[XesRow]:
    path: list[Element] = []  # the open elements, the log first
    traces = events = 0  # numbers of the trace being read and of its last event, counted from 1
    name: str | None = None  # the trace's case id, once read
    waiting: list[tuple[str, str, str, str | None]] = []  # rows of the trace read before its name
    for kind, element in DET.iterparse(fh, events=("start", "end"), forbid_dtd=True):
        if kind == "start":
            if not path and _local(element.tag) != "log":
                raise XesError(f"not an XES log: its root element is <{_local(element.tag)}>, not <log>")
            if len(path) == 1 and _local(element.tag) == "trace":
                traces, events, name = traces + 1, 0, None
            path.append(element)
            continue
        path.pop()
        depth = len(path)  # of the element's parent: 1 for a child of the log, 2 for a child of a trace
        if depth > 2:
            continue  # an event's attributes, read with it; or a meta-attribute
        tag = _local(element.tag)
        if depth == 2:
            if tag == "event":
                events += 1
                row = _event_row(element, traces, name, events)
                if row is None:
                    left_out.events += 1
                else:
                    if name is None:
                        waiting.append((_where(traces, None, events), *row))
                    else:
                        yield (_where(traces, name, events), name, *row)
            elif element.get("key") == "concept:name":
                name = element.get("value", "").strip()
                if not name:
                    raise XesError(f"{_where(traces, None)}: its concept:name (the case id) is empty")
                for where, activity, timestamp, resource in waiting:
                    yield where, name, activity, timestamp, resource
                waiting.clear()
        elif depth == 1:
            if tag == "trace" and name is None:
                raise XesError(f"{_where(traces, None)}: no concept:name (the case id)")
            if tag == "event":
                raise XesError("an event outside any trace: it names no case")
        if depth:
            path[-1].remove(element)  # read: dropped, so the tree holds the element being read, not the log
