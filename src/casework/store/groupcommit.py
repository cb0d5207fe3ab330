"""Group commit for SQLite: many threads' units of work share one transaction and one fsync.

SQLite allows one writer at a time and FULL synchronous mode pays an fsync per commit, so committing each command
alone caps throughput at the disk's fsync rate. Here every writer queues its unit of work; if no batch is running,
it becomes the committer and runs *all* queued units in one transaction (each inside its own SAVEPOINT, so one
failing unit does not undo the others), commits once, and wakes everyone; otherwise it sleeps until the running
batch ends (its unit then is either done, or it takes the next batch). With one client there is no waiting and
no thread hand-off; with many, the batch grows to whatever queued during the previous fsync.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")

MAX_BATCH = 256


class _Pending(Generic[T]):
    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommitter:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: list[_Pending[Any]] = []
        self._cond = threading.Condition()
        self._busy = False  # a thread is running a batch right now
        self.batches = 0
        self.units = 0
        # One connection kept checked out for all batches: the pool round trip costs as much as a small insert.
        self._conn: Connection | None = None

    def close(self) -> None:
        with self._cond:
            while self._busy:
                self._cond.wait()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def submit(self, work: Callable[[Connection], T]) -> T:
        pending: _Pending[T] = _Pending(work)
        with self._cond:
            self._queue.append(pending)
        while not pending.done.is_set():
            with self._cond:
                if pending.done.is_set():
                    break
                if self._busy:
                    # Someone is committing; our unit joins the next batch. Sleep until a batch ends.
                    self._cond.wait()
                    continue
                self._busy = True
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                self._run_batch(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _run_batch(self, batch: list[_Pending[Any]]) -> None:
        if not batch:
            return
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(casework_write=True)
            conn = self._conn
            raw: Any = conn.connection.driver_connection
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
        finally:
            self.batches += 1
            self.units += len(batch)
            for unit in batch:
                unit.done.set()
