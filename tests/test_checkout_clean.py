"""tests/conftest.py: each test runs in its own tmp_path, and a run that leaves files in the checkout fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")


def _run(checkout: Path, test: str) -> subprocess.CompletedProcess[str]:
    """pytest on a checkout of its own holding the test and the project's conftest (no git in it)."""
    (checkout / "tests").mkdir(parents=True)
    (checkout / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    (checkout / "tests" / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (checkout / "tests" / "test_it.py").write_text(test, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                           str(checkout.parent / "basetemp")], cwd=checkout, capture_output=True, text=True,
                          timeout=120)


def test_a_file_written_in_the_current_directory_lands_in_the_tests_tmp_path(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    test = ("from pathlib import Path\n\n"
            "def test_it(tmp_path, monkeypatch):\n"
            "    monkeypatch.setenv('X', '1')\n"
            "    monkeypatch.undo()  # takes back what the test patched, not the folder it runs in\n"
            "    Path('casework-audit.key').write_text('k')\n"
            "    assert (tmp_path / 'casework-audit.key').read_text() == 'k'\n")
    result = _run(checkout, test)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in checkout.iterdir()) == ["pytest.ini", "tests"]


def test_a_run_that_leaves_a_file_in_the_checkout_fails_naming_it(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    test = ("from pathlib import Path\n\n"
            "def test_it():\n"
            "    (Path(__file__).parent / 'left.txt').write_text('x')\n")
    result = _run(checkout, test)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout and "tests/left.txt" in result.stdout, result.stdout
