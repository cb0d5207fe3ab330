"""Benchmark: inbox queries on a store holding a million open tasks (SQLite, or PostgreSQL with --pg).

Not a test. Run: casework bench inbox [--json] [--quick], or python bench/inbox.py [--tasks N] [--pg URL].
The task projection is filled directly (as a year of busy case work would leave it: 1,000 users, 50 groups, due
dates over a year, most tasks closed), then each query is timed many times; medians are reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUERIES: dict[str, dict[str, Any]] = {
    "one user's open tasks": {"owner": "user17", "states": ("active", "enabled")},
    "one group's queue": {"candidate_group": "group7", "states": ("active",)},
    "offered to one user": {"candidate_user": "user17", "states": ("active", "enabled")},
    "overdue tomorrow": {"due_before": dt.datetime(2026, 1, 2, tzinfo=dt.UTC), "states": ("active",)},
    "one case's tasks": {"case_id": "case-1234"},
}


def fill(store: Any, n: int, seed: int = 7) -> float:
    from sqlalchemy import insert

    from casework.store import schema

    rng = random.Random(seed)
    offers = random.Random(seed + 1)  # its own stream: the other columns stay as they were before candidate users
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    began = time.perf_counter()
    batch: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    offered: list[dict[str, Any]] = []
    with store.engine.begin() as conn:
        cases = [
            {"id": f"case-{c}", "definition_key": "bench", "definition_version": 1, "status": "active", "version": 0,
             "last_hash": "0" * 64, "source": "import", "snapshot": "{}", "created_at": start, "updated_at": start}
            for c in range((n + 7) // 8)
        ]
        for first in range(0, len(cases), 10_000):
            conn.execute(insert(schema.cases), cases[first : first + 10_000])
        for i in range(n):
            state = "completed" if rng.random() < 0.7 else rng.choice(("active", "enabled", "available"))
            # half the tasks go to a group's queue, some to two; a group row lives while its task is open
            groups = sorted({f"group{rng.randrange(50)}" for _ in range(rng.choice((1, 1, 1, 2)))})
            groups = groups if rng.random() < 0.5 else []
            # one task in ten is offered to one to three people by name
            users = sorted({f"user{offers.randrange(1000)}" for _ in range(offers.randint(1, 3))})
            users = users if offers.random() < 0.1 else []
            if state != "completed":
                queued.extend({"group_name": g, "case_id": f"case-{i // 8}", "item_id": f"i{i % 8}"} for g in groups)
                offered.extend({"user_name": u, "case_id": f"case-{i // 8}", "item_id": f"i{i % 8}"} for u in users)
            batch.append({
                "case_id": f"case-{i // 8}", "item_id": f"i{i % 8}", "def_id": "task", "name": f"Task {i % 8}",
                "kind": "humanTask", "state": state,
                "owner": f"user{rng.randrange(1000)}" if rng.random() < 0.8 else None,
                "candidate_groups": ",".join(groups) or None,
                "candidate_users": ",".join(users) or None,
                "due_at": start + dt.timedelta(minutes=rng.randrange(525_600)) if rng.random() < 0.6 else None,
                "updated_at": start,
            })
            if len(batch) == 10_000:
                conn.execute(insert(schema.tasks), batch)
                batch.clear()
            for table, rows in ((schema.task_groups, queued), (schema.task_candidates, offered)):
                if len(rows) >= 10_000:
                    conn.execute(insert(table), rows)
                    rows.clear()
        for table, rows in ((schema.tasks, batch), (schema.task_groups, queued), (schema.task_candidates, offered)):
            if rows:
                conn.execute(insert(table), rows)
    return time.perf_counter() - began


def run(args: argparse.Namespace) -> dict[str, Any]:
    from casework.store import Store

    folder = Path(tempfile.mkdtemp(prefix="casework-inbox-"))
    url = args.pg or f"sqlite:///{folder / 'inbox.db'}"
    result: dict[str, Any] = {"tasks": args.tasks, "database": "postgresql" if args.pg else "sqlite"}
    with Store.open(url, blob_dir=folder / "blobs", audit_key=folder / "audit.key") as store:
        if args.pg:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE task_groups, task_candidates, tasks, cases CASCADE")
        result["fill_s"] = round(fill(store, args.tasks), 1)
        if args.pg:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE tasks")
                conn.exec_driver_sql("ANALYZE task_groups")
                conn.exec_driver_sql("ANALYZE task_candidates")
        for name, query in QUERIES.items():
            times = []
            rows = 0
            for _ in range(args.repeat):
                began = time.perf_counter()
                rows = len(store.tasks(limit=50, **query))
                times.append((time.perf_counter() - began) * 1000)
            result[name] = {"median_ms": round(statistics.median(times), 3), "rows": rows}
            print(f"  {name:<24} {statistics.median(times):8.3f} ms  ({rows} rows)", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL of a scratch database (its cases are deleted!)")
    parser.add_argument("--quick", action="store_true", help="100,000 tasks")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks = 100_000
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"inbox queries, {result['tasks']:,} tasks on {result['database']} (filled in {result['fill_s']} s):")
        for name in QUERIES:
            print(f"  {name:<24} median {result[name]['median_ms']:8.3f} ms, {result[name]['rows']} rows")
    return result


if __name__ == "__main__":
    main()
