"""Timer expressions of timer event listeners: ISO-8601 durations, date-times and repeating intervals (``R/...``).

Due times are computed here from a given moment; nothing in this module reads the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import isodate


class TimerError(ValueError):
    pass


@dataclass(frozen=True)
class TimerSpec:
    """A parsed timer: ``kind`` is ``duration``, ``date`` or ``cycle``."""

    source: str
    kind: str
    duration: str | None = None  # ISO-8601 duration text, kept as text so months and years stay calendar-exact
    at: str | None = None  # ISO-8601 date-time (UTC) for ``date`` and the optional start of a ``cycle``
    repeat: int | None = None  # occurrences of a ``cycle``; None means unbounded

    def first_due(self, now: dt.datetime) -> dt.datetime:
        if self.kind == "date":
            assert self.at is not None
            return parse_datetime(self.at)
        if self.kind == "cycle" and self.at is not None:
            start = parse_datetime(self.at)
            if start >= now:
                return start
        assert self.duration is not None
        return add_duration(now, self.duration)

    def next_due(self, previous_due: dt.datetime, occurrences: int) -> dt.datetime | None:
        """The due time after ``occurrences`` firings, or None when the timer is spent."""
        if self.kind != "cycle":
            return None
        if self.repeat is not None and occurrences >= self.repeat:
            return None
        assert self.duration is not None
        return add_duration(previous_due, self.duration)


def check_time_part(duration: str) -> None:
    """Refuses a duration whose time designator has no time after it. isodate reads "PT" as zero and "P1DT" as
    "P1D", where ISO 8601 wants at least one element after the T: a task set due "PT" was due at once. Checked on
    what people and models give from now on (`SetDue`, deployment), not in `parse_duration`: a timer of a definition
    deployed before must go on running as it did."""
    if duration.strip().upper().endswith("T"):
        raise TimerError(f"not an ISO-8601 duration: {duration.strip()!r} (its T is followed by no hours, minutes "
                         "or seconds)")


def parse_duration(text: str) -> isodate.Duration | dt.timedelta:
    try:
        value = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError) as exc:
        raise TimerError(f"not an ISO-8601 duration: {text!r}") from exc
    except OverflowError as exc:  # more days or seconds than a timedelta holds
        raise TimerError(f"duration out of range: {text!r}") from exc
    if isinstance(value, isodate.Duration):
        negative = value.years < 0 or value.months < 0 or value.tdelta < dt.timedelta(0)
    else:
        negative = value < dt.timedelta(0)
    if negative:
        raise TimerError(f"negative duration: {text!r}")
    return value


def add_duration(moment: dt.datetime, duration: str) -> dt.datetime:
    delta = parse_duration(duration)
    try:
        result = moment + delta
        assert isinstance(result, dt.datetime)
        # In UTC, as everything is stored, so that formatting it cannot overflow either.
        return result.astimezone(dt.UTC) if result.tzinfo is not None else result
    except (OverflowError, ValueError) as exc:  # past year 9999, or fractional years or months
        raise TimerError(f"{duration.strip()!r} from {moment.isoformat()} gives no date: {exc}") from exc


def subtract_duration(moment: dt.datetime, duration: str) -> dt.datetime:
    """The moment ``duration`` before ``moment``: exact for days and times; months and years step back by the
    calendar, which need not undo `add_duration` at a month's end (March 31 plus P1M is April 30, less P1M March
    30)."""
    try:
        result = moment - parse_duration(duration)
        assert isinstance(result, dt.datetime)
        return result.astimezone(dt.UTC) if result.tzinfo is not None else result
    except (OverflowError, ValueError) as exc:
        raise TimerError(f"{duration.strip()!r} before {moment.isoformat()} gives no date: {exc}") from exc


def parse_datetime(text: str) -> dt.datetime:
    try:
        value: dt.datetime = isodate.parse_datetime(text.strip())
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise TimerError(f"not an ISO-8601 date-time: {text!r}") from exc
    except OverflowError as exc:  # within a day of year 1 or 9999, and its offset takes it over
        raise TimerError(f"date-time out of range in UTC: {text!r}") from exc


def due_from(text: str, moment: dt.datetime) -> dt.datetime:
    """A due time written as Flowable and Camunda write one: an ISO-8601 duration counted from ``moment``, a
    date-time, or a date (its midnight in UTC)."""
    text = text.strip()
    if text.startswith("P"):
        return add_duration(moment, text)
    if "T" not in text:
        try:
            day = dt.date.fromisoformat(text)  # a whole date only: a bare "2026" is more likely a mistake
        except ValueError:
            pass  # reported below as what it is not
        else:
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return parse_datetime(text)


def format_datetime(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    elif moment.tzinfo is not dt.UTC:  # every command carries a time; most are already in UTC
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


REFERENCE: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # a plausible start to try a model's duration from


def _schedulable(duration: str) -> None:
    """A model's duration must give a date from a plausible start, or every case that reaches the timer is refused
    (fractional years or months, which no calendar adds; a span past year 9999)."""
    add_duration(REFERENCE, duration)


def parse_timer(text: str) -> TimerSpec:
    source = text.strip()
    if not source:
        raise TimerError("empty timer expression")
    if source.startswith("R"):
        parts = source.split("/")
        count_text = parts[0][1:]
        repeat: int | None
        try:
            repeat = int(count_text) if count_text else None
        except ValueError as exc:
            raise TimerError(f"bad repetition count in {source!r}") from exc
        if repeat is not None and repeat < 1:
            raise TimerError(f"a repeating timer fires at least once, got {source!r}")
        if len(parts) == 2:
            _schedulable(parts[1])
            return TimerSpec(source, "cycle", duration=parts[1], repeat=repeat)
        if len(parts) == 3:
            start = format_datetime(parse_datetime(parts[1]))
            _schedulable(parts[2])
            return TimerSpec(source, "cycle", duration=parts[2], at=start, repeat=repeat)
        raise TimerError(f"a repeating timer is R[n]/[start/]duration, got {source!r}")
    if source.startswith("P"):
        _schedulable(source)
        return TimerSpec(source, "duration", duration=source)
    return TimerSpec(source, "date", at=format_datetime(parse_datetime(source)))
