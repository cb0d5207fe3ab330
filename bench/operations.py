"""Benchmark: the operator commands on a large SQLite store (audit verify, export, import-log, time travel).

Not a test. Run: ``python bench/operations.py --db /tmp/big.db --build`` (once: fills the store), then
``python bench/operations.py --db /tmp/big.db [--runs 3] [--json] [--baseline OTHER/src]``. Each command runs in a
fresh process under ``/usr/bin/time -v``; reported are the median wall seconds, CPU seconds (user + system: steadier
than wall time on a shared machine) and peak resident memory (MB) over the runs. ``--baseline`` runs another
casework source tree's commands by turns with this one's (before/after on the same store and load).

The store: `import-log` of ../shared/logs/bpic12.csv.gz ``--imports`` times under different names (13,087 cases
and 275,287 events each), then ``--engine-cases`` cases started and worked through the service (about 20 events
each) and, last, one case of ``--large-case`` commands, on which time travel is measured. Memory that grows with
the store (rather than with one case, or one batch) is the defect this looks for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOG = Path(os.environ.get("CASEWORK_SHARED", "/work/shared")) / "logs" / "bpic12.csv.gz"
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:bench">
  <case id="ops" name="Operations"><casePlanModel id="plan" name="Operations">
    <planItem id="piReview" definitionRef="review"/><humanTask id="review" name="Review"/>
    <planItem id="piDecide" definitionRef="decide"><entryCriterion sentryRef="afterReview"/></planItem>
    <sentry id="afterReview"><planItemOnPart sourceRef="piReview"><standardEvent>complete</standardEvent>
    </planItemOnPart></sentry>
    <humanTask id="decide" name="Decide"/>
  </casePlanModel></case></definitions>"""


def casework(*args: str) -> list[str]:
    return [sys.executable, "-m", "casework", *args]


def build(db: str, imports: int, engine_cases: int, large_case: int) -> str:
    """Fill the store; returns the id of the large engine case (the last one written)."""
    for i in range(1, imports + 1):
        subprocess.run(casework("import-log", str(LOG), "--definition", "bpic12", "--name", f"bpic12r{i}",
                                "--db", f"sqlite:///{db}"), check=True)
    from casework.engine import commands as c
    from casework.service import CaseService
    from casework.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        svc = CaseService(store, clock=lambda: NOW)
        svc.deploy(MODEL)
        for i in range(engine_cases):
            case_id = svc.start_case("ops", actor="bench").case_id
            svc.execute(case_id, c.SetVariables(variables={"amount": i}, actor="bench"), NOW)
            svc.execute(case_id, c.CompleteItem(item="Review", actor="ann"), NOW)
            svc.execute(case_id, c.CompleteItem(item="Decide", actor="bob"), NOW)
        large = svc.start_case("ops", actor="bench").case_id
        for i in range(large_case):
            svc.execute(large, c.SetVariables(variables={f"v{i % 50}": i}, actor="bench"), NOW)
        svc.close()
    return large


def measure(cmd: list[str], src: str | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one run of `cmd`; `src`: the casework source tree to run."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", done.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and user and system and rss, done.stderr
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, float(user.group(1)) + float(system.group(1)), int(rss.group(1)) / 1024


def last_engine_case(db: str) -> str:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT case_id FROM events ORDER BY id DESC LIMIT 1").fetchone()[0])


def run(db: str, runs: int, out_dir: str, baseline: str | None = None) -> dict[str, Any]:
    """Each command `runs` times; with `baseline` (another casework's src folder), that one's run and this one's
    alternate, so that both see the same load on the machine."""
    url = f"sqlite:///{db}"
    case_id = last_engine_case(db)
    commands = {
        "audit verify": casework("audit", "verify", "--db", url),
        "export xes": casework("export", "--format", "xes", "--db", url, "-o", f"{out_dir}/log.xes"),
        "export ocel": casework("export", "--format", "ocel", "--db", url, "-o", f"{out_dir}/log.ocel.json"),
        "export csv": casework("export", "--format", "csv", "--db", url, "-o", f"{out_dir}/log.csv"),
        "state-at (late case, --seq 10)": casework("audit", "state-at", case_id, "--db", url, "--seq", "10"),
        "import-log again (all present)": casework("import-log", str(LOG), "--definition", "bpic12", "--name",
                                                    "bpic12r1", "--db", url),
    }
    versions = {"before": baseline, "after": None} if baseline else {"this": None}
    results: dict[str, Any] = {}
    for label, cmd in commands.items():
        samples: dict[str, list[tuple[float, float, float]]] = {v: [] for v in versions}
        for _ in range(runs):
            for version, src in versions.items():
                samples[version].append(measure(cmd, src))
        results[label] = medians(label, samples)
    return results


def medians(label: str, samples: dict[str, list[tuple[float, float, float]]], width: int = 34) -> dict[str, Any]:
    """Each version's median wall and CPU seconds and peak RSS over its `measure` samples, printed as they come."""
    rows: dict[str, Any] = {}
    for version, taken in samples.items():
        row = rows[version] = {"wall_s": round(statistics.median(s[0] for s in taken), 2),
                               "cpu_s": round(statistics.median(s[1] for s in taken), 2),
                               "rss_mb": round(statistics.median(s[2] for s in taken), 1)}
        print(f"{label:{width}} {version:6} {row['wall_s']:8.2f} s wall {row['cpu_s']:8.2f} s CPU "
              f"{row['rss_mb']:8.1f} MB", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (under /tmp: it is large)")
    parser.add_argument("--build", action="store_true", help="fill the store first")
    parser.add_argument("--imports", type=int, default=7)
    parser.add_argument("--engine-cases", type=int, default=2000)
    parser.add_argument("--large-case", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="src folder of another casework to compare with, run by turns")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.build:
        build(args.db, args.imports, args.engine_cases, args.large_case)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.db))) as out_dir:
        results = run(args.db, args.runs, out_dir, args.baseline)
    if args.json:
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
