"""`casework cases`: the stored cases, newest first, with their definition version and state."""

from __future__ import annotations

from typing import Annotated

import typer

from casework.display import quoted
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption, clock_text, open_store

# A case's status is the state of its case plan; `open` and `closed` group them as the rest of casework does.
CASE_STATES = ("open", "closed", "active", "suspended", "failed", "completed", "terminated")


def cases_cmd(
    db: DbOption = DEFAULT_DB,
    definition: Annotated[str | None, typer.Option(help="only cases of this definition key")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="only cases on this version (with --definition)")] = None,
    state: Annotated[
        str | None, typer.Option(help=f"only cases in this state: {', '.join(CASE_STATES)}")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="at most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List cases, newest first: id, business key, definition@version, state, started, last change.

    Examples: `casework cases --definition claim --state open`, `casework cases --definition claim --version 1`.
    A title line says when more cases match than --limit shows."""
    import json

    from rich.console import Console
    from rich.table import Table

    from casework.display import id_column, plain

    if state is not None and state not in CASE_STATES:
        raise typer.BadParameter(f"unknown state {quoted(state)}: choose from {', '.join(CASE_STATES)}",
                                 param_hint="'--state'")
    if version is not None and definition is None:
        raise typer.BadParameter("a version belongs to a definition: give --definition too", param_hint="'--version'")
    statuses = None if state in (None, "open", "closed") else (state,)
    zone = organisation_zone()
    with open_store(db, read_only="cases") as store:
        # One more than asked for, to tell whether there are more.
        rows = store.case_listing(definition_key=definition, definition_version=version, statuses=statuses,
                                  open_only=state == "open", closed_only=state == "closed", limit=limit + 1)
        unknown = store.unknown_definition(definition) if definition is not None and not rows else None
    if unknown is not None:
        typer.echo(f"error: --definition: {unknown}", err=True)
        raise typer.Exit(2)
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        for r in rows:
            typer.echo(json.dumps({
                "id": r.id, "business_key": r.business_key, "definition": r.definition_key,
                "version": r.definition_version, "state": r.status, "source": r.source,
                "started": r.created_at.isoformat(), "last_change": r.updated_at.isoformat(),
            }))
        return
    title = (f"{len(rows)} case" if len(rows) == 1 else f"{len(rows)} cases") + (
        f", newest first (more match: raise --limit above {limit})" if more else "")
    table = Table(id_column("case"), "business key", id_column("definition"), "state", "started", "last change",
                  title=title)
    for r in rows:
        table.add_row(*map(plain, (r.id, r.business_key or "", f"{r.definition_key}@{r.definition_version}",
                                   r.status, clock_text(r.created_at, zone), clock_text(r.updated_at, zone))))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("cases")(cases_cmd)
