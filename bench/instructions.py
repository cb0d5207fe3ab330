"""Benchmark: CPU instructions per case start and per task completion through the service and store (SQLite).

Not a test. Run: python bench/instructions.py [--cases 10 60] [--json]. Needs valgrind (Debian: apt-get install
valgrind). Wall-clock rates on a small shared machine drift by 2x between runs; instruction counts do not, so this is
the figure to compare a change against (same machine, before and after). Each count is the difference between two
runs that differ only in the number of claim cases, so start-up, imports and the first checkpoint cancel out:

    per start      = (starts-only run with B cases - starts-only run with A cases) / (B - A)
    per completion = (full run B - full run A - (starts-only B - starts-only A)) / ((B - A) * 4 tasks)

The checkpoint timer is off (its firing would depend on how slow valgrind is); checkpoints every 1,000 events stay.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")


def _shared() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from store import _shared as shared  # bench/store.py: ../shared or $CASEWORK_SHARED

    return shared()


def inner(cases: int, starts_only: bool) -> None:
    """The measured program: one warm-up case (imports, caches, the audit key, a first checkpoint), then `cases`."""
    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Store.open(f"sqlite:///{folder / 'cw.db'}", audit_key=folder / "audit.key",
                        blob_dir=folder / "blobs") as store:
            svc = CaseService(store, checkpoint_seconds=1e9)
            svc.deploy((_shared() / "claim.cmmn").read_text(encoding="utf-8"))
            # Case ids as random as uuid4's (they shape the B-trees) but the same in every run, so that two runs
            # of the same code count the same instructions.
            ids = [uuid.UUID(int=random.Random(n).getrandbits(128)).hex for n in range(cases + 1)]
            warm = svc.start_case("claim", {"amount": 500}, case_id=ids.pop()).case_id
            for name in TASKS:
                svc.execute(warm, commands.CompleteItem(item=name, actor="bench"))
            svc.checkpointer.flush()
            ids = [svc.start_case("claim", {"amount": 500}, case_id=case_id).case_id for case_id in ids]
            for case_id in [] if starts_only else ids:
                for name in TASKS:
                    svc.execute(case_id, commands.CompleteItem(item=name, actor="bench"))


def _count(cases: int, starts_only: bool) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           "--inner", str(cases)] + (["--starts-only"] if starts_only else [])
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # set and dict orders, and so their costs, the same every run
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
    match = re.search(r"refs:\s*([\d,]+)", out)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(match.group(1).replace(",", ""))


def measure(a: int, b: int) -> dict[str, float]:
    full_a, full_b = _count(a, False), _count(b, False)
    start_a, start_b = _count(a, True), _count(b, True)
    per_start = (start_b - start_a) / (b - a)
    per_completion = (full_b - full_a - (start_b - start_a)) / ((b - a) * len(TASKS))
    return {"instructions_per_start": per_start, "instructions_per_completion": per_completion}


def main(argv: list[str] | None = None) -> dict[str, float] | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, nargs=2, default=(10, 60), metavar=("A", "B"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--starts-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner is not None:
        inner(args.inner, args.starts_only)
        return None
    if shutil.which("valgrind") is None:
        parser.exit(2, "bench/instructions.py needs valgrind (Debian: apt-get install valgrind)\n")
    a, b = args.cases
    if not 0 <= a < b:
        parser.error("--cases A B needs 0 <= A < B")
    result = measure(a, b)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"instructions per case start:      {result['instructions_per_start']:>12,.0f}")
        print(f"instructions per task completion: {result['instructions_per_completion']:>12,.0f}")
    return result


if __name__ == "__main__":
    main()
