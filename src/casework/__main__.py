"""`python -m casework`: the `casework` command line from a checkout that is not installed (PYTHONPATH=src)."""

from casework.cli import app

app(prog_name="casework")
