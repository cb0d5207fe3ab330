"""The CSV export as a spreadsheet reads it: no stored name becomes a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from casework.export.activities import Activity
from casework.export.csvlog import write_csv


def _completed(case_id: str, activity: str, resource: str | None) -> Activity:
    return Activity(1, case_id, 1, activity, "complete", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), resource, "i1",
                    "humanTask")


def test_names_a_spreadsheet_would_run_as_formulas_are_written_as_text() -> None:
    out = io.StringIO()
    write_csv(out, [
        _completed("=1+1", "=cmd|' /C calc'!A0", "@SUM(A1:A9)"),
        _completed("+31 20", "-2+3", "\tann"),
        _completed("c2", "Call the workshop - today", "bob"),
    ])
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("'=1+1", "'=cmd|' /C calc'!A0", "'@SUM(A1:A9)"),
        ("'+31 20", "'-2+3", "'\tann"),
        ("c2", "Call the workshop - today", "bob"),
    ]
