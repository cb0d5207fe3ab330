"""Read an XES event log (IEEE 1849-2016, plain or gzip) as the rows `casework import-log` imports.

Each trace is a case (its `concept:name` the case id), each event a row: `concept:name` the activity,
`time:timestamp` the time (an xs:dateTime; one with an offset keeps its instant), `org:resource` the resource if
there is one. Where an event has a `lifecycle:transition`, only `complete` events are rows (compared without case:
BPI logs write COMPLETE), so that a log of start/complete pairs imports as the CSV logs hold it, one row per activity
done; events of other transitions are not checked. Every other attribute, meta-attributes, and the defaults of
`<global>` declarations are ignored: an event needs its own name and time.

The file is streamed through expat, which calls back as each element opens and closes: no tree is built, so memory
holds one event's attributes, the rows of the 64 KiB being parsed and those of a trace read before the trace's name,
not the file. A document type declaration is refused, whatever it holds (defusedxml's guards, on the parser itself):
an XES log needs none, and one is how entity expansion and external files get in. defusedxml's iterparse, which this
replaced, built an element for every attribute in pure Python, and took twice as long to read a log (the package
README has the figures).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

# (where in the file, case id, activity, timestamp as written, resource or None)
XesRow = tuple[str, str, str, str, str | None]

_PROBE = 4096  # bytes read to tell XML from CSV: a byte order mark and blank lines at most, in practice
_BLANK = b" \t\r\n"
_CHUNK = 1 << 16  # bytes parsed at a time; the rows they hold wait in a list until the chunk is parsed
# The attributes of an event that make its row; any other is passed over
_KEYS = frozenset(("concept:name", "time:timestamp", "org:resource", "lifecycle:transition"))


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
        except expat.ExpatError as exc:
            raise XesError(f"not well-formed XML ({exc}): a file cut short, or not XES") from None


def _refuse_dtd(name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _refuse_entity(name: str, is_parameter_entity: bool, value: str | None, base: str | None, sysid: str | None,
                   pubid: str | None, notation_name: str | None) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _refuse_unparsed_entity(name: str, base: str | None, sysid: str | None, pubid: str | None,
                            notation_name: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _refuse_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _parser() -> expat.XMLParserType:
    """An expat parser set up as defusedxml's (forbid_dtd=True) is: every document type declaration refused, and
    should one get past, its entities and external references too. "}" between a namespace and a name, as
    ElementTree's "{namespace}name", so that an element's local name is what follows the last "}"."""
    parser = expat.ParserCreate(None, "}")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_unparsed_entity
    parser.ExternalEntityRefHandler = _refuse_external
    return parser


def _rows(fh: io.BufferedIOBase, left_out: LeftOut) -> Iterator[XesRow]:
    """The rows, as expat's callbacks find them. Depths count the open elements, the log's being 1: a trace is at 2,
    its events and attributes at 3, an event's own attributes at 4; deeper ones are meta-attributes and values of
    lists, never read. An element at 3 is an event, or one that may name the trace, by its name and attributes
    when it opens; it is done with when it closes, which is when a row is made or a fault found."""
    rows: list[XesRow] = []  # those of the chunk being parsed
    row = rows.append
    depth = 0
    traces = events = 0  # numbers of the trace being read and of its last event, counted from 1
    name: str | None = None  # the trace's case id, once read
    at = ""  # `_where` of the trace once named, without the event
    waiting: list[tuple[str, str, str, str | None]] = []  # rows of the trace read before its name
    in_trace = False  # the element open at depth 2 is a trace (not a global, an extension, a log attribute ...)
    in_event = False  # the element open at depth 3 is an event of that trace
    values: dict[str, str] = {}  # its attributes of `_KEYS`
    names: str | None = None  # the value of the element open at depth 3 if it is a concept:name, not an event
    keys = _KEYS

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth, traces, events, name, in_trace, in_event, values, names
        depth += 1
        if depth == 4:
            if in_event:  # a later attribute of the same key wins, as ever
                key = attributes.get("key")
                if key in keys:
                    values[key] = attributes.get("value", "")
            return
        if depth > 4:
            return
        local = _local(tag)
        if depth == 3:
            if not in_trace:
                # A global's concept:name names no trace, and an event here would belong to no case (it used to be
                # read as the previous trace's).
                if local == "event":
                    raise XesError("an event outside any trace: it names no case")
                in_event, names = False, None
                return
            in_event = local == "event"
            if in_event:
                values = {}
            else:  # any element of that key names the trace, whatever its type (or its parent)
                names = attributes.get("value", "") if attributes.get("key") == "concept:name" else None
        elif depth == 2:
            in_trace = local == "trace"
            if in_trace:
                traces, events, name = traces + 1, 0, None
        elif local != "log":
            raise XesError(f"not an XES log: its root element is <{local}>, not <log>")

    def end(tag: str) -> None:
        nonlocal depth, events, name, at
        closed, depth = depth, depth - 1
        if closed > 3:
            return
        if closed == 3:
            if in_event:
                events += 1
                transition = values.get("lifecycle:transition")
                if transition is not None and transition.strip().lower() != "complete":
                    left_out.events += 1
                    return
                activity = values.get("concept:name", "").strip()
                if not activity:
                    raise XesError(f"{_where(traces, name, events)}: no concept:name (the activity)")
                timestamp = values.get("time:timestamp", "").strip()
                if not timestamp:
                    raise XesError(f"{_where(traces, name, events)}: no time:timestamp")
                resource = values.get("org:resource", "").strip() or None
                if name is None:
                    waiting.append((_where(traces, None, events), activity, timestamp, resource))
                else:
                    row((f"{at}, event {events}", name, activity, timestamp, resource))
            elif names is not None:
                name = names.strip()
                if not name:
                    raise XesError(f"{_where(traces, None)}: its concept:name (the case id) is empty")
                at = _where(traces, name)
                for where, activity, timestamp, resource in waiting:
                    row((where, name, activity, timestamp, resource))
                waiting.clear()
        elif closed == 2:
            local = _local(tag)
            if local == "trace" and name is None:
                raise XesError(f"{_where(traces, None)}: no concept:name (the case id)")
            if local == "event":
                raise XesError("an event outside any trace: it names no case")

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    while True:
        data = fh.read(_CHUNK)
        try:
            parser.Parse(data, not data)
        except (XesError, DefusedXmlException, expat.ExpatError):
            yield from rows  # the rows before a fault come before it, as they came in the file
            raise
        yield from rows
        rows.clear()
        if not data:
            return
