"""`casework bench [SUITE...] [--json] [--quick]`: runs the benchmark suites kept in the repository's bench/ folder.

The suites are scripts beside the source tree, not part of the package: each ``bench/<suite>.py`` exposes
``main(argv) -> dict``. They are found in the checkout an editable install runs from, wherever the command is
run; with an installed package (a wheel has no bench/), in the casework checkout the command is run in (the
current folder or one above it), against the installed casework.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

SUITES = ("engine", "store", "inbox", "large_case")


class BenchUnavailable(Exception):
    """The bench/ folder or a suite in it cannot be found or loaded."""


NOT_FOUND = ("the benchmarks are scripts in the bench/ folder of a casework source checkout, not part of the "
             "installed package: run `casework bench` inside a checkout (git clone, then pip install -e '.[bench]'),"
             " or `python bench/engine.py` there")


def _checkout(folder: Path) -> bool:
    """Whether `folder` is a casework source checkout: its pyproject.toml names the project and bench/ is there. A
    folder that merely has a bench/ (the one above an installed package's site-packages, say) is not: its scripts
    would be run as casework's."""
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == "casework" and (folder / "bench").is_dir()


def bench_dir() -> Path | None:
    """The bench/ folder of the checkout an editable install runs from (src/casework is two levels below it), or
    else of the checkout the current folder is in; None outside any."""
    import casework

    candidates = [Path(casework.__file__).resolve().parents[2]]
    here = Path.cwd().resolve()
    candidates += [here, *here.parents]
    return next((folder / "bench" for folder in candidates if _checkout(folder)), None)


def _folder() -> Path:
    folder = bench_dir()
    if folder is None:
        raise BenchUnavailable(NOT_FOUND)
    return folder


def load_suite(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` by path (bench/ is not a package on sys.path)."""
    folder = _folder()
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
    folder = _folder()
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
    """Benchmark the engine, the store, the inbox queries and one large case (not part of the tests).

    The engine and the store are measured beside SpiffWorkflow and raw SQLite commits."""
    wanted = list(suites or [])
    unknown = [s for s in wanted if s not in SUITES]
    if unknown:
        typer.echo(f"error: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", err=True)
        raise typer.Exit(2)
    try:
        names = wanted or available_suites()
        if not names:
            raise BenchUnavailable(f"no benchmark suites ({', '.join(SUITES)}) in {_folder()}")
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
