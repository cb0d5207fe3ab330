"""How the command line starts: `python -m casework` runs it as the `casework` script does."""

from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_casework_runs_the_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "casework", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Usage: casework" in result.stdout and "audit" in result.stdout
