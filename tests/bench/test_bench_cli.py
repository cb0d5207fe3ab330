"""`casework bench` with an installed (not editable) package: the suites are found in the casework checkout the
command runs in, and outside one the command says where the benchmarks live, in one line, with exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import casework

DECOY = "def main(argv):\n    return {'ran': 'not casework'}\n"
SUITE = "def main(argv):\n    return {'ran': 'the checkout', 'argv': argv}\n"


def _installed(tmp_path: Path) -> Path:
    """A copy of the package as an installer lays it out (no src/, no checkout around it), with a bench/ folder
    that belongs to no casework checkout where the old lookup looked, two levels above the package."""
    site = tmp_path / "lib" / "site"
    shutil.copytree(Path(casework.__file__).parent, site / "casework", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "lib" / "bench").mkdir()
    (tmp_path / "lib" / "bench" / "engine.py").write_text(DECOY)
    return site


def _bench(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "casework", "bench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONPATH": str(site)})


def test_outside_a_checkout_bench_says_where_the_benchmarks_live(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _bench(site, elsewhere, "engine", "--json")
    assert result.returncode == 2, result
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: the benchmarks are scripts in the bench/ folder of a casework source "
                                    "checkout") and "pip install -e" in result.stderr


def test_an_installed_casework_runs_the_benchmarks_of_the_checkout_it_is_run_in(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    checkout = tmp_path / "checkout"
    (checkout / "bench").mkdir(parents=True)
    (checkout / "docs").mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "casework"\nversion = "0.1.0"\n')
    (checkout / "bench" / "engine.py").write_text(SUITE)
    result = _bench(site, checkout / "docs", "engine", "--json", "--quick")  # from a folder inside the checkout
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"engine": {"ran": "the checkout", "argv": ["--quick"]}}
    # a folder that is another project's, with a bench/ of its own, is not a casework checkout
    (checkout / "pyproject.toml").write_text('[project]\nname = "other"\n')
    refused = _bench(site, checkout, "engine")
    assert refused.returncode == 2 and "bench/ folder of a casework source checkout" in refused.stderr
