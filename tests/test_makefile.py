"""The two set-up commands of the README: what `make test` runs, read with `make -n`, and what it does without the
shared folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_hands_the_shared_folder_to_the_tests_as_well_as_to_conformance(tmp_path: Path) -> None:
    shared = tmp_path / "elsewhere"
    shared.mkdir()
    result = subprocess.run(["make", "-n", "test", f"SHARED={shared}", "VENV=" + str(tmp_path / "venv")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path}/venv/bin/casework conformance {shared}/cmmn/scenarios") for line in lines)
    (pytest_line,) = [line for line in lines if "-m pytest" in line]
    # the README: "set CASEWORK_SHARED to put it elsewhere (`make test SHARED=...` also works)"; the tests read
    # CASEWORK_SHARED, so without it they skipped
    assert pytest_line.startswith(f"CASEWORK_SHARED={shared} ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_without_the_shared_folder_runs_the_suites_own_scenarios_and_goes_on(tmp_path: Path) -> None:
    # A venv whose casework is this checkout's (so conformance really runs) and whose other tools only say they ran:
    # what is checked is what `make test` does when ../shared is not there, as on a first clone.
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    scripts = {
        "casework": f'PYTHONPATH="{ROOT / "src"}" exec "{sys.executable}" -m casework "$@"',
        "python": 'echo "ran python $*"', "ruff": "echo ran ruff", "mypy": "echo ran mypy",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for stamp in (".installed-test", ".installed-run"):
        (tmp_path / "venv" / stamp).touch()
    missing = tmp_path / "no-shared"
    result = subprocess.run(["make", "test", f"SHARED={missing}", f"VENV={tmp_path / 'venv'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"note: no shared folder at {missing}" in result.stdout
    assert re.search(r"^conformance: [1-9][0-9]* passed, 0 failed$", result.stdout, re.MULTILINE)
    assert "ran python -m pytest -q" in result.stdout
