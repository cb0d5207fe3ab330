"""Commands from coroutines: an event loop's callers are gathered and handed to the combiner as one group.

A server answers many clients from one event loop. Were each `await` of a command a thread of its own (a thread pool,
as `asyncio.to_thread` gives), every command would pay for waking a thread and for the GIL hand-offs between 17
threads, which on a small machine cost more CPU than the engine's work on the command. Here the coroutines that
call while a group is being run leave their commands in the loop's list and await a future; when the group ends,
the next group is everything that gathered meanwhile: one thread hand-off per group, not per command. The group runs
in a worker thread (`Combiner.run_all`), so that the loop stays free while the round waits for the disk.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor

from casework.service.combining import Combiner, Request


class _Gathering:
    """One event loop's commands waiting for the next group, and the task that runs groups while there are any."""

    __slots__ = ("pending", "task")

    def __init__(self) -> None:
        self.pending: list[tuple[Request, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None  # held here: the loop keeps only a weak reference to a task


class LoopRounds:
    def __init__(self, combiner: Combiner) -> None:
        self._combiner = combiner
        # One worker: groups run one after another anyway (the combiner runs one round at a time), and a single
        # thread keeps its database connection warm.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casework-rounds")
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gathering] = weakref.WeakKeyDictionary()

    async def run(self, key: str, payload: object) -> Request:
        """Run one request in this loop's next group; returns it with its result or error set.

        If the awaiting coroutine is cancelled, its request still runs (a command handed over may already be
        durable), but its outcome is not waited for.
        """
        loop = asyncio.get_running_loop()
        gathering = self._loops.get(loop)
        if gathering is None:
            gathering = self._loops[loop] = _Gathering()
        request = Request(key, payload)
        done: asyncio.Future[None] = loop.create_future()
        gathering.pending.append((request, done))
        if gathering.task is None:
            gathering.task = loop.create_task(self._run_groups(loop, gathering))
        await done
        return request

    async def _run_groups(self, loop: asyncio.AbstractEventLoop, gathering: _Gathering) -> None:
        try:
            while gathering.pending:
                group, gathering.pending = gathering.pending, []
                requests = [request for request, _ in group]
                try:
                    await loop.run_in_executor(self._executor, self._combiner.run_all, requests)
                except asyncio.CancelledError:  # the loop is closing; the group may still run in the worker
                    for _, done in group:
                        done.cancel()
                    raise
                except Exception as exc:  # not run at all: the worker was shut down (the service closed)
                    for request in requests:
                        request.error = exc
                for _, done in group:
                    if not done.done():  # its caller was cancelled
                        done.set_result(None)
        finally:
            gathering.task = None
            for _, done in gathering.pending:  # left only if this task was cancelled
                done.cancel()
            gathering.pending = []

    def close(self) -> None:
        self._executor.shutdown(wait=True)
