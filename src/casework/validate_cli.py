"""`casework validate`: import CMMN files and report their problems. Beside casework.model rather than in it, as
bench_cli.py: importing a module of the model package runs its `__init__`, which loads the model and the expression
engine, and `casework` imports every command's module to start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def validate(files: Annotated[list[Path], typer.Argument(help="CMMN 1.1 files to check")]) -> None:
    """Import each CMMN file and print `OK FILE` or its problems; exit 1 if any file fails, 2 if any cannot be read."""
    failed = unreadable = 0
    for path in files:
        try:
            data = path.read_bytes()
            problems = model_problems(data)
        except OSError as exc:
            # Not an answer about a model (exit 1) but a file that is not there to judge: bad input, as everywhere.
            unreadable += 1
            typer.echo(f"error: cannot read {path}: {exc.strerror or exc}", err=True)
            continue
        if problems:
            failed += 1
            typer.echo(f"FAIL {path}")
            for problem in problems:
                typer.echo(f"  {problem}")
        else:
            typer.echo(f"OK {path}")
    raise typer.Exit(2 if unreadable else 1 if failed else 0)


def model_problems(data: bytes) -> list[str]:
    """Every problem of every case in the document (a document may hold several; each is deployable by its id)."""
    from casework.model.cmmn_import import case_ids, load_definition
    from casework.model.errors import ModelError
    from casework.store.storable import definition_problems

    try:
        ids = case_ids(data)
        if len(ids) <= 1:
            # What `deploy` would refuse: names longer than the store's columns hold, say.
            return [str(p) for p in definition_problems(load_definition(data))]
    except ModelError as exc:
        return [str(p) for p in exc.problems]
    problems: list[str] = []
    for case_id in ids:
        try:
            found = definition_problems(load_definition(data, case_id))
        except ModelError as exc:
            found = exc.problems
        problems += [f"case {case_id}: {p}" for p in found]
    return problems


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
