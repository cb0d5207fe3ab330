"""Event log CSV files (`case_id,activity,timestamp[,resource]`, plain or gzip), as both the model training and
`casework import-log` read them.

Columns are found by name, in any order, beside any others (an export with more columns, or with the resource
first, reads the same); names are compared without case or surrounding space, and a UTF-8 byte order mark (which
spreadsheet programs write) is dropped. A header that names one of these columns twice is refused: which one holds
the data would be a guess. Columns must be separated by commas: a header separated by semicolons or
tabs (a spreadsheet's export in some locales) is refused, saying so.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Protocol

REQUIRED = ("case_id", "activity", "timestamp")
XES_NAMES = {"case_id": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp"}


class LogHeaderError(ValueError):
    """The header lacks a required column."""


def open_log_text(path: Path) -> io.TextIOWrapper:
    """The file's text, gunzipped if it is gzip (by its magic bytes, not its name)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")


@dataclass(frozen=True)
class Columns:
    """Where each column of the format stands in a row; `resource` is None when the log has none."""

    case_id: int
    activity: int
    timestamp: int
    resource: int | None

    @property
    def width(self) -> int:
        """How many fields a row needs to hold every required column."""
        return max(self.case_id, self.activity, self.timestamp) + 1


def find_columns(header: list[str]) -> Columns:
    names = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise LogHeaderError(
            f"header lacks {', '.join(missing)} (need case_id,activity,timestamp[,resource]; got {_quoted(header)})"
            + _header_hint(header)
        )
    # an export that joins two tables can name a column twice; reading either one would be a guess
    twice = [name for name in (*REQUIRED, "resource") if names.count(name) > 1]
    if twice:
        raise LogHeaderError(
            f"header names {', '.join(twice)} more than once (columns "
            + "; ".join(f"{name}: {', '.join(str(i + 1) for i, n in enumerate(names) if n == name)}" for name in twice)
            + f"): keep one of each, or rename the others; got {_quoted(header)}"
        )
    return Columns(
        names.index("case_id"),
        names.index("activity"),
        names.index("timestamp"),
        names.index("resource") if "resource" in names else None,
    )


# A first line that is not a header may be anything, a megabyte of data say: the error quotes its start.
HEADER_SHOWN = 200


class LineReader(Protocol):
    """A `csv.reader`: rows, and how many lines of the file it has read so far."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


def numbered(reader: LineReader) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header of a `csv.reader`, each with the line of the file it starts on: a quoted field can
    hold line breaks, so a row's place among the rows is not its line (an error naming one would point above it)."""
    after = reader.line_num
    for row in reader:
        yield after + 1, row
        after = reader.line_num


def shown_row(row: Sequence[str]) -> str:
    """A row as an error quotes it: its start, if it is long (a quote left open swallows the rest of the file)."""
    text = repr(list(row))
    return text if len(text) <= HEADER_SHOWN else f"{text[:HEADER_SHOWN]}... ({len(text):,} characters)"


def _quoted(header: list[str]) -> str:
    text = ",".join(header)
    return text if len(text) <= HEADER_SHOWN else f"{text[:HEADER_SHOWN]}... ({len(text):,} characters)"


def _header_hint(header: list[str]) -> str:
    """Why a header may lack the columns: an empty first line, or a spreadsheet's export that separates its columns
    by semicolons or tabs (the header then reads as one column holding all the names)."""
    if not "".join(header).strip():
        return ": the file or its first line is empty, and a log's first line must be its header"
    for mark, name in ((";", "semicolons"), ("\t", "tabs")):
        names = {part.strip().lower() for field in header for part in field.split(mark)}
        if all(column in names for column in REQUIRED):
            return f": its columns are separated by {name}; save the log with commas between them"
    names = {field.strip().lower() for field in header}
    if all(column in names for column in XES_NAMES.values()):
        # pm4py and other process-mining tools write a log's CSV with the XES attribute names
        renames = ", ".join(f"{xes} to {ours}" for ours, xes in XES_NAMES.items())
        return f": its columns have the XES names; rename {renames} (and org:resource to resource)"
    return ""


def parse_time(text: str, zone: tzinfo = UTC) -> datetime:
    """An ISO-8601 timestamp as an aware datetime; `ValueError` if it is not one. The shared logs record local time
    without a zone: such a value is a wall-clock time in `zone`. Training reads it as UTC, so that the hour and
    weekday read as recorded; `casework import-log` in the organisation's zone (`CASEWORK_TIMEZONE`), to store its
    instant. A time the zone's clock skipped or showed twice (a change of summer time) is read with the offset in
    force before the change (zoneinfo's fold=0): 02:30 on the spring night is 01:30 UTC in Europe/Amsterdam, and
    02:30 on the autumn night the first (summer time) one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def clock_in(zone: tzinfo, instants: Sequence[float]) -> list[float] | None:
    """The wall-clock time in `zone` of each instant (seconds since the epoch), in seconds since the epoch as if
    it were UTC (as `parse_instant_and_clock` gives a log's clock): what the hour, weekday and date of events read
    from the store (true instants) are taken from. None in UTC, where the clock is the instant."""
    if zone is UTC:
        return None
    clocks = []
    for instant in instants:
        offset = datetime.fromtimestamp(instant, zone).utcoffset()
        clocks.append(instant + (offset.total_seconds() if offset is not None else 0.0))
    return clocks


def parse_instant_and_clock(text: str) -> tuple[float, float]:
    """(instant, clock) of an ISO-8601 timestamp, both in seconds since the epoch: the instant as `parse_time`
    places it (a value without a zone taken as UTC), and the clock time as recorded, read as if it were UTC. They
    differ by the value's UTC offset: `2012-03-01T00:30:00+01:00` is 23:30 on 29 February in UTC, but was
    recorded at half past midnight on 1 March, which is the hour and day the work happened in. Durations need the
    instants; the hour, the weekday and the date need the clock. A log that gives offsets on some rows and not on
    others follows the same rule row by row: the rows without one are UTC (as `casework import-log` stores them
    under the default CASEWORK_TIMEZONE; in another zone their instants differ by its offset, their clock does not)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    clock = moment.replace(tzinfo=UTC).timestamp()
    return (clock if moment.tzinfo is None else moment.timestamp()), clock


def duplicates_note(count: int, *, stored: bool = False) -> str:
    """What a reader of a log says when `count` rows repeat an earlier row of their case exactly (same activity,
    timestamp and resource), as exports often do. They are kept: a real step can be recorded twice at one instant
    (two lab results of the same test booked together), which no reader can tell from an export's artefact, and the
    evaluation protocol scores a log as it is given. `stored`: the events were read from the store, whose history
    is append-only, so there is no file to correct; a log imported with them is the place to look."""
    if stored:
        return (
            f"note: {count} event{'s' if count != 1 else ''} repeat{'' if count != 1 else 's'} an earlier event of the "
            "same case exactly (activity, time and performer); each counts as an event, as the store holds it (if they "
            "came from an imported log's duplicate rows, the history keeps them: remove them from the log and import "
            "it under another definition key to train without them)"
        )
    return (
        f"note: {count} row{'s' if count != 1 else ''} repeat{'' if count != 1 else 's'} an earlier row of the same "
        "case exactly (activity, timestamp and resource); each counts as an event, as the file gives it (if they are "
        "an export's duplicates, remove them from the file)"
    )
