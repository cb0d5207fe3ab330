"""`casework case`: work a running case from the terminal, each change one audited command through the service.

A change the engine refuses (an item in the wrong state, a name that fits more than one item, a case that has
ended) ends with `error: nothing recorded: <the engine's reason>` and exit status 2; the case is left as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from casework.display import events_written, quoted, shown
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import ActorOption, DbOption, open_store, sealable

if TYPE_CHECKING:
    from casework.engine.commands import Command
    from casework.service import CaseResult, CaseService
    from casework.store import Store

case_app = typer.Typer(no_args_is_help=True, help="Work a case: start it, complete, add, skip, remove or reassign "
                                                  "its items, change its plan, data, people and due times, suspend, "
                                                  "resume or close it, attach and read its documents, and read its "
                                                  "plan and audit trail.")



def _case_id(value: str) -> str:
    """The case id as stored: an id holds no whitespace (`CaseService.start_case`), so one pasted with a space or a
    line break around it is read without (it was "error: no case 1a2b " with the space unseen), and an empty one
    is refused as such (it was "error: no case ", naming nothing)."""
    if not value.strip():
        raise typer.BadParameter("must not be empty: give the id of a case (`casework cases` lists them)")
    return value.strip()


CaseArgument = Annotated[str, typer.Argument(help="id of a stored case (`casework cases` lists them)",
                                             callback=_case_id)]
ItemArgument = Annotated[str, typer.Argument(help="an item of the case: its name, plan item id or instance id "
                                                  "(`casework case show` lists them)")]
ReasonOption = Annotated[str, typer.Option(help="why (required; recorded on the audit trail)")]
OptionalReasonOption = Annotated[str | None, typer.Option(help="why (optional; recorded on the audit trail)")]
DataOption = Annotated[str | None, typer.Option("--data", metavar="JSON", help="case data as a JSON object")]
DUE_HELP = ("when it is due: an ISO-8601 duration from now (P2D, PT4H) or a date or date-time (2030-01-31T17:00); "
            "one without an offset is on the organisation's clock (CASEWORK_TIMEZONE)")


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {shown(message)}", err=True)
    raise typer.Exit(2)


def _required(value: str, option: str) -> str:
    """The text of an option the audit trail records, refused if blank: a blank actor or reason tells nobody who
    or why."""
    if not value.strip():
        raise typer.BadParameter("must not be empty: it is recorded on the audit trail", param_hint=f"'{option}'")
    return value.strip()


def _optional(reason: str | None) -> str | None:
    return reason.strip() if reason and reason.strip() else None


def _data(text: str | None, file: Path | None = None) -> dict[str, Any]:
    """The case data given as --data JSON or in --data-file F: a JSON object, or nothing."""
    if text is not None and file is not None:
        raise typer.BadParameter("give the data once: --data JSON or --data-file F", param_hint="'--data'")
    source = "--data"
    if file is not None:
        source = str(file)
        try:
            # utf-8-sig: a file saved by Windows' Notepad begins with a byte order mark, which JSON refuses
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")
    if text is None:
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_once_each)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not JSON: {exc}")
    except _NamedTwice as exc:
        fail(f"{source} gives {quoted(str(exc))} more than once in one object: which value is meant?")
    except RecursionError:
        # Python's parser gives up about a thousand levels down, far past what the engine takes in a value.
        from casework.engine.core import MAX_DATA_DEPTH

        fail(f"{source} nests lists and objects too deeply: a value of case data may be at most {MAX_DATA_DEPTH} "
             "levels deep")
    if not isinstance(data, dict):
        fail(f"{source} must be a JSON object ({{\"name\": value, ...}}), not {type(data).__name__}")
    return data


class _NamedTwice(ValueError):
    """A JSON object names a key twice (the name)."""


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct: Python's parser keeps the last of a repeated key, so that
    `{"amount": 17500, "amount": 1750}` would record one of the two values typed, without a word."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _NamedTwice(key)
        data[key] = value
    return data


def due_value(text: str, option: str = "--due") -> str:
    """A due time as the engine takes it: a duration as given (the engine counts it from the moment of the change),
    a date or date-time as the instant it means in UTC. One without an offset is a wall-clock time on the
    organisation's clock, as every time the case commands show is: the engine would read it as UTC, an hour or two
    off for a case worker in Amsterdam."""
    from datetime import UTC, datetime

    from casework.model.timers import TimerError, add_duration, check_time_part, format_datetime

    given = text.strip()
    if given.startswith("P"):
        try:
            check_time_part(given)
            add_duration(datetime.now(UTC), given)  # what the engine will do: a duration that gives no date fails here
        except TimerError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from None
        return given
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise typer.BadParameter(f"{quoted(given)} is neither an ISO-8601 duration (P2D, PT4H) nor a date or "
                                 "date-time (2030-01-31, 2030-01-31T17:00)", param_hint=f"'{option}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=organisation_zone())
    try:
        return format_datetime(moment.astimezone(UTC))
    except OverflowError:  # a date-time all right, but one the UTC the case keeps cannot hold
        raise typer.BadParameter(f"{quoted(given)} is outside the years 1 to 9999 in UTC",
                                 param_hint=f"'{option}'") from None


@contextmanager
def changing(db: str, case_id: str) -> Iterator[CaseService]:
    """A service on the database, for one audited change of the case: exit 2 if the case is not there or the
    audit key cannot seal the change (before anything is written), and exit 2 naming the reason, with nothing
    written, if the engine or the service refuses the change made inside."""
    from casework.engine import CommandRejected
    from casework.service import CaseService
    from casework.service.errors import Conflict, InvalidInput, NotFound

    with open_store(db) as store:
        if store.case_head(case_id) is None:
            fail(f"no case {case_id}")
        sealable(store)
        with CaseService(store) as service:
            judging(service)
            try:
                yield service
            except (CommandRejected, Conflict, NotFound, InvalidInput) as exc:
                fail(f"nothing recorded: {' '.join(str(exc).split())}")


def judging(service: CaseService) -> None:
    """Judge each case the service changes with the configured decision support (`casework.insight.configured`:
    CASEWORK_CASE_TYPES), or exit 2 naming what cannot be loaded, before anything is written."""
    from casework.insight.configured import ConfigurationError, watch_changes

    try:
        watch_changes(service)
    except ConfigurationError as exc:
        fail(f"nothing recorded: {exc}")


@contextmanager
def reading(db: str, case_id: str, command: str) -> Iterator[Store]:
    """The store opened read-only for `command` (`casework case history`, ...): exit 2 if the case is not there."""
    with open_store(db, read_only=command) as store:
        if store.case_head(case_id) is None:
            fail(f"no case {case_id}")
        yield store


def run_command(db: str, case_id: str, command: Command, done: str, *, whole_case: bool = False) -> None:
    """Run `command` on the case as one audited change, and print `done` with the events it wrote (`changing`):
    "completed 'Assess damage' on case X", or, `whole_case`, "suspended case X"."""
    with changing(db, case_id) as service:
        result = service.execute(case_id, command)
        if not result.events:  # the case already was as asked (data set to the values it has): done, unrecorded
            typer.echo(shown(f"no change on case {case_id}: it already was so; nothing recorded"))
            return
        # Said before the service seals the events as it closes: a checkpoint that fails then (its error
        # follows) leaves the change stored, and the person must not take it as undone and do it again.
        written = events_written(result.version, [e.type for e in result.events])
        what = f"{done} case {case_id}" if whole_case else f"{done} on case {case_id}"
        typer.echo(shown(f"{what} by {command.actor} ({written})" + _case_ended(command, result)))


def _case_ended(command: Command, result: CaseResult) -> str:
    """What to add when a change to an item ended the whole case (the case plan completed by itself once its last
    work was done, or an exit criterion fired): said, since nothing changes it after. `case terminate-item` of a
    stage ended the case unsaid: the person read only "terminated 'Assessment'"."""
    from casework.engine.commands import CompleteCase, TerminateCase

    if result.status not in ("completed", "terminated") or isinstance(command, CompleteCase | TerminateCase):
        return ""
    return f"; with it the case is {result.status}: it takes no more changes"


@case_app.command("start")
def start_cmd(
    key: Annotated[str, typer.Argument(help="the definition key (`casework definitions` lists them)")],
    actor: ActorOption,
    data: DataOption = None,
    data_file: Annotated[Path | None, typer.Option(help="case data: a file holding a JSON object")] = None,
    business_key: Annotated[
        str | None, typer.Option(help="the case's key in the business (a claim number): one case per key")
    ] = None,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Start a case of the latest deployed version of KEY; prints the new case's id.

    A business key that already names a case starts none: its case's id is printed, and a note says so.
    Example: `casework case start insuranceClaim --data '{"amount": 12500}' --business-key CL-1001 --as ann`."""
    from casework.engine import CommandRejected
    from casework.service import CaseService
    from casework.service.errors import Conflict, InvalidInput, NotFound

    actor = _required(actor, "--as")
    if business_key is not None:
        if not business_key.strip():
            # Stored, a blank key would name this case for good: every later start without a key typed would get it.
            raise typer.BadParameter("must not be empty: leave it out for a case without one",
                                     param_hint="'--business-key'")
        # Read as --as and --to are: "CL-1001 " pasted from a spreadsheet started a second case for claim CL-1001.
        business_key = business_key.strip()
    variables = _data(data, data_file)
    with open_store(db) as store:
        sealable(store)
        with CaseService(store) as service:
            judging(service)
            try:
                result = service.start_case(key, variables, actor=actor, business_key=business_key,
                                            reason=_optional(reason))
            except (CommandRejected, Conflict, NotFound, InvalidInput) as exc:
                fail(f"nothing recorded: {' '.join(str(exc).split())}")
            if not result.created:
                typer.echo(shown(f"note: business key {business_key} already names case {result.case_id}: no case "
                                 "started"), err=True)
            # Said before the service seals the events as it closes: a checkpoint that fails then leaves the case
            # started, and its id must not be lost with it.
            typer.echo(result.case_id)


@case_app.command("complete")
def complete_cmd(
    case_id: CaseArgument,
    item: ItemArgument,
    actor: ActorOption,
    data: DataOption = None,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Complete an active item, with the data its work produced (--data: set on the case as it completes)."""
    from casework.engine.commands import CompleteItem

    command = CompleteItem(item=item, variables=_data(data), actor=_required(actor, "--as"), reason=_optional(reason))
    run_command(db, case_id, command, f"completed {item!r}")


@case_app.command("start-item")
def start_item_cmd(
    case_id: CaseArgument,
    item: ItemArgument,
    actor: ActorOption,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Start an enabled item (one that waits for someone to start it: manual activation)."""
    from casework.engine.commands import StartItem

    command = StartItem(item=item, actor=_required(actor, "--as"), reason=_optional(reason))
    run_command(db, case_id, command, f"started {item!r}")


@case_app.command("add-task")
def add_task_cmd(
    case_id: CaseArgument,
    name: Annotated[str, typer.Argument(help="the new task's name")],
    actor: ActorOption,
    reason: ReasonOption,
    stage: Annotated[str | None, typer.Option(help="the stage it belongs to (default: the case plan)")] = None,
    after: Annotated[
        list[str] | None, typer.Option(help="an item it waits for to complete, repeatable")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="who owns it")] = None,
    due: Annotated[str | None, typer.Option(metavar="DURATION|DATETIME", help=DUE_HELP)] = None,
    manual: Annotated[bool, typer.Option("--manual", help="someone starts it (`case start-item`)")] = False,
    required: Annotated[bool, typer.Option("--required", help="its stage cannot complete without it")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add a human task the model does not have to a running case.

    It behaves like a modelled one: it starts by the usual rules (--manual: enabled, for someone to start;
    otherwise active once the --after items completed). Example: `casework case add-task CASE_ID "Consult
    specialist" --after "Assess damage" --assignee bob --due P2D --reason "fraud indicator" --as ann`."""
    from casework.engine.commands import AddItem

    command = AddItem(kind="humanTask", name=name, stage=stage, after=tuple(after or ()), manual=manual,
                      required=required, assignee=assignee, due=due_value(due) if due is not None else None,
                      actor=_required(actor, "--as"), reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"added task {name!r}")


@case_app.command("skip")
def skip_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
             db: DbOption = DEFAULT_DB) -> None:
    """Complete an item that has not finished, without its work being done.

    What waits for it goes on, and the case shows it as skipped."""
    from casework.engine.commands import SkipItem

    command = SkipItem(item=item, actor=_required(actor, "--as"), reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"skipped {item!r}")


@case_app.command("remove")
def remove_cmd(case_id: CaseArgument, item: ItemArgument, actor: ActorOption, reason: ReasonOption,
               db: DbOption = DEFAULT_DB) -> None:
    """Take an item that has not started out of the case's plan (one that has started: `case skip`)."""
    from casework.engine.commands import RemoveItem

    command = RemoveItem(item=item, actor=_required(actor, "--as"), reason=_required(reason, "--reason"))
    run_command(db, case_id, command, f"removed {item!r}")


@case_app.command("reassign")
def reassign_cmd(
    case_id: CaseArgument,
    item: ItemArgument,
    actor: ActorOption,
    to: Annotated[str | None, typer.Option("--to", metavar="USER", help="the new owner")] = None,
    unassign: Annotated[
        bool, typer.Option("--unassign", help="leave it with no owner (instead of --to)")
    ] = False,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Give an open item to another owner (--to USER), or take it from its owner (--unassign)."""
    from casework.engine.commands import Reassign

    if (to is None) == (not unassign):
        raise typer.BadParameter("give the new owner (--to USER) or --unassign, one of them",
                                 param_hint="'--to'")
    owner = None if unassign else _required(to or "", "--to")
    command = Reassign(item=item, to=owner, actor=_required(actor, "--as"), reason=_optional(reason))
    run_command(db, case_id, command, f"reassigned {item!r} to {owner}" if owner else f"unassigned {item!r}")


def register(app: typer.Typer) -> None:
    from casework.service import case_lifecycle_cli, documents_cli
    from casework.service.case_plan_cli import register_plan
    from casework.service.case_view_cli import explain_cmd, history_cmd, show_cmd

    register_plan(case_app)
    case_app.command("show")(show_cmd)
    case_app.command("explain")(explain_cmd)
    case_app.command("history")(history_cmd)
    case_lifecycle_cli.register(case_app)
    documents_cli.register(case_app)
    app.add_typer(case_app, name="case")
