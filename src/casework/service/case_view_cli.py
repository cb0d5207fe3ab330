"""`casework case show|history`: a case as it stands, and its audit trail; both only read, times on the
organisation's clock."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.display import plain, shown
from casework.service.case_cli import CaseArgument, fail
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption, clock_text, open_store, stored_clock_text

if TYPE_CHECKING:
    from casework.store import Store

def _engine_case(store: Store, case_id: str) -> tuple[Any, Any, Any]:
    """(row, state, definition) of a case the engine runs; exit 2 if there is none (or it was imported from a log,
    which has no plan to show)."""
    from casework.service import CaseService
    from casework.service.errors import InvalidInput, NotFound

    row = store.case(case_id)
    if row is None:
        fail(f"no case {case_id}")
    with CaseService(store) as service:
        try:
            state = service.state(case_id)
            _, definition = service.definition(row.definition_key, row.definition_version)
        except (NotFound, InvalidInput) as exc:
            fail(str(exc))
    return row, state, definition


def show_cmd(case_id: CaseArgument, db: DbOption = DEFAULT_DB) -> None:
    """The case as it stands: its status, data, participants and plan.

    Status, definition@version, business key, data, participants, and every item of the plan with its state, owner
    and due time; an item's id names it where items share a name."""
    from rich.console import Console
    from rich.table import Table

    zone = organisation_zone()
    with open_store(db, read_only="case show") as store:
        row, state, _ = _engine_case(store, case_id)
    lines = [
        f"case {case_id}: {state.status}",
        f"definition: {row.definition_key}@{row.definition_version}",
        f"business key: {row.business_key or '-'}",
        f"started: {clock_text(row.created_at, zone)}; last change: {clock_text(row.updated_at, zone)}",
    ]
    if state.due:
        lines.append(f"due: {stored_clock_text(state.due, zone)}")
    people = [f"{user} ({', '.join(roles)})" if roles else user for user, roles in sorted(state.participants.items())]
    lines.append(f"participants: {', '.join(people) or '-'}")
    lines.append("data:" if state.variables else "data: -")
    lines.extend(f"  {name} = {json.dumps(value, ensure_ascii=False)}"
                 for name, value in sorted(state.variables.items()))
    for line in lines:
        typer.echo(shown(line))
    table = Table("item", "id", "kind", "state", "owner", "due", title="plan", title_justify="left")
    depth: dict[str, int] = {}
    for item in state.items.values():
        if item.id == state.root:
            depth[item.id] = -1
            continue
        depth[item.id] = depth.get(item.parent or "", -1) + 1
        where = item.state + (" (skipped)" if item.skipped else "")
        cells = ("  " * depth[item.id] + item.name, item.id, item.kind, where, item.owner or "",
                 stored_clock_text(item.due, zone))
        table.add_row(*map(plain, cells))
    Console().print(table)


def explain_cmd(
    case_id: CaseArgument,
    item: Annotated[str | None, typer.Argument(help="an item (name or id); none: the case itself")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Why an item is where it is (what it waits for, what holds it, when it falls due), or what the case waits for.

    Example: `casework case explain claim-2004 "Decide claim"`."""
    from casework.engine.errors import UnknownItem
    from casework.engine.explain import explain

    with open_store(db, read_only="case explain") as store:
        _, state, definition = _engine_case(store, case_id)
    try:
        lines = explain(definition, state, item)
    except UnknownItem as exc:
        fail(str(exc))  # not an answer but a wrong name: bad input, as every `case` command treats one
    for line in lines:
        typer.echo(shown(line))


def history_cmd(case_id: CaseArgument, db: DbOption = DEFAULT_DB) -> None:
    """The case's audit trail: every event in order, with when, who, what and why."""
    from rich.console import Console
    from rich.table import Table

    from casework.display import what_happened

    zone = organisation_zone()
    with open_store(db, read_only="case history") as store:
        if store.case_head(case_id) is None:
            fail(f"no case {case_id}")
        events = store.events(case_id)
        names = _item_names(store, case_id)
    table = Table("#", "time", "actor", "event", "what", "reason",
                  title=f"audit trail of case {case_id}", title_justify="left")
    for event in events:
        what = what_happened(event.type, event.payload, names)
        table.add_row(*map(plain, (event.seq, stored_clock_text(event.at, zone), event.actor, event.type, what,
                                   event.reason or "")))
    Console().print(table)


def _item_names(store: Store, case_id: str) -> dict[str, str]:
    """Item instance id -> name, for the events that name an item by its id alone (none for an imported case)."""
    from casework.service import CaseService
    from casework.service.errors import InvalidInput

    with CaseService(store) as service:
        try:
            state = service.state(case_id)
        except InvalidInput:
            return {}
    return {item.id: item.name for item in state.items.values()}
