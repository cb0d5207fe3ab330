"""Reads, `reproject` and the last checkpoint of `CaseService.close` after the PostgreSQL server dropped every pooled
connection (a restart): each used to fail once on a stale connection from the pool. And a last checkpoint that
cannot reach the server fails in one clear line, leaving its events for the next checkpoint to seal.

Only this test's own sessions are terminated: they are picked by an application_name no other session has.
"""

from __future__ import annotations

import threading

import pytest
from helpers_service import Backends
from sqlalchemy import text

from casework.audit.checkpoints import CheckpointFailed, write_checkpoint
from casework.audit.verify import verify
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

psycopg = pytest.importorskip("psycopg")


def _stale_pool(store: Store, backends: Backends, connections: int = 4) -> None:
    """Fill the pool with `connections` connections, then end every session of the store, as a restart does, and
    wait until each has ended."""
    barrier = threading.Barrier(connections)

    def hold_a_connection() -> None:
        with store.read() as conn:
            conn.execute(text("SELECT 1"))
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=hold_a_connection) for _ in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert backends.terminate(wait=True) >= connections


def test_reads_and_reproject_after_every_pooled_connection_was_dropped(
    pg_service: tuple[CaseService, Backends]
) -> None:
    svc, backends = pg_service
    store = svc.store
    first = svc.start_case("claim", {"amount": 10}, idempotency_key="order-1")
    _stale_pool(store, backends)
    # The key is looked up through `Store.read` (`CaseService._existing`): the case it started is the answer.
    again = svc.start_case("claim", {"amount": 10}, idempotency_key="order-1")
    assert (again.case_id, again.created) == (first.case_id, False)
    assert store.case(first.case_id) is not None
    _stale_pool(store, backends)
    assert svc.reproject(first.case_id)
    assert {t.name for t in store.tasks(case_id=first.case_id)} >= {"Review claim"}


def test_the_last_checkpoint_after_every_pooled_connection_was_dropped(
    pg_service: tuple[CaseService, Backends]
) -> None:
    svc, backends = pg_service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    _stale_pool(store, backends)
    svc.close()  # seals what was written since the last checkpoint
    report = verify(store)
    assert report.ok, report.problems
    assert report.sealed_events == report.events > 0


def test_a_last_checkpoint_that_cannot_reach_the_server_fails_clearly_and_the_next_one_seals_its_events(
    pg_service: tuple[CaseService, Backends], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, backends = pg_service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    backends.terminate(wait=True)

    def refused():  # type: ignore[no-untyped-def]
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(store.engine, "raw_connection", refused)  # the server stays down
    with pytest.raises(CheckpointFailed) as failed:
        svc.close()
    message = str(failed.value)
    assert "\n" not in message and "unsealed" in message and "casework audit checkpoint" in message, message
    monkeypatch.undo()  # the server is back
    assert write_checkpoint(store) is not None
    report = verify(store)
    assert report.ok, report.problems
    assert report.sealed_events == report.events > 0
