"""The case snapshot is rewritten every few events, not on every command: loads apply the events after it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers_service import T0, assert_stored_state_is_the_log, claim_xml
from sqlalchemy import text

from casework.engine import commands
from casework.service import CaseService, Corrupt
from casework.store import Store

TASKS = ("Review claim", "Request documents", "Assess damage")


@pytest.fixture
def store(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store.open(db_url, audit_key=tmp_path / "audit.key")
    yield s
    s.close()


def _snapshot_at(store: Store, case_id: str) -> tuple[int, int]:
    row = store.case(case_id)
    assert row is not None
    return row.snapshot_version, row.version


def test_snapshot_is_rewritten_every_n_events_and_when_the_case_closes(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0, snapshot_every=6)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    start_version = _snapshot_at(store, case_id)[1]
    assert _snapshot_at(store, case_id) == (start_version, start_version)  # a new case is stored whole
    seen = []
    for name in TASKS:
        svc.execute(case_id, commands.CompleteItem(item=name))
        seen.append(_snapshot_at(store, case_id))
        assert_stored_state_is_the_log(store, case_id)
    # Between rewrites the snapshot stays where it was; it is never more than snapshot_every events behind.
    assert any(snap < version for snap, version in seen), seen
    assert all(version - snap < 6 for snap, version in seen), seen
    svc.execute(case_id, commands.CompleteItem(item="Close claim"))
    snap, version = _snapshot_at(store, case_id)
    assert store.case(case_id).status == "completed"  # type: ignore[union-attr]
    assert snap == version  # closing changed the status: the closed case is stored whole
    assert_stored_state_is_the_log(store, case_id)


def test_snapshot_every_one_stores_every_command(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0, snapshot_every=1)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    for name in TASKS:
        svc.execute(case_id, commands.CompleteItem(item=name))
        snap, version = _snapshot_at(store, case_id)
        assert snap == version


def test_a_second_process_continues_from_a_stale_snapshot(store: Store) -> None:
    first = CaseService(store, clock=lambda: T0, snapshot_every=100)
    first.deploy(claim_xml())
    case_id = first.start_case("claim", {"amount": 500}).case_id
    first.execute(case_id, commands.CompleteItem(item="Review claim"))
    first.execute(case_id, commands.AddParticipant(user="dora", role="assessor", reason="expert"))
    snap, version = _snapshot_at(store, case_id)
    assert snap < version
    # Another service (as another process would) has nothing cached: it rebuilds the state from snapshot + events.
    second = CaseService(store, clock=lambda: T0 + timedelta(hours=1), snapshot_every=100)
    assert second.state(case_id).to_dict() == first.state(case_id).to_dict()
    assert "assessor" in second.state(case_id).participants["dora"]
    second.execute(case_id, commands.CompleteItem(item="Request documents"))
    # ... and the first one's cached copy is now stale: its write fails the version check and it re-reads.
    first.execute(case_id, commands.CompleteItem(item="Assess damage"))
    assert_stored_state_is_the_log(store, case_id)


def test_missing_events_after_the_snapshot_are_reported_not_guessed(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0, snapshot_every=100)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim"))
    # Damage the row: it claims two more events than the log holds.
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET version = version + 2 WHERE id = :id"), {"id": case_id})
    with pytest.raises(Corrupt, match="audit verify"):
        CaseService(store).state(case_id)
