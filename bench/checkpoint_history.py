"""How long an audit checkpoint takes, and how long a command waits behind it, once the database holds many.

Not a test. Run: python bench/checkpoint_history.py [--checkpoints 100000] [--heads 20] [--repeat 5] [--pg URL]
(SQLite in a temporary folder; with --pg or $CASEWORK_BENCH_POSTGRES_URL, PostgreSQL in a schema of its own, dropped
at the end). A live service writes a checkpoint every 1,000 events or every minute: half a million a year at one a
minute. The store is given --checkpoints earlier ones (rows as the sealer writes them, each naming --heads cases in
its signed heads), then each run makes one command and seals it; it prints the checkpoint's time (on PostgreSQL it
holds the events table against appends meanwhile) and the median. Compare casework versions with PYTHONPATH=OLD/src.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text


def _runs(url: str, key: Path, n_checkpoints: int, n_heads: int, repeat: int) -> list[float]:
    from casework.audit.checkpoints import load_or_create_key, public_hex, write_checkpoint
    from casework.engine import commands
    from casework.paths import shared_dir
    from casework.service import CaseService
    from casework.store import Store
    from casework.store import schema as t

    root = shared_dir()
    if root is None:
        raise SystemExit("bench/checkpoint_history.py needs the shared corpus (../shared or $CASEWORK_SHARED)")
    public = public_hex(load_or_create_key(key))
    now = datetime.now(UTC)
    with Store.open(url, audit_key=key) as store, CaseService(store, checkpoint_every=1_000_000) as svc:
        svc.deploy((root / "bench" / "claim.cmmn").read_text())
        case_id = svc.start_case("claim", {"amount": 10}).case_id
        # Earlier checkpoints sealing nothing this run's events need (negative ends sort before every event id).
        heads = json.dumps({uuid.uuid4().hex: [7, "ab" * 32] for _ in range(n_heads)}, separators=(",", ":"))
        with store.engine.begin() as conn:
            for start in range(0, n_checkpoints, 5_000):
                conn.execute(insert(t.checkpoints), [
                    {"last_event_id": i - n_checkpoints - 1, "running_hash": "cd" * 32, "heads": heads,
                     "signature": "ef" * 64, "public_key": public, "created_at": now}
                    for i in range(start, min(start + 5_000, n_checkpoints))])
        if not store.is_sqlite:
            with store.engine.connect() as conn:
                conn.execute(text("ANALYZE checkpoints"))
        write_checkpoint(store)
        took = []
        for i in range(repeat):
            svc.execute(case_id, commands.SetVariables(variables={"x": i}, actor="ann"))
            begin = time.perf_counter()
            assert write_checkpoint(store) is not None
            took.append(time.perf_counter() - begin)
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=100_000, help="earlier checkpoints in the database")
    parser.add_argument("--heads", type=int, default=20, help="cases named in each earlier checkpoint's heads")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("CASEWORK_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "audit.key"
        if not args.pg:
            took = _runs(f"sqlite:///{Path(tmp) / 'bench.db'}", key, args.checkpoints, args.heads, args.repeat)
        else:
            from casework.store.testing import with_search_path
            from casework.store.url import parse_url

            schema = f"bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(parse_url(args.pg), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                took = _runs(with_search_path(args.pg, schema), key, args.checkpoints, args.heads, args.repeat)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    where = "PostgreSQL" if args.pg else "SQLite"
    print(f"{where}, {args.checkpoints:,} earlier checkpoints of {args.heads} heads each: checkpoint of one command "
          + ", ".join(f"{s * 1000:.1f}" for s in took) + f" ms; median {statistics.median(took) * 1000:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
