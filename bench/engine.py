"""Benchmark: the casework engine beside SpiffWorkflow, in memory, in the same run.

Not a test. Run: ``casework bench engine [--json] [--quick]`` or ``python bench/engine.py [--json] [--quick]``.

1. Throughput: N insurance claims (../shared/bench/claim.cmmn for casework, claim.bpmn for SpiffWorkflow; amounts
   alternate 500 / 5000, so 4 / 5 human tasks a case) are started and driven to their end, every case kept in memory.
   Reported as task completions per second; goal: casework >= 10x SpiffWorkflow.
2. Scaling: the time of ONE task completion in a case with K = 10 / 100 / 1000 plan items, in two shapes:
   "sequential" (a chain: each task waits for the previous one's completion) and "parallel" (all K tasks active at
   once). Median microseconds per completion over a window of completions in the middle of the case; goal: casework
   K=1000 / K=10 <= 2 for both shapes. SpiffWorkflow runs generated BPMN of the same shapes for contrast.
3. Depth: a sequential case of 1000 tasks is driven to its end by both engines (SpiffWorkflow's task lookup stops at
   depth 1000 by default).

Every figure is a median over several repetitions (the machine is shared and noisy); the peer is re-measured in the
same run, so compare ratios rather than absolute figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOW = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)
AMOUNTS = (500, 5000)
EXPECTED_TASKS = {500: 4, 5000: 5}
SIZES = (10, 100, 1000)
SHAPES = ("sequential", "parallel")
THROUGHPUT_GOAL = 10.0
SCALING_GOAL = 2.0
CMMN_NS = "http://www.omg.org/spec/CMMN/20151109/MODEL"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_data_dir() -> Path:
    from casework.paths import shared_dir

    root = shared_dir()
    if root is None or not (root / "bench").is_dir():
        raise SystemExit("bench/engine.py needs the shared corpus (../shared/bench or $CASEWORK_SHARED/bench)")
    return root / "bench"


def amount_for(n: int) -> int:
    return AMOUNTS[n % 2]


# -- throughput: the claim model -----------------------------------------------------------------------------------
@dataclass
class ClaimRun:
    engine: str
    seconds: float
    completions: int
    tasks_per_case: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.completions / self.seconds

    def check(self) -> None:
        """Every case ended completed, with 4 human tasks for amount 500 and 5 for 5000."""
        bad_status = [n for n, s in enumerate(self.statuses) if s != "completed"]
        assert not bad_status, f"{self.engine}: cases not completed: {bad_status[:10]}"
        bad_count = [(n, c) for n, c in enumerate(self.tasks_per_case) if c != EXPECTED_TASKS[amount_for(n)]]
        assert not bad_count, f"{self.engine}: wrong task counts (case, count): {bad_count[:10]}"
        assert self.completions == sum(EXPECTED_TASKS[amount_for(n)] for n in range(len(self.statuses)))


def load_claim_definition() -> Any:
    from casework.model import load_definition

    return load_definition((bench_data_dir() / "claim.cmmn").read_bytes())


def run_casework_claims(n: int = 1000, definition: Any = None) -> ClaimRun:
    """Start ``n`` claim cases and complete every active human task, round after round, until all have ended."""
    from casework.engine import CaseState, commands, execute

    if definition is None:
        definition = load_claim_definition()
    complete = commands.CompleteItem
    start_time = time.perf_counter()
    states = []
    for i in range(n):
        state = CaseState.create(f"claim-{i}", definition)
        execute(definition, state, commands.StartCase(variables={"amount": amount_for(i)}, actor="ann"), NOW)
        states.append(state)
    counts = [0] * n
    live = list(range(n))
    while live:
        still = []
        for i in live:
            state = states[i]
            active = [it.id for it in state.items.values() if it.kind == "humanTask" and it.state == "active"]
            for item_id in active:
                execute(definition, state, complete(item=item_id, actor="ann"), NOW)
            counts[i] += len(active)
            if active and not state.ended:
                still.append(i)
        live = still
    seconds = time.perf_counter() - start_time
    return ClaimRun("casework", seconds, sum(counts), counts, [s.status for s in states])


def load_claim_spec() -> Any:
    from SpiffWorkflow.bpmn.parser import BpmnParser

    parser = BpmnParser()
    parser.add_bpmn_file(str(bench_data_dir() / "claim.bpmn"))
    return parser.get_spec("claim")


def run_spiff_claims(n: int = 1000, spec: Any = None) -> ClaimRun:
    """The same work in SpiffWorkflow: each READY user task gets ``amount`` and runs, then the engine steps on."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    if spec is None:
        spec = load_claim_spec()
    ready = TaskState.READY
    start_time = time.perf_counter()
    workflows = []
    for _ in range(n):
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        workflows.append(wf)
    counts = [0] * n
    live = list(range(n))
    while live:
        still = []
        for i in live:
            wf = workflows[i]
            tasks = wf.get_tasks(state=ready, manual=True)
            for task in tasks:
                task.set_data(amount=amount_for(i))
                task.run()
                wf.do_engine_steps()
            counts[i] += len(tasks)
            if tasks and not wf.is_completed():
                still.append(i)
        live = still
    seconds = time.perf_counter() - start_time
    statuses = ["completed" if wf.is_completed() else "open" for wf in workflows]
    return ClaimRun("spiff", seconds, sum(counts), counts, statuses)


def throughput(n: int, reps: int, with_spiff: bool) -> dict[str, Any]:
    definition = load_claim_definition()
    spec = load_claim_spec() if with_spiff else None
    cw_rates: list[float] = []
    sp_rates: list[float] = []
    for rep in range(reps):
        # Alternate the engines so that drift on a shared machine hits both alike.
        gc.collect()
        cw = run_casework_claims(n, definition)
        cw.check()
        cw_rates.append(cw.rate)
        msg = f"claims rep {rep + 1}/{reps}: casework {cw.rate:,.0f}/s"
        if with_spiff:
            gc.collect()
            sp = run_spiff_claims(n, spec)
            sp.check()
            sp_rates.append(sp.rate)
            msg += f", SpiffWorkflow {sp.rate:,.0f}/s"
        log(msg)
    del definition, spec
    gc.collect()
    result: dict[str, Any] = {
        "cases": n,
        "completions_per_run": cw.completions,
        "casework": {"completions_per_s": statistics.median(cw_rates), "reps": cw_rates},
    }
    if with_spiff:
        ratio = statistics.median(cw_rates) / statistics.median(sp_rates)
        result["spiff"] = {"completions_per_s": statistics.median(sp_rates), "reps": sp_rates}
        result["ratio"] = ratio
        result["paired_ratios"] = [a / b for a, b in zip(cw_rates, sp_rates, strict=True)]
        result["goal"] = THROUGHPUT_GOAL
        result["met"] = ratio >= THROUGHPUT_GOAL
    return result


# -- scaling: generated models ---------------------------------------------------------------------------------------
def scaling_cmmn(shape: str, k: int) -> str:
    """K human tasks in one case plan: a chain of entry sentries ("sequential") or none at all ("parallel")."""
    plan_items = []
    sentries = []
    tasks = []
    for j in range(1, k + 1):
        if shape == "sequential" and j > 1:
            plan_items.append(
                f'<planItem id="pi{j}" definitionRef="t{j}"><entryCriterion id="ec{j}" sentryRef="s{j}"/></planItem>'
            )
            sentries.append(
                f'<sentry id="s{j}"><planItemOnPart id="op{j}" sourceRef="pi{j - 1}">'
                "<standardEvent>complete</standardEvent></planItemOnPart></sentry>"
            )
        else:
            plan_items.append(f'<planItem id="pi{j}" definitionRef="t{j}"/>')
        tasks.append(f'<humanTask id="t{j}" name="Task {j}"/>')
    body = "\n".join([*plan_items, *sentries, *tasks])
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{CMMN_NS}" targetNamespace="urn:casework:bench">'
        f'<case id="{shape}{k}" name="{shape} {k}">'
        f'<casePlanModel id="plan" name="{shape} {k}" autoComplete="true">\n{body}\n'
        "</casePlanModel></case></definitions>"
    )


def scaling_bpmn(shape: str, k: int) -> str:
    """K user tasks in one process: a chain ("sequential") or a parallel gateway fork and join ("parallel")."""
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>']
    flows: list[tuple[str, str]] = []
    for j in range(1, k + 1):
        nodes.append(f'<bpmn:userTask id="t{j}" name="Task {j}"/>')
    if shape == "sequential":
        chain = ["start", *(f"t{j}" for j in range(1, k + 1)), "end"]
        flows.extend(itertools.pairwise(chain))
    else:
        nodes += ['<bpmn:parallelGateway id="fork"/>', '<bpmn:parallelGateway id="join"/>']
        flows.append(("start", "fork"))
        for j in range(1, k + 1):
            flows += [("fork", f"t{j}"), (f"t{j}", "join")]
        flows.append(("join", "end"))
    flow_xml = [f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>' for n, (a, b) in enumerate(flows)]
    body = "\n".join([*nodes, *flow_xml])
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="defs" '
        f'targetNamespace="urn:casework:bench"><bpmn:process id="p_{shape}{k}" isExecutable="true">\n{body}\n'
        "</bpmn:process></bpmn:definitions>"
    )


def window(k: int, size: int) -> tuple[int, int]:
    """0-based task positions [lo, hi) timed in a case of k tasks: ``size`` in the middle, never the first or last."""
    lo = max(1, k // 2 - size // 2)
    hi = min(k - 1, lo + size)
    return lo, hi


@dataclass
class Scaling:
    per_rep_median_us: list[float] = field(default_factory=list)
    samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median_us(self) -> float:
        return statistics.median(self.per_rep_median_us)


def casework_scaling(shape: str, k: int, size: int, reps: int, *, drive_to_end: bool = False) -> Scaling:
    from casework.engine import CaseState, commands, execute
    from casework.model import load_definition

    definition = load_definition(scaling_cmmn(shape, k))
    lo, hi = window(k, size)
    cases_per_rep = max(1, -(-size // (hi - lo)))  # small K: several cases so that each rep has ``size`` samples
    result = Scaling()
    complete = commands.CompleteItem
    for rep in range(reps):
        times: list[int] = []
        for c in range(cases_per_rep):
            state = CaseState.create(f"{shape}-{k}-{rep}-{c}", definition)
            execute(definition, state, commands.StartCase(actor="ann"), NOW)
            by_def = {it.def_id: it.id for it in state.items.values() if it.kind == "humanTask"}
            ids = [by_def[f"pi{j}"] for j in range(1, k + 1)]
            assert len(ids) == k
            if shape == "sequential":
                for item_id in ids[:lo]:
                    execute(definition, state, complete(item=item_id, actor="ann"), NOW)
            open_before = sum(1 for it in state.items.values() if it.open and it.id != state.root)
            for item_id in ids[lo:hi]:
                t0 = time.perf_counter_ns()
                execute(definition, state, complete(item=item_id, actor="ann"), NOW)
                times.append(time.perf_counter_ns() - t0)
            assert all(state.items[i].state == "completed" for i in ids[lo:hi])
            result.extra.setdefault("open_items_at_window_start", open_before)
            if drive_to_end and rep == 0 and c == 0:
                rest = ids[hi:] if shape == "sequential" else ids[:lo] + ids[hi:]
                for item_id in rest:
                    execute(definition, state, complete(item=item_id, actor="ann"), NOW)
                done = sum(1 for i in ids if state.items[i].state == "completed")
                assert done == k and state.status == "completed", (done, state.status)
                result.extra["driven_to_end"] = {"completed_tasks": done, "status": state.status}
        result.per_rep_median_us.append(statistics.median(times) / 1000)
        result.samples += len(times)
    return result


def spiff_spec(xml: str, process_id: str) -> Any:
    from SpiffWorkflow.bpmn.parser import BpmnParser

    parser = BpmnParser()
    parser.add_bpmn_str(xml.encode())
    return parser.get_spec(process_id)


@contextlib.contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    """SpiffWorkflow parses and predicts a chain of tasks recursively: a chain of 1000 needs more than Python's 1000."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def spiff_scaling(shape: str, k: int, size: int, reps: int, *, drive_to_end: bool = False) -> Scaling:
    """SpiffWorkflow: one completion = ``task.run()`` + ``do_engine_steps()``; finding the task is not timed."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    spec = spiff_spec(scaling_bpmn(shape, k), f"p_{shape}{k}")
    lo, hi = window(k, size)
    cases_per_rep = max(1, -(-size // (hi - lo)))
    ready = TaskState.READY
    result = Scaling()

    def next_ready(wf: Any) -> Any:
        return wf.get_next_task(state=ready, manual=True)

    for rep in range(reps):
        times: list[int] = []
        for c in range(cases_per_rep):
            wf = BpmnWorkflow(spec)
            wf.do_engine_steps()
            completed = 0
            if shape == "sequential":
                for _ in range(lo):
                    task = next_ready(wf)
                    task.run()
                    wf.do_engine_steps()
                    completed += 1
                for pos in range(lo, hi):
                    task = next_ready(wf)
                    assert task.task_spec.name == f"t{pos + 1}", task.task_spec.name
                    t0 = time.perf_counter_ns()
                    task.run()
                    wf.do_engine_steps()
                    times.append(time.perf_counter_ns() - t0)
                    completed += 1
            else:
                tasks = {t.task_spec.name: t for t in wf.get_tasks(state=ready, manual=True)}
                assert len(tasks) == k, len(tasks)
                for pos in range(lo, hi):
                    task = tasks.pop(f"t{pos + 1}")
                    t0 = time.perf_counter_ns()
                    task.run()
                    wf.do_engine_steps()
                    times.append(time.perf_counter_ns() - t0)
                    completed += 1
            if drive_to_end and rep == 0 and c == 0:
                while not wf.is_completed():
                    task = next_ready(wf)
                    if task is None:
                        break
                    task.run()
                    wf.do_engine_steps()
                    completed += 1
                result.extra["driven_to_end"] = {
                    "completed_tasks": completed,
                    "status": "completed" if wf.is_completed() else "open",
                }
        result.per_rep_median_us.append(statistics.median(times) / 1000)
        result.samples += len(times)
    return result


def scaling(engine: str, size: int, reps: int, *, drive_to_end: bool) -> dict[str, Any]:
    run = casework_scaling if engine == "casework" else spiff_scaling
    out: dict[str, Any] = {}
    for shape in SHAPES:
        per_k: dict[str, Any] = {}
        for k in SIZES:
            gc.collect()
            with recursion_limit(20 * k + 1000):
                r = run(shape, k, size, reps, drive_to_end=drive_to_end and shape == "sequential" and k == max(SIZES))
            per_k[str(k)] = {"median_us": r.median_us, "reps_us": r.per_rep_median_us, "samples": r.samples, **r.extra}
            log(f"scaling {engine} {shape} K={k}: {r.median_us:,.1f} us per completion")
        ratio = per_k[str(max(SIZES))]["median_us"] / per_k[str(min(SIZES))]["median_us"]
        out[shape] = {"by_k": per_k, "ratio": ratio}
        if engine == "casework":
            out[shape]["goal"] = SCALING_GOAL
            out[shape]["met"] = ratio <= SCALING_GOAL
    return out


# -- the suite -------------------------------------------------------------------------------------------------------
def spiff_available() -> str | None:
    try:
        from SpiffWorkflow.version import __version__
    except ImportError:
        return None
    return str(__version__)


def run(args: argparse.Namespace) -> dict[str, Any]:
    spiff_version = spiff_available()
    with_spiff = spiff_version is not None and not args.no_spiff
    if spiff_version is None and not args.no_spiff:
        log("SpiffWorkflow is not installed (pip install -e '.[bench]'): measuring casework only")
    started = time.perf_counter()
    params = {"cases": args.cases, "reps": args.reps, "window": args.window, "scaling_reps": args.scaling_reps}
    result: dict[str, Any] = {
        "suite": "engine",
        "quick": args.quick,
        "params": params,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "spiffworkflow": spiff_version,
        },
        "throughput": throughput(args.cases, args.reps, with_spiff),
        "scaling": {"casework": scaling("casework", args.window, args.scaling_reps, drive_to_end=not args.quick)},
    }
    if with_spiff:
        result["scaling"]["spiff"] = scaling("spiff", args.window, args.spiff_scaling_reps, drive_to_end=not args.quick)
    goals = {"throughput": result["throughput"].get("met")}
    for shape in SHAPES:
        goals[f"scaling_{shape}"] = result["scaling"]["casework"][shape]["met"]
    result["goals"] = goals
    result["seconds"] = time.perf_counter() - started
    return result


def report(result: dict[str, Any]) -> str:
    t = result["throughput"]
    lines = [
        f"casework engine benchmark{' (quick)' if result['quick'] else ''} - python {result['environment']['python']}"
        f", SpiffWorkflow {result['environment']['spiffworkflow'] or 'not installed'}",
        "",
        f"Throughput: {t['cases']} claim cases in memory, {t['completions_per_run']} task completions a run, "
        f"median of {result['params']['reps']} runs",
        f"  casework        {t['casework']['completions_per_s']:>12,.0f} completions/s"
        f" = {1e6 / t['casework']['completions_per_s']:6.1f} us each"
        f"   (runs: {', '.join(f'{r:,.0f}' for r in t['casework']['reps'])})",
    ]
    if "spiff" in t:
        lines += [
            f"  SpiffWorkflow   {t['spiff']['completions_per_s']:>12,.0f} completions/s"
            f" = {1e6 / t['spiff']['completions_per_s']:6.1f} us each"
            f"   (runs: {', '.join(f'{r:,.0f}' for r in t['spiff']['reps'])})",
            f"  ratio casework / SpiffWorkflow: {t['ratio']:.1f}x  (paired runs: "
            f"{', '.join(f'{r:.1f}' for r in t['paired_ratios'])})  goal >= {THROUGHPUT_GOAL:.0f}x: "
            f"{'met' if t['met'] else 'MISSED'}",
        ]
    lines += ["", "Scaling: median us per task completion in a case of K plan items (window in the middle of the case)"]
    header = f"  {'engine':<15}{'shape':<12}" + "".join(f"{'K=' + str(k):>12}" for k in SIZES) + f"{'K1000/K10':>12}"
    lines.append(header)
    for engine, label in (("casework", "casework"), ("spiff", "SpiffWorkflow")):
        if engine not in result["scaling"]:
            continue
        for shape in SHAPES:
            s = result["scaling"][engine][shape]
            row = f"  {label:<15}{shape:<12}" + "".join(f"{s['by_k'][str(k)]['median_us']:>12,.1f}" for k in SIZES)
            row += f"{s['ratio']:>11.1f}x"
            if "met" in s:
                row += f"  goal <= {SCALING_GOAL:.0f}x: {'met' if s['met'] else 'MISSED'}"
            lines.append(row)
    lines += ["", f"Depth: a sequential case of {max(SIZES)} tasks driven to its end"]
    any_depth = False
    for engine, label in (("casework", "casework"), ("spiff", "SpiffWorkflow")):
        end = result["scaling"].get(engine, {}).get("sequential", {}).get("by_k", {}).get(str(max(SIZES)), {})
        if "driven_to_end" in end:
            any_depth = True
            d = end["driven_to_end"]
            lines.append(f"  {label:<15}{d['completed_tasks']} of {max(SIZES)} tasks completed, then {d['status']}")
    if not any_depth:
        lines.append("  skipped (--quick)")
    goals = ", ".join(f"{k}: {'met' if v else ('MISSED' if v is False else 'n/a')}" for k, v in result["goals"].items())
    lines += ["", f"Goals: {goals}", f"Total time: {result['seconds']:.0f} s"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="casework bench engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quick", action="store_true", help="a short run (about 20 s) with smaller sizes")
    p.add_argument("--cases", type=int, help="claim cases per throughput run (default 1000; quick 500)")
    p.add_argument("--reps", type=int, help="throughput runs per engine (default 7; quick 3)")
    p.add_argument("--window", type=int, help="completions timed per case in the scaling runs (default 50; quick 20)")
    p.add_argument("--scaling-reps", type=int, help="casework scaling repetitions (default 7; quick 3)")
    p.add_argument("--spiff-scaling-reps", type=int, help="SpiffWorkflow scaling repetitions (default 3; quick 1)")
    p.add_argument("--no-spiff", action="store_true", help="measure casework only")
    args = p.parse_args(argv)
    defaults = (
        {"cases": 500, "reps": 3, "window": 20, "scaling_reps": 3, "spiff_scaling_reps": 1}
        if args.quick
        else {"cases": 1000, "reps": 7, "window": 50, "scaling_reps": 7, "spiff_scaling_reps": 3}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return result


if __name__ == "__main__":
    main()
