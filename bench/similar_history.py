"""`casework suggest similar` on a store whose history came from an import: bpic12 (13,087 cases) imported, a plan
whose items bear twelve of its activity names, and an open case that took the first five of them.

Usage: python bench/similar_history.py [--log PATH] [--limit 5000] [--runs 3] [--db URL]
Not a test. Builds the store in a temporary folder (SQLite) unless --db names one (a PostgreSQL database it may fill),
imports the log, then times the command `--runs` times with /usr/bin/time where there is one, and prints each run's
seconds and peak memory and their medians. The log defaults to $CASEWORK_SHARED/logs/bpic12.csv.gz.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ["A_SUBMITTED+COMPLETE", "A_PARTLYSUBMITTED+COMPLETE", "A_PREACCEPTED+COMPLETE",
         "W_Completeren aanvraag+COMPLETE", "A_ACCEPTED+COMPLETE", "O_SELECTED+COMPLETE", "O_CREATED+COMPLETE",
         "O_SENT+COMPLETE", "A_FINALIZED+COMPLETE", "W_Nabellen offertes+COMPLETE", "A_DECLINED+COMPLETE",
         "A_CANCELLED+COMPLETE"]


def plan() -> str:
    items = "\n".join(f'      <planItem id="pi{i}" name="{s}" definitionRef="t{i}"/>' for i, s in enumerate(STEPS))
    tasks = "\n".join(f'      <humanTask id="t{i}" name="{s}"/>' for i, s in enumerate(STEPS))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:bench">
  <case id="loan" name="Loan">
    <casePlanModel id="loanPlan" name="Loan">
{items}
{tasks}
    </casePlanModel>
  </case>
</definitions>
"""


def build(db: str, log: Path, key: Path) -> str:
    from casework.engine import commands
    from casework.export.importlog import import_log
    from casework.service import CaseService
    from casework.store import Store

    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    with Store.open(db, audit_key=key) as store, CaseService(store) as service:
        import_log(store, log, "loan")
        service.deploy(plan())
        case_id = service.start_case("loan", {"amount": 5000}, actor="ann", now=start).case_id
        for i, step in enumerate(STEPS[:5]):
            service.execute(case_id, commands.CompleteItem(item=step, actor="112"), start + dt.timedelta(hours=i))
    return case_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("CASEWORK_SHARED", "/work/shared"))
    parser.add_argument("--log", type=Path, default=shared / "logs" / "bpic12.csv.gz")
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="similar-history-"))
    env = {**os.environ, "CASEWORK_AUDIT_KEY": str(folder / "audit.key"), "COLUMNS": "200"}
    os.environ["CASEWORK_AUDIT_KEY"] = env["CASEWORK_AUDIT_KEY"]
    db = args.db or f"sqlite:///{folder / 'cases.db'}"
    try:
        began = time.perf_counter()
        case_id = build(db, args.log, folder / "audit.key")
        print(f"store built in {time.perf_counter() - began:.1f} s")
        timer = ["/usr/bin/time", "-f", "%e %M"] if Path("/usr/bin/time").exists() else []
        seconds, peaks = [], []
        for _ in range(args.runs):
            began = time.perf_counter()
            done = subprocess.run([*timer, sys.executable, "-m", "casework", "suggest", "similar", case_id, "--db", db,
                                   "--limit", str(args.limit), "--json"], env=env, capture_output=True, text=True,
                                  check=True)
            took = time.perf_counter() - began
            if timer:
                wall, peak = done.stderr.strip().splitlines()[-1].split()
                seconds.append(float(wall))
                peaks.append(int(peak) / 1024)
            else:
                seconds.append(took)
            print(f"run: {seconds[-1]:.2f} s" + (f", peak {peaks[-1]:.0f} MB" if peaks else ""))
        print(f"median of {args.runs}: {statistics.median(seconds):.2f} s"
              + (f", peak {statistics.median(peaks):.0f} MB" if peaks else ""))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
