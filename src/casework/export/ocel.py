"""OCEL 2.0 JSON: events related to objects of types case, task and document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from casework.export.activities import Activity
from casework.store import DocumentRow

EPOCH = "1970-01-01T00:00:00Z"


def build_ocel(
    acts: Iterable[Activity], cases: Iterable[tuple[str, str, str]], documents: Iterable[DocumentRow]
) -> dict[str, Any]:
    """`cases` are (id, definition key, status)."""
    objects: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    event_types: set[str] = set()
    tasks: dict[str, dict[str, Any]] = {}
    for case_id, definition_key, status in cases:
        objects.append(
            {
                "id": f"case:{case_id}",
                "type": "case",
                "attributes": [
                    {"name": "definition", "time": EPOCH, "value": definition_key},
                    {"name": "status", "time": EPOCH, "value": status},
                ],
                "relationships": [],
            }
        )
    for a in acts:
        event_types.add(a.activity)
        rel = [{"objectId": f"case:{a.case_id}", "qualifier": "case"}]
        if a.item_id is not None:
            task_id = f"task:{a.case_id}/{a.item_id}"
            rel.append({"objectId": task_id, "qualifier": "task"})
            tasks.setdefault(
                task_id,
                {
                    "id": task_id,
                    "type": "task",
                    "attributes": [
                        {"name": "name", "time": EPOCH, "value": a.activity},
                        {"name": "kind", "time": EPOCH, "value": a.item_kind or ""},
                    ],
                    "relationships": [{"objectId": f"case:{a.case_id}", "qualifier": "part of"}],
                },
            )
        events.append(
            {
                "id": f"e{a.event_id}",
                "type": a.activity,
                "time": a.time.isoformat(),
                "attributes": [
                    {"name": "lifecycle", "value": a.transition},
                    {"name": "resource", "value": a.resource},
                ],
                "relationships": rel,
            }
        )
    objects.extend(tasks.values())
    for d in documents:
        objects.append(
            {
                "id": f"document:{d.id}",
                "type": "document",
                "attributes": [
                    {"name": "name", "time": EPOCH, "value": d.name},
                    {"name": "version", "time": EPOCH, "value": d.version},
                    {"name": "sha256", "time": EPOCH, "value": d.sha256},
                ],
                "relationships": [{"objectId": f"case:{d.case_id}", "qualifier": "attached to"}],
            }
        )
    str_attr = {"type": "string"}
    return {
        "objectTypes": [
            {"name": "case", "attributes": [{"name": "definition", **str_attr}, {"name": "status", **str_attr}]},
            {"name": "task", "attributes": [{"name": "name", **str_attr}, {"name": "kind", **str_attr}]},
            {
                "name": "document",
                "attributes": [
                    {"name": "name", **str_attr},
                    {"name": "version", "type": "integer"},
                    {"name": "sha256", **str_attr},
                ],
            },
        ],
        "eventTypes": [
            {"name": name, "attributes": [{"name": "lifecycle", **str_attr}, {"name": "resource", **str_attr}]}
            for name in sorted(event_types)
        ],
        "objects": objects,
        "events": events,
    }


def write_ocel(out: TextIO, ocel: dict[str, Any]) -> tuple[int, int]:
    json.dump(ocel, out, ensure_ascii=False)
    return len(ocel["objects"]), len(ocel["events"])
