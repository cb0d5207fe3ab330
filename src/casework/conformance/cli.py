"""`casework conformance PATH...`: one line per scenario, then the totals."""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Annotated

import typer


def conformance(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or folders of them")],
    expect_fail: Annotated[
        list[str] | None,
        typer.Option("--expect-fail", help="glob of scenario names that must fail (strict: one that passes fails)"),
    ] = None,
) -> None:
    """Run conformance scenarios; print PASS/FAIL per scenario and `conformance: N passed, M failed`."""
    from casework.conformance.runner import find_scenarios, run_scenario  # the engine: not for every command's start

    missing = [path for path in paths if not path.exists()]
    if missing:  # a mistyped path is bad input, not a failed scenario
        typer.echo(f"error: no such file or folder: {', '.join(map(str, missing))}", err=True)
        raise typer.Exit(2)
    scenarios = find_scenarios(paths)
    if not scenarios:
        # The usual slip is the corpus's folder instead of its scenarios/ (../shared/cmmn): say where it looked.
        where = ", ".join(str(path) for path in paths)
        typer.echo(f"error: no scenario files (*.json) in {where}; a folder's subfolders are not searched "
                   "(the shared corpus's are in cmmn/scenarios)", err=True)
        raise typer.Exit(2)
    passed = failed = 0
    started = time.perf_counter()
    for path in scenarios:
        outcome = run_scenario(path)
        expected_failure = any(fnmatch.fnmatch(outcome.name, pattern) for pattern in expect_fail or ())
        if expected_failure:
            if outcome.passed:
                failed += 1
                typer.echo(f"FAIL {outcome.name}: passed but was expected to fail (remove it from --expect-fail)")
            else:
                passed += 1
                typer.echo(f"XFAIL {outcome.name}: {outcome.reason}")
            continue
        if outcome.passed:
            passed += 1
            typer.echo(f"PASS {outcome.name}")
        else:
            failed += 1
            typer.echo(f"FAIL {outcome.name}: {outcome.reason}")
    typer.echo(f"({time.perf_counter() - started:.2f} s)", err=True)
    typer.echo(f"conformance: {passed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("conformance")(conformance)
