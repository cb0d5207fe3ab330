"""What import-log writes (cases, events, their order and hashes) is byte for byte what it wrote when it held the
whole log in memory (golden file written by casework at 46ed4ce, the commit before it spilled the log to disk).
Regenerate with CASEWORK_WRITE_GOLDEN=1 only when a change to the output is meant."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from casework.audit.checkpoints import checkpoints
from casework.export import importlog
from casework.export.importlog import import_log
from casework.store import Store
from casework.store import schema as t

GOLDEN = Path(__file__).parent / "unchanged"
# Rows of a case scattered through the file and out of time order, ties (the file's order wins), rows repeated
# exactly, the same instant written two ways, a time with an offset, wall-clock times moved by the zone (one in
# the autumn night's repeated hour), rows without a resource, and a case id quoted with a comma.
LOG = """case_id,activity,timestamp,resource
c3,Close,2024-03-05T12:00:00,ann
c1,Register,2024-03-01T10:00:00,ann
c2,Register,2024-03-02T09:00:00+02:00,bob
c1,Check,2024-03-01T09:00:00,bob
c3,Register,2024-03-05T08:00:00,
c1,Approve,2024-03-01T10:00:00,cy
c1,Register,2024-03-01T10:00:00,ann
c4,Open,2024-10-27T02:30:00,dee
"c,5",Open,2024-03-06T10:00:00,ann
c2,Close,2024-03-02T07:00:00.000000+00:00,bob
c4,Shut,2024-10-27T02:15:00,dee
c3,Check,2024-03-05T12:00:00,
c2,Close,2024-03-02T07:00:00,bob
c6,Open,2024-03-07T10:00:00,eve
"c,5",Close,2024-03-06T09:00:00,
c1,Close,2024-03-01T11:00:00,ann
"""


def _written(store: Store) -> list[dict[str, object]]:
    """Every case row and event as stored, in the order written, and the last event each checkpoint seals; the
    time the import ran left out."""
    with store.read() as conn:
        cases = conn.execute(
            select(t.cases.c.id, t.cases.c.definition_key, t.cases.c.definition_version, t.cases.c.business_key,
                   t.cases.c.status, t.cases.c.version, t.cases.c.last_hash, t.cases.c.source, t.cases.c.snapshot)
            .order_by(t.cases.c.id)
        ).mappings().all()
        events = conn.execute(
            select(t.events.c.id, t.events.c.case_id, t.events.c.seq, t.events.c.type, t.events.c.at,
                   t.events.c.actor, t.events.c.reason, t.events.c.payload, t.events.c.prev_hash, t.events.c.hash)
            .order_by(t.events.c.id)
        ).mappings().all()
        sealed = [cp.last_event_id for cp in checkpoints(conn)]
    return [{"case": dict(c)} for c in cases] + [{"event": dict(e)} for e in events] + [{"sealed": sealed}]


@pytest.mark.parametrize("batch", [2, 500])
def test_an_import_writes_what_it_wrote_before(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(importlog, "uuid", SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=f"id{next(counter):04d}")))
    monkeypatch.setattr(importlog, "BATCH_CASES", batch)
    log = tmp_path / "mixed.csv"
    log.write_text(LOG, encoding="utf-8")
    results = []
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        # the first cases, then the whole log (those present skipped), then all again under the organisation's zone
        results.append(import_log(store, log, "intake", limit=2))
        results.append(import_log(store, log, "intake"))
        results.append(import_log(store, log, "intake", zone=ZoneInfo("Europe/Amsterdam")))
        results.append(import_log(store, log, "intake", name="ams", zone=ZoneInfo("Europe/Amsterdam")))
        written = [{"results": [list(r.__dict__.values()) for r in results]}, *_written(store)]
    text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in written)
    golden = GOLDEN / f"import-batch{batch}.jsonl"
    if os.environ.get("CASEWORK_WRITE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
