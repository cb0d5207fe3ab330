"""Group commit: many threads' units of work share one transaction and one commit.

SQLite allows one writer at a time and FULL synchronous mode pays an fsync per commit, so committing each command
alone caps throughput at the disk's fsync rate. On PostgreSQL every command alone costs a commit and a network round
trip per statement, and each waiting thread must take the GIL back for each. Here every writer adds its unit of work
to the open batch. If no batch is running, the writer commits its unit at once; otherwise the writer that opened the
batch waits until the running batch ends and is handed the commit turn (by then its batch holds whatever queued
meanwhile), while the batch's other writers just wait for it to be done: one wake-up per writer, no thundering herd.
How a batch is written is the database's (`SqliteBatches`, `PostgresBatches`): a batch of `CommandWrite`s on
distinct cases goes in together, the version checks first; any other batch (or one whose version check fails) runs
unit by unit, so one failing unit does not undo the others. With one client there is no waiting and no thread
hand-off.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine

if TYPE_CHECKING:
    from casework.store.writes import CommandWrite

T = TypeVar("T")

MAX_BATCH = 256


class _Pending(Generic[T]):
    __slots__ = ("error", "result", "work")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.result: T | None = None
        self.error: BaseException | None = None


class _Latch:
    """A one-shot signal: `threading.Event` without the Condition inside it, whose wait and notify run as Python
    code (with 16 writers, every command paid for them in its wake-up). Waiters block on a lock that `set` releases;
    each waiter takes it and gives it back at once, so the next one wakes. `set` is called once, by the thread that
    holds the commit turn."""

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._lock.release()

    def is_set(self) -> bool:
        return self._set

    def wait(self) -> None:
        with self._lock:  # released again even if an interrupt lands right after it was taken
            pass


class _Batch:
    __slots__ = ("abandoned", "done", "go", "units")

    def __init__(self) -> None:
        self.units: list[_Pending[Any]] = []
        self.abandoned = False  # its opener was interrupted while waiting: whoever passes the turn runs it
        self.go = _Latch()  # set for the writer that opened the batch: its turn to commit
        self.done = _Latch()  # set when the batch is committed (or failed)


class BatchRunner(Protocol):
    def run(self, units: list[_Pending[Any]]) -> None:
        """Write `units` durably, setting each one's result or error."""

    def close(self) -> None: ...


class GroupCommitter:
    def __init__(self, runner: BatchRunner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._waiting: deque[_Batch] = deque()  # batches not yet started, oldest first; the last one is open
        self._busy = False  # a thread is running a batch right now
        self._idle = threading.Condition(self._lock)
        # Threads in `close` waiting for the running batch: a Condition's notify runs as Python code, so the writer
        # that leaves the turn idle notifies only when one waits.
        self._closers = 0
        self.batches = 0
        self.units = 0

    def close(self) -> None:
        with self._idle:
            self._closers += 1
            try:
                while self._busy:
                    self._idle.wait()
            finally:
                self._closers -= 1
            self._runner.close()

    def submit(self, work: Callable[[Connection], T]) -> T:
        pending: _Pending[T] = _Pending(work)
        self._submit([pending])
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def submit_all(self, works: list[Callable[[Connection], Any]]) -> list[_Pending[Any]]:
        """Write `works` in one batch (or more, past `MAX_BATCH`) and return each one's outcome: its result, or the
        error that it alone failed with. For a caller that has gathered several commands itself."""
        pendings: list[_Pending[Any]] = [_Pending(work) for work in works]
        for start in range(0, len(pendings), MAX_BATCH):
            self._submit(pendings[start:start + MAX_BATCH])
        return pendings

    def _submit(self, pendings: list[_Pending[Any]]) -> None:
        with self._lock:
            waiting = self._waiting
            if not self._busy:
                # Nobody is committing: commit these units right now (the single-client case).
                self._busy = True
                batch = None
            elif waiting and len(waiting[-1].units) + len(pendings) <= MAX_BATCH:
                batch = waiting[-1]
                batch.units.extend(pendings)
                leader = False
            else:
                batch = _Batch()
                batch.units.extend(pendings)
                leader = True
                waiting.append(batch)
        if batch is None:
            self._commit_turn(None, pendings)
        elif leader:
            try:
                batch.go.wait()
            except BaseException:  # e.g. KeyboardInterrupt: the batch must still run, or its writers wait forever
                with self._lock:
                    if not batch.go.is_set():
                        batch.abandoned = True
                        raise
                self._commit_turn(batch, batch.units)  # the turn is already ours
                raise
            self._commit_turn(batch, batch.units)
        else:
            batch.done.wait()

    def _commit_turn(self, batch: _Batch | None, units: list[_Pending[Any]]) -> None:
        """Run `units` (this thread holds the commit turn), then pass the turn to the oldest waiting batch."""
        while True:
            if batch is not None:
                with self._lock:
                    # Closed from now on: later writers open the next batch.
                    if self._waiting and self._waiting[0] is batch:
                        self._waiting.popleft()
            following: _Batch | None = None
            try:
                self._run_batch(units)
            finally:
                with self._lock:
                    if self._waiting:
                        following = self._waiting[0]
                        if not following.abandoned:
                            following.go.set()  # busy stays True: the turn passes straight on
                    else:
                        self._busy = False
                        if self._closers:
                            self._idle.notify_all()
                if batch is not None:
                    batch.done.set()
            if following is None or not following.abandoned:
                return
            batch, units = following, following.units  # its opener is gone: run it here

    def _run_batch(self, batch: list[_Pending[Any]]) -> None:
        if not batch:
            return
        try:
            self._runner.run(batch)
        finally:
            self.batches += 1
            self.units += len(batch)


class SqliteBatches:
    """Batches on SQLite: one transaction (BEGIN IMMEDIATE ... COMMIT, one fsync) for the whole batch."""

    def __init__(self, engine: Engine) -> None:
        # Imported here, once: casework.store.writes imports the audit package, which imports the store.
        from casework.store.writes import batchable, write_batch_sqlite

        self._engine = engine
        self._batchable = batchable
        self._write_batch = write_batch_sqlite
        # One connection kept checked out for all batches: the pool round trip costs as much as a small insert.
        self._conn: Connection | None = None
        self._raw: Any = None  # its driver connection

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, batch: list[_Pending[Any]]) -> None:
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(casework_write=True)
                self._raw = self._conn.connection.driver_connection
            conn = self._conn
            raw: Any = self._raw  # SQLAlchemy's property chain to it costs more than a commit's Python work
            if self._batchable([unit.work for unit in batch]) and self._write_together(raw, batch):
                return
            # The transaction is driven on the driver (BEGIN IMMEDIATE ... COMMIT): SQLAlchemy's transaction objects
            # cost as much CPU as a unit's statements. If a unit runs SQLAlchemy statements, SQLAlchemy believes it
            # began the transaction (the begin hook sees one open and emits nothing), and then it commits it.
            raw.execute("BEGIN IMMEDIATE")
            try:
                if len(batch) == 1:
                    # Alone: no savepoint needed, a failure rolls back the whole (single-unit) transaction.
                    only = batch[0]
                    only.result = only.work(conn)
                else:
                    for unit in batch:
                        raw.execute("SAVEPOINT unit")
                        try:
                            unit.result = unit.work(conn)
                            raw.execute("RELEASE unit")
                        except Exception as exc:
                            if not raw.in_transaction:  # SQLite rolled it all back (see `_write_together`)
                                raise
                            raw.execute("ROLLBACK TO unit")
                            raw.execute("RELEASE unit")
                            unit.error = exc
                if conn.in_transaction():
                    conn.commit()
                else:
                    raw.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    if conn.in_transaction():
                        conn.rollback()
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                raise
        except BaseException as exc:
            if self._conn is not None and self._conn.invalidated:
                self._conn.close()
                self._conn = None
            # The commit (or the single unit) failed: nothing in this batch is durable.
            for unit in batch:
                if unit.error is None:
                    unit.error = exc
                unit.result = None

    def _write_together(self, raw: Any, batch: list[_Pending[Any]]) -> bool:
        """The fast path: all units' rows through one executemany per statement, one commit. False (nothing written,
        transaction rolled back) if a version check or a statement failed: then each unit runs on its own, in its
        own savepoint, so that only the unit at fault fails. A failing COMMIT raises: nothing is durable."""
        raw.execute("BEGIN IMMEDIATE")
        try:
            try:
                ok = self._write_batch(raw, cast("list[CommandWrite]", [unit.work for unit in batch]))
            except Exception:
                # A full disk or an I/O error while SQLite spilled its cache rolls back the whole transaction, not
                # just the statement (https://www.sqlite.org/lang_transaction.html, "Response To Errors Within A
                # Transaction"): no unit can be written alone either, and its error, not the failing ROLLBACK's
                # "no transaction is active", is what every writer must be told.
                if not raw.in_transaction:
                    raise
                ok = False
            if not ok:
                raw.execute("ROLLBACK")
                return False
            raw.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
            raise
        return True


class PostgresBatches:
    """Batches on PostgreSQL: the command writes of a batch in one pipelined transaction (`write_batch_pg`).

    Only command writes come here (`Store.write`): other work runs in its own transactions, side by side. Cases are
    locked in id order within a batch, so the committers of several processes cannot deadlock one another.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._fairy: Any = None  # a pooled DBAPI connection kept checked out for all batches

    def close(self) -> None:
        if self._fairy is not None:
            self._fairy.close()
            self._fairy = None

    def run(self, batch: list[_Pending[Any]]) -> None:
        from casework.store.writes import CommandWrite, batchable, write_batch_pg, write_command_pg

        lost: list[_Pending[Any]] = []  # units whose connection was lost: written or not, settled below
        try:
            works = [unit.work for unit in batch]
            try:
                # Connecting inside: a batch that cannot connect (the server down) must fail every unit in it. Raised
                # out of here, it failed only the writer that ran the batch; the others were told they were done.
                self._connect()
                if len(batch) > 1 and batchable(works) and write_batch_pg(self._dbapi(), cast(list[CommandWrite],
                                                                                             works)):
                    return
            except BaseException as exc:  # the COMMIT (or the connection) failed: nothing is known to be durable
                for unit in batch:
                    unit.error = exc
                if self._drop_if_broken() and isinstance(exc, Exception):
                    lost = batch
                return
            done = 0
            try:
                for unit in batch:  # one by one, each in its own transaction: only a unit at fault fails
                    try:
                        if type(unit.work) is CommandWrite and unit.work.definition is None:
                            self._connect()
                            write_command_pg(self._dbapi(), unit.work)
                        else:
                            with self._engine.begin() as conn:
                                unit.result = unit.work(conn)
                    except Exception as exc:
                        unit.error = exc
                        if self._drop_if_broken() and type(unit.work) is CommandWrite:
                            lost.append(unit)
                    done += 1
            except BaseException as exc:  # e.g. KeyboardInterrupt: the units not yet written fail with it
                self._drop_if_broken()
                for unit in batch[done:]:
                    if unit.error is None:
                        unit.error = exc
        finally:
            if lost:
                self._settle(lost)

    def _settle(self, lost: list[_Pending[Any]]) -> None:
        """Write again, on a new connection, the command writes whose connection was lost (`lostwrites`): each one
        either is stored (then it succeeded, by the first attempt or this one) or keeps its error."""
        from casework.store.lostwrites import write_again
        from casework.store.records import VersionMismatch, WriteOutcomeUnknown

        unreachable = False
        for unit in lost:
            try:
                if unreachable:
                    # One attempt for the batch: on a silent network each would wait out the connect timeout, and
                    # the last writer of a batch of 16 was told after 16 of them.
                    raise ConnectionError("the database could not be reached to settle the batch")
                self._connect()
                write_again(self._dbapi(), unit.work)
            except VersionMismatch as exc:  # another writer's events stand where its would: it was not written
                unit.error = exc
            except Exception:
                # E.g. the server is still down: it may have been written. Its own error (a dropped connection)
                # read as a failure, and a caller sending it again could apply it twice.
                unreachable = self._drop_if_broken() or self._fairy is None  # the connection lost, or not made
                unknown = WriteOutcomeUnknown(cast("CommandWrite", unit.work).case_id)
                unknown.__cause__ = unit.error
                unit.error = unknown
            else:
                unit.error = None

    def _connect(self) -> None:
        from casework.store.lostwrites import server_left

        if self._fairy is not None and server_left(self._fairy.driver_connection) is not None:
            # Closed by the server while idle (a restart between batches): nothing was sent on it, so no write is in
            # doubt; a batch sent on it would have to be settled as a lost write.
            self._drop()
        if self._fairy is None:
            self._fairy = self._engine.raw_connection()

    def _dbapi(self) -> Any:
        return self._fairy.driver_connection

    def _drop_if_broken(self) -> bool:
        """Whether the kept connection was lost; if so, it is dropped, and so is every pooled connection: a server
        restart has ended them all, and each would fail a command of its own before the pool learnt it."""
        from casework.store.lostwrites import connection_lost

        if self._fairy is not None and connection_lost(self._fairy.driver_connection):
            self._drop()
            return True
        return False

    def _drop(self) -> None:
        self._fairy.invalidate()
        self._fairy = None
        self._engine.dispose()
