"""How the command line starts: `python -m casework` runs it as the `casework` script does, and a command loads only
what it uses (every command's module is imported to start any command: one that imports the store, the engine or
the learning libraries at its top makes every command, `--help` included, pay for them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from casework.store import Store

SCRIPT = """
import json, sys
from casework.cli import app
try:
    app(args=sys.argv[2:], prog_name="casework")
except SystemExit as exc:
    status = exc.code
with open(sys.argv[1], "w") as out:
    json.dump({"status": status, "modules": sorted(sys.modules)}, out)
"""
# What start-up cost most (python -X importtime): the store's SQLAlchemy and Alembic, the PostgreSQL driver, the
# engine with the CEL library (and its prompt_toolkit), the signing library, decision support's learning libraries.
HEAVY = ("sqlalchemy", "alembic", "psycopg", "cel", "prompt_toolkit", "cryptography", "numpy", "lightgbm",
         "casework.engine", "casework.model", "casework.expr")


def test_python_dash_m_casework_runs_the_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "casework", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Usage: casework" in result.stdout and "audit" in result.stdout


def _loaded(tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages (and casework's) that running `casework ARGS` loaded, in a fresh interpreter."""
    report = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(report), *args], capture_output=True, text=True,
                            timeout=300)
    ran = json.loads(report.read_text())
    assert ran["status"] in (0, None), result.stderr
    return {name for name in ran["modules"] for heavy in HEAVY if name == heavy or name.startswith(heavy + ".")}


@pytest.mark.parametrize("args", [["--help"], ["suggest", "--help"], ["audit", "--help"], ["validate", "--help"]])
def test_help_loads_no_database_engine_or_learning_library(tmp_path: Path, args: list[str]) -> None:
    assert _loaded(tmp_path, *args) == set()


def test_reading_the_inbox_or_exporting_loads_the_store_but_not_the_engine(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    with Store.open(db, audit_key=tmp_path / "k"):
        pass
    for args in (["tasks", "--db", db], ["export", "--format", "csv", "-o", str(tmp_path / "out.csv"), "--db", db]):
        loaded = {name.split(".")[0] if not name.startswith("casework.") else ".".join(name.split(".")[:2])
                  for name in _loaded(tmp_path, *args)}
        assert loaded == {"sqlalchemy"}, args


def test_a_model_without_cel_does_not_load_the_cel_library(tmp_path: Path) -> None:
    # CEL's package loads its own command line and prompt_toolkit: only a model (or rule) holding CEL pays for it.
    model = Path(__file__).parent / "conformance" / "models"
    script = ("import sys\nfrom casework.model import load_definition\nfrom pathlib import Path\n"
              "load_definition(Path(sys.argv[1]).read_bytes())\n"
              "from casework.expr import compile_expression\n"
              "loaded = 'cel' in sys.modules\n"
              "compile_expression('amount > 10')\n"
              "print(loaded, 'cel' in sys.modules)\n")
    juel_only = next(p for p in sorted(model.glob("*.cmmn")) if "${" in p.read_text() and "cel" not in p.read_text())
    result = subprocess.run([sys.executable, "-c", script, str(juel_only)], capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.split() == ["False", "True"], result.stderr
