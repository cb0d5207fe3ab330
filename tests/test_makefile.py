"""The two set-up commands of the README: what `make test` runs, read with `make -n` (nothing is run)."""

from __future__ import annotations

import shutil
import subprocess
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
