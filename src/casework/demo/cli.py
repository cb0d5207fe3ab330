"""`casework demo`: walk one demo case through its life in the terminal, stored in the database."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def demo(
    db: Annotated[
        str,
        typer.Option("--db", envvar="CASEWORK_DB", help="where the demo case is stored (sqlite:/// or postgresql://)"),
    ] = "sqlite:///./casework.db",
    memory: Annotated[bool, typer.Option("--memory", help="run on the engine alone and store nothing")] = False,
) -> None:
    """Walk a demo insurance claim through its life: the plan after each step, ad hoc work, the audit trail."""
    from casework.demo import demo_definition, demo_model_xml  # the engine: not for every command's start
    from casework.demo.walkthrough import MemoryDriver, StoredDriver, run_walkthrough

    console = Console()
    if memory:
        state = run_walkthrough(console, driver=MemoryDriver(demo_definition()))
        raise typer.Exit(0 if state.status == "completed" else 1)
    from casework.audit.verify import verify
    from casework.service import CaseService
    from casework.store.cli import open_store

    # open_store: an unreachable server, a newer schema or an unwritable folder is one line, not a traceback.
    with open_store(db, create=True) as store, CaseService(store) as service:
        driver = StoredDriver(service, demo_model_xml("insurance_claim.cmmn"))
        state = run_walkthrough(console, driver=driver)
        service.close()  # seals the walkthrough's events with a checkpoint before they are verified
        report = verify(store)
    from casework.store.cli import _shown

    console.rule("[bold]Stored")
    console.print(f"case {driver.case_id} is stored in {_shown(db)}", markup=False)
    console.print(report.summary(), markup=False)
    console.print("look at it with:")
    for line in next_commands(driver.case_id, db):
        console.print(f"  {line}", markup=False, soft_wrap=True)
    raise typer.Exit(0 if state.status == "completed" and report.ok else 1)


def next_commands(case_id: str, db: str) -> list[str]:
    """The commands that look at the stored demo case, ready to paste: its real id, and `--db` when the database is
    neither the default nor CASEWORK_DB's (without it they would read another database)."""
    from casework.store import DEFAULT_DB
    from casework.store.cli import _shown

    where = "" if db in (DEFAULT_DB, os.environ.get("CASEWORK_DB")) else f" --db {shlex.quote(_shown(db))}"
    program = _program()
    return [
        f"{program} audit verify{where}",
        f"{program} audit state-at {case_id} --seq 10{where}",
        f"{program} tasks --case {case_id} --state completed{where}",
        f"{program} export --format xes -o claims.xes{where}",
    ]


def _program() -> str:
    """How to run casework again: `make run` starts `.venv/bin/casework`, which is not on PATH, so a bare `casework`
    would not be found; a script on PATH (or `python -m casework`) is `casework`."""
    started = sys.argv[0]
    if Path(started).name == "casework" and shutil.which("casework") is None:
        return started
    return "casework"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
