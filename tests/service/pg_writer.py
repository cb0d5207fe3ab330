"""Child process for the PostgreSQL multi-process tests: a service with its own audit checkpointer, writing from
several threads, printing each acknowledged write as `ACK case_id version business_key idempotency_key`.

Arguments: URL KEY_FILE MODEL_FILE NAME CASES [MODE]. Each thread starts CASES cases and takes each through the claim
model's tasks; the first case of every thread is started under a business key and an idempotency key that every
process uses at once (a race for one case). A case whose write fails is given up, saying `ERR clear|unclear TYPE`
(clear: an error `casework` names in one line). MODE `seal-and-hang`: the first checkpoint hangs while it holds the
events table, and the process says `SEALING` (to be killed there); `hold-commit`: the group commit hangs before a
COMMIT of several commands, after saying `COMMITTING` (to be killed there)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from casework.engine import CommandRejected, commands
from casework.service import CaseService, Conflict
from casework.store import Store
from casework.store.cli import environment_error

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")
THREADS = 4
_out = threading.Lock()


def say(*words: object) -> None:
    with _out:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


def hang(word: str) -> None:
    say(word)
    time.sleep(3600)


def main() -> None:
    url, key, model, name, cases = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    mode = sys.argv[6] if len(sys.argv) > 6 else ""
    store = Store.open(url, audit_key=key)
    svc = CaseService(store, checkpoint_every=5, checkpoint_seconds=0.2)
    svc.deploy(model.read_text(encoding="utf-8"))
    if mode == "seal-and-hang":
        from casework.audit import checkpoints

        real_message = checkpoints.message

        def message_then_hang(*args: object) -> bytes:  # called with the events table locked, before the INSERT
            hang("SEALING")
            return real_message(*args)  # type: ignore[arg-type]

        checkpoints.message = message_then_hang  # type: ignore[assignment]
    if mode == "hold-commit":
        import psycopg

        real_commit = psycopg.Connection.commit

        def commit(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
            if getattr(threading.current_thread(), "batches", 0) > 1:  # a group commit of several commands
                hang("COMMITTING")
            real_commit(conn)

        psycopg.Connection.commit = commit  # type: ignore[method-assign]
        from casework.store import groupcommit

        real_run = groupcommit.PostgresBatches.run
        first = [True]

        def run(self: groupcommit.PostgresBatches, batch: list) -> None:  # type: ignore[type-arg]
            # The first batch waits (up to 5 s) until other writers have queued a batch of several behind it.
            waiting = store._committer._waiting
            deadline = time.monotonic() + 5
            while first[0] and not (waiting and len(waiting[-1].units) > 1) and time.monotonic() < deadline:
                time.sleep(0.01)
            first[0] = False
            threading.current_thread().batches = len(batch)  # type: ignore[attr-defined]
            real_run(self, batch)

        groupcommit.PostgresBatches.run = run  # type: ignore[method-assign]

    say("READY")

    def client(i: int) -> None:
        for n in range(cases):
            keys = (f"shared-{i}", f"once-{i}") if n == 0 else (None, None)
            try:
                work(keys)
            except Exception as exc:  # e.g. its connection dropped: said, and judged by the test
                say("ERR", "clear" if environment_error(exc) else "unclear", type(exc).__name__)

    def work(keys: tuple[str | None, str | None]) -> None:
        started = svc.start_case("claim", {"amount": 10}, actor=name, business_key=keys[0], idempotency_key=keys[1])
        say("ACK", started.case_id, started.version, *keys)
        for task in TASKS:
            try:
                result = svc.execute(started.case_id, commands.CompleteItem(item=task, actor=name))
            except (CommandRejected, Conflict):  # another process's thread took the shared case's task
                continue
            say("ACK", result.case_id, result.version, None, None)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        svc.close()  # seals the rest: it fails, and says so, if its connection is dropped right then
    except Exception as exc:
        say("ERR", "clear" if environment_error(exc) else "unclear", type(exc).__name__)
    store.close()
    say("DONE")


if __name__ == "__main__":
    main()
