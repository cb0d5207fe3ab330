"""How long a command and a read wait on a PostgreSQL connection whose network path goes silent (packets dropped,
nothing sent back: a firewall, a failed switch, a frozen server host) before they fail.

Not a test. Run as root (it makes a network namespace and a veth link, tests/store/silent_network.py):
python bench/silent_network.py [--pg URL] [--limit 120]
(--pg or $CASEWORK_BENCH_POSTGRES_URL; a schema of its own, dropped at the end). casework connects through a proxy
across a private link; the path goes silent under a connected service, and the script prints the seconds from then
until a command (`CaseService.execute`), a case start and a read (`Store.case`) fail, or "more than LIMIT s". Set
CASEWORK_PG_NETWORK_TIMEOUT to try other bounds; compare versions with PYTHONPATH=OLD/src.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "store"))


def _time_to_error(call: Callable[[], object], limit: float) -> str:
    outcome: list[str] = []

    def run() -> None:
        try:
            call()
            outcome.append("succeeded")
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [""])[0]
            outcome.append(f"{type(exc).__name__}: {reason[:160]}")

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if not outcome:
        return f"more than {limit:.0f} s (still waiting)"
    return f"{time.monotonic() - start:.1f} s, {outcome[0]}"


def _call(what: str, svc: Any, case_id: str) -> Callable[[], object]:
    from casework.engine import commands

    if what == "command":
        return lambda: svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    if what == "case start":
        return lambda: svc.start_case("claim", {"amount": 20})
    return lambda: svc.store.case(case_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("CASEWORK_BENCH_POSTGRES_URL"))
    parser.add_argument("--limit", type=float, default=120.0)
    args = parser.parse_args()
    if not args.pg:
        parser.error("give --pg URL or set CASEWORK_BENCH_POSTGRES_URL")

    from silent_network import SilentNetwork
    from sqlalchemy.engine import make_url

    from casework.paths import shared_dir
    from casework.service import CaseService
    from casework.store import Store
    from casework.store.testing import with_search_path
    from casework.store.url import parse_url

    shared = shared_dir()
    if shared is None:
        sys.exit("the shared corpus (claim.cmmn) is needed: set CASEWORK_SHARED")
    schema = f"silent_{uuid.uuid4().hex[:10]}"
    admin = create_engine(parse_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    upstream = make_url(args.pg)
    try:
        for what in ("command", "case start", "read"):
            with tempfile.TemporaryDirectory() as tmp, \
                    SilentNetwork((upstream.host or "127.0.0.1", upstream.port or 5432)) as net:
                store = Store.open(with_search_path(net.url(args.pg), schema), audit_key=Path(tmp) / "key")
                svc = CaseService(store, clock=lambda: datetime(2024, 5, 1, 9, tzinfo=UTC))
                svc.deploy((shared / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
                case_id = svc.start_case("claim", {"amount": 10}).case_id
                time.sleep(1)  # the connections idle, as between a worker's commands
                net.silence()
                print(f"{what}: {_time_to_error(_call(what, svc, case_id), args.limit)}", flush=True)
            # The path closed (every connection ended): the service's last checkpoint fails, or finds a new one.
            try:
                svc.close()
            except Exception as exc:
                print(f"  (closing: {type(exc).__name__})", flush=True)
            store.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
