"""casework.logfile: the columns of an event log CSV, found by name."""

from __future__ import annotations

import pytest

from casework.logfile import Columns, LogHeaderError, find_columns


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
    ],
)
def test_a_header_that_is_empty_or_not_comma_separated_says_so(header: list[str], hint: str) -> None:
    with pytest.raises(LogHeaderError, match="header lacks case_id, activity, timestamp .*" + hint):
        find_columns(header)


def test_a_header_that_only_lacks_a_column_gets_no_hint() -> None:
    with pytest.raises(LogHeaderError) as caught:
        find_columns(["case_id", "activity;resource"])
    assert str(caught.value).endswith("got case_id,activity;resource)")
