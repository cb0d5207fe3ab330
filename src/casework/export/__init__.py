"""Event-log export for process mining (XES, OCEL 2.0, CSV) and import of historical logs."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from casework.export.activities import activities
from casework.export.csvlog import write_csv
from casework.export.ocel import write_ocel
from casework.export.xes import write_xes
from casework.store import Store

FORMATS = ("xes", "ocel", "csv")


def export(store: Store, fmt: str, path: Path) -> tuple[int, int]:
    """Write the whole log in `fmt` to `path` (atomically: a failed export leaves no partial file).

    Returns (traces or objects, events written).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    tmp = path.with_name(path.name + ".partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out, closing(store.iter_events(order="case")) as events:
            acts = activities(events)
            if fmt == "xes":
                counts = write_xes(out, acts)
            elif fmt == "csv":
                counts = write_csv(out, acts)
            else:
                counts = write_ocel(out, acts, store.case_summaries(), store.documents())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


__all__ = ["FORMATS", "export"]
