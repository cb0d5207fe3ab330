"""`casework demo`: walk one demo case through its life in the terminal."""

from __future__ import annotations

import typer
from rich.console import Console

from casework.demo.walkthrough import run_walkthrough


def demo() -> None:
    """Walk a demo insurance claim through its life: the plan after each step, ad hoc work, the audit trail."""
    state = run_walkthrough(Console())
    raise typer.Exit(0 if state.status == "completed" else 1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
