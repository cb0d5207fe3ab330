"""How long a command waits behind an audit checkpoint on PostgreSQL while a long transaction appends events.

Not a test. Run: python bench/checkpoint_wait.py --pg postgresql://... [--hold 2.0] [--repeat 3]
(or $CASEWORK_BENCH_POSTGRES_URL). In a schema of its own (dropped at the end): one transaction appends events as an
import batch does and stays open for --hold seconds (a long batch); a checkpoint starts 0.2 s into it, and a command
on another case 0.2 s after that. Prints, per run, how long the command and the checkpoint took, in seconds, and the
medians. The command's events and the batch's are sealed by a checkpoint in the end either way (checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text


def _one_run(url: str, key: Path, hold: float) -> tuple[float, float]:
    from casework.audit.checkpoints import write_checkpoint
    from casework.audit.hashing import GENESIS
    from casework.engine import commands
    from casework.paths import shared_dir
    from casework.service import CaseService
    from casework.store import Store
    from casework.store import writes as w
    from casework.store.records import NewEvent

    root = shared_dir()
    if root is None:
        raise SystemExit("bench/checkpoint_wait.py needs the shared corpus (../shared or $CASEWORK_SHARED)")
    with Store.open(url, audit_key=key) as store, CaseService(store, checkpoint_every=1_000_000) as svc:
        svc.deploy((root / "bench" / "claim.cmmn").read_text())
        case_id = svc.start_case("claim", {"amount": 10}).case_id
        write_checkpoint(store)
        opened = threading.Event()
        now = datetime.now(UTC)

        def long_batch() -> None:
            batch_case = uuid.uuid4().hex
            rows = w.event_rows(batch_case, 1, GENESIS, [NewEvent("case_imported", now.isoformat(), "import", None,
                                                                  {"n": i}) for i in range(500)])
            with store.engine.begin() as conn:
                w.insert_case(conn, case_id=batch_case, definition_key="claim", definition_version=1,
                              business_key=None, status="completed", version=len(rows), last_hash=rows[-1]["hash"],
                              snapshot="{}", now=now, source="import")
                w.insert_events(conn, rows)
                opened.set()
                time.sleep(hold)

        took: dict[str, float] = {}

        def timed(name: str, fn: Any) -> None:
            start = time.perf_counter()
            fn()
            took[name] = time.perf_counter() - start

        batch = threading.Thread(target=long_batch)
        batch.start()
        opened.wait()
        time.sleep(0.2)
        sealer = threading.Thread(target=timed, args=("checkpoint", lambda: write_checkpoint(store)))
        sealer.start()
        time.sleep(0.2)
        timed("command", lambda: svc.execute(case_id, commands.SetVariables(variables={"x": 1}, actor="ann")))
        batch.join()
        sealer.join()
        write_checkpoint(store)
        with store.read() as conn:
            unsealed = conn.execute(text("SELECT count(*) FROM events WHERE id > "
                                         "(SELECT max(last_event_id) FROM checkpoints)")).scalar_one()
        assert unsealed == 0, unsealed
        return took["command"], took["checkpoint"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("CASEWORK_BENCH_POSTGRES_URL"))
    parser.add_argument("--hold", type=float, default=2.0, help="how long the batch's transaction stays open (s)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.pg:
        raise SystemExit("give a PostgreSQL URL: --pg postgresql://... or $CASEWORK_BENCH_POSTGRES_URL")
    from casework.store.testing import with_search_path
    from casework.store.url import parse_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parse_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [_one_run(with_search_path(args.pg, schema), Path(tmp) / "audit.key", args.hold)
                    for _ in range(args.repeat)]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    for command, checkpoint in runs:
        print(f"command waited {command:.3f} s, checkpoint took {checkpoint:.3f} s (batch held {args.hold} s)")
    print(f"median: command {statistics.median(r[0] for r in runs):.3f} s, "
          f"checkpoint {statistics.median(r[1] for r in runs):.3f} s")


if __name__ == "__main__":
    sys.exit(main())
