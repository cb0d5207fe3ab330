"""Benchmark: the cost of one command in a case that grows large.

Not a test. Run: ``casework bench large_case [--json] [--quick]`` or ``python bench/large_case.py [--json] [--quick]``.

One case (a model of one open task) gains N ad hoc tasks by AddItem, one command each, then N SetVariables (each a
new variable) and N/4 task completions by name. Reported: the median milliseconds of one command over the 20
commands before the case reaches each size (100 / 500 / 1000 / 2000; --quick stops at 500), for the engine alone
(``execute`` on a state in memory) and through ``CaseService.execute`` on SQLite in a temporary folder (/dev/shm
when there is one). A cost per command that stays flat as the case grows is the goal; one that grows with the case
makes the whole case quadratic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
SIZES = (100, 500, 1000, 2000)
WINDOW = 20
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:bench">
  <case id="large" name="Large"><casePlanModel id="plan" name="Large">
    <planItem id="piOpen" definitionRef="open"/><humanTask id="open" name="Keep open"/>
  </casePlanModel></case></definitions>"""


def _medians(times: list[float], sizes: tuple[int, ...]) -> dict[str, float]:
    return {str(s): round(statistics.median(times[max(0, s - WINDOW):s]) * 1000, 3) for s in sizes if s <= len(times)}


def grow(run: Callable[[Any], object], n: int) -> dict[str, dict[str, float]]:
    from casework.engine import commands as c

    phases = {
        "add_task": [c.AddItem(kind="humanTask", name=f"task {i}", actor="bench") for i in range(n)],
        "set_variable": [c.SetVariables(variables={f"v{i}": i}, actor="bench") for i in range(n)],
        "complete_task": [c.CompleteItem(item=f"task {i}", actor="bench") for i in range(n // 4)],
    }
    out = {}
    for label, cmds in phases.items():
        times = []
        for cmd in cmds:
            start = time.perf_counter()
            run(cmd)
            times.append(time.perf_counter() - start)
        sizes = tuple(s for s in SIZES if s <= len(cmds)) or (len(cmds),)
        out[label] = _medians(times, sizes)
    return out


def engine_case(n: int) -> dict[str, dict[str, float]]:
    from casework.engine import CaseState, commands, execute
    from casework.model import load_definition

    definition = load_definition(MODEL)
    state = CaseState.create("large", definition)
    execute(definition, state, commands.StartCase(actor="bench"), NOW)
    return grow(lambda cmd: execute(definition, state, cmd, NOW), n)


def service_case(n: int) -> dict[str, dict[str, float]]:
    from casework.service import CaseService
    from casework.store import Store

    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=parent) as folder:
        store = Store.open(f"sqlite:///{folder}/large.db", audit_key=os.path.join(folder, "audit.key"),
                           blob_dir=os.path.join(folder, "blobs"))
        try:
            svc = CaseService(store)
            svc.deploy(MODEL)
            case_id = svc.start_case("large", actor="bench").case_id
            result = grow(lambda cmd: svc.execute(case_id, cmd, NOW), n)
            svc.close()
        finally:
            store.close()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="grow to 500 tasks instead of 2000")
    parser.add_argument("--size", type=int, default=None, help="tasks to add (default 2000)")
    args = parser.parse_args(argv)
    n = args.size or (500 if args.quick else 2000)
    results: dict[str, Any] = {"sizes": [s for s in SIZES if s <= n], "unit": "ms per command (median)"}
    for where, fn in (("engine", engine_case), ("service_sqlite", service_case)):
        print(f"{where}: growing one case to {n} added tasks...", file=sys.stderr, flush=True)
        results[where] = fn(n)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for where in ("engine", "service_sqlite"):
            for label, row in results[where].items():
                cells = "  ".join(f"{size:>5}: {ms:8.3f}" for size, ms in row.items())
                print(f"{where:15} {label:14} ms/command at size  {cells}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
