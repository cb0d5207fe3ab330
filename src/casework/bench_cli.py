"""`casework bench [SUITE...] [--json] [--quick]`: runs the benchmark suites kept in the repository's bench/ folder.

The suites are scripts beside the source tree, not part of the package: each ``bench/<suite>.py`` exposes
``main(argv) -> dict``. They are found relative to an editable (source) install; a wheel install has no bench/.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

SUITES = ("engine", "store", "inbox")


class BenchUnavailable(Exception):
    """The bench/ folder or a suite in it cannot be found or loaded."""


def bench_dir() -> Path:
    import casework

    return Path(casework.__file__).resolve().parents[2] / "bench"


def load_suite(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` by path (bench/ is not a package on sys.path)."""
    folder = bench_dir()
    if not folder.is_dir():
        raise BenchUnavailable(
            f"no bench/ folder at {folder}: the benchmarks run from a source checkout (pip install -e '.[bench]')"
        )
    path = folder / f"{name}.py"
    if not path.is_file():
        raise BenchUnavailable(f"no benchmark suite {name!r} ({path} is missing)")
    spec = importlib.util.spec_from_file_location(f"casework_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise BenchUnavailable(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    if not callable(getattr(module, "main", None)):
        raise BenchUnavailable(f"{path} has no main(argv) function")
    return module


def available_suites() -> list[str]:
    folder = bench_dir()
    return [name for name in SUITES if (folder / f"{name}.py").is_file()]


def run_suite(module: ModuleType, argv: list[str]) -> dict[str, Any]:
    try:
        result = module.main(argv)
    except SystemExit as exc:
        # An argparse error (exit code 2): a suite that does not know --quick yet runs in full rather than not at all.
        if exc.code == 2 and "--quick" in argv:
            typer.echo(f"warning: {module.__name__} does not accept --quick; running it in full", err=True)
            result = module.main([a for a in argv if a != "--quick"])
        else:
            raise
    if isinstance(result, dict):
        return result
    return {"exit_code": result}


def bench_cmd(
    suites: Annotated[
        list[str] | None, typer.Argument(help=f"suites to run, any of: {', '.join(SUITES)} (default: all available)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print every suite's figures as one JSON object")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="a short run with smaller sizes")] = False,
) -> None:
    """Benchmark the engine (against SpiffWorkflow), the store and the inbox queries. Not part of the test suite."""
    wanted = list(suites or [])
    unknown = [s for s in wanted if s not in SUITES]
    if unknown:
        typer.echo(f"error: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", err=True)
        raise typer.Exit(2)
    try:
        names = wanted or available_suites()
        if not bench_dir().is_dir() or not names:
            raise BenchUnavailable(
                f"no benchmark suites found in {bench_dir()}: the benchmarks run from a source checkout"
            )
        modules = [load_suite(name) for name in names]
    except BenchUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    argv = ["--quick"] if quick else []
    results: dict[str, Any] = {}
    for name, module in zip(names, modules, strict=True):
        if as_json:
            # The suites' readable reports go to stderr; stdout carries one JSON document.
            with contextlib.redirect_stdout(sys.stderr):
                results[name] = run_suite(module, argv)
        else:
            typer.echo(f"== {name} ==")
            results[name] = run_suite(module, argv)
            typer.echo("")
    if as_json:
        typer.echo(json.dumps(results, indent=2))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
