"""`casework validate`: import CMMN files and report their problems."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casework.model.cmmn_import import load_definition
from casework.model.errors import ModelError


def validate(files: Annotated[list[Path], typer.Argument(help="CMMN 1.1 files to check")]) -> None:
    """Import each CMMN file and print `OK FILE` or its problems; exit 1 if any file fails."""
    failed = 0
    for path in files:
        try:
            load_definition(path.read_bytes())
        except OSError as exc:
            failed += 1
            typer.echo(f"FAIL {path}: cannot read: {exc.strerror}")
        except ModelError as exc:
            failed += 1
            typer.echo(f"FAIL {path}")
            for problem in exc.problems:
                typer.echo(f"  {problem}")
        else:
            typer.echo(f"OK {path}")
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
