"""Next-best-action training on logs larger or wider than the six shared ones, made from bpic12 at run time.

Usage: python bench/insight_scaling.py [--log NAME]... [--keep DIR]   (--log repeats: --log bpic12x4 --log bpic12_many)
Not a test. The other real logs the model will meet can be far larger (BPIC 2017, 2019: 1.2M and 1.6M events) or
far wider (BPIC 2015: 300-400 activities, BPIC 2011: over 600) than the shared ones, so this writes four stand-ins
from ../shared/logs/bpic12.csv.gz into a temporary folder (the shared data is read, never copied into the repo):

- bpic12x4:    four copies of bpic12, one after the other in time (1.05M events, 36 activities)
- bpic12_many: every activity split by a hash of its performer into 10 (262k events, 299 activities)
- bpic15_like: 1,200 cases of 30 events or more, split into 12 (56k events, 293 activities)
- bpic11_like: 1,487 cases of 45 events or more, split into 24 (91k events, 535 activities)

and runs `casework suggest evaluate LOG --variant noeoc` on each in a fresh process, printing top-1 and top-3 on the
test part, training seconds, median prediction milliseconds and the process's peak memory.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from casework.paths import shared_dir

Row = list[str]
SPAN = timedelta(days=170)  # a little more than bpic12's period, so that the copies do not overlap


def _cases(rows: list[Row]) -> list[list[Row]]:
    by_case: dict[str, list[Row]] = {}
    for row in rows:
        by_case.setdefault(row[0], []).append(row)
    return list(by_case.values())


def _split(rows: list[Row], ways: int) -> list[Row]:
    """Each activity split into `ways` by a stable hash of the event's performer."""
    return [[r[0], f"{r[1]}#{zlib.crc32(r[3].encode()) % ways if len(r) > 3 and r[3] else 0}", *r[2:]] for r in rows]


def _copies(rows: list[Row], times: int) -> list[Row]:
    out = []
    for k in range(times):
        for r in rows:
            moved = datetime.fromisoformat(r[2]) + k * SPAN
            out.append([f"{r[0]}-{k}", r[1], moved.isoformat(), *r[3:]])
    return out


def _long(rows: list[Row], min_events: int, cases: int) -> list[Row]:
    chosen = [c for c in _cases(rows) if len(c) >= min_events][:cases]
    return [r for c in chosen for r in c]


LOGS: dict[str, Callable[[list[Row]], list[Row]]] = {
    "bpic12x4": lambda rows: _copies(rows, 4),
    "bpic12_many": lambda rows: _split(rows, 10),
    "bpic15_like": lambda rows: _split(_long(rows, 30, 1200), 12),
    "bpic11_like": lambda rows: _split(_long(rows, 45, 1487), 24),
}

CHILD = """
import json, resource, sys
from casework.insight.evaluate import evaluate_log
r = evaluate_log(sys.argv[1], variants=("noeoc",), baselines=False, remaining=False)
print(json.dumps({"top1": r.model["noeoc"].top1, "top3": r.model["noeoc"].top3, "train_s": r.train_s,
                  "predict_ms_p50": r.predict_ms_p50, "cases": r.cases,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", action="append", choices=sorted(LOGS), help="only these (repeatable)")
    parser.add_argument("--keep", type=Path, help="write the logs here and keep them")
    args = parser.parse_args(argv)
    shared = shared_dir()
    if shared is None:
        parser.error("no shared data: set CASEWORK_SHARED to the folder with logs/bpic12.csv.gz")
    with gzip.open(shared / "logs" / "bpic12.csv.gz", "rt", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.log or list(LOGS):
            path = folder / f"{name}.csv.gz"
            with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(LOGS[name](rows))
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
            results[name] = result = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{name:12s} top1 {result['top1']:.4f}  top3 {result['top3']:.4f}  train {result['train_s']:.1f} s  "
                f"predict p50 {result['predict_ms_p50']:.3f} ms  peak {result['peak_mb']:.0f} MB",
                flush=True,
            )
    return results


if __name__ == "__main__":
    main()
