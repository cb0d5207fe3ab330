"""OCEL 2.0 JSON export checked as a reader sees it: the structure of the OCEL 2.0 JSON format, every object related
to some event (pm4py 2.7.23, reading these files, drops an object no event relates to), and object-to-object
relations that point at objects in the file. Checked with the stdlib alone; see src/casework/store/README.md for
the run against pm4py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from casework.engine import commands
from casework.export import export
from casework.paths import shared_dir
from casework.service import CaseService
from casework.store import Store

T0 = datetime(2025, 3, 30, 0, 59, 59, 999500, tzinfo=timezone(timedelta(hours=2)))
ATTRIBUTE_TYPES = {"string", "time", "integer", "float", "boolean"}
JSON_TYPE = {"string": str, "integer": int, "float": (int, float), "boolean": bool, "time": str}


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> CaseService:
    root = shared_dir()
    if root is None:
        pytest.skip("shared corpus not available")
    s = Store.open(db_url, audit_key=tmp_path / "k", blob_dir=tmp_path / "blobs")
    service = CaseService(s)
    service.deploy((root / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
    yield service
    s.close()


def _ocel(svc: CaseService, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "log.json"
    export(svc.store, "ocel", out)
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} has no offset: readers take it as local time"
    return parsed


def _check_ocel20_structure(doc: dict[str, Any]) -> None:
    """The OCEL 2.0 JSON format: four arrays; typed attributes whose values fit their declared type."""
    assert set(doc) >= {"objectTypes", "eventTypes", "objects", "events"}
    declared: dict[str, dict[str, dict[str, str]]] = {}
    for kind in ("objectTypes", "eventTypes"):
        declared[kind] = {}
        for t in doc[kind]:
            assert isinstance(t["name"], str) and isinstance(t["attributes"], list)
            assert all(a["type"] in ATTRIBUTE_TYPES for a in t["attributes"])
            declared[kind][t["name"]] = {a["name"]: a["type"] for a in t["attributes"]}
    for kind, things in (("objectTypes", doc["objects"]), ("eventTypes", doc["events"])):
        ids = [x["id"] for x in things]
        assert len(ids) == len(set(ids)), f"{kind}: ids repeat"
        for x in things:
            types = declared[kind][x["type"]]
            for a in x.get("attributes", []):
                assert isinstance(a["value"], JSON_TYPE[types[a["name"]]]), (x["id"], a)
                if kind == "objectTypes":
                    _time(a["time"])
            for r in x.get("relationships", []):
                assert isinstance(r["objectId"], str) and isinstance(r["qualifier"], str)
    for e in doc["events"]:
        _time(e["time"])


def test_every_object_is_related_to_an_event_so_readers_keep_documents(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 10}, actor="intake", now=T0).case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"), now=T0)
    first = svc.add_document(case_id, 'scan, "1".pdf', b"%PDF", media_type="application/pdf", actor="ann",
                             now=T0 + timedelta(minutes=1))
    second = svc.add_document(case_id, 'scan, "1".pdf', b"%PDF-2", media_type="application/pdf", actor="Zoë",
                              now=T0 + timedelta(minutes=2))
    doc = _ocel(svc, tmp_path)
    _check_ocel20_structure(doc)
    objects = {o["id"]: o for o in doc["objects"]}
    related = {r["objectId"] for e in doc["events"] for r in e["relationships"]}
    assert set(objects) - related == set()
    assert {o["type"] for o in objects.values()} == {"case", "task", "document"}
    assert all(r["objectId"] in objects for e in doc["events"] for r in e["relationships"])
    assert all(r["objectId"] in objects for o in objects.values() for r in o.get("relationships", []))

    attached = {
        next(r["objectId"] for r in e["relationships"] if r["qualifier"] == "document"): e
        for e in doc["events"] if e["type"] == "attach document"
    }
    assert set(attached) == {f"document:{first.id}", f"document:{second.id}"}
    event = attached[f"document:{second.id}"]
    assert _time(event["time"]) == T0 + timedelta(minutes=2) and _time(event["time"]).utcoffset() == timedelta(0)
    assert {a["name"]: a["value"] for a in event["attributes"]} == {"lifecycle": "complete", "resource": "Zoë"}
    assert {r["objectId"] for r in event["relationships"]} == {f"case:{case_id}", f"document:{second.id}"}
    assert "attach document" in {t["name"] for t in doc["eventTypes"]}
    assert {(r["objectId"], r["qualifier"]) for r in objects[f"document:{second.id}"]["relationships"]} == {
        (f"case:{case_id}", "attached to"), (f"document:{first.id}", "new version of")
    }


def test_event_times_are_utc_with_an_offset_and_keep_their_instant(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 10}, actor="intake", now=T0).case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"), now=T0)
    doc = _ocel(svc, tmp_path)
    _check_ocel20_structure(doc)
    times = {_time(e["time"]) for e in doc["events"]}
    assert times == {T0.astimezone(UTC)}


def test_a_task_renamed_by_a_migration_keeps_both_names_in_time(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 10}, actor="intake", now=T0).case_id  # Review claim starts
    root = shared_dir()
    assert root is not None
    xml = (root / "bench" / "claim.cmmn").read_text(encoding="utf-8")
    key, version = svc.deploy(xml.replace('name="Review claim"', 'name="Review the claim"'))
    _, target = svc.definition(key, version)
    migrated_at = T0 + timedelta(hours=1)
    svc.execute(case_id, commands.Migrate(definition=target, reason="new model"), now=migrated_at)
    svc.execute(case_id, commands.CompleteItem(item="Review the claim", actor="bob"), now=T0 + timedelta(hours=2))
    doc = _ocel(svc, tmp_path)
    _check_ocel20_structure(doc)
    review = [e for e in doc["events"] if e["type"] in ("Review claim", "Review the claim")]
    assert [e["type"] for e in review] == ["Review claim", "Review the claim"]
    task_id = next(r["objectId"] for r in review[0]["relationships"] if r["qualifier"] == "task")
    task = next(o for o in doc["objects"] if o["id"] == task_id)
    names = [(_time(a["time"]), a["value"]) for a in task["attributes"] if a["name"] == "name"]
    assert names == [(datetime(1970, 1, 1, tzinfo=UTC), "Review claim"), (migrated_at, "Review the claim")]
