"""Keep test runs out of the checkout.

A store on PostgreSQL opened without `audit_key`/`blob_dir` keeps its key, witness file and blobs in the current
directory, and so do CLI commands given no paths. Run from the checkout (as CI does), a test like that left files in
it, and a later run read them back: a blob left by the first run was found already stored by the next. So every test
runs in its own tmp_path, and the session fails if the checkout gained files all the same (something written
next to `__file__`, say). Tests that need files of the repository find them from `Path(__file__)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Folders whose changes say nothing about the tests: version control, caches, virtual environments.
_UNWATCHED = {"__pycache__", "node_modules"}
_SNAPSHOT = pytest.StashKey[frozenset[str]]()
_LEFT = pytest.StashKey[list[str]]()


def checkout_entries(root: Path, skip: Path | None = None) -> frozenset[str]:
    """Every file and folder under `root`, as paths relative to it, but hidden ones, caches and virtual envs."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in _UNWATCHED or d.endswith(".egg-info")
                                          or (here / d / "pyvenv.cfg").exists() or here / d == skip)]
        for name in [*dirs, *files]:
            if not name.startswith("."):
                found.add((here / name).relative_to(root).as_posix())
    return frozenset(found)


def _basetemp(config: pytest.Config) -> Path | None:
    given = config.option.basetemp
    return Path(given).resolve() if given else None


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    config.stash[_SNAPSHOT] = checkout_entries(config.rootpath, _basetemp(config))
    # Relative paths given to the run (`PYTHONPATH=src`, `CASEWORK_SHARED=../shared`) would point elsewhere once a
    # test has moved to its tmp_path: child processes must import the code under test, not what else is installed.
    for name in ("PYTHONPATH", "CASEWORK_SHARED"):
        if os.environ.get(name):
            os.environ[name] = os.pathsep.join(
                str(Path(part).resolve()) if part else part for part in os.environ[name].split(os.pathsep))


@pytest.fixture(scope="session", autouse=True)
def _session_in_tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module- and session-scoped fixtures are set up before any test's own folder exists: they get this one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(autouse=True)
def _run_in_tmp_path(_session_in_tmp_path: None, tmp_path: Path) -> Iterator[None]:
    # A patch of its own: a test's `monkeypatch.undo()` must not take it back to a folder the test did not choose.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    before = config.stash.get(_SNAPSHOT, None)
    if before is None:
        return
    after = checkout_entries(config.rootpath, _basetemp(config))
    left = sorted(after - before)
    if left:
        config.stash[_LEFT] = left
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    left = config.stash.get(_LEFT, [])
    if left:
        terminalreporter.section("files the tests left in the checkout", red=True)
        terminalreporter.line(f"new in {config.rootpath}: a test wrote outside its tmp_path")
        for line in left[:50]:
            terminalreporter.line(f"  {line}")
        if len(left) > 50:
            terminalreporter.line(f"  ... and {len(left) - 50} more")
