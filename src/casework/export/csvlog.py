"""The flat event-log CSV of ../shared/logs: case_id,activity,timestamp,resource; completions only. `acts` must come
grouped by case (as `activities` yields them).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import TextIO

from casework.export.activities import Activity

COLUMNS = ("case_id", "activity", "timestamp", "resource")


def log_rows(acts: Iterable[Activity]) -> Iterator[tuple[str, str, str, str]]:
    """The rows of the log, as read back (before `write_csv` guards them for spreadsheets): `casework suggest train
    --definition` trains on these, so that a model learns what the export shows."""
    for a in acts:
        if a.transition != "complete":
            continue
        # casework's times are UTC instants, written with their offset: `import-log` reads a zone-less timestamp
        # on the organisation's clock (CASEWORK_TIMEZONE), so an export without it came back an hour or more off
        # in Amsterdam. Not strftime: its %Y writes year 999 as "999", which no ISO-8601 reader takes back.
        yield a.case_id, a.activity, a.time.astimezone(UTC).isoformat(timespec="microseconds"), a.resource or ""


def write_csv(out: TextIO, acts: Iterable[Activity]) -> tuple[int, int]:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    # The activities come grouped by case: a case is counted where the next begins, rather than every case id
    # kept in a set until the end (a store's worth of them).
    current: str | None = None
    cases = rows = 0
    for case_id, activity, timestamp, resource in log_rows(acts):
        writer.writerow((_cell(case_id), _cell(activity), timestamp, _cell(resource)))
        if case_id != current:
            current, cases = case_id, cases + 1
        rows += 1
    return cases, rows


# A spreadsheet opening the file takes a cell that begins with one of these for a formula: a task or actor named
# `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` (names come from whoever adds tasks or works a case) would run in the
# reader's spreadsheet. A leading apostrophe makes it text there (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
