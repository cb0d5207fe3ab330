"""The disk fills up under a service on SQLite: every waiting command fails with the disk's error, none is reported
done, and once space is freed the store takes commands again and its audit trail verifies."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from helpers_service import T0, assert_stored_state_is_the_log, claim_xml, hold_writes, record_rounds
from sqlalchemy import text

from casework.audit.verify import verify
from casework.engine import commands
from casework.service import CaseResult, CaseService
from casework.store import Store
from casework.store.testing import fill_up, small_disk

__all__ = ["small_disk"]


@pytest.mark.parametrize("spills", [False, True], ids=["statement-fails", "cache-spill-fails"])
def test_a_disk_that_fills_under_a_group_commit_fails_every_waiting_command_and_acknowledges_none(
    small_disk: Path, spills: bool
) -> None:
    store = Store.open(f"sqlite:///{small_disk / 'casework.db'}", audit_key=small_disk / "k",
                       blob_dir=small_disk / "blobs")
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    cases = [svc.start_case("claim", {"amount": 10}).case_id for _ in range(8)]
    versions = {case_id: store.case_head(case_id).version for case_id in cases}  # type: ignore[union-attr]
    with store.engine.connect() as conn:  # no WAL file left for a commit to reuse: it must grow, and cannot
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    if spills:
        # A page cache that spills to the WAL in the middle of the batch: failing there, SQLite rolls back the whole
        # transaction, and the writers were told "cannot rollback - no transaction is active" instead.
        store._committer._runner._raw.execute("PRAGMA cache_size = 5")  # type: ignore[attr-defined]
    rounds = record_rounds(store)
    writing, release = hold_writes(store)  # the first command, alone, writes with `write`
    outcomes: dict[str, object] = {}

    def run(case_id: str) -> None:
        try:
            outcomes[case_id] = svc.execute(case_id, commands.SetVariables(variables={"note": "x" * 5000},
                                                                           actor="ann"))
        except Exception as exc:
            outcomes[case_id] = exc

    threads = [threading.Thread(target=run, args=(case_id,)) for case_id in cases]
    threads[0].start()
    assert writing.wait(timeout=30)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 30
    while len(svc._combiner._queue) < len(cases) - 1 and time.monotonic() < deadline:  # all waiting their turn
        time.sleep(0.001)
    filler = fill_up(small_disk)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert rounds and max(rounds) == len(cases) - 1  # the seven waiting commands went to one group commit
    for case_id in cases:
        failure = outcomes[case_id]
        assert isinstance(failure, Exception) and "database or disk is full" in str(failure), failure
        assert store.case_head(case_id).version == versions[case_id]  # type: ignore[union-attr]
        assert "note" not in svc.state(case_id).variables  # nor in the service's cached copy

    filler.unlink()
    for case_id in cases:
        done = svc.execute(case_id, commands.SetVariables(variables={"note": "y"}, actor="ann"))
        assert isinstance(done, CaseResult) and svc.state(case_id).variables["note"] == "y"
        assert_stored_state_is_the_log(store, case_id)
    svc.close()
    with store.read() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    report = verify(store)
    assert report.ok and report.complete and report.cases == len(cases), report.problems
    store.close()
