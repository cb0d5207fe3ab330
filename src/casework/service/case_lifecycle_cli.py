"""`casework case suspend|resume|terminate|close` and `disable|enable|terminate-item|suspend-item|resume-item`: the
case's and its items' lifecycle, each change one audited command through `run_command` (who: --as, why: --reason,
both required: a case put on hold or ended by hand is a decision someone must be able to account for)."""

from __future__ import annotations

from typing import Annotated

import typer

from casework.service.case_cli import CaseArgument, ItemArgument, ReasonOption, _required, run_command
from casework.store import DEFAULT_DB
from casework.store.cli import ActorOption, DbOption


def _who(actor: str, reason: str) -> dict[str, str]:
    return {"actor": _required(actor, "--as"), "reason": _required(reason, "--reason")}


def suspend_cmd(case_id: CaseArgument, actor: ActorOption, reason: ReasonOption, db: DbOption = DEFAULT_DB) -> None:
    """Put the whole case on hold: until resumed it takes only resume, terminate, `case attach`, `suggest dismiss`."""
    from casework.engine.commands import SuspendCase

    run_command(db, case_id, SuspendCase(**_who(actor, reason)), "suspended", whole_case=True)


def resume_cmd(case_id: CaseArgument, actor: ActorOption, reason: ReasonOption, db: DbOption = DEFAULT_DB) -> None:
    """Take a suspended case off hold: its items go on where they were."""
    from casework.engine.commands import ResumeCase

    run_command(db, case_id, ResumeCase(**_who(actor, reason)), "resumed", whole_case=True)


def terminate_cmd(case_id: CaseArgument, actor: ActorOption, reason: ReasonOption, db: DbOption = DEFAULT_DB) -> None:
    """End the case without its work done (withdrawn, void); it cannot be undone.

    Its open items end with it."""
    from casework.engine.commands import TerminateCase

    run_command(db, case_id, TerminateCase(**_who(actor, reason)), "terminated", whole_case=True)


def close_cmd(
    case_id: CaseArgument,
    actor: ActorOption,
    reason: ReasonOption,
    force: Annotated[
        bool, typer.Option("--force", help="close it though items are still active or required and open (they end)")
    ] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Complete (close) the case by hand; it cannot be undone.

    Refused while an item is active, suspended or failed, or required and not done, unless --force (those end
    unfinished). Items that could still start end with it."""
    from casework.engine.commands import CompleteCase

    run_command(db, case_id, CompleteCase(force=force, **_who(actor, reason)), "closed (completed)", whole_case=True)


def disable_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
                db: DbOption = DEFAULT_DB) -> None:
    """Set aside an enabled item (one waiting for someone to start it).

    It no longer holds its stage open; `case enable` brings it back."""
    from casework.engine.commands import DisableItem

    run_command(db, case_id, DisableItem(item=item, **_who(actor, reason)), f"disabled {item!r}")


def enable_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
               db: DbOption = DEFAULT_DB) -> None:
    """Bring back a disabled item: enabled again, for someone to start (`case start-item`)."""
    from casework.engine.commands import EnableItem

    run_command(db, case_id, EnableItem(item=item, **_who(actor, reason)), f"enabled {item!r}")


def terminate_item_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
                       db: DbOption = DEFAULT_DB) -> None:
    """End an open item without its work done.

    What waits for it to complete goes on waiting (to let that go on: `case skip`)."""
    from casework.engine.commands import TerminateItem

    run_command(db, case_id, TerminateItem(item=item, **_who(actor, reason)), f"terminated {item!r}")


def suspend_item_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
                     db: DbOption = DEFAULT_DB) -> None:
    """Put an active task or stage on hold (a stage's open items with it) until `case resume-item`."""
    from casework.engine.commands import SuspendItem

    run_command(db, case_id, SuspendItem(item=item, **_who(actor, reason)), f"suspended {item!r}")


def resume_item_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
                    db: DbOption = DEFAULT_DB) -> None:
    """Take a suspended item off hold (not while its stage is suspended: resume that first)."""
    from casework.engine.commands import ResumeItem

    run_command(db, case_id, ResumeItem(item=item, **_who(actor, reason)), f"resumed {item!r}")


def register(case_app: typer.Typer) -> None:
    for name, command in (("suspend", suspend_cmd), ("resume", resume_cmd), ("terminate", terminate_cmd),
                          ("close", close_cmd), ("disable", disable_cmd), ("enable", enable_cmd),
                          ("terminate-item", terminate_item_cmd), ("suspend-item", suspend_item_cmd),
                          ("resume-item", resume_item_cmd)):
        case_app.command(name)(command)
