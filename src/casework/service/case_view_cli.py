"""`casework case show|history`: a case as it stands, and its audit trail; both only read, times on the
organisation's clock."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.display import plain, shown
from casework.service.case_cli import CaseArgument, fail, reading
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


def show_cmd(
    case_id: CaseArgument,
    as_json: Annotated[bool, typer.Option("--json", help="the same facts as one JSON object (keys below)")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """The case as it stands: its status, data, participants and plan.

    Status, definition@version, business key, data, participants, the discretionary items that can be planned now
    (`case plan`), and every item of the plan with its state, owner and due time; an item's id names it where items
    share a name.

    --json prints one object with these keys: id, state, definition, version, business_key (or null), started,
    last_change, due (the case's deadline, or null), participants ({user: list of roles}), data ({name: value}),
    plannable (a list of names) and items: a list in plan order of {id, name, kind, state, skipped, owner, due, stage
    (the id of the stage it is in; null in the case plan itself)}. Times are ISO-8601 instants in UTC."""
    from casework.engine import plannable

    zone = organisation_zone()
    with open_store(db, read_only="case show") as store:
        row, state, definition = _engine_case(store, case_id)
    can_plan = sorted(set(plannable(definition, state))) if state.status == "active" else []
    items = [item for item in state.items.values() if item.id != state.root]
    if as_json:
        typer.echo(json.dumps({
            "id": case_id, "state": state.status, "definition": row.definition_key,
            "version": row.definition_version, "business_key": row.business_key,
            "started": _utc(row.created_at), "last_change": _utc(row.updated_at), "due": _stored_utc(state.due),
            "participants": {user: list(roles) for user, roles in sorted(state.participants.items())},
            "data": dict(sorted(state.variables.items())), "plannable": can_plan,
            "items": [{"id": item.id, "name": item.name, "kind": item.kind, "state": item.state,
                       "skipped": item.skipped, "owner": item.owner, "due": _stored_utc(item.due),
                       "stage": item.parent if item.parent != state.root else None} for item in items],
        }, ensure_ascii=False, indent=2))
        return
    _show_text(case_id, row, state, can_plan, zone)


def _utc(moment: dt.datetime) -> str:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()


def _stored_utc(text: str | None) -> str | None:
    """A time as states store it ("...Z") in the form `_utc` gives, so that every time of the JSON view reads alike."""
    return _utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00"))) if text else None


def _show_text(case_id: str, row: Any, state: Any, can_plan: list[str], zone: dt.tzinfo) -> None:
    from rich.console import Console
    from rich.table import Table

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
    if can_plan:
        lines.append(f"can be planned: {', '.join(can_plan)}")
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
    with reading(db, case_id, "case history") as store:
        events = store.events(case_id)
        names = _item_names(store, case_id)
    table = Table("#", "time", "actor", "event", "what", "reason",
                  title=f"audit trail of case {case_id}", title_justify="left")
    for event in events:
        what = what_happened(event.type, event.payload, names, lambda moment: stored_clock_text(moment, zone))
        table.add_row(*map(plain, (event.seq, stored_clock_text(event.at, zone), event.actor, event.type, what,
                                   event.reason or "")))
    Console().print(table)


def _item_names(store: Store, case_id: str) -> dict[str, str]:
    """Item instance id (and plan item id) -> name, for the events that name an item by its id alone (none for an
    imported case)."""
    from casework.service import CaseService
    from casework.service.errors import InvalidInput

    with CaseService(store) as service:
        try:
            state = service.state(case_id)
        except InvalidInput:
            return {}
    names = {item.def_id: item.name for item in state.items.values()}
    names.update({op["def"]["id"]: op["def"]["name"] for op in state.overlay if op.get("op") == "add_item"})
    return {**names, **{item.id: item.name for item in state.items.values()}}
