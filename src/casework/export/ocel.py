"""OCEL 2.0 JSON: events related to objects of types case, task and document."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from casework.export.activities import CAUSED_BY, Activity
from casework.store import DocumentRow

EPOCH = "1970-01-01T00:00:00Z"
# A document's arrival, as an event: an object no event relates to is no part of the log for a reader (pm4py drops
# it on import), so without it the documents were written but never seen.
ATTACH = "attach document"


_STRING = {"type": "string"}
OBJECT_TYPES = [
    {"name": "case", "attributes": [{"name": "definition", **_STRING}, {"name": "status", **_STRING}]},
    {"name": "task", "attributes": [{"name": "name", **_STRING}, {"name": "kind", **_STRING}]},
    {
        "name": "document",
        "attributes": [
            {"name": "name", **_STRING}, {"name": "version", "type": "integer"}, {"name": "sha256", **_STRING}
        ],
    },
]


def write_ocel(
    out: TextIO,
    acts: Iterable[Activity],
    cases: Iterable[tuple[str, str, str]],
    documents: Callable[[], Iterable[DocumentRow]],
) -> tuple[int, int]:
    """Write the log as one OCEL 2.0 JSON object; returns (objects, events). `acts` come grouped by case (as
    `activities` yields them); `cases` are (id, definition key, status); `documents()` gives the document rows by
    case, name and version, and is read twice (their events, then their objects).

    Nothing grows with the log but its event types: events are written as they are read, before the objects (key
    order means nothing in JSON); a case's task objects are final once its last activity is read, so they go to a
    temporary file then and are copied after the case objects (a whole export of bpic12 took 446 MB when built
    first; the tasks of every case, held to the end, grew with the store). Each document is an object and its
    attachment an event ("attach document", related to the document and its case); a new version relates to the
    one it replaces ("new version of")."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    out.write('{"objectTypes":' + encode(OBJECT_TYPES) + ',"events":[')
    event_types: set[str] = set()
    n_events = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spill:
        tasks = _TaskObjects(spill, encode)
        for a in acts:
            event_types.add(a.activity)
            rel = [{"objectId": f"case:{a.case_id}", "qualifier": "case"}]
            if a.item_id is not None:
                rel.append({"objectId": tasks.seen(a), "qualifier": "task"})
            attributes = [{"name": "lifecycle", "value": a.transition}]
            if a.resource is not None:
                attributes.append({"name": "resource", "value": a.resource})
            if a.caused_by is not None:
                attributes.append({"name": CAUSED_BY, "value": a.caused_by})
            event = {
                "id": f"e{a.event_id}",
                "type": a.activity,
                "time": a.time.isoformat(),
                "attributes": attributes,
                "relationships": rel,
            }
            out.write(("," if n_events else "") + encode(event))
            n_events += 1
        tasks.flush()
        for d in documents():
            event_types.add(ATTACH)
            event = {
                "id": f"d{d.id}",  # activity events are e<number>: no clash
                "type": ATTACH,
                "time": _utc(d.created_at).isoformat(),
                "attributes": [{"name": "lifecycle", "value": "complete"},
                               {"name": "resource", "value": d.created_by}],
                "relationships": [
                    {"objectId": f"case:{d.case_id}", "qualifier": "case"},
                    {"objectId": f"document:{d.id}", "qualifier": "document"},
                ],
            }
            out.write(("," if n_events else "") + encode(event))
            n_events += 1
        out.write('],"objects":[')
        n_objects = 0
        for obj in _case_objects(cases):
            out.write(("," if n_objects else "") + encode(obj))
            n_objects += 1
        spill.seek(0)
        for line in spill:  # one task object a line (JSON text holds no raw line break)
            out.write(("," if n_objects else "") + line[:-1])
            n_objects += 1
    for obj in _document_objects(documents()):
        out.write(("," if n_objects else "") + encode(obj))
        n_objects += 1
    event_type_list = [
        {"name": name, "attributes": [{"name": n, **_STRING} for n in ("lifecycle", "resource", CAUSED_BY)]}
        for name in sorted(event_types)
    ]
    out.write('],"eventTypes":' + encode(event_type_list) + "}")
    return n_objects, n_events


class _TaskObjects:
    """The task objects of the case being read; written to `spill` when the next case begins."""

    def __init__(self, spill: TextIO, encode: Callable[[Any], str]) -> None:
        self.spill, self.encode = spill, encode
        self.case_id: str | None = None
        self.tasks: dict[str, dict[str, Any]] = {}

    def seen(self, a: Activity) -> str:
        """The object id of `a`'s task, its object made or brought up to date (a rename)."""
        if a.case_id != self.case_id:
            self.flush()
            self.case_id = a.case_id
        task_id = f"task:{a.case_id}/{a.item_id}"
        task = self.tasks.get(task_id)
        if task is not None and task["attributes"][-1]["value"] != a.activity:
            # Renamed by a migration: OCEL 2.0 keeps an object's attribute values over time.
            when = a.named_at or a.time
            task["attributes"].append({"name": "name", "time": when.isoformat(), "value": a.activity})
        if task is None:
            self.tasks[task_id] = {
                "id": task_id,
                "type": "task",
                "attributes": [
                    {"name": "kind", "time": EPOCH, "value": a.item_kind or ""},
                    {"name": "name", "time": EPOCH, "value": a.activity},  # last: a rename appends
                ],
                "relationships": [{"objectId": f"case:{a.case_id}", "qualifier": "part of"}],
            }
        return task_id

    def flush(self) -> None:
        for task in self.tasks.values():
            self.spill.write(self.encode(task) + "\n")
        self.tasks.clear()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _case_objects(cases: Iterable[tuple[str, str, str]]) -> Iterator[dict[str, Any]]:
    for case_id, definition_key, status in cases:
        yield {
            "id": f"case:{case_id}",
            "type": "case",
            "attributes": [
                {"name": "definition", "time": EPOCH, "value": definition_key},
                {"name": "status", "time": EPOCH, "value": status},
            ],
            "relationships": [],
        }


def _document_objects(documents: Iterable[DocumentRow]) -> Iterator[dict[str, Any]]:
    previous: DocumentRow | None = None  # the row before, by case, name and version: the version this one replaces
    for d in documents:
        relationships = [{"objectId": f"case:{d.case_id}", "qualifier": "attached to"}]
        if previous is not None and (previous.case_id, previous.name, previous.version) == (
            d.case_id, d.name, d.version - 1
        ):
            relationships.append({"objectId": f"document:{previous.id}", "qualifier": "new version of"})
        previous = d
        yield {
            "id": f"document:{d.id}",
            "type": "document",
            "attributes": [
                {"name": "name", "time": EPOCH, "value": d.name},
                {"name": "version", "time": EPOCH, "value": d.version},
                {"name": "sha256", "time": EPOCH, "value": d.sha256},
            ],
            "relationships": relationships,
        }
