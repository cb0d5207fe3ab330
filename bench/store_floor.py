"""Benchmark: how much of a durable task completion is SQL, and what that leaves for 16 clients against raw commits.

Not a test. Run: python bench/store_floor.py [--repeat 3] [--json]

Each repetition runs 16 thread clients completing the claim's tasks (as `bench/store.py` does), recording the exact
batches group commit wrote. It then writes the same batches again, with the same BEGIN IMMEDIATE ... COMMIT per
batch, into a copy of the database taken just before the run: the SQL and the fsyncs alone, with no engine, no
hashing, no projections. Reported beside raw single-row durable commits measured in the same repetition:
- `casework_*`: the real run (completions/s, CPU microseconds per completion, commands per commit);
- `sql_only_*`: the replay: what the writes cost with nothing else to do; `sql_only_1_per_commit_*` the same writes
  committed one command at a time, as one client commits them (the 1-client goal of 0.5x raw leaves the rest of a
  completion the time of one raw commit less what this exceeds raw by);
- `python_us_per_completion`: the difference in CPU, the work done in Python under the GIL (engine, hash chain,
  rows, projections, hand-offs) that one process cannot spread over cores;
- `python_bound_vs_raw`: completions/s if that Python work were all there was (one core), as a multiple of raw
  commits/s: where it is below 2, 16 clients cannot reach twice the raw commit rate in one CPython process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import TASKS, _shared, raw_sqlite_commits  # the sibling bench script


def _cpu() -> float:
    return time.process_time()  # the whole process, every thread: user + system


def _replay(db: Path, batches: list[list[Any]], write_batch: Any) -> tuple[float, float]:
    """Write `batches` into `db`, each in its own BEGIN IMMEDIATE ... COMMIT, as the store's batch writer does;
    returns (wall seconds, CPU seconds)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    cpu0, start = _cpu(), time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        if not write_batch(conn, batch):
            raise SystemExit("a replayed batch failed its version check: the copy is not the state before the run")
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu0
    conn.close()
    return elapsed, cpu


def one_repetition(folder: Path, clients: int, cases_per_client: int, raw_n: int) -> dict[str, float]:
    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store, writes

    batches: list[list[Any]] = []
    write_batch = writes.write_batch_sqlite

    def recording(dbapi: Any, units: Any) -> bool:
        batches.append(list(units))
        return write_batch(dbapi, units)

    writes.write_batch_sqlite = recording  # read by the store's batch writer when the store opens
    try:
        store = Store.open(f"sqlite:///{folder / 'cw.db'}", audit_key=folder / "audit.key", blob_dir=folder / "blobs")
        svc = CaseService(store)
        svc.deploy((_shared() / "claim.cmmn").read_text(encoding="utf-8"))
        plan = [[svc.start_case("claim", {"amount": 500}).case_id for _ in range(cases_per_client)]
                for _ in range(clients)]
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(folder / "cw.db", folder / "before.db")
        shutil.copy(folder / "cw.db", folder / "before_1.db")
        batches.clear()
        barrier = threading.Barrier(clients + 1)

        def client(case_ids: list[str]) -> None:
            store.case_head(case_ids[0])  # a warm connection, as a running server has
            barrier.wait()
            for case_id in case_ids:
                for name in TASKS:
                    svc.execute(case_id, commands.CompleteItem(item=name, actor="bench"))

        threads = [threading.Thread(target=client, args=(ids,)) for ids in plan]
        for th in threads:
            th.start()
        barrier.wait()
        cpu0, start = _cpu(), time.perf_counter()
        for th in threads:
            th.join()
        elapsed, cpu = time.perf_counter() - start, _cpu() - cpu0
        svc.close()
        store.close()
    finally:
        writes.write_batch_sqlite = write_batch
    done = clients * cases_per_client * len(TASKS)
    replayed = sum(len(b) for b in batches)
    if replayed != done:
        raise SystemExit(f"recorded {replayed} batched writes of {done} completions: the run did not batch them all")

    sql_elapsed, sql_cpu = _replay(folder / "before.db", batches, write_batch)
    # The same writes one command per transaction, as a single client commits them, into a second copy.
    one_elapsed, one_cpu = _replay(folder / "before_1.db", [[unit] for batch in batches for unit in batch],
                                   write_batch)
    raw = raw_sqlite_commits(folder, raw_n)

    cpu_us = cpu / done * 1e6
    sql_us = sql_cpu / done * 1e6
    python_us = max(cpu_us - sql_us, 1e-9)
    return {
        "raw_commits_per_s": raw,
        "casework_per_s": done / elapsed,
        "casework_vs_raw": done / elapsed / raw,
        "casework_cpu_us_per_completion": cpu_us,
        "casework_commands_per_commit": done / len(batches),
        "sql_only_per_s": done / sql_elapsed,
        "sql_only_vs_raw": done / sql_elapsed / raw,
        "sql_only_cpu_us_per_completion": sql_us,
        "sql_only_1_per_commit_per_s": done / one_elapsed,
        "sql_only_1_per_commit_vs_raw": done / one_elapsed / raw,
        "sql_only_1_per_commit_cpu_us": one_cpu / done * 1e6,
        "python_us_per_completion": python_us,
        "python_bound_vs_raw": 1e6 / python_us / raw,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="bench/store_floor.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--cases", type=int, default=60, help="cases per client (4 completions each)")
    p.add_argument("--raw", type=int, default=2000, help="raw single-row commits per sample")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    samples: dict[str, list[float]] = {}
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="casework-floor-") as tmp:
            for key, value in one_repetition(Path(tmp), args.clients, args.cases, args.raw).items():
                samples.setdefault(key, []).append(value)
        print(f"repetition {rep + 1}/{args.repeat} done", file=sys.stderr)
    result = {"repetitions": args.repeat, "medians": {k: statistics.median(v) for k, v in samples.items()},
              "samples": samples}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result["medians"].items():
            print(f"{key:34s} {value:10.2f}")
    return result


if __name__ == "__main__":
    main()
