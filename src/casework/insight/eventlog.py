"""Event logs as cases: reading `case_id,activity,timestamp[,resource]` CSV files and the protocol's split.

Timestamps in the shared logs are local times without a zone; they are read as if they were UTC so that
differences (durations) stay exact and hour/weekday features give the local wall-clock values as recorded. A
timestamp with a UTC offset is that instant, and its clock time as recorded is kept beside it (`Case.clock`) for
the features that describe the working day (`logfile.parse_instant_and_clock`).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from casework.display import quoted
from casework.logfile import (
    Columns,
    LogHeaderError,
    find_columns,
    numbered,
    open_log_text,
    parse_instant_and_clock,
    parse_time,
    shown_row,
)

VARIANTS = ("noeoc", "eoc", "tax")


class LogFormatError(ValueError):
    """A log that does not have the expected form; says where."""


@dataclass(frozen=True)
class Case:
    """One case's history: parallel sequences, in time order."""

    case_id: str
    activities: tuple[str, ...]
    timestamps: tuple[float, ...]  # seconds since the epoch
    resources: tuple[str, ...] | None = None
    # the clock time each event was recorded at, in seconds since the epoch as if it were UTC, where it differs from
    # `timestamps` (the log gave UTC offsets other than zero); None: the timestamps are the clock times
    clock: tuple[float, ...] | None = None

    def __len__(self) -> int:
        return len(self.activities)


def parse_timestamp(text: str) -> float:
    """ISO-8601 to epoch seconds; a value without a zone counts as UTC (see the module docstring)."""
    return parse_time(text).timestamp()


def read_rows(rows: Iterable[tuple[int, Sequence[str]]], columns: Columns) -> list[Case]:
    """Group rows (after a header, each with the line it starts on: `logfile.numbered`) into cases, keeping each
    case's first-appearance order; events sorted stably by time."""
    grouped: dict[str, list[tuple[float, int, str, str, float]]] = {}
    names: dict[str, str] = {}
    c_case, c_activity, c_time, c_resource = columns.case_id, columns.activity, columns.timestamp, columns.resource
    for position, (line, row) in enumerate(rows):
        if not row:
            continue
        if len(row) < columns.width or not row[c_case].strip() or not row[c_activity].strip():
            raise LogFormatError(f"line {line}: expected case_id, activity and timestamp, got {shown_row(row)}")
        try:
            moment, clock = parse_instant_and_clock(row[c_time])
        except ValueError:
            raise LogFormatError(f"line {line}: timestamp {quoted(row[c_time])} is not ISO-8601") from None
        resource = row[c_resource] if c_resource is not None and len(row) > c_resource else ""
        # One string object per distinct name: a log repeats a few dozen names over millions of rows.
        activity = names.setdefault(row[c_activity], row[c_activity])
        grouped.setdefault(row[c_case], []).append(
            (moment, position, activity, names.setdefault(resource, resource), clock)
        )
    cases = []
    for case_id, events in grouped.items():
        events.sort()  # by instant, then file position
        timestamps = tuple(e[0] for e in events)
        clocks = tuple(e[4] for e in events)
        cases.append(
            Case(
                case_id=case_id,
                activities=tuple(e[2] for e in events),
                timestamps=timestamps,
                resources=tuple(e[3] for e in events) if c_resource is not None else None,
                clock=None if clocks == timestamps else clocks,
            )
        )
    return cases


def read_log(path: str | Path) -> list[Case]:
    """Read a gzip or plain CSV event log (`casework.logfile`: columns case_id, activity, timestamp and optionally
    resource, by name); a file that is not one raises `LogFormatError` saying where."""
    try:
        with open_log_text(Path(path)) as handle:
            reader = csv.reader(handle)
            columns = find_columns(next(reader, []))
            cases = read_rows(numbered(reader), columns)
    except (LogFormatError, LogHeaderError) as exc:
        raise LogFormatError(f"{path}: {exc}") from None
    except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile) as exc:
        raise LogFormatError(f"{path}: not a UTF-8 CSV event log ({exc})") from None
    if not cases:
        raise LogFormatError(f"{path}: no events")
    return cases


def repeated_events(cases: Iterable[Case]) -> int:
    """How many events repeat an earlier event of their case exactly: activity, time and performer (exports often
    write a row twice; see `logfile.duplicates_note`)."""
    repeated = 0
    for case in cases:
        performers = case.resources or ("",) * len(case)
        clock = case.clock or case.timestamps
        repeated += len(case) - len(set(zip(case.activities, case.timestamps, clock, performers, strict=True)))
    return repeated


def chronological_split(cases: Sequence[Case], train_fraction: float = 2 / 3) -> tuple[list[Case], list[Case]]:
    """Order cases by their first event (ties keep file order) and cut: the first part trains, the rest tests.

    For the protocol's 2/3 the cut is 2 * round(n / 3), as in Tax et al.'s evaluation code.
    """
    ordered = sorted(cases, key=lambda c: c.timestamps[0] if c.timestamps else float("inf"))
    exact_thirds = abs(train_fraction - 2 / 3) < 1e-12
    cut = 2 * round(len(ordered) / 3) if exact_thirds else round(len(ordered) * train_fraction)
    return ordered[:cut], ordered[cut:]


def most_recent(cases: Sequence[Case], prefixes: int) -> Sequence[Case]:
    """The latest cases (of `cases`, in chronological order) with at most `prefixes` prefixes (events) in all: what a
    model learns from when a log has more than it can use within the time budget (logs drift, so the oldest go)."""
    total = 0
    for i in range(len(cases) - 1, -1, -1):
        total += len(cases[i])
        if total > prefixes:
            return cases[i + 1 :]
    return cases


def prefix_lengths(case_length: int, variant: str) -> range:
    """Which prefix lengths k of a case of length n are scored; prefix k predicts event k+1 (or the case end)."""
    if variant == "noeoc":
        return range(1, case_length)
    if variant == "eoc":
        return range(1, case_length + 1)
    if variant == "tax":
        return range(2, case_length)
    raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def iter_prefixes(cases: Iterable[Case], variant: str) -> Iterator[tuple[Case, int]]:
    """(case, k) for every scored prefix of every case, in order."""
    for case in cases:
        for k in prefix_lengths(len(case), variant):
            yield case, k
