"""The CSV export as a spreadsheet reads it: no stored name becomes a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from casework.export.activities import Activity
from casework.export.csvlog import write_csv
from casework.insight.eventlog import read_log


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


def test_a_time_before_the_year_1000_is_written_as_iso_8601_and_reads_back(tmp_path: Path) -> None:
    # import-log takes years 1 to 9999; strftime's %Y writes year 999 as "999", which no ISO-8601 reader takes
    when = datetime(999, 5, 1, 8, 30, 0, 250, tzinfo=UTC)
    log = tmp_path / "old.csv"
    with log.open("w", newline="", encoding="utf-8") as out:
        write_csv(out, [Activity(1, "c1", 1, "Register", "complete", when, "ann", None, None)])
    assert log.read_text(encoding="utf-8").splitlines()[1] == "c1,Register,0999-05-01T08:30:00.000250+00:00,ann"
    assert read_log(log)[0].timestamps == (when.timestamp(),)
