"""`casework migrate`: move running cases to another deployed version of their model, one audited command each."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.display import shown
from casework.store import DEFAULT_DB
from casework.store.cli import DbOption, open_store, sealable

if TYPE_CHECKING:
    from casework.engine import Event
    from casework.store import Store


def migrate_cmd(
    key: Annotated[str, typer.Argument(help="the definition key whose cases move")],
    to: Annotated[int, typer.Option("--to", min=1, help="the deployed version they move to")],
    reason: Annotated[str, typer.Option(help="why, recorded on every migrated case's audit trail")],
    actor: Annotated[str, typer.Option("--as", help="who migrates, recorded on the audit trail")],
    case: Annotated[list[str] | None, typer.Option(help="a case to migrate, repeatable")] = None,
    all_open: Annotated[bool, typer.Option("--all-open", help="every open case of KEY (not --case)")] = False,
    from_version: Annotated[
        int | None, typer.Option("--from", min=1, help="with --all-open: only the cases on this version")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would happen; write nothing")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Migrate running cases of KEY to version --to of its model, each case its own audited command.

    Prints a line per case and `migrated N, refused M, unchanged K`. A case that cannot move (an item it has
    started is not in the new version, say) is refused with the engine's reason and left as it was; the others
    still move. Exit 1 if any was refused, 2 for bad input (an unknown key, version or case: nothing is changed).
    Example: `casework migrate claim --to 2 --all-open --from 1 --reason "new fraud check" --as ann --dry-run`."""
    from casework.service import CaseService, NotFound
    from casework.service.case_cli import judging

    if bool(case) == all_open:
        raise typer.BadParameter("give the cases to migrate: --case ID (repeatable) or --all-open")
    if from_version is not None and not all_open:
        raise typer.BadParameter("--from picks among --all-open's cases; --case names them itself",
                                 param_hint="'--from'")
    for value, option in ((reason, "--reason"), (actor, "--as")):
        if not value.strip():
            raise typer.BadParameter("must not be empty: it is recorded on the audit trail", param_hint=f"'{option}'")
    with open_store(db, read_only="migrate --dry-run" if dry_run else None) as store, CaseService(store) as svc:
        if not dry_run:
            sealable(store)
            judging(svc)
        try:
            _, target = svc.definition(key, to)
            if from_version is not None:
                svc.definition(key, from_version)
        except NotFound as exc:
            typer.echo(f"error: {shown(str(exc))}", err=True)
            raise typer.Exit(2) from exc
        ids = _named_cases(store, key, list(dict.fromkeys(case))) if case else [
            r.id for r in reversed(store.case_listing(definition_key=key, definition_version=from_version,
                                                      open_only=True, engine_only=True))]
        command = _migrate_command(target, to, actor, reason)
        outcomes: Counter[str] = Counter()
        for case_id in ids:
            outcome, line = _migrate_one(svc, store, case_id, to, command, dry_run)
            outcomes[outcome] += 1
            typer.echo(line)
    summary = f"migrated {outcomes['migrated']}, refused {outcomes['refused']}, unchanged {outcomes['unchanged']}"
    typer.echo(f"dry run, nothing written: {summary}" if dry_run else summary)
    raise typer.Exit(1 if outcomes["refused"] else 0)


def _named_cases(store: Store, key: str, ids: list[str]) -> list[str]:
    """The cases --case names, each checked before any is migrated: there, and a case of `key`."""
    for case_id in ids:
        head = store.case_head(case_id)
        if head is None:
            typer.echo(f"error: no case {shown(case_id)}; nothing migrated", err=True)
            raise typer.Exit(2)
        if head.definition_key != key:
            typer.echo(f"error: case {shown(case_id)} is a case of {shown(head.definition_key)}, not "
                       f"{shown(key)}; nothing migrated", err=True)
            raise typer.Exit(2)
    return ids


def _migrate_command(target: Any, to: int, actor: str, reason: str) -> Any:
    from casework.engine import commands

    return commands.Migrate(definition=target, version=str(to), actor=actor, reason=reason)


def _migrate_one(svc: Any, store: Store, case_id: str, to: int, command: Any, dry_run: bool) -> tuple[str, str]:
    """What became of one case: ("migrated" | "refused" | "unchanged", the line that says so)."""
    from casework.engine import CommandRejected
    from casework.service import ServiceError

    head = store.case_head(case_id)
    if head is not None and head.definition_version == to:
        return "unchanged", f"unchanged {case_id}: on version {to} already"
    was = f"version {head.definition_version}" if head is not None else "?"
    try:
        events = svc.preview(case_id, command) if dry_run else svc.execute(case_id, command).events
    except (CommandRejected, ServiceError) as exc:
        return "refused", f"refused {case_id}: {shown(str(exc))}"
    if not events:
        return "unchanged", f"unchanged {case_id}: the migration changes nothing"
    verb = "would migrate" if dry_run else "migrated"
    return "migrated", f"{verb} {case_id}: {was} -> {to}{_what_changes(events)}"


def _what_changes(events: list[Event]) -> str:
    """The plan items that leave the case and those it gains, from the migration's own event."""
    plan: dict[str, Any] = next((e.payload.get("plan", {}) for e in events if e.type == "migrate"), {})
    outcomes = Counter(entry.get("outcome") for entry in plan.get("entries", []))
    parts = [f"{outcomes[o]} {label}" for o, label in (("disappears", "gone"), ("new", "new")) if outcomes[o]]
    return f" (plan items: {', '.join(parts)})" if parts else ""


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate_cmd)
