from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from insight_synth import write_log

from casework.insight.eventlog import (
    LogFormatError,
    chronological_split,
    iter_prefixes,
    parse_timestamp,
    prefix_lengths,
    read_log,
)
from casework.insight.features import Encoding


def test_reads_gzip_and_plain_grouping_interleaved_rows(tmp_path: Path) -> None:
    rows = [
        ("b", "X", "2020-01-02T00:00:00", "r1"),
        ("a", "A", "2020-01-01T10:00:00", "r2"),
        ("b", "Y", "2020-01-02T01:00:00.500000", "r1"),
        ("a", "B", "2020-01-01T11:00:00", "r3"),
    ]
    for name in ("log.csv", "log.csv.gz"):
        cases = read_log(write_log(tmp_path / name, rows))
        assert [c.case_id for c in cases] == ["b", "a"]
        assert cases[0].activities == ("X", "Y")
        assert cases[0].timestamps[1] - cases[0].timestamps[0] == pytest.approx(3600.5)
        assert cases[1].resources == ("r2", "r3")


def test_three_column_log_has_no_resources(tmp_path: Path) -> None:
    path = write_log(tmp_path / "t.csv", [("1", "A", "2020-01-01T00:00:00")], ("case_id", "activity", "timestamp"))
    (case,) = read_log(path)
    assert case.resources is None and case.activities == ("A",)


def test_bad_header_is_rejected(tmp_path: Path) -> None:
    path = write_log(tmp_path / "t.csv", [("1", "A", "x")], ("id", "act", "time"))
    with pytest.raises(ValueError, match="header lacks case_id, activity, timestamp"):
        read_log(path)


def test_columns_are_found_by_name_in_any_order_beside_others(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("case_id,activity,timestamp,resource\nc1,A,2020-01-01T00:00:00,ann\nc1,B,2020-01-01T01:00:00,bob\n")
    shuffled = tmp_path / "shuffled.csv"
    # a spreadsheet's export: byte order mark, capitals, columns moved and one more
    shuffled.write_bytes(
        "\ufeffResource, Timestamp ,amount,Case_ID,Activity\r\nann,2020-01-01T00:00:00,10,c1,A\r\n"
        "bob,2020-01-01T01:00:00,10,c1,B\r\n".encode()
    )
    assert read_log(shuffled) == read_log(plain)
    without = tmp_path / "without.csv"
    without.write_text("timestamp,case_id,activity\n2020-01-01T00:00:00,c1,A\n")
    (case,) = read_log(without)
    assert case.activities == ("A",) and case.resources is None


def test_timestamps_without_zone_count_as_utc() -> None:
    assert parse_timestamp("1970-01-02T00:00:00") == 86400.0
    assert parse_timestamp("1970-01-01T01:00:00+01:00") == 0.0


def test_an_offset_gives_the_working_day_as_recorded_and_durations_between_instants(tmp_path: Path) -> None:
    rows = [
        ("c1", "Open", "2012-03-01T00:30:00+01:00", "ann"),  # 23:30 on Wednesday 29 February in UTC
        ("c1", "Close", "2012-03-01T00:45:00+00:00", "bob"),  # 75 minutes later, though 15 on the clocks
    ]
    (case,) = read_log(write_log(tmp_path / "zoned.csv", rows))
    enc = Encoding.fit([case])
    features = enc.encode_case(case)
    base = enc.last_activities + 2  # two activities, each with a count column
    assert features[:, base + 1].tolist() == [0.0, 4500.0]  # time since the start
    assert features[:, base + 2].tolist() == [0.0, 4500.0]  # time since the event before
    assert features[:, base + 3].tolist() == [0.0, 0.0]  # hour as recorded, not 23 then 0
    assert features[:, base + 4].tolist() == [3.0, 3.0]  # Thursday (Monday = 0), the day the work was done
    thursday = datetime(2012, 3, 1, tzinfo=UTC).timestamp() / 86400.0
    assert np.floor(features[:, -1]).tolist() == [thursday, thursday]  # calendar date, as recorded
    last = enc.encode_last(case.activities, case.timestamps, case.resources, clock=case.clock)
    assert np.array_equal(last, features[-1:])
    # a log without offsets keeps no second clock: its timestamps are the clock times as recorded
    (plain,) = read_log(write_log(tmp_path / "plain.csv", [(c, a, t[:19], r) for c, a, t, r in rows]))
    assert plain.clock is None and plain.timestamps[1] - plain.timestamps[0] == 900.0


def test_a_log_mixing_rows_with_and_without_an_offset_reads_those_without_as_utc(tmp_path: Path) -> None:
    rows = [
        ("c1", "Check", "2020-01-01T10:00:00", "ann"),  # no offset: 10:00 UTC, as import-log stores it
        ("c1", "Register", "2020-01-01T10:00:00+02:00", "bob"),  # 08:00 UTC: the earlier one
    ]
    (case,) = read_log(write_log(tmp_path / "mixed.csv", rows))
    assert case.activities == ("Register", "Check")
    assert case.timestamps[1] - case.timestamps[0] == 7200.0
    enc = Encoding.fit([case])
    assert enc.encode_case(case)[:, enc.last_activities + 2 + 3].tolist() == [10.0, 10.0]  # both as recorded


def test_split_orders_by_first_event_and_cuts_two_thirds(tmp_path: Path) -> None:
    # seven cases written in scrambled order; day d is case c{d}'s first event
    days = [5, 2, 7, 1, 4, 3, 6]
    rows = [(f"c{d}", "A", f"2020-01-{d:02d}T00:00:00", "") for d in days]
    cases = read_log(write_log(tmp_path / "s.csv", rows))
    train, test = chronological_split(cases)
    # 2 * round(7 / 3) = 4 train cases, as in Tax et al.'s code
    assert [c.case_id for c in train] == ["c1", "c2", "c3", "c4"]
    assert [c.case_id for c in test] == ["c5", "c6", "c7"]
    train9, test9 = chronological_split(cases * 1 + cases[:2])
    assert len(train9) == 6 and len(test9) == 3


def test_prefix_lengths_per_variant() -> None:
    assert list(prefix_lengths(4, "noeoc")) == [1, 2, 3]
    assert list(prefix_lengths(4, "eoc")) == [1, 2, 3, 4]
    assert list(prefix_lengths(4, "tax")) == [2, 3]
    assert list(prefix_lengths(1, "noeoc")) == [] and list(prefix_lengths(1, "eoc")) == [1]
    assert list(prefix_lengths(2, "tax")) == []
    with pytest.raises(ValueError):
        prefix_lengths(3, "bogus")


def test_iter_prefixes_counts(tmp_path: Path) -> None:
    rows = [("a", x, f"2020-01-01T0{i}:00:00", "") for i, x in enumerate("ABCD")]
    rows += [("b", "A", "2020-01-02T00:00:00", "")]
    cases = read_log(write_log(tmp_path / "p.csv", rows))
    assert len(list(iter_prefixes(cases, "noeoc"))) == 3
    assert len(list(iter_prefixes(cases, "eoc"))) == 5
    assert len(list(iter_prefixes(cases, "tax"))) == 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("c1", "A", "2020-01-01T00:00:00", "ann"), ("c1", "B", "yesterday", "ann")],
         "line 3: timestamp 'yesterday' is not ISO-8601"),
        ([("c1", "A", "2020-01-01T00:00:00", "ann"), ("c1", "B")], "line 3: expected case_id, activity and timestamp"),
        ([("", "A", "2020-01-01T00:00:00", "ann")], "line 2: expected case_id, activity and timestamp"),
        ([], "no events"),
    ],
)
def test_a_bad_row_is_named_by_its_line(tmp_path: Path, rows: list[tuple[str, ...]], message: str) -> None:
    path = write_log(tmp_path / "bad.csv.gz", rows)
    with pytest.raises(LogFormatError, match=re.escape(f"{path}: {message}")):
        read_log(path)


def test_a_file_that_is_not_a_log_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("case_id,activity,timestamp\nc1,Pr\xfcfung,2020-01-01T00:00:00\n".encode("latin-1"))
    for path in (broken, latin):
        with pytest.raises(LogFormatError, match="not a UTF-8 CSV event log"):
            read_log(path)


def test_a_long_bad_timestamp_is_quoted_by_its_start(tmp_path: Path) -> None:
    rows = [("c1", "A", "2020-01-01T00:00:00", "ann"), ("c1", "B", "x" * 100_000, "")]
    path = write_log(tmp_path / "bad.csv.gz", rows)
    with pytest.raises(LogFormatError) as caught:
        read_log(path)
    assert str(caught.value) == f"{path}: line 3: timestamp {'x' * 80!r}... (100,000 characters) is not ISO-8601"


def test_a_bad_row_after_a_field_with_line_breaks_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    # a quoted activity over three lines (lines 2-4): the next row starts on line 5, not the third row's "line 4"
    rows = [("c1", "Note:\r\nsee\nattached", "2020-01-01T00:00:00", "ann"), ("c1", "B", "2020-13-01T00:00:00", "ann")]
    path = write_log(tmp_path / "bad.csv", rows)
    with pytest.raises(LogFormatError, match=re.escape(f"{path}: line 5: timestamp '2020-13-01T00:00:00'")):
        read_log(path)


def test_a_long_bad_row_is_quoted_by_its_start(tmp_path: Path) -> None:
    # a quote left open takes the rest of the file (up to 128 KB) into one field
    path = tmp_path / "open.csv"
    path.write_text("case_id,activity,timestamp\nc1,\"A,2020-01-01T00:00:00\n" + "c1,B,2020-01-01T01:00:00\n" * 2000)
    with pytest.raises(LogFormatError) as caught:
        read_log(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 2: expected case_id, activity and timestamp, got ['c1', 'A,2020")
    assert message.endswith("... (52,033 characters)") and len(message) < 300 + len(str(path))
