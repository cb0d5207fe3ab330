"""`casework case set-data|add-participant|remove-participant|set-due|plan|depend|occur`: a case worker changes a
running case's plan, data, people and due times, each change one audited command through `run_command` (a change
the engine refuses records nothing and exits 2 with its reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casework.service.case_cli import (
    DUE_HELP,
    CaseArgument,
    DataOption,
    ItemArgument,
    OptionalReasonOption,
    ReasonOption,
    _data,
    _optional,
    _required,
    due_value,
    run_command,
)
from casework.store import DEFAULT_DB
from casework.store.cli import ActorOption, DbOption

UserArgument = Annotated[str, typer.Argument(metavar="USER", help="the person (as they act: `--as USER`)")]


def set_data_cmd(
    case_id: CaseArgument,
    actor: ActorOption,
    data: DataOption = None,
    data_file: Annotated[Path | None, typer.Option(help="case data: a file holding a JSON object")] = None,
    remove: Annotated[
        list[str] | None, typer.Option(metavar="NAME", help="a name of the case's data to remove, repeatable")
    ] = None,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set case data: each name given takes its value, the rest stays as it is (--remove NAME takes one away).

    What waits on the data (an if-part, a case file item) is judged again, as when a task completes with data.
    Example: `casework case set-data CASE_ID --data '{"amount": 17500}' --as ann --reason "second quote"`."""
    from casework.engine.commands import SetVariables

    variables = _data(data, data_file)
    removed = tuple(dict.fromkeys(_required(name, "--remove") for name in remove or ()))
    if not variables and not removed:
        raise typer.BadParameter("nothing to change: give --data JSON, --data-file F or --remove NAME",
                                 param_hint="'--data'")
    command = SetVariables(variables=variables, remove=removed, actor=_required(actor, "--as"),
                           reason=_optional(reason))
    names = ", ".join([*sorted(variables), *(f"-{name}" for name in removed)])
    run_command(db, case_id, command, f"set data ({names})")


def add_participant_cmd(
    case_id: CaseArgument,
    user: UserArgument,
    role: Annotated[str, typer.Option(help="their role in the case: one of the model's case roles (by name or id), "
                                           "which may allow them to plan items, or any other")],
    actor: ActorOption,
    reason: ReasonOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Pull a person into the case in a role (once per role).

    Example: `casework case add-participant CASE_ID carol --role "Claims adjuster" --as ann --reason "large claim"`."""
    from casework.engine.commands import AddParticipant

    command = AddParticipant(user=_required(user, "USER"), role=_required(role, "--role"),
                             actor=_required(actor, "--as"), reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"added {command.user} as {command.role}")


def remove_participant_cmd(
    case_id: CaseArgument,
    user: UserArgument,
    actor: ActorOption,
    reason: ReasonOption,
    role: Annotated[str | None, typer.Option(help="only this role (default: every role they have)")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Take a person off the case: from one role (--role), or from every role they have."""
    from casework.engine.commands import RemoveParticipant

    command = RemoveParticipant(user=_required(user, "USER"), role=None if role is None else _required(role, "--role"),
                                actor=_required(actor, "--as"), reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"removed {command.user}" + (f" as {command.role}" if command.role else ""))


def set_due_cmd(
    case_id: CaseArgument,
    due: Annotated[str, typer.Option(metavar="DURATION|DATETIME", help=DUE_HELP)],
    actor: ActorOption,
    reason: ReasonOption,
    item: Annotated[
        str | None, typer.Argument(help="an open item (name or id); none: the case's own deadline")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set when an open item, or the case itself, is due (it shows as overdue past it).

    Examples: `casework case set-due CASE_ID "Assess damage" --due P3D --as ann --reason "expert is away"`,
    `casework case set-due CASE_ID --due 2030-01-31T17:00 --as ann --reason "agreed with the claimant"`."""
    from casework.engine.commands import SetDue

    command = SetDue(item=item, due=due_value(due), actor=_required(actor, "--as"),
                     reason=_required(reason, "--reason"))
    done = f"set the case's deadline to {due.strip()}" if item is None else f"set {item!r} due {due.strip()}"
    run_command(db, case_id, command, done)


def plan_cmd(
    case_id: CaseArgument,
    item: Annotated[str, typer.Argument(help="a discretionary item of a planning table (name or id)")],
    actor: ActorOption,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Plan a discretionary item from a planning table: it joins the plan and starts by the usual rules.

    Allowed while its stage is active and its applicability rules hold, to an actor with one of its authorized case
    roles (`case add-participant`). `casework case show` lists what can be planned now."""
    from casework.engine.commands import PlanItem

    command = PlanItem(item=item, actor=_required(actor, "--as"), reason=_optional(reason))
    run_command(db, case_id, command, f"planned {item!r}")


def depend_cmd(
    case_id: CaseArgument,
    item: Annotated[str, typer.Argument(help="an item that has not started (name or id)")],
    after: Annotated[list[str], typer.Option(metavar="OTHER", help="an item it waits for to complete, repeatable")],
    actor: ActorOption,
    reason: ReasonOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make an item that has not started wait also for other items to complete (reorder the plan).

    Items that already completed count as done. A dependency cannot be taken back (`case remove` releases what
    waited for a removed item). Example: `casework case depend CASE_ID "Pay claimant" --after "Consult specialist"
    --as ann --reason "specialist must confirm"`."""
    from casework.engine.commands import AddDependency

    others = tuple(_required(other, "--after") for other in after)
    command = AddDependency(item=item, after=others, actor=_required(actor, "--as"),
                            reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"{item!r} waits for {', '.join(map(repr, others))}")


def occur_cmd(
    case_id: CaseArgument,
    item: ItemArgument,
    actor: ActorOption,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Say that a user event happened (a user event listener occurs), or declare a milestone reached.

    What waits for it goes on. Example: `casework case occur CASE_ID "Claimant withdraws" --as ann`."""
    from casework.engine.commands import OccurEvent

    command = OccurEvent(item=item, actor=_required(actor, "--as"), reason=_optional(reason))
    run_command(db, case_id, command, f"{item!r} occurred")


def register_plan(case_app: typer.Typer) -> None:
    case_app.command("set-data")(set_data_cmd)
    case_app.command("add-participant")(add_participant_cmd)
    case_app.command("remove-participant")(remove_participant_cmd)
    case_app.command("set-due")(set_due_cmd)
    case_app.command("plan")(plan_cmd)
    case_app.command("depend")(depend_cmd)
    case_app.command("occur")(occur_cmd)
