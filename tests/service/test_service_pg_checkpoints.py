"""Audit checkpoints on PostgreSQL with several writers: event ids come from a sequence, and transactions commit in
any order, so id N can be committed while id N-3 is not yet. A checkpoint "up to N" written then would seal a
running hash without N-3, and fail verification once N-3 commits; `write_checkpoint` locks the events table
against appends first, so it waits for N-3's transaction and seals both."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers_service import T0, Backends, claim_xml
from sqlalchemy import text

from casework.audit.checkpoints import write_checkpoint
from casework.audit.verify import verify
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store


@pytest.fixture
def two_services(pg_url: str, tmp_path: Path) -> Iterator[tuple[CaseService, CaseService, Backends]]:
    """Two services on one database, as two processes would have, each with its own connections; the second's
    sessions carry an application_name of their own."""
    name = f"casework-test-{uuid.uuid4().hex[:12]}"
    stores = [Store.open(pg_url, audit_key=tmp_path / "audit.key"),
              Store.open(f"{pg_url}&application_name={name}", audit_key=tmp_path / "audit.key")]
    services = [CaseService(s, clock=lambda: T0, checkpoint_every=10_000) for s in stores]
    services[0].deploy(claim_xml())
    backends = Backends(os.environ["CASEWORK_TEST_POSTGRES_URL"], name)
    yield services[0], services[1], backends
    for svc in services:
        svc.close()
        svc.store.close()
    backends.admin.dispose()


def _waits_for_a_lock(backends: Backends) -> bool:
    with backends.admin.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND "
                                      "wait_event_type = 'Lock'"), {"name": backends.name}).scalar_one())


def test_a_checkpoint_waits_for_a_lower_event_id_that_commits_after_a_higher_one(
    two_services: tuple[CaseService, CaseService, Backends], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, backends = two_services
    early, late = (first.start_case("claim", {"amount": 10}).case_id for _ in range(2))
    write_checkpoint(first.store)
    # The first service's next command gets its event ids, then stops before its COMMIT.
    real_commit = psycopg.Connection.commit
    holder: list[threading.Thread] = []
    sent, release = threading.Event(), threading.Event()

    def commit(conn):  # type: ignore[no-untyped-def]
        if holder and threading.current_thread() is holder[0] and not release.is_set():
            sent.set()
            release.wait(timeout=60)
        return real_commit(conn)

    monkeypatch.setattr(psycopg.Connection, "commit", commit)
    holder.append(threading.Thread(
        target=first.execute, args=(early, commands.CompleteItem(item="Review claim", actor="ann"))))
    holder[0].start()
    assert sent.wait(timeout=60)
    # Another writer's events get higher ids and commit first.
    second.execute(late, commands.CompleteItem(item="Review claim", actor="bob"))
    with second.store.read() as conn:
        committed = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        unsealed = conn.execute(text("SELECT count(*) FROM events WHERE case_id = :c AND seq > 9"),
                                {"c": early}).scalar_one()
    assert unsealed == 0  # the held command's events are not visible: not committed
    sealed: list[int | None] = []
    checkpointer = threading.Thread(target=lambda: sealed.append(write_checkpoint(second.store)))
    checkpointer.start()
    # The checkpoint either waits for the held transaction (as it must) or has already sealed without it.
    while checkpointer.is_alive() and not _waits_for_a_lock(backends):
        threading.Event().wait(0.01)
    release.set()
    holder[0].join(timeout=60)
    checkpointer.join(timeout=60)
    assert sealed and sealed[0] is not None
    with first.store.read() as conn:
        last_sealed = conn.execute(text("SELECT max(last_event_id) FROM checkpoints")).scalar_one()
        highest = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
        held_ids = list(conn.execute(text("SELECT id FROM events WHERE case_id = :c AND seq > 9"), {"c": early})
                        .scalars())
    assert held_ids and max(held_ids) < committed  # the interleaving happened: lower ids committed later
    assert last_sealed == highest
    report = verify(first.store)
    assert report.ok, report.problems
    assert report.sealed_events == report.events


def test_a_checkpoint_waiting_for_a_long_append_steps_aside_for_commands(
    two_services: tuple[CaseService, CaseService, Backends]
) -> None:
    """A checkpoint waits for every transaction appending events (above); commands that came meanwhile queued behind
    its lock request, and so waited for the long transaction too (an import batch), up to the 30 s lock timeout.
    Now it asks for the lock briefly, again and again: the command goes through while the long append is open."""
    first, second, backends = two_services
    case_id = first.start_case("claim", {"amount": 10}).case_id
    write_checkpoint(first.store)
    appending, release = threading.Event(), threading.Event()

    def long_append() -> None:  # an import batch under way holds this lock until it commits
        with first.store.engine.begin() as conn:
            conn.execute(text("LOCK TABLE events IN ROW EXCLUSIVE MODE"))
            appending.set()
            release.wait(timeout=60)

    batch = threading.Thread(target=long_append)
    batch.start()
    assert appending.wait(timeout=30)
    sealed: list[int | None] = []
    checkpointer = threading.Thread(target=lambda: sealed.append(write_checkpoint(second.store)))
    checkpointer.start()
    while not _waits_for_a_lock(backends):  # the checkpoint's lock request is queued behind the batch
        assert checkpointer.is_alive()
        threading.Event().wait(0.005)
    done = threading.Event()
    writer = threading.Thread(target=lambda: (first.execute(case_id, commands.SetVariables(variables={"n": 1},
                                                                                             actor="ann")),
                                              done.set()))
    writer.start()
    try:
        # Behind a checkpoint that holds its place in the lock queue the command waits for the batch, which waits
        # for this test: it would never be done here. (The bound only keeps a failing run from hanging.)
        assert done.wait(timeout=20), "the command waited behind the checkpoint for the long append"
        assert checkpointer.is_alive(), "the checkpoint sealed past a transaction still appending"
    finally:
        release.set()
        for th in (batch, writer, checkpointer):
            th.join(timeout=60)
    assert sealed and sealed[0] is not None
    report = verify(first.store)
    assert report.ok, report.problems
    assert report.sealed_events == report.events


def test_a_checkpoint_is_written_while_appends_overlap_back_to_back(
    two_services: tuple[CaseService, CaseService, Backends], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends that overlap (an import beside a busy server) never leave the events table free: a checkpoint that
    only ever stepped aside failed after its whole patience, and the log stayed unsealed as long as they went on.
    After `LOCK_POLITE` it waits in line, and is written while they go on."""
    from casework.audit import checkpoints

    monkeypatch.setattr(checkpoints, "LOCK_POLITE", 0.5)
    monkeypatch.setattr(checkpoints, "LOCK_PATIENCE", 6.0)
    first, second, _ = two_services
    case_id = first.start_case("claim", {"amount": 10}).case_id
    write_checkpoint(first.store)
    first.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    stop = threading.Event()
    turn = threading.Condition()
    taken = [0]  # how many times an appender has taken the lock
    errors: list[BaseException] = []

    def appender() -> None:
        # Takes the appenders' lock and keeps it until the other appender has taken it too (or for 1 s at most, as
        # a batch ends whatever waits): at every moment one of them holds it.
        try:
            while not stop.is_set():
                with first.store.engine.begin() as conn:
                    conn.execute(text("LOCK TABLE events IN ROW EXCLUSIVE MODE"))
                    with turn:
                        taken[0] += 1
                        mine = taken[0]
                        turn.notify_all()
                        turn.wait_for(lambda mine=mine: taken[0] > mine or stop.is_set(), timeout=1.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=appender) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        with turn:
            assert turn.wait_for(lambda: taken[0] >= 4, timeout=30)
        sealed = write_checkpoint(second.store)  # raised "lock timeout" after LOCK_PATIENCE before
        assert all(th.is_alive() for th in threads), "the appends stopped: the test proved nothing"
    finally:
        stop.set()
        with turn:
            turn.notify_all()
        for th in threads:
            th.join(timeout=60)
    assert not errors
    assert sealed is not None
    report = verify(first.store)
    assert report.ok and report.sealed_events == report.events, report.problems
