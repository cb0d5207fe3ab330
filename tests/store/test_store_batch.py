"""Command writes: alone and group-committed together in one go, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from casework.audit.hashing import GENESIS
from casework.audit.verify import verify
from casework.store import NewEvent, Store, VersionMismatch
from casework.store import writes as w

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _case(store: Store) -> str:
    case_id = uuid.uuid4().hex
    rows = w.event_rows(case_id, 1, GENESIS, [NewEvent("start", NOW.isoformat(), "ann", None, {"n": 1})])

    def work(conn):  # type: ignore[no-untyped-def]
        w.insert_case(conn, case_id=case_id, definition_key="k", definition_version=1, business_key=None,
                      status="active", version=1, last_hash=rows[-1]["hash"], snapshot={"v": 1}, now=NOW)
        w.insert_events(conn, rows)
        # a command dequeues these
        w.write_keyed_rows(conn, [w.KeyedRows(case_id, queued_add=[("i1", "clerks")], offered_add=[("i1", "carl")])])

    store.write(work)
    return case_id


def _command(store: Store, case_id: str, *, expected: int | None = None, status: str = "active",
             n_events: int = 2, keep_snapshot: bool = False) -> w.CommandWrite:
    head = store.case_head(case_id)
    assert head is not None
    version = head.version if expected is None else expected
    rows = w.event_rows(case_id, version + 1, head.last_hash,
                        [NewEvent("step", NOW.isoformat(), "bob", None, {"i": i, "ü": "✓"}) for i in range(n_events)])
    task = {"case_id": case_id, "item_id": "i2", "def_id": "t", "name": "Review", "kind": "humanTask",
            "state": "active", "owner": "bob", "candidate_groups": "clerks,fraud", "candidate_users": "ann,dan",
            "due_at": NOW + timedelta(days=1), "updated_at": NOW}
    job = {"kind": "sla", "case_id": case_id, "ref": "i3", "due_at": NOW + timedelta(hours=2),
           "payload": '{"item": "i3"}', "created_at": NOW}
    snapshot = None if keep_snapshot else f'{{"v":{version + n_events}}}'
    return w.CommandWrite(case_id=case_id, expected_version=version, status=status,
                          snapshot=snapshot, now=NOW, events=rows, task_upserts=[task],
                          participants_add=[("bob", "assessor")], queued_add=[("i2", "clerks"), ("i2", "fraud")],
                          queued_remove=[("i1", "clerks")], offered_add=[("i2", "ann"), ("i2", "dan")],
                          offered_remove=[("i1", "carl")], job_upserts=[job], previous_status="active")


def _check(store: Store, case_id: str, version: int, status: str = "active", snapshot_version: int | None = None
           ) -> None:
    """`snapshot_version`: where the snapshot should be (default: at `version`, rewritten by the last command)."""
    row = store.case(case_id)
    assert row is not None and (row.version, row.status) == (version, status)
    expected_snapshot = version if snapshot_version is None else snapshot_version
    assert (row.snapshot, row.snapshot_version) == ({"v": expected_snapshot}, expected_snapshot)
    events = store.events(case_id)
    assert [e.seq for e in events] == list(range(1, version + 1))
    assert row.last_hash == events[-1].hash
    (task,) = store.tasks(case_id=case_id)
    assert (task.state, task.owner, task.candidate_groups, task.candidate_users, task.due_at) == (
        "active", "bob", ("clerks", "fraud"), ("ann", "dan"), NOW + timedelta(days=1))
    for group in ("clerks", "fraud"):
        assert [(t.case_id, t.item_id) for t in store.tasks(candidate_group=group) if t.case_id == case_id] == [
            (case_id, "i2")]
    with store.read() as conn:
        queued = conn.execute(text("SELECT item_id, group_name FROM task_groups WHERE case_id = :c"), {"c": case_id})
        assert sorted(queued) == [("i2", "clerks"), ("i2", "fraud")]
        offered = conn.execute(text("SELECT item_id, user_name FROM task_candidates WHERE case_id = :c"),
                               {"c": case_id})
        assert sorted(offered) == [("i2", "ann"), ("i2", "dan")]
    assert [t.item_id for t in store.tasks(candidate_user="ann") if t.case_id == case_id] == ["i2"]
    assert [t.item_id for t in store.tasks(candidate_user="carl") if t.case_id == case_id] == []
    (job,) = store.jobs(case_id=case_id)
    assert (job.kind, job.ref, job.due_at) == ("sla", "i3", NOW + timedelta(hours=2))


def test_command_write_alone(db_url: str) -> None:
    with Store.open(db_url) as store:
        case_id = _case(store)
        store.write(_command(store, case_id))
        _check(store, case_id, 3)
        store.write(_command(store, case_id, status="completed"))
        _check(store, case_id, 5, "completed")
        with pytest.raises(VersionMismatch):
            store.write(_command(store, case_id, expected=3))
        _check(store, case_id, 5, "completed")
        store.write(_command(store, case_id, status="completed", keep_snapshot=True))
        _check(store, case_id, 7, "completed", snapshot_version=5)
        (job,) = store.jobs(case_id=case_id)
        assert (job.kind, job.due_at) == ("sla", NOW + timedelta(hours=2))


def _batched(store: Store, units: list[Any], direct: bool = False) -> list[object]:
    """Submit `units` from threads while the commit turn is held, so that they all land in one batch."""
    committer = store._committer
    release = threading.Event()
    holder = _hold_commit_turn(store, release)
    outcomes: list[object] = [None] * len(units)

    def submit(i: int) -> None:
        try:
            outcomes[i] = store._committer.submit(units[i]) if direct else store.write(units[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(units))]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 10
    while sum(len(b.units) for b in committer._waiting) < len(units) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(committer._waiting) == 1  # one batch holds them all
    batches = committer.batches
    release.set()
    for th in [*threads, holder]:
        th.join(10)
    assert committer.batches == batches + 2  # the holder's, then theirs
    return outcomes


def _hold_commit_turn(store: Store, release: threading.Event) -> threading.Thread:
    """A thread that holds the group committer's turn until `release` is set (submitted to the committer directly:
    on PostgreSQL, `Store.write` sends only command writes through it)."""
    committer = store._committer
    holder = threading.Thread(target=committer.submit, args=(lambda conn: release.wait(10),))
    holder.start()
    while not committer._busy:
        time.sleep(0.001)
    return holder


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the group committer writes together (write_batch_sqlite / write_batch_pg calls)."""
    calls: list[int] = []
    for name in ("write_batch_sqlite", "write_batch_pg"):
        real = getattr(w, name)

        def spy(dbapi: Any, writes: Any, real: Any = real) -> bool:
            calls.append(len(writes))
            return bool(real(dbapi, writes))

        monkeypatch.setattr(w, name, spy)
    return calls


def test_a_batch_of_command_writes_is_written_together(db_url: str, batch_sizes: list[int]) -> None:
    with Store.open(db_url) as store:
        ids = [_case(store) for _ in range(20)]
        # all four shapes of case update: status changed or not, snapshot rewritten or kept
        units = [_command(store, case_id, status="completed" if i % 3 == 0 else "active",
                          n_events=1 + i % 4, keep_snapshot=i % 2 == 1) for i, case_id in enumerate(ids)]
        outcomes = _batched(store, units)
        assert outcomes == [None] * 20 and batch_sizes == [20]
        for i, case_id in enumerate(ids):
            _check(store, case_id, 2 + i % 4, "completed" if i % 3 == 0 else "active",
                   snapshot_version=1 if i % 2 == 1 else None)
        assert verify(store, snapshots=False).ok  # its case rows hold stand-in snapshots


def test_a_stale_unit_in_a_batch_fails_alone(db_url: str, batch_sizes: list[int]) -> None:
    with Store.open(db_url) as store:
        ids = [_case(store) for _ in range(6)]
        units: list[Any] = [_command(store, case_id) for case_id in ids]
        units[2] = _command(store, ids[2], expected=0)  # stale: the case is at version 1
        units.append(_command(store, ids[4]))  # the same case twice: the second one loses
        outcomes = _batched(store, units)
        assert batch_sizes == []  # the same case twice: not batchable, written unit by unit
        assert isinstance(outcomes[2], VersionMismatch)
        assert isinstance(outcomes[6], VersionMismatch)
        assert [o for i, o in enumerate(outcomes) if i not in (2, 6)] == [None] * 5
        for i, case_id in enumerate(ids):
            if i == 2:
                assert store.case(case_id).version == 1  # type: ignore[union-attr]
                assert store.tasks(case_id=case_id) == []
            else:
                _check(store, case_id, 3)
        assert verify(store, snapshots=False).ok  # its case rows hold stand-in snapshots


def test_sqlite_time_matches_db_time() -> None:
    naive = datetime(2024, 5, 1, 12, 0, 0, 123456)
    other = datetime(2024, 5, 1, 14, 0, tzinfo=UTC) + timedelta(microseconds=7)
    for value in (NOW, naive, other, NOW, NOW.astimezone(UTC)):
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
        assert w.sqlite_time(value) == utc.strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.mark.parametrize("stale_version", [0, 5], ids=["events-collide", "only-version-check"])
def test_a_batch_with_a_stale_unit_falls_back_to_unit_by_unit(
    db_url: str, batch_sizes: list[int], stale_version: int
) -> None:
    with Store.open(db_url) as store:
        ids = [_case(store) for _ in range(5)]
        units = [_command(store, case_id) for case_id in ids]
        # The cases are at version 1. At 0, the stale unit's events collide with stored ones; at 5 they do not, and
        # only the version check can catch it.
        units[3] = _command(store, ids[3], expected=stale_version)
        outcomes = _batched(store, units)
        assert batch_sizes == [5]  # tried together once, then one by one
        assert isinstance(outcomes[3], VersionMismatch)
        assert [o for i, o in enumerate(outcomes) if i != 3] == [None] * 4
        for i, case_id in enumerate(ids):
            if i == 3:
                assert store.case(case_id).version == 1  # type: ignore[union-attr]
                assert [e.seq for e in store.events(case_id)] == [1]
            else:
                _check(store, case_id, 3)
        assert verify(store, snapshots=False).ok  # its case rows hold stand-in snapshots


def test_a_batch_with_other_work_runs_unit_by_unit(db_url: str, batch_sizes: list[int]) -> None:
    with Store.open(db_url) as store:
        ids = [_case(store) for _ in range(4)]
        other = uuid.uuid4().hex

        def insert_case(conn):  # type: ignore[no-untyped-def]
            w.insert_case(conn, case_id=other, definition_key="k", definition_version=1, business_key=None,
                          status="active", version=0, last_hash=GENESIS, snapshot={}, now=NOW)
            return "inserted"

        # straight to the committer: on PostgreSQL, `Store.write` runs such work in its own transaction
        outcomes = _batched(store, [*(_command(store, case_id) for case_id in ids), insert_case], direct=True)
        assert outcomes == [None] * 4 + ["inserted"] and batch_sizes == []
        for case_id in ids:
            _check(store, case_id, 3)
        assert store.case(other) is not None


def test_an_interrupted_batch_opener_does_not_strand_its_batch(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from casework.store import groupcommit

    class Interrupted(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            raise KeyboardInterrupt

    made: list[Any] = []
    real_init = groupcommit._Batch.__init__

    def init(self: Any) -> None:
        real_init(self)
        if not made:  # the first waiting batch's opener is interrupted while it waits for its turn
            self.go = Interrupted()
        made.append(self)

    with Store.open(db_url) as store:
        ids = [_case(store) for _ in range(4)]
        committer = store._committer
        release = threading.Event()
        holder = _hold_commit_turn(store, release)
        monkeypatch.setattr(groupcommit._Batch, "__init__", init)
        outcomes: list[object] = [None] * 4

        def submit(i: int) -> None:
            try:
                outcomes[i] = store.write(_command(store, ids[i]))
            except BaseException as exc:
                outcomes[i] = exc

        opener = threading.Thread(target=submit, args=(0,))
        opener.start()
        opener.join(10)
        assert isinstance(outcomes[0], KeyboardInterrupt) and made[0].abandoned
        others = [threading.Thread(target=submit, args=(i,)) for i in (1, 2, 3)]
        for th in others:
            th.start()
        while len(made[0].units) < 4:
            time.sleep(0.001)
        release.set()
        for th in [*others, holder]:
            th.join(10)
        assert outcomes[1:] == [None, None, None]
        for case_id in ids:  # the opener's unit was written too, by the thread that passed the turn on
            _check(store, case_id, 3)
        assert not committer._busy


def test_batches_of_two_processes_on_the_same_cases_do_not_deadlock(pg_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stores (as two server processes would) commit batches over the same cases, queued in opposite orders:
    each batch locks its cases in id order, so one batch wins every case and the other loses cleanly. A third
    connection holds a case in the middle until both batches are blocked, so that they are sure to overlap."""
    import psycopg

    errors: list[BaseException] = []
    real = w._send_pg

    def spy(dbapi: Any, writes: Any) -> Any:
        try:
            return real(dbapi, writes)
        except BaseException as exc:
            errors.append(exc)
            raise

    monkeypatch.setattr(w, "_send_pg", spy)
    # Named, so that the count of blocked sessions below is of this test's own: another run's (or another test
    # process's) sessions waiting on locks in the same database made it see "blocked" too early.
    name = f"deadlock_{uuid.uuid4().hex[:12]}"
    with Store.open(f"{pg_url}&application_name={name}") as first, \
            Store.open(f"{pg_url}&application_name={name}") as second:
        ids = [_case(first) for _ in range(12)]
        releases = [threading.Event(), threading.Event()]
        holders = [_hold_commit_turn(first, releases[0]), _hold_commit_turn(second, releases[1])]
        outcomes: dict[tuple[int, str], object] = {}

        def submit(n: int, store: Store, unit: w.CommandWrite) -> None:
            try:
                outcomes[n, unit.case_id] = store.write(unit)
            except Exception as exc:
                outcomes[n, unit.case_id] = exc

        ordered = sorted(ids)
        threads = []
        for n, store, queue in ((0, first, ordered), (1, second, ordered[::-1])):
            for i, case_id in enumerate(queue):  # one at a time, so that each batch holds them in this order
                th = threading.Thread(target=submit, args=(n, store, _command(store, case_id, expected=1)))
                th.start()
                threads.append(th)
                while sum(len(b.units) for b in store._committer._waiting) < i + 1:
                    time.sleep(0.001)
        locker = first.engine.raw_connection()
        try:
            lock = locker.driver_connection
            lock.execute("SELECT 1 FROM cases WHERE id = %s FOR UPDATE", (ordered[len(ids) // 2],))
            for release in releases:
                release.set()
            deadline = time.monotonic() + 10
            blocked = 0
            while blocked < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
                blocked = lock.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND application_name = %s", (name,)
                ).fetchone()[0]
            assert blocked == 2
            lock.rollback()
        finally:
            locker.close()
        for th in [*threads, *holders]:
            th.join(30)
        assert not [e for e in errors if isinstance(e, psycopg.errors.DeadlockDetected)]
        for case_id in ids:
            results = [outcomes[n, case_id] for n in (0, 1)]
            assert sorted(type(r).__name__ for r in results) == ["NoneType", "VersionMismatch"]
            _check(first, case_id, 3)
        assert verify(first, snapshots=False).ok


def test_a_latch_wakes_every_waiter_once_set_and_stays_set() -> None:
    from casework.store.groupcommit import _Latch

    latch = _Latch()
    woke: list[int] = []
    waiters = [threading.Thread(target=lambda i=i: (latch.wait(), woke.append(i))) for i in range(8)]
    for th in waiters:
        th.start()
    time.sleep(0.05)
    assert woke == [] and not latch.is_set()  # nothing passes before it is set
    latch.set()
    latch.set()  # a second set changes nothing
    for th in waiters:
        th.join(10)
    assert sorted(woke) == list(range(8)) and latch.is_set()
    latch.wait()  # once set, waiting returns at once
