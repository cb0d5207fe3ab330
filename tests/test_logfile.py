"""casework.logfile: the columns of an event log CSV, found by name."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from casework.logfile import Columns, LogHeaderError, clock_in, find_columns


def test_columns_by_name_in_any_order() -> None:
    assert find_columns(["case_id", "activity", "timestamp"]) == Columns(0, 1, 2, None)
    assert find_columns([" Resource", "TIMESTAMP ", "x", "Case_Id", "activity"]) == Columns(3, 4, 1, 0)
    assert find_columns(["x", "timestamp", "activity", "case_id"]).width == 4


def test_a_missing_column_is_named() -> None:
    with pytest.raises(LogHeaderError, match="header lacks activity, timestamp"):
        find_columns(["case_id", "act", "time"])
    with pytest.raises(LogHeaderError, match="header lacks case_id, activity, timestamp"):
        find_columns([])


@pytest.mark.parametrize(
    ("header", "hint"),
    [
        ([], ": the file or its first line is empty"),
        (["case_id;activity;timestamp;resource"], ": its columns are separated by semicolons; save the log with"),
        (["case_id\tactivity\ttimestamp"], ": its columns are separated by tabs; save the log with commas"),
        # as pm4py writes a log's CSV: it had no hint
        (["case:concept:name", "concept:name", "time:timestamp", "org:resource"],
         ": its columns have the XES names; rename case:concept:name to case_id, concept:name to activity, "
         "time:timestamp to timestamp \\(and org:resource to resource\\)"),
    ],
)
def test_a_header_that_is_empty_or_not_comma_separated_says_so(header: list[str], hint: str) -> None:
    with pytest.raises(LogHeaderError, match="header lacks case_id, activity, timestamp .*" + hint):
        find_columns(header)


def test_a_column_named_twice_is_refused_not_guessed() -> None:
    with pytest.raises(LogHeaderError, match=r"header names activity more than once \(columns activity: 2, 4\)"):
        find_columns(["case_id", "activity", "timestamp", "Activity ", "resource"])
    with pytest.raises(LogHeaderError, match=r"names resource more than once \(columns resource: 1, 5\)"):
        find_columns(["resource", "case_id", "activity", "timestamp", "resource"])
    assert find_columns(["case_id", "activity", "timestamp", "note", "note"]) == Columns(0, 1, 2, None)


def test_a_header_that_only_lacks_a_column_gets_no_hint() -> None:
    with pytest.raises(LogHeaderError) as caught:
        find_columns(["case_id", "activity;resource"])
    assert str(caught.value).endswith("got case_id,activity;resource)")


def test_clock_in_a_zone_is_its_wall_clock_in_summer_and_in_winter() -> None:
    instants = [datetime(2026, month, 15, 10, 15, tzinfo=UTC).timestamp() for month in (7, 1)]
    clocks = clock_in(ZoneInfo("Europe/Amsterdam"), instants)
    assert clocks is not None
    assert [datetime.fromtimestamp(c, UTC).strftime("%H:%M") for c in clocks] == ["12:15", "11:15"]
    assert clock_in(UTC, instants) is None  # UTC's clock is the instant: the features read it as before


def test_a_long_first_line_is_quoted_by_its_start() -> None:
    with pytest.raises(LogHeaderError) as caught:
        find_columns(["x" * 100_000] * 20)
    message = str(caught.value)
    assert len(message) < 500 and message.endswith("... (2,000,019 characters))")
