"""The exports of a small fixed store, byte for byte as they were before the writers were made to stream (golden
files written by casework at 3e33460, the commit before; written again by the change that names casework as the
resource of what the engine did, and whose command caused it): engine cases with tasks, a migration that renames a
task, two versions of a document, and an imported log. Regenerate with CASEWORK_WRITE_GOLDEN=1 only when a change to
the output is meant."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from casework.engine import commands
from casework.export import export
from casework.export.importlog import import_log
from casework.paths import shared_dir
from casework.service import CaseService
from casework.store import Store

T0 = datetime(2025, 3, 30, 9, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "unchanged"
LOG = "case_id,activity,timestamp,resource\nA,register,2025-01-01T10:00:00,ann\nA,=check,2025-01-01T11:00:00,\n" \
      "B,register,2025-01-02T10:00:00,bob\n"


@pytest.fixture
def store(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    root = shared_dir()
    if root is None:
        pytest.skip("shared corpus not available")
    counter = itertools.count(1)
    fixed_ids = SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=f"id{next(counter):04d}"))
    for module in ("casework.service.service", "casework.export.importlog", "casework.store.documents"):
        monkeypatch.setattr(f"{module}.uuid", fixed_ids)
    s = Store.open(sqlite_url, audit_key=tmp_path / "k", blob_dir=tmp_path / "blobs")
    svc = CaseService(s, clock=lambda: T0)
    xml = (root / "bench" / "claim.cmmn").read_text(encoding="utf-8")
    svc.deploy(xml)
    for n in range(3):
        case_id = svc.start_case("claim", {"amount": 10 * n}, actor="intake", case_id=f"case{n}",
                                 now=T0 + timedelta(minutes=n)).case_id
        svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"), now=T0 + timedelta(hours=n))
    key, version = svc.deploy(xml.replace('name="Assess damage"', 'name="Assess the damage"'))
    _, target = svc.definition(key, version)
    svc.execute("case1", commands.Migrate(definition=target, reason="new model"), now=T0 + timedelta(hours=3))
    svc.execute("case1", commands.CompleteItem(item="Assess the damage", actor="carl"), now=T0 + timedelta(hours=4))
    for minutes, content in ((1, b"%PDF"), (2, b"%PDF-2")):
        svc.add_document("case2", 'scan, "1".pdf', content, media_type="application/pdf", actor="Zoë",
                         now=T0 + timedelta(days=1, minutes=minutes))
    svc.close()
    log = tmp_path / "old.csv"
    log.write_text(LOG, encoding="utf-8")
    import_log(s, log, "legacy")
    yield s
    s.close()


@pytest.mark.parametrize("fmt", ["xes", "ocel", "csv"])
def test_the_export_is_what_it_was(store: Store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"log.{fmt}"
    export(store, fmt, out)
    golden = GOLDEN / f"log.{fmt}"
    if os.environ.get("CASEWORK_WRITE_GOLDEN"):
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes()
