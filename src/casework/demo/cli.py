"""`casework demo`: walk one demo case through its life in the terminal, stored in the database."""

from __future__ import annotations

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
    console.rule("[bold]Stored")
    console.print(f"case {driver.case_id} is stored in {db}")
    console.print(report.summary())
    console.print(
        "next: casework audit verify | casework audit state-at CASE --seq N | casework export --format xes -o claim.xes"
    )
    raise typer.Exit(0 if state.status == "completed" and report.ok else 1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
