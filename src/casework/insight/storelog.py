"""A case type's closed cases in the store as an event log: what `casework suggest train --definition` learns from.

The rows are the ones `casework export --format csv` writes for those cases (`export.csvlog.log_rows` over
`export.activities`: a completed task, an imported log's activity, ...), read into `Case`s by the reader of a log
file (`eventlog.read_rows`): a model trained from the store is the model trained from the export of the same cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, tzinfo

from casework.display import quoted
from casework.export.activities import Activity, activities
from casework.export.csvlog import COLUMNS, log_rows
from casework.insight.eventlog import Case, read_rows
from casework.logfile import clock_in, find_columns
from casework.store import Store, organisation_zone
from casework.store.listings import ENDED


class NoTrainingCases(ValueError):
    """The store holds nothing to train on for that definition key; says why."""


def closed_cases(store: Store, definition_key: str) -> tuple[list[Case], int]:
    """(the closed cases of `definition_key`, every version, engine and imported alike, as `Case`s; how many of its
    cases are open). Cases come in the order they entered the store (by the event of their first activity), as a log's
    come in the order of the file: an imported log's cases in its own order, so that cases starting at the same
    moment are trained on in the order training on the file takes them."""
    open_count, closed_count = store.open_and_closed(definition_key)
    if open_count + closed_count == 0 and (unknown := store.unknown_definition(definition_key)) is not None:
        raise NoTrainingCases(unknown)
    if closed_count == 0:
        raise NoTrainingCases(f"no closed case of {quoted(definition_key)} to train on ({open_count} open)")
    entered: dict[str, int] = {}
    with closing(store.iter_events(order="case", definition_key=definition_key, statuses=ENDED)) as events:
        acts = _first_events(activities(events), entered)
        # each row numbered by the line it would have in the export's file, for an error that names one
        cases = read_rows(enumerate(log_rows(acts), start=2), find_columns(list(COLUMNS)))
    if not cases:
        raise NoTrainingCases(f"the {closed_count} closed cases of {quoted(definition_key)} have no completed "
                              "activity to train on")
    cases.sort(key=lambda c: entered[c.case_id])
    zone = organisation_zone()
    if zone is not UTC:
        # The export's times are UTC instants; the hour, weekday and date a model learns are the organisation's
        # clock, as a live case's are read (`suggest case`: `logfile.clock_in`), and as the log imported under
        # this zone recorded them.
        cases = [replace(c, clock=_clock(zone, c.timestamps)) for c in cases]
    return cases, open_count


def _clock(zone: tzinfo, instants: tuple[float, ...]) -> tuple[float, ...] | None:
    """The clock times in `zone` where they differ from the instants (as `eventlog.read_rows` keeps them)."""
    clock = tuple(clock_in(zone, instants) or instants)
    return None if clock == instants else clock


def _first_events(acts: Iterable[Activity], entered: dict[str, int]) -> Iterator[Activity]:
    """`acts` unchanged, noting the event id of each case's first activity in `entered`."""
    for a in acts:
        entered.setdefault(a.case_id, a.event_id)
        yield a
