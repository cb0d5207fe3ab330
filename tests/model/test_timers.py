from __future__ import annotations

import datetime as dt

import pytest

from casework.model.timers import (
    TimerError,
    add_duration,
    check_time_part,
    format_datetime,
    parse_datetime,
    parse_timer,
)

NOW = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)


def test_duration_counts_from_now() -> None:
    spec = parse_timer("PT4H")
    assert spec.kind == "duration"
    assert spec.first_due(NOW) == NOW + dt.timedelta(hours=4)
    assert spec.next_due(NOW, 1) is None


def test_calendar_months_stay_exact() -> None:
    assert add_duration(NOW, "P1M") == dt.datetime(2026, 2, 28, 12, 0, tzinfo=dt.UTC)


def test_date_time_is_absolute_and_naive_means_utc() -> None:
    spec = parse_timer("2026-03-01T08:00:00")
    assert spec.kind == "date"
    assert spec.first_due(NOW) == dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert format_datetime(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == (
        "2026-03-01T08:00:00Z"
    )


def test_repeating_timer_with_and_without_start() -> None:
    bounded = parse_timer("R2/PT1H")
    first = bounded.first_due(NOW)
    assert first == NOW + dt.timedelta(hours=1)
    assert bounded.next_due(first, 1) == first + dt.timedelta(hours=1)
    assert bounded.next_due(first, 2) is None
    unbounded = parse_timer("R/2026-02-01T00:00:00Z/P1D")
    assert unbounded.repeat is None
    assert unbounded.first_due(NOW) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert unbounded.next_due(NOW, 500) == NOW + dt.timedelta(days=1)


@pytest.mark.parametrize("text", ["", "soon", "P", "PT-1H", "Rx/PT1H", "R2/PT1H/extra/parts", "2026-13-40T00:00"])
def test_bad_timers_are_refused(text: str) -> None:
    with pytest.raises(TimerError):
        parse_timer(text)


@pytest.mark.parametrize("text", ["-P1Y", "-P1M", "-P1D", "-PT1H"])
def test_negative_durations_are_refused_in_years_and_months_too(text: str) -> None:
    with pytest.raises(TimerError, match="negative duration"):
        add_duration(NOW, text)


@pytest.mark.parametrize("text", ["P99999999Y", "P8000Y", "P999999999D", "P1000000000D", "PT99999999999999999999S"])
def test_a_duration_past_what_a_calendar_holds_is_a_timer_error(text: str) -> None:
    with pytest.raises(TimerError, match=r"out of range|gives no date"):
        add_duration(NOW, text)


@pytest.mark.parametrize(("text", "why"), [
    ("P1.5Y", "fractional years"), ("R/P0.5M", "fractional years or months"), ("P10000Y", "out of range"),
    ("R2/2026-01-01T00:00:00Z/P9000Y", "out of range"), ("R-1/PT1H", "fires at least once"),
    ("R0/PT1H", "fires at least once"),
])
def test_a_model_timer_no_case_could_ever_schedule_is_refused_when_it_is_read(text: str, why: str) -> None:
    with pytest.raises(TimerError, match=why):
        parse_timer(text)


def test_fractional_years_are_a_timer_error_where_they_cannot_be_added() -> None:
    with pytest.raises(TimerError, match="fractional"):
        add_duration(NOW, "P0.5Y")


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_date_time_that_falls_outside_the_calendar_in_utc_is_a_timer_error(text: str) -> None:
    with pytest.raises(TimerError, match="out of range"):
        parse_datetime(text)



@pytest.mark.parametrize("text", ["PT", "P1DT", " pt "])
def test_a_time_designator_with_no_time_after_it_is_refused_where_it_is_checked(text: str) -> None:
    # isodate reads "PT" as zero: `case set-due --due PT` made a task due at once
    with pytest.raises(TimerError, match="followed by no hours, minutes or seconds"):
        check_time_part(text)
    check_time_part("PT0S")
    check_time_part("P1DT1H")
