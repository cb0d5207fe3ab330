"""Child process for the kill -9 test: writes commands from several threads (or coroutines on an event loop, with
`asyncio` as the fourth argument), printing each one after it commits."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from casework.engine import CommandRejected, commands
from casework.service import CaseService
from casework.store import Store

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")


def main() -> None:
    url, key_path, claim_path = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store.open(url, audit_key=Path(key_path))
    svc = CaseService(store, checkpoint_every=20)
    svc.deploy(Path(claim_path).read_text(encoding="utf-8"))
    out = threading.Lock()

    def ack(case_id: str, version: int) -> None:
        with out:
            sys.stdout.write(f"ACK {case_id} {version}\n")
            sys.stdout.flush()

    def client() -> None:
        while True:
            started = svc.start_case("claim", {"amount": 10}, actor="crash")
            ack(started.case_id, started.version)
            for name in TASKS:
                try:
                    result = svc.execute(started.case_id, commands.CompleteItem(item=name, actor="crash"))
                except CommandRejected:
                    continue
                ack(started.case_id, result.version)

    async def coroutine_client() -> None:
        while True:
            started = await asyncio.to_thread(svc.start_case, "claim", {"amount": 10}, actor="crash")
            ack(started.case_id, started.version)
            for name in TASKS:
                try:
                    result = await svc.aexecute(started.case_id, commands.CompleteItem(item=name, actor="crash"))
                except CommandRejected:
                    continue
                ack(started.case_id, result.version)

    async def coroutine_clients() -> None:
        await asyncio.gather(*(coroutine_client() for _ in range(4)))

    if sys.argv[4:] == ["asyncio"]:
        asyncio.run(coroutine_clients())
        return
    threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


if __name__ == "__main__":
    main()
