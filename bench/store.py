"""Benchmark: durable task completions/s of casework's store beside raw durable commits and SpiffWorkflow.

Not a test. Run: casework bench store [--json] [--quick], or python bench/store.py [--pg postgresql://...]
[--repeat 5] [--json] [--quick]. PostgreSQL is measured when --pg or $CASEWORK_BENCH_POSTGRES_URL gives a server.
Every figure is the median of --repeat runs, all measured in the same process run (absolute figures drift between
runs on shared machines; compare the ratios). sqlite_commands_per_commit_N_clients (pg_...) is how many commands group
commit put into each transaction (one fsync each) during the N-client run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")  # amount 500: four human tasks


def _shared() -> Path:
    from casework.paths import shared_dir

    root = shared_dir()
    if root is None:
        raise SystemExit("bench/store.py needs the shared corpus (../shared or $CASEWORK_SHARED)")
    return root / "bench"


# -- raw durable commits ------------------------------------------------------------------------------------------


def raw_sqlite_commits(folder: Path, n: int) -> float:
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def raw_pg_commits(url: str, n: int) -> float:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (id bigserial PRIMARY KEY, v text)")
        start = time.perf_counter()
        for i in range(n):
            with conn.transaction():
                conn.execute("INSERT INTO t (v) VALUES (%s)", (f"row {i}",))
        return n / (time.perf_counter() - start)


# -- casework -----------------------------------------------------------------------------------------------------


def casework_completions(
    url: str, clients: int, cases_per_client: int, folder: Path, mode: str = "threads"
) -> tuple[float, float, float | None, float]:
    """Task completions/s with `clients` on their own cases, each a thread calling `execute` (mode "threads") or a
    coroutine on one event loop calling `aexecute` (mode "asyncio", as a server's request handlers would); returns
    (rate, bytes per event, commands per commit during the run: how well group commit batches; CPU microseconds
    (user + system, the whole process) per completion: what bounds the rate once group commit shares the fsyncs)."""
    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store

    store = Store.open(url, audit_key=folder / "audit.key", blob_dir=folder / "blobs")
    try:
        svc = CaseService(store)
        svc.deploy((_shared() / "claim.cmmn").read_text(encoding="utf-8"))
        plan = [[svc.start_case("claim", {"amount": 500}).case_id for _ in range(cases_per_client)]
                for _ in range(clients)]
        barrier = threading.Barrier(clients + 1)
        errors: list[BaseException] = []
        committer = getattr(store, "_committer", None)

        def client(case_ids: list[str]) -> None:
            # A running server has a warm connection pool: open this thread's connection before the clock starts.
            store.case_head(case_ids[0])
            barrier.wait()
            try:
                for case_id in case_ids:
                    for name in TASKS:
                        svc.execute(case_id, commands.CompleteItem(item=name, actor="bench"))
            except BaseException as exc:  # surfaced after the run
                errors.append(exc)

        async def coroutine_client(case_ids: list[str]) -> None:
            for case_id in case_ids:
                for name in TASKS:
                    await svc.aexecute(case_id, commands.CompleteItem(item=name, actor="bench"))

        async def coroutine_clients() -> None:
            await asyncio.gather(*(coroutine_client(ids) for ids in plan))

        if mode == "asyncio":
            batches0, units0 = (committer.batches, committer.units) if committer is not None else (0, 0)
            cpu0 = time.process_time()
            start = time.perf_counter()
            asyncio.run(coroutine_clients())
        else:
            threads = [threading.Thread(target=client, args=(ids,)) for ids in plan]
            for th in threads:
                th.start()
            barrier.wait()
            batches0, units0 = (committer.batches, committer.units) if committer is not None else (0, 0)
            cpu0 = time.process_time()
            start = time.perf_counter()
            for th in threads:
                th.join()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        svc.close()
        if errors:
            raise errors[0]
        per_commit = None
        if committer is not None and committer.batches > batches0:
            per_commit = (committer.units - units0) / (committer.batches - batches0)
        done = clients * cases_per_client * len(TASKS)
        return done / elapsed, _bytes_per_event(store, url), per_commit, cpu / done * 1e6
    finally:
        store.close()


def _bytes_per_event(store: Any, url: str) -> float:
    from sqlalchemy import text

    _, n_events = store.counts()
    with store.engine.connect() as conn:
        if store.is_sqlite:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db = Path(store.engine.url.database)
            size = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
        else:
            size = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                    "AND c.relkind = 'r'"
                )
            ).scalar_one()
    return float(size) / max(n_events, 1)


# -- SpiffWorkflow ------------------------------------------------------------------------------------------------


def spiff_completions(folder: Path, instances: int) -> float:
    """SpiffWorkflow 3.2 on claim.bpmn, storing the whole-workflow JSON in SQLite (WAL, FULL) after every task."""
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(_shared() / "claim.bpmn"))
    spec = parser.get_spec("claim")
    serializer = BpmnWorkflowSerializer()
    conn = sqlite3.connect(folder / "spiff.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE workflows (id TEXT PRIMARY KEY, state TEXT NOT NULL)")
    completed = 0
    start = time.perf_counter()
    for _ in range(instances):
        wf_id = uuid.uuid4().hex
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        conn.execute("INSERT INTO workflows VALUES (?, ?)", (wf_id, serializer.serialize_json(wf)))
        while True:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            task.data["amount"] = 500
            task.run()
            wf.do_engine_steps()
            conn.execute("BEGIN")
            conn.execute("UPDATE workflows SET state = ? WHERE id = ?", (serializer.serialize_json(wf), wf_id))
            conn.execute("COMMIT")
            completed += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return completed / elapsed


# -- driver -------------------------------------------------------------------------------------------------------


def pg_schema_url(base: str) -> tuple[str, Callable[[], None]]:
    from urllib.parse import quote

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Each casework figure is measured right after a raw-commit figure, and each ratio is taken within one
    repetition before the median: on a shared machine the disk's fsync rate swings several-fold within minutes."""
    samples: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    # Each client of the concurrent run completes a quarter as many cases as the single client (16 clients: four
    # times the work). Both runs are long enough (800 and 3,200 completions by default) to take in the costs that
    # come every so often, not at every commit: an audit checkpoint every 1,000 events, SQLite copying its WAL back
    # into the database every 1,000 pages (one such copy took ~50 ms here, a sixth of a 2,000-completion run).
    # The concurrent clients are measured twice: as threads calling `execute`, and as coroutines on one event loop
    # calling `aexecute` (how a server's request handlers call it), named "_async_clients".
    try:
        import SpiffWorkflow  # noqa: F401 - only whether it is there
    except ImportError:
        with_spiff = False
        print("SpiffWorkflow is not installed (pip install -e '.[bench]'): measuring casework only", file=sys.stderr)
    else:
        with_spiff = True
    quarter = max(2, args.cases // 4)
    configs = ((1, args.cases, "threads", "1_clients"), (args.clients, quarter, "threads", f"{args.clients}_clients"),
               (args.clients, quarter, "asyncio", f"{args.clients}_async_clients"))
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
            folder = Path(tmp)
            spiff = spiff_completions(folder, args.spiff) if with_spiff else None
            if spiff is not None:
                add("spiff_sqlite_snapshot_per_s", spiff)
            for clients, per, mode, name in configs:
                sub = folder / name
                sub.mkdir()
                raw = raw_sqlite_commits(sub, args.raw)
                rate, bpe, per_commit, cpu_us = casework_completions(
                    f"sqlite:///{sub / 'casework.db'}", clients, per, sub, mode
                )
                add(f"sqlite_cpu_us_per_completion_{name}", cpu_us)
                if per_commit is not None:
                    add(f"sqlite_commands_per_commit_{name}", per_commit)
                add("sqlite_raw_commits_per_s", raw)
                add(f"sqlite_casework_{name}_per_s", rate)
                add(f"sqlite_ratio_{name}_vs_raw", rate / raw)
                if spiff is not None:
                    add(f"sqlite_ratio_{name}_vs_spiff", rate / spiff)
                add("sqlite_bytes_per_event", bpe)
            if args.pg:
                for clients, per, mode, name in configs:
                    raw = raw_pg_commits(args.pg, args.raw)
                    url, drop = pg_schema_url(args.pg)
                    try:
                        rate, bpe, per_commit, cpu_us = casework_completions(
                            url, clients, per, folder / f"pg{name}", mode
                        )
                    finally:
                        drop()
                    if per_commit is not None:
                        add(f"pg_commands_per_commit_{name}", per_commit)
                    add(f"pg_cpu_us_per_completion_{name}", cpu_us)
                    add("pg_raw_commits_per_s", raw)
                    add(f"pg_casework_{name}_per_s", rate)
                    add(f"pg_ratio_{name}_vs_raw", rate / raw)
                    add("pg_bytes_per_event", bpe)
        print(f"repetition {rep + 1}/{args.repeat} done", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in samples.items()}
    goals = {"sqlite_ratio_1_clients_vs_raw >= 0.5": med["sqlite_ratio_1_clients_vs_raw"] >= 0.5}
    for name in (f"{args.clients}_clients", f"{args.clients}_async_clients"):
        goals[f"sqlite_ratio_{name}_vs_raw >= 2"] = med[f"sqlite_ratio_{name}_vs_raw"] >= 2
        if with_spiff:
            goals[f"sqlite_ratio_{name}_vs_spiff >= 5"] = med[f"sqlite_ratio_{name}_vs_spiff"] >= 5
    return {"repetitions": args.repeat, "medians": med, "goals": goals, "samples": samples}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="casework bench store", description=__doc__)
    p.add_argument("--pg", default=os.environ.get("CASEWORK_BENCH_POSTGRES_URL"),
                   help="also measure PostgreSQL at this URL (a scratch schema is created and dropped)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--cases", type=int, default=200, help="cases completed by the single client (4 tasks each)")
    p.add_argument("--raw", type=int, default=2000, help="raw single-row commits per sample")
    p.add_argument("--spiff", type=int, default=120, help="SpiffWorkflow instances per sample")
    p.add_argument("--quick", action="store_true", help="a short run: 2 repetitions of smaller samples")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.repeat, args.cases, args.raw, args.spiff = 2, 20, 300, 20
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result["medians"].items():
            print(f"{key:46s} {value:12.2f}")
        for goal, met in result["goals"].items():
            print(f"goal {goal:46s} {'met' if met else 'NOT met'}")
    return result


if __name__ == "__main__":
    main()
