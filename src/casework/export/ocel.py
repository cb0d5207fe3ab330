"""OCEL 2.0 JSON: events related to objects of types case, task and document."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
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
    out: TextIO, acts: Iterable[Activity], cases: Iterable[tuple[str, str, str]], documents: Iterable[DocumentRow]
) -> tuple[int, int]:
    """Write the log as one OCEL 2.0 JSON object; returns (objects, events). `cases` are (id, definition key,
    status). Events are streamed as they are read, before the objects (key order means nothing in JSON), so memory
    holds the task objects, the document rows and event types, not the log: a whole export of bpic12 took 446 MB
    when built first. Each document is an object and its attachment an event ("attach document", related to the
    document and its case); a new version relates to the one it replaces ("new version of")."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    out.write('{"objectTypes":' + encode(OBJECT_TYPES) + ',"events":[')
    event_types: set[str] = set()
    tasks: dict[str, dict[str, Any]] = {}
    n_events = 0
    for a in acts:
        event_types.add(a.activity)
        rel = [{"objectId": f"case:{a.case_id}", "qualifier": "case"}]
        if a.item_id is not None:
            task_id = f"task:{a.case_id}/{a.item_id}"
            rel.append({"objectId": task_id, "qualifier": "task"})
            task = tasks.get(task_id)
            if task is not None and task["attributes"][-1]["value"] != a.activity:
                # Renamed by a migration: OCEL 2.0 keeps an object's attribute values over time.
                when = a.named_at or a.time
                task["attributes"].append({"name": "name", "time": when.isoformat(), "value": a.activity})
            if task is None:
                tasks[task_id] = {
                    "id": task_id,
                    "type": "task",
                    "attributes": [
                        {"name": "kind", "time": EPOCH, "value": a.item_kind or ""},
                        {"name": "name", "time": EPOCH, "value": a.activity},  # last: a rename appends
                    ],
                    "relationships": [{"objectId": f"case:{a.case_id}", "qualifier": "part of"}],
                }
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
    docs = list(documents)
    for d in docs:
        event_types.add(ATTACH)
        event = {
            "id": f"d{d.id}",  # activity events are e<number>: no clash
            "type": ATTACH,
            "time": _utc(d.created_at).isoformat(),
            "attributes": [{"name": "lifecycle", "value": "complete"}, {"name": "resource", "value": d.created_by}],
            "relationships": [
                {"objectId": f"case:{d.case_id}", "qualifier": "case"},
                {"objectId": f"document:{d.id}", "qualifier": "document"},
            ],
        }
        out.write(("," if n_events else "") + encode(event))
        n_events += 1
    out.write('],"objects":[')
    n_objects = 0
    for obj in _objects(cases, tasks.values(), docs):
        out.write(("," if n_objects else "") + encode(obj))
        n_objects += 1
    event_type_list = [
        {"name": name, "attributes": [{"name": n, **_STRING} for n in ("lifecycle", "resource", CAUSED_BY)]}
        for name in sorted(event_types)
    ]
    out.write('],"eventTypes":' + encode(event_type_list) + "}")
    return n_objects, n_events


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _objects(
    cases: Iterable[tuple[str, str, str]], tasks: Iterable[dict[str, Any]], documents: list[DocumentRow]
) -> Iterator[dict[str, Any]]:
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
    yield from tasks
    ids = {(d.case_id, d.name, d.version): d.id for d in documents}
    for d in documents:
        relationships = [{"objectId": f"case:{d.case_id}", "qualifier": "attached to"}]
        previous = ids.get((d.case_id, d.name, d.version - 1))
        if previous is not None:
            relationships.append({"objectId": f"document:{previous}", "qualifier": "new version of"})
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
