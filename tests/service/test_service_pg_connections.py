"""PostgreSQL connections the server drops under a running service (a restart, `pg_terminate_backend`, a network
cut): a command whose write was lost before it committed is written once more, one whose commit went through but
whose reply was lost is acknowledged and not applied twice, and stale pooled connections do not fail one command each.

Only this test's own sessions are terminated: they are picked by an application_name no other session has.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from helpers_service import Backends
from sqlalchemy import text

from casework.audit.verify import verify
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

psycopg = pytest.importorskip("psycopg")


def _set(svc: CaseService, case_id: str, n: int) -> int:
    return svc.execute(case_id, commands.SetVariables(variables={"n": n}, actor="ann")).version


def _values(store: Store, case_id: str) -> list[int]:
    """The values of n the case's log set, in order: each command once."""
    return [e.payload["variables"]["n"] for e in store.events(case_id)
            if e.type == "variables_set" and "n" in e.payload.get("variables", {})]


def test_commands_after_every_connection_was_dropped_are_written(pg_service: tuple[CaseService, Backends]) -> None:
    svc, backends = pg_service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    _set(svc, case_id, 0)
    # Several pooled connections, as a busy service holds: every one of them goes stale when the server restarts.
    barrier = threading.Barrier(6)

    def hold_a_connection() -> None:
        with store.read() as conn:
            conn.execute(text("SELECT 1"))
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=hold_a_connection) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert backends.terminate() >= 7  # the pooled ones and the group committer's
    # Reads first: a read retries once on a new connection, which must not be another stale one from the pool.
    assert store.case_head(case_id) is not None
    assert svc.state(case_id).variables["n"] == 0
    # Nothing of these was sent before the connections were gone: each is written, none fails.
    for n in range(1, 5):
        _set(svc, case_id, n)
    assert _values(store, case_id) == [0, 1, 2, 3, 4]
    report = verify(store)
    assert report.ok, report.problems


def _lose_connection_at_commit(monkeypatch: pytest.MonkeyPatch, backends: Backends, *, after: bool) -> list[int]:
    """The next COMMIT on a driver connection loses its connection: before the server got it (`after` False), or
    after the server committed, so that only the reply is lost. Returns the list the terminated pid is put in."""
    real_commit = psycopg.Connection.commit
    lost: list[int] = []

    def commit(conn):  # type: ignore[no-untyped-def]
        if lost:
            return real_commit(conn)
        pid = conn.info.backend_pid
        lost.append(pid)
        if after:
            real_commit(conn)
        backends.terminate(pid)
        if after:
            conn.execute("SELECT 1")  # the client learns the connection is gone, as it would reading the reply
        return real_commit(conn)

    monkeypatch.setattr(psycopg.Connection, "commit", commit)
    return lost


@pytest.fixture(params=[False, True], ids=["lost-before-commit", "reply-lost-after-commit"])
def cut_off(request: pytest.FixtureRequest, pg_service: tuple[CaseService, Backends],
            monkeypatch: pytest.MonkeyPatch) -> tuple[CaseService, Callable[[], list[int]]]:
    """The service, and what cuts its next COMMIT off (see `_lose_connection_at_commit`)."""
    svc, backends = pg_service
    return svc, lambda: _lose_connection_at_commit(monkeypatch, backends, after=request.param)


def test_a_command_whose_commit_was_cut_off_is_written_exactly_once(
    cut_off: tuple[CaseService, Callable[[], list[int]]]
) -> None:
    svc, cut = cut_off
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    _set(svc, case_id, 0)
    lost = cut()
    # A command that is not idempotent: judged again on a state that holds it, it would add a second task.
    version = svc.execute(case_id, commands.AddItem(kind="humanTask", name="Call the customer", actor="ann")).version
    assert lost, "the commit was not cut off"
    added = [e for e in store.events(case_id) if e.type == "item_created" and e.payload["name"] == "Call the customer"]
    assert len(added) == 1, "the command was applied twice (its outcome was unknown, then taken for a lost race)"
    row = store.case(case_id)
    assert row is not None and row.version == version == len(store.events(case_id))
    _set(svc, case_id, 2)
    assert _values(store, case_id) == [0, 2]
    report = verify(store)
    assert report.ok, report.problems


def test_a_batch_that_cannot_reach_the_server_fails_every_writer_in_it(
    pg_service: tuple[CaseService, Backends], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers that joined a batch wait for its opener to write it: when it could not even connect (the server
    down), each of them must fail too. Before, only the opener did; the others were told their writes were done."""
    from casework.store.groupcommit import GroupCommitter, PostgresBatches

    svc, _ = pg_service
    store = svc.store
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (writer text)"))
    batches = PostgresBatches(store.engine)
    committer = GroupCommitter(batches)
    holding, release = threading.Event(), threading.Event()

    def first(conn):  # type: ignore[no-untyped-def]
        holding.set()
        release.wait(timeout=30)
        batches._fairy.driver_connection.close()  # its connection is lost, as the server goes down
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    def probe(writer: str):  # type: ignore[no-untyped-def]
        return lambda conn: conn.execute(text("INSERT INTO probe VALUES (:w)"), {"w": writer})

    outcomes: dict[str, object] = {}

    def submit(name: str, work) -> None:  # type: ignore[no-untyped-def]
        try:
            outcomes[name] = committer.submit(work)
        except Exception as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=submit, args=("first", first))]
    threads[0].start()
    assert holding.wait(timeout=30)
    for name in ("opener", "joiner"):
        threads.append(threading.Thread(target=submit, args=(name, probe(name))))
        threads[-1].start()
    while not (committer._waiting and len(committer._waiting[0].units) == 2):
        threading.Event().wait(0.01)

    def refused():  # type: ignore[no-untyped-def]
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(store.engine, "raw_connection", refused)
    release.set()
    for th in threads:
        th.join(timeout=60)
    monkeypatch.undo()
    committer.close()
    with store.engine.connect() as conn:
        written = set(conn.execute(text("SELECT writer FROM probe")).scalars())
    told_done = {name for name, outcome in outcomes.items() if not isinstance(outcome, Exception)}
    assert told_done <= written, f"told done but not written: {told_done - written}"
    assert all(isinstance(outcomes[name], psycopg.OperationalError) for name in ("first", "opener", "joiner")), outcomes


def test_a_case_start_whose_commit_was_cut_off_starts_one_case(
    cut_off: tuple[CaseService, Callable[[], list[int]]]
) -> None:
    svc, cut = cut_off
    store = svc.store
    svc.start_case("claim", {"amount": 1})  # the definition read and cached: the next commit is the start's
    lost = cut()
    started = svc.start_case("claim", {"amount": 2})
    assert lost, "the commit was not cut off"
    # Reported failed when its reply was lost, a caller without a key would start it again: a second case.
    assert started.created
    row = store.case(started.case_id)
    assert row is not None and row.version == started.version == len(store.events(started.case_id))
    assert len(store.case_ids()) == 2
    report = verify(store)
    assert report.ok, report.problems


def test_a_document_whose_commit_was_cut_off_is_attached_once(
    cut_off: tuple[CaseService, Callable[[], list[int]]]
) -> None:
    svc, cut = cut_off
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    lost = cut()
    svc.add_document(case_id, "invoice.pdf", b"%PDF-1.7 total 10", media_type="application/pdf", actor="ann")
    assert lost, "the commit was not cut off"
    attached = [e for e in store.events(case_id) if e.type == "document_attached"]
    assert len(attached) == 1, "attached twice, or reported failed when it was attached"
    report = verify(store)
    assert report.ok, report.problems
