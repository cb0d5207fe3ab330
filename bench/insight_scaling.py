"""Next-best-action training on logs larger or wider than the six shared ones, made from bpic12 at run time.

Usage: python bench/insight_scaling.py [--log NAME]... [--keep DIR]   (--log repeats: --log bpic12x4 --log bpic12_many)
Not a test. The other real logs the model will meet can be far larger (BPIC 2017, 2019: 1.2M and 1.6M events) or
far wider (BPIC 2015: 300-400 activities, BPIC 2011: over 600) than the shared ones, so this writes four stand-ins
from ../shared/logs/bpic12.csv.gz into a temporary folder (the shared data is read, never copied into the repo):

- bpic12x4:    four copies of bpic12, one after the other in time (1.05M events, 36 activities)
- bpic12_many: every activity split by a hash of its performer into 10 (262k events, 299 activities)
- bpic15_like: 1,200 cases of 30 events or more, split into 12 (56k events, 293 activities)
- bpic11_like: 1,487 cases of 45 events or more, split into 24 (91k events, 535 activities)

and four made without it, shaped like public logs (a second-order chain over the activities, popular ones more
often, a quarter of them changing their successors half-way through time, performers per activity; no real data):

- rtf_like:    Road Traffic Fines: 150,370 cases, about 570k events, 11 activities, dates only over 13 years
- bpic17_like: BPIC 2017: 31,509 cases, about 1.14M events, 26 activities, 36 events a case, 149 performers
- bpic19_like: BPIC 2019: 251,734 cases, about 1.37M events, 42 activities, 628 performers
- bpic11_long: BPIC 2011: 1,143 cases, about 140k events, 600 activities, cases up to 1,814 events, dates only

and runs `casework suggest evaluate LOG --variant noeoc` on each in a fresh process, printing top-1 and top-3 on the
test part (beside the last-activity model's), training seconds, the whole run's CPU seconds (on a shared machine the
wall time says more about the neighbours than about the model), median prediction milliseconds and peak memory.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

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


def _shaped(
    cases: int,
    activities: int,
    length: tuple[float, float] | float,
    performers: int,
    years: float,
    dates_only: bool = False,
    longest: int = 400,
    seed: int = 1,
) -> list[Row]:
    """A log of `cases` cases over `activities` activities: each step follows from the last activity and (a hash of)
    the one before, with 4 likely successors drawn by a Zipf popularity; a quarter of the activities change their
    successors half-way through time. `length`: a case's lognormal (mu, sigma) length, or the mean length of one that
    ends by chance after each step."""
    rng = np.random.default_rng(seed)
    popular = 1.0 / np.arange(1, activities + 1) ** 0.9
    popular /= popular.sum()

    def successors() -> tuple[np.ndarray, np.ndarray]:
        nxt = rng.choice(activities, size=(activities, 2, 4), p=popular)
        return nxt, np.cumsum(rng.dirichlet(np.full(4, 0.6), size=(activities, 2)), axis=2)

    early = successors()
    changed = rng.random(activities) < 0.25
    late = successors()
    late[0][~changed], late[1][~changed] = early[0][~changed], early[1][~changed]
    ending = None if isinstance(length, tuple) else np.clip(rng.gamma(2.0, 1.0 / (2.0 * length), activities), 0, 0.9)
    gaps = rng.gamma(1.0, 86400.0, size=activities)
    first = datetime(2010, 1, 1, tzinfo=UTC).timestamp()
    starts = np.sort(rng.uniform(first, first + years * 365.25 * 86400, size=cases))
    opening = rng.choice(activities, size=cases, p=popular)
    rows: list[Row] = []
    for c in range(cases):
        nxt, cum = late if c > cases // 2 else early
        n = min(longest, max(1, int(rng.lognormal(*length)))) if isinstance(length, tuple) else longest
        step, before, t = int(opening[c]), 0, float(starts[c])
        for _ in range(n):
            moment = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
            stamp = moment.date().isoformat() if dates_only else moment.isoformat(timespec="seconds")
            rows.append([f"c{c}", f"Activity {step}", stamp, f"user{(step * 7 + int(rng.integers(4))) % performers}"])
            if ending is not None and rng.random() < ending[step]:
                break
            h = (before * 31 + step) % 2
            before, step = step, int(nxt[step, h][np.searchsorted(cum[step, h], rng.random() * cum[step, h][-1])])
            t += float(rng.exponential(gaps[step])) + 1.0
    return rows


LOGS: dict[str, Callable[[list[Row]], list[Row]]] = {
    "bpic12x4": lambda rows: _copies(rows, 4),
    "bpic12_many": lambda rows: _split(rows, 10),
    "bpic15_like": lambda rows: _split(_long(rows, 30, 1200), 12),
    "bpic11_like": lambda rows: _split(_long(rows, 45, 1487), 24),
    "rtf_like": lambda _rows: _shaped(150_370, 11, 3.7, 150, 13, dates_only=True, longest=20, seed=2),
    "bpic17_like": lambda _rows: _shaped(31_509, 26, (3.5, 0.45), 149, 1.1, longest=180, seed=3),
    "bpic19_like": lambda _rows: _shaped(251_734, 42, (1.6, 0.6), 628, 1.2, longest=990, seed=6),
    "bpic11_long": lambda _rows: _shaped(1_143, 600, (4.3, 1.1), 43, 3.2, dates_only=True, longest=1814, seed=4),
}

CHILD = """
import json, resource, sys
from casework.insight.evaluate import evaluate_log
r = evaluate_log(sys.argv[1], variants=("noeoc",), baselines=True, remaining=False)
used = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"top1": r.model["noeoc"].top1, "top3": r.model["noeoc"].top3, "train_s": r.train_s,
                  "last_activity_top1": r.last_activity["noeoc"].top1, "cpu_s": used.ru_utime + used.ru_stime,
                  "predict_ms_p50": r.predict_ms_p50, "cases": r.cases, "peak_mb": used.ru_maxrss / 1024}))
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
                f"{name:12s} top1 {result['top1']:.4f}  top3 {result['top3']:.4f}  "
                f"(last activity {result['last_activity_top1']:.4f})  train {result['train_s']:.1f} s  "
                f"run cpu {result['cpu_s']:.0f} s  predict p50 {result['predict_ms_p50']:.3f} ms  "
                f"peak {result['peak_mb']:.0f} MB",
                flush=True,
            )
    return results


if __name__ == "__main__":
    main()
