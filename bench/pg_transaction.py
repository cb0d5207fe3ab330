"""Benchmark: what one PostgreSQL transaction of casework's costs, for comparing versions and pooling modes.

Not a test. Run: ``python bench/pg_transaction.py --pg postgresql://... [--runs 5] [--n 2000] [--baseline
OTHER/src] [--pooler session|transaction] [--json]``. Each run is a fresh process (``PYTHONPATH`` this tree's src, or
``--baseline``'s, by turns) that times, on a new schema of its own (dropped after; `--schema` names an existing one
instead, for a URL that cannot carry a search_path, such as PgBouncer's), microseconds per call of:

- ``hot read``: ``Store.case_head`` on the pooled driver connection (BEGIN, one SELECT, the pool's ROLLBACK);
- ``read``: ``Store.read`` with one SELECT through SQLAlchemy;
- ``command``: ``CaseService.execute`` of a SetVariables on one case (the engine, the group commit's write).

The medians of each run are printed, then the median over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "casework" / "demo" / "models" / "insurance_claim.cmmn"
KINDS = ("hot read", "read", "command")


def _per_call_us(call: Any, n: int, slices: int = 5) -> float:
    """The median over `slices` slices of `n` calls, in microseconds a call."""
    times = []
    for _ in range(slices):
        start = time.perf_counter()
        for _ in range(n // slices):
            call()
        times.append((time.perf_counter() - start) / (n // slices) * 1e6)
    return statistics.median(times)


def child(url: str, n: int) -> dict[str, float]:
    from sqlalchemy import text

    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store

    with tempfile.TemporaryDirectory() as folder, Store.open(url, audit_key=Path(folder) / "audit.key",
                                                            blob_dir=Path(folder) / "blobs") as store:
        svc = CaseService(store)
        svc.deploy(MODEL.read_text(encoding="utf-8"))
        case_id = svc.start_case("insuranceClaim", {"amount": 900}).case_id

        def read() -> None:
            with store.read() as conn:
                conn.execute(text("SELECT 1")).scalar_one()

        amount = iter(range(10**9))
        results = {
            "hot read": _per_call_us(lambda: store.case_head(case_id), n),
            "read": _per_call_us(read, n),
            "command": _per_call_us(lambda: svc.execute(case_id, commands.SetVariables(
                variables={"amount": next(amount)}, actor="bench")), n // 4),
        }
        svc.close()
    return results


def _schema_url(base: str) -> tuple[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    from store import pg_schema_url

    return pg_schema_url(base)


def run(pg: str, runs: int, n: int, baseline: str | None, pooler: str | None, schema: bool) -> dict[str, Any]:
    versions = {"before": baseline, "after": str(ROOT / "src")} if baseline else {"this": str(ROOT / "src")}
    samples: dict[str, dict[str, list[float]]] = {v: {k: [] for k in KINDS} for v in versions}
    for _ in range(runs):
        for version, src in versions.items():
            url, drop = (pg, lambda: None) if schema else _schema_url(pg)
            env = {**os.environ, "PYTHONPATH": src}
            if pooler:
                env["CASEWORK_PG_POOLER"] = pooler
            try:
                done = subprocess.run([sys.executable, __file__, "--child", "--pg", url, "--n", str(n)], env=env,
                                      capture_output=True, text=True, check=True)
            finally:
                drop()
            got = json.loads(done.stdout)
            print(version, {k: round(v, 1) for k, v in got.items()}, file=sys.stderr)
            for kind in KINDS:
                samples[version][kind].append(got[kind])
    return {version: {kind: statistics.median(values) for kind, values in kinds.items()}
            for version, kinds in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", required=True, help="the PostgreSQL server (or a pooler in front of it)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000, help="calls per read kind (a quarter as many commands)")
    parser.add_argument("--baseline", help="src folder of another casework to compare with, run by turns")
    parser.add_argument("--pooler", choices=("session", "transaction"), help="CASEWORK_PG_POOLER for the runs")
    parser.add_argument("--schema", action="store_true", help="use the URL's database as it is (no new schema)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.pg, args.n)))
        return {}
    result = run(args.pg, args.runs, args.n, args.baseline, args.pooler, args.schema)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for version, kinds in result.items():
            print(f"{version:>8}: " + ", ".join(f"{kind} {us:.1f} us" for kind, us in kinds.items()))
    return result


if __name__ == "__main__":
    main()
