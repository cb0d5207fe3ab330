"""The flat event-log CSV of ../shared/logs: case_id,activity,timestamp,resource; completions only. `acts` must come
grouped by case (as `activities` yields them).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from casework.export.activities import Activity

COLUMNS = ("case_id", "activity", "timestamp", "resource")


def write_csv(out: TextIO, acts: Iterable[Activity]) -> tuple[int, int]:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    # The activities come grouped by case: a case is counted where the next begins, rather than every case id
    # kept in a set until the end (a store's worth of them).
    current: str | None = None
    cases = rows = 0
    for a in acts:
        if a.transition != "complete":
            continue
        # The shared logs carry zone-less timestamps; casework's are UTC, written the same way.
        writer.writerow((_cell(a.case_id), _cell(a.activity), a.time.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                         _cell(a.resource or "")))
        if a.case_id != current:
            current, cases = a.case_id, cases + 1
        rows += 1
    return cases, rows


# A spreadsheet opening the file takes a cell that begins with one of these for a formula: a task or actor named
# `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` (names come from whoever adds tasks or works a case) would run in the
# reader's spreadsheet. A leading apostrophe makes it text there (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
