"""`casework demo`: walk one demo case through its life in the terminal, stored in the database with a few claims
left open for the inbox and decision support."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from casework.insight.rules import Finding


def demo(
    db: Annotated[
        str,
        typer.Option("--db", envvar="CASEWORK_DB", help="where the demo case is stored (sqlite:/// or postgresql://)"),
    ] = "sqlite:///./casework.db",
    memory: Annotated[bool, typer.Option("--memory", help="run on the engine alone and store nothing")] = False,
) -> None:
    """Walk a demo insurance claim through its life: the plan after each step, ad hoc work, the audit trail.

    Stored, it also leaves four claims open at other points of their life (claim-2001 to claim-2004, kept as they
    are when the database has them already), for `casework tasks` and `casework suggest`."""
    from casework.demo import demo_definition, demo_model_xml  # the engine: not for every command's start
    from casework.demo.walkthrough import WALK_SPAN, MemoryDriver, StoredDriver, run_walkthrough

    console = Console()
    if memory:
        state = run_walkthrough(console, driver=MemoryDriver(demo_definition()))
        raise typer.Exit(0 if state.status == "completed" else 1)
    import datetime as dt

    from casework.audit.verify import verify
    from casework.demo.open_claims import judge, store_open_claims
    from casework.service import CaseService
    from casework.store.cli import open_store

    # The open claims' times lie a fixed distance before now, so `suggest` sees them as old as they are meant to be.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # open_store: an unreachable server, a newer schema or an unwritable folder is one line, not a traceback.
    with open_store(db, create=True) as store, CaseService(store) as service:
        driver = StoredDriver(service, demo_model_xml("insurance_claim.cmmn"))
        # The walked claim ends now: stored events dated hours ahead would sit in the audit trail as if to come.
        state = run_walkthrough(console, start=now - WALK_SPAN, driver=driver)
        claims = store_open_claims(service, driver.key, now)
        findings = judge(service, [claim.case_id for claim, _ in claims], now)
        service.close()  # seals the demo's events with a checkpoint before they are verified
        report = verify(store)
    from casework.store.cli import _shown

    console.rule("[bold]Stored")
    console.print(f"case {driver.case_id} is stored in {_shown(db)}, with claims left open:", markup=False)
    for claim, stored in claims:
        kept = "" if stored else " (from an earlier run, as it was left)"
        console.print(f"  {claim.case_id}  {claim.summary}{kept}", markup=False)
    console.print(report.summary(), markup=False)
    console.print("look at it with:")
    for line in next_commands(driver.case_id, db):
        console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print("work on the open claims with:")
    for line in open_claim_commands(findings, db):
        console.print(f"  {line}", markup=False, soft_wrap=True)
    raise typer.Exit(0 if state.status == "completed" and report.ok else 1)


def next_commands(case_id: str, db: str) -> list[str]:
    """The commands that look at the stored demo case, ready to paste: its real id, and `--db` when the database is
    neither the default nor CASEWORK_DB's (without it they would read another database)."""
    where = _where(db)
    program = _program()
    return [
        f"{program} audit verify{where}",
        f"{program} audit state-at {case_id} --seq 10{where}",
        f"{program} tasks --case {case_id} --state completed{where}",
        f"{program} export --format xes -o claims.xes{where}",
    ]


def open_claim_commands(findings: Mapping[str, Sequence[Finding]], db: str) -> list[str]:
    """The commands that work on the open claims, ready to paste. Accepting and dismissing are offered only while
    the claim still offers that suggestion (someone may have acted on it since an earlier run of the demo)."""
    from casework.demo.open_claims import ACCEPT, CASE_TYPE, DISMISS, offered

    where = _where(db)
    program = _program()
    lines = [
        f"{program} tasks --owner bob{where}",
        f"{program} tasks --group fraud-team{where}",
        f"{program} tasks --owner sam{where}",
        f"{program} suggest case {ACCEPT.case_id} --case-type {CASE_TYPE}{where}",
    ]
    if offered(findings, ACCEPT):
        lines.append(f"{program} suggest accept {ACCEPT.case_id} --finding {ACCEPT.finding} --as {ACCEPT.person}"
                     f"{where}")
    if offered(findings, DISMISS):
        lines.append(f"{program} suggest dismiss {DISMISS.case_id} --finding {DISMISS.finding} --as {DISMISS.person} "
                     f"--reason {shlex.quote(DISMISS.reason)}{where}")
    lines += [f"{program} suggest flags{where}", f"{program} suggest feedback{where}", f"{program} audit verify{where}"]
    return lines


def _where(db: str) -> str:
    from casework.store import DEFAULT_DB
    from casework.store.cli import _shown

    return "" if db in (DEFAULT_DB, os.environ.get("CASEWORK_DB")) else f" --db {shlex.quote(_shown(db))}"


def _program() -> str:
    """How to run casework again: `make run` starts `.venv/bin/casework`, which is not on PATH, so a bare `casework`
    would not be found; a script on PATH (or `python -m casework`) is `casework`."""
    started = sys.argv[0]
    if Path(started).name == "casework" and shutil.which("casework") is None:
        return started
    return "casework"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
