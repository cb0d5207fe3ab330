"""The writers keep nothing of a case once the next case's activities come: a store's export holds one case."""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from casework.export.activities import Activity
from casework.export.csvlog import write_csv
from casework.export.ocel import write_ocel
from casework.export.xes import write_xes

AT = datetime(2025, 1, 1, tzinfo=UTC)
CASES = 20


class _Sink(io.TextIOBase):
    """Counts what is written and keeps none of it (a StringIO keeps a list of the strings written)."""

    def __init__(self) -> None:
        self.lines = self.tasks = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        self.tasks += text.count('"type": "task"')
        return len(text)


def _held(case_id: str) -> list[object]:
    """The dicts and sets in memory with a value that names `case_id` (a task object's id, a set of case ids). Not
    lists: a text file's buffer of pending writes is one, and holds a few lines until it flushes."""
    found: list[object] = []
    for o in gc.get_objects():
        values = o.values() if type(o) is dict else o if type(o) is set else ()
        if any(type(v) is str and case_id in v for v in values):  # type: ignore[attr-defined]
            found.append(o)
    return found


def _activities(check: Callable[[int], None]) -> Iterator[Activity]:
    for n in range(CASES):
        check(n)
        case_id = f"case-{n:03d}"
        for seq, transition in enumerate(("start", "complete"), start=1):
            yield Activity(n * 10 + seq, case_id, seq, "Review", transition, AT, "ann", f"item{n}", "humanTask")


def _run(write: Callable[[Iterator[Activity]], object]) -> list[list[object]]:
    """What still names case 0 as each later case begins."""
    seen: list[list[object]] = []

    def check(n: int) -> None:
        if n >= 2:
            seen.append(_held("case-000"))

    write(_activities(check))
    return seen


def test_the_csv_export_keeps_no_earlier_case() -> None:
    out = _Sink()
    held = _run(lambda acts: write_csv(out, acts))
    assert held == [[]] * (CASES - 2)  # before: the set of every case id written
    assert out.lines == CASES + 1


def test_the_ocel_export_keeps_no_earlier_case() -> None:
    out = _Sink()
    held = _run(lambda acts: write_ocel(out, acts, [], lambda: ()))
    assert held == [[]] * (CASES - 2)  # before: the task objects of every case, to be written at the end
    assert out.tasks == CASES


def test_the_xes_export_keeps_no_earlier_case() -> None:
    assert _run(lambda acts: write_xes(_Sink(), acts)) == [[]] * (CASES - 2)
