"""`casework suggest feedback`: how often people accepted each kind of suggestion, from the audit trail."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from casework.display import percent_text, plain
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption, moment_option, stored_clock_text


def suggest_feedback(
    db: DbOption = DEFAULT_DB,
    definition: Annotated[str | None, typer.Option(help="only cases of this definition key")] = None,
    since: Annotated[str | None, typer.Option(help="only decisions at or after this ISO-8601 date or time")] = None,
    until: Annotated[str | None, typer.Option(help="only decisions before this ISO-8601 date or time")] = None,
    by_activity: Annotated[bool, typer.Option("--by-activity", help="a row per suggested activity")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Acceptance rates per rule, flag and model version, from the accept/dismiss events in the audit trail."""
    from casework.insight.acceptance import FEEDBACK_TYPES, REASONS_SHOWN, acceptance
    from casework.store.cli import open_store

    zone = organisation_zone()  # an unknown zone stops the command before anything is read
    start = moment_option("--since", since) if since is not None else None
    end = moment_option("--until", until) if until is not None else None
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter(f"--since {since} is not before --until {until}")
    with open_store(db, read_only="suggest feedback") as store, closing(
        store.iter_events(order="id", types=FEEDBACK_TYPES, definition_key=definition)
    ) as events:
        rows = acceptance(((e.case_id, e) for e in events), by_activity=by_activity, since=start, until=end)
        # A case type's key given for its definition's (insurance_claim for insuranceClaim) read as "nothing yet".
        unknown = store.unknown_definition(definition) if definition is not None and not rows else None
    if unknown is not None:
        typer.echo(f"error: {unknown}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    if not rows:
        typer.echo("no suggestion has been accepted or dismissed yet" + (" in that period" if since or until else ""))
        return
    table = Table(title="suggestions accepted and dismissed (from the audit trail)", title_justify="left")
    columns = ["suggestion", "model version"] + (["activity"] if by_activity else [])
    columns += ["decisions", "accepted", "dismissed", "acceptance", "cases", "people", "last", "why dismissed"]
    counts = {"decisions", "accepted", "dismissed", "acceptance", "cases", "people"}
    for column in columns:
        table.add_column(column, justify="right" if column in counts else "left")
    for row in rows:
        reasons = "; ".join(f"{reason} ({n})" for reason, n in row.top_reasons(REASONS_SHOWN))
        cells = [row.subject, row.model_version or "–"] + ([row.activity or "–"] if by_activity else [])
        # 199 of 200 is ">99%", not "100%" beside a dismissal
        cells += [str(row.decisions), str(row.accepted), str(row.dismissed), percent_text(row.accepted, row.decisions),
                  str(len(row.cases)), str(len(row.people)), stored_clock_text(row.last_at, zone), reasons]
        table.add_row(*map(plain, cells))
    Console().print(table)
