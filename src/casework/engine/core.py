"""``execute``, ``decide`` and ``replay``: the engine's entry points, and the CMMN lifecycle commands.

``execute`` validates a command completely before it changes anything, so a rejected command leaves the state as it
was; it then applies each event as it is decided. A ``Together`` runs its parts one after another, and a part refused
after others changed the state puts the state back as it was before the first. ``decide`` does the same on a copy
and returns only the events.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Container, Iterable
from typing import Any, TypeVar

from casework.engine import commands as c
from casework.engine.errors import CommandRejected
from casework.engine.events import Event, Undo, apply
from casework.engine.lifecycle import ACTIVE, AVAILABLE, DISABLED, ENABLED, OPEN
from casework.engine.plan import PlanIndex, effective_plan, extend_plan
from casework.engine.runner import Run
from casework.engine.state import CaseState, ItemInstance
from casework.model.definition import (
    EVENT_LISTENER_KINDS,
    MILESTONE,
    STAGE_KINDS,
    TIMER_EVENT,
    USER_EVENT,
    CaseDefinition,
    CaseFileItemDef,
    PlanItemDef,
)
from casework.model.timers import TimerError, format_datetime, parse_datetime

C = TypeVar("C", bound=c.Command)
Handler = Callable[[Run, Any], None]
_HANDLERS: dict[type[c.Command], Handler] = {}


def handles(command_type: type[C]) -> Callable[[Callable[[Run, C], None]], Callable[[Run, C], None]]:
    def register(fn: Callable[[Run, C], None]) -> Callable[[Run, C], None]:
        _HANDLERS[command_type] = fn
        return fn

    return register


def plan_for(definition: CaseDefinition, state: CaseState) -> PlanIndex:
    cached = state.plan_cache
    key = (id(definition), len(state.overlay), state.definition_key)
    if cached is not None and cached[0] == key:
        plan: PlanIndex = cached[1]
        return plan
    extended = None
    if cached is not None and cached[0][0] == key[0] and cached[0][2] == key[2]:
        # The same case plan with items added since (the usual change): extended rather than rebuilt, which would
        # cost every command that adds an item the whole plan so far.
        extended = extend_plan(cached[1], state.overlay)
    plan = extended if extended is not None else effective_plan(definition, state.overlay)
    state.plan_cache = (key, plan)
    return plan


def execute(
    definition: CaseDefinition, state: CaseState, command: c.Command, now: dt.datetime, *, restore: bool = True
) -> list[Event]:
    """Run ``command`` on ``state`` (changed in place) and return the events it produced.

    Raises CommandRejected, with the state unchanged, when the command does not apply. Any other exception is a
    defect, and the caller must discard the state object (the store reloads it). A caller that discards the state
    object on a rejection anyway (the service does) passes ``restore=False``: a rejection may then leave it changed,
    and the engine keeps no record of what each event changed (a few percent of a command's cost).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(command, c.Together):
        return _together(definition, state, command, now, restore)
    run, command = _run(definition, state, command, now, Undo(state) if restore else None)
    try:
        _handle(run, command)
    except CommandRejected:
        # Checking a command can record an expression failure, and a runaway is found only after its events.
        if run.events and run.undo is not None:
            run.undo.restore()
        raise
    return run.events


def _run(definition: CaseDefinition, state: CaseState, command: c.Command, now: dt.datetime,
         undo: Undo | None) -> tuple[Run, c.Command]:
    """The checks every command passes before its handler, the `Run` it is handled in, and the command as it is
    handled (its names as they are kept: `c.check_fields`)."""
    if type(command) not in _HANDLERS:
        raise CommandRejected(f"unknown command {type(command).__name__}")
    command = c.check_fields(command)
    if not isinstance(command, c.StartCase):
        if state.status == "new":
            raise CommandRejected("the case has not started")
        if state.ended:
            raise CommandRejected(f"the case has ended ({state.status}); it cannot be changed")
        if state.status == "suspended" and isinstance(command, c.SuspendCase):
            # "resume it first", said to someone suspending it, reads as an order to undo the hold.
            raise CommandRejected("the case is already suspended")
        if state.status == "suspended" and not taken_while_suspended(command):
            raise CommandRejected("the case is suspended; resume it first")
    if not command.actor:
        raise CommandRejected("a command needs an actor")
    run = Run(definition, plan_for(definition, state), state, now, command.actor, command.reason, restore=False)
    run.undo = undo
    return run, command


def taken_while_suspended(command: c.Command) -> bool:
    """Whether a suspended case takes ``command``: what resumes or ends it, a document attached, and a person's
    dismissal of a suggestion. The plan of a suspended case does not progress (CMMN 1.1 §8.4.2), so every command
    that acts on it waits for the resume. A document changes nothing in it: it is content the case refers to, not a
    case file item (no sentry hears it, on hold or not), and the one that arrives while a claim waits for it is
    usually why the hold ends, so it is kept at once. A dismissal changes nothing in it either (it is a judgement
    kept for acceptance rates: who, why, the suggestion and the model that made it), and triage goes on while a case
    is on hold. Accepting does not: its action acts on the plan, and so its record waits with it; nor does case
    data, which sentries hear (docs/semantics.md, Suspension)."""
    if isinstance(command, c.ResumeCase | c.TerminateCase | c.AttachDocument):
        return True
    return isinstance(command, c.RecordFeedback) and not command.accepted


def _handle(run: Run, command: c.Command) -> None:
    _HANDLERS[type(command)](run, command)
    run.settle()


# Parts a `Together` cannot have: a start makes the case its other parts act on, a migration changes the definition
# the parts after it would be judged by (and the store moves the case with it), and nesting says nothing more.
_NOT_TOGETHER = (c.StartCase, c.Migrate, c.Together)


def _together(
    definition: CaseDefinition, state: CaseState, command: c.Together, now: dt.datetime, restore: bool
) -> list[Event]:
    parts = command.commands
    if not isinstance(parts, (tuple, list)) or not parts:
        raise CommandRejected("Together.commands must be a non-empty list of commands")
    if len(parts) > c.MAX_ENTRIES:  # as any list a command holds
        raise CommandRejected(f"Together has {len(parts):,} parts; at most {c.MAX_ENTRIES:,} are allowed")
    for part in parts:
        if not isinstance(part, c.Command):
            raise CommandRejected(f"Together.commands must be commands, not {type(part).__name__}")
        if isinstance(part, _NOT_TOGETHER):
            raise CommandRejected(f"{type(part).__name__} cannot be part of Together")
    # One record for all parts: it keeps what each thing was before the first part touched it.
    undo = Undo(state) if restore else None
    events: list[Event] = []
    for number, part in enumerate(parts, start=1):
        try:
            run, part = _run(definition, state, part, now, undo)
            _handle(run, part)
        except CommandRejected as exc:
            if undo is not None:
                undo.restore()
            raise CommandRejected(f"part {number} of {len(parts)} ({type(part).__name__}) was rejected, so none "
                                  f"was done: {exc}") from exc
        events.extend(run.events)
    return events


def decide(definition: CaseDefinition, state: CaseState, command: c.Command, now: dt.datetime) -> list[Event]:
    """The events ``command`` would produce, leaving ``state`` untouched."""
    return execute(definition, CaseState.from_dict(state.to_dict()), command, now)


def replay(definition: CaseDefinition, case_id: str, events: Iterable[Event]) -> CaseState:
    state = CaseState.create(case_id, definition)
    for event in events:
        apply(state, event)
    return state


# -- item lookup ---------------------------------------------------------------------------------------------------
def resolve(
    run: Run, ref: str, states: Iterable[str], what: str, accepts: Callable[[ItemInstance], bool] | None = None,
    *, items_only: bool = False,
) -> ItemInstance:
    """The instance ``ref`` names (its id, plan item id or name) in one of ``states`` (and that ``accepts`` takes);
    refused when there is none, or more than one: the command would act on work nobody chose. With ``items_only``,
    refused when it names the case plan (`case_plan_refused`); a name or plan item id never does."""
    wanted = tuple(states)
    item = run.state.items.get(ref)
    if item is not None:
        if items_only and item.id == run.state.root:
            raise case_plan_refused(ref, what)
        candidates = [item]
    else:
        candidates = [i for i in run.state.items.values() if ref in (i.name, i.def_id) and i.id != run.state.root]
    if not candidates:
        raise CommandRejected(f"no item {ref!r} in this case")
    matching = [i for i in candidates if i.state in wanted and (accepts is None or accepts(i))]
    if len(matching) > 1:
        raise CommandRejected(ambiguous(ref, matching, what))
    if matching:
        return matching[0]
    seen = ", ".join(sorted({i.state for i in candidates}))
    raise CommandRejected(f"cannot {what} {ref!r}: it is {seen}; {what} needs it {' or '.join(wanted)}")


# Item commands refuse the case plan, each pointing to what does that to the case: the verb the refusal names the
# command by, and what to do instead.
_CASE_PLAN_INSTEAD: dict[str, tuple[str, str]] = {
    "skip": ("skip", "complete or terminate the case instead"),
    "remove": ("remove", "terminate the case instead"),
    "terminate": ("terminate", "terminate the case instead"),
    "suspend": ("suspend", "suspend the case instead"),
    "add_dependency": ("add a dependency to", "only the items in it can wait for others"),
    "set_due": ("set the due of", "set the case's own due instead (name no item)"),
    "reassign": ("reassign", "add a participant to the case instead"),
}


def case_plan_refused(ref: str, what: str) -> CommandRejected:
    """Why item command ``what`` refuses ``ref``, which names the case plan (by its instance id; a plan change also
    by its plan item id or name): done, it would end, hold or change the whole case, reported as done to an item,
    and the case plan's instance id is one digit from a task's (i1, i12)."""
    verb, instead = _CASE_PLAN_INSTEAD.get(what, (what, "act on the case instead"))
    return CommandRejected(f"cannot {verb} {ref!r}: it is the case plan, not an item in it; {instead}")


def ambiguous(ref: str, items: Iterable[ItemInstance], what: str) -> str:
    """Why a command naming several instances is refused: picking one of them would act on work nobody chose."""
    listed = ", ".join(f"{i.id} ({i.name}, {i.state})" for i in items)
    return f"{ref!r} names more than one item: {listed}; {what} one by its id"


def root(run: Run) -> ItemInstance:
    assert run.state.root is not None
    return run.state.items[run.state.root]


def check_roles(run: Run, definition: PlanItemDef, what: str) -> None:
    """Rejects the command unless its actor takes part in the case in one of the item's authorized case roles (a
    participant added with the role's name or id); an item without authorized roles is open to every actor."""
    if not definition.authorized_roles:
        return
    roles = set(run.state.participants.get(run.actor, []))
    allowed = set()
    for role_id in definition.authorized_roles:
        role = run.plan.definition.roles.get(role_id)
        allowed |= {role_id, role.name if role else role_id}
    if not roles & allowed:
        names = ", ".join(sorted(r.name for r in run.plan.definition.roles.values() if r.id in allowed))
        raise CommandRejected(f"{run.actor} may not {what} {definition.name!r}: it needs the case role {names}")


# -- lifecycle commands --------------------------------------------------------------------------------------------
@handles(c.StartCase)
def _start_case(run: Run, cmd: c.StartCase) -> None:
    if run.state.status != "new":
        raise CommandRejected("the case has already started")
    variables = check_variables(cmd.variables)
    initiator = run.plan.definition.initiator_variable
    if initiator and initiator not in variables:
        variables[initiator] = cmd.actor
    _check_file_parents(run.plan.definition, variables, set(variables))
    run.emit("case_started", {"definition": run.plan.definition.key, "variables": variables})
    plan_item = run.create_instance(run.plan.definition.plan, None, evaluate_entry=False)
    run.transition(plan_item, "start")
    # The case file items given at the start are created once the plan's items exist to listen: raised before them,
    # a `create` on-part on data the case was opened with would never fire.
    for name in variables:
        file_changed(run, name, "create")


@handles(c.CompleteItem)
def _complete(run: Run, cmd: c.CompleteItem) -> None:
    wanted = (ACTIVE, AVAILABLE) if _is_event_like(run, cmd.item) else (ACTIVE,)
    item = resolve(run, cmd.item, wanted, "complete", _completable)
    variables = check_variables(cmd.variables) if cmd.variables else None
    if item.kind in STAGE_KINDS:
        _check_completable(run, item, force=False)
    if item.kind == USER_EVENT:
        check_roles(run, run.plan.items[item.def_id], "raise")
    if variables:
        set_variables(run, variables, ())
    if item.state not in (ACTIVE, AVAILABLE):
        return  # setting the variables already ended it (an exit criterion fired)
    if item.kind in EVENT_LISTENER_KINDS or item.kind == MILESTONE:
        run.transition(item, "occur")
    elif item.kind in STAGE_KINDS:
        run.complete_stage(item)
    else:
        run.transition(item, "complete")


_EVENT_LIKE = EVENT_LISTENER_KINDS | {MILESTONE}


def _is_event_like(run: Run, ref: str) -> bool:
    """Whether ``ref`` names a milestone or event listener (maybe among other items: `resolve` then refuses a name
    that fits two, rather than take the task because it alone is active)."""
    item = run.state.items.get(ref)
    kinds = {item.kind} if item else {i.kind for i in run.state.items.values() if ref in (i.name, i.def_id)}
    return bool(kinds & _EVENT_LIKE)


def _completable(item: ItemInstance) -> bool:
    return item.state == ACTIVE or item.kind in _EVENT_LIKE


@handles(c.StartItem)
def _start_manual(run: Run, cmd: c.StartItem) -> None:
    item = resolve(run, cmd.item, (ENABLED,), "start")
    waiting = run.unmet_dependencies(item)
    if waiting:
        raise CommandRejected(f"{item.name!r} waits for {', '.join(waiting)} to complete (a dependency added to it)")
    run.transition(item, "manualStart")


@handles(c.DisableItem)
def _disable(run: Run, cmd: c.DisableItem) -> None:
    run.transition(resolve(run, cmd.item, (ENABLED,), "disable"), "disable")


@handles(c.EnableItem)
def _reenable(run: Run, cmd: c.EnableItem) -> None:
    run.transition(resolve(run, cmd.item, (DISABLED,), "enable"), "reenable")


@handles(c.TerminateItem)
def _terminate(run: Run, cmd: c.TerminateItem) -> None:
    item = resolve(run, cmd.item, sorted(OPEN), "terminate", items_only=True)
    if item.kind in EVENT_LISTENER_KINDS or item.kind == MILESTONE:
        run.transition(item, "terminate")
    elif item.state == ACTIVE:
        run.terminate(item)
    else:
        run.exit(item)


@handles(c.OccurEvent)
def _occur(run: Run, cmd: c.OccurEvent) -> None:
    item = resolve(run, cmd.item, (AVAILABLE,), "occur")
    if item.kind not in (USER_EVENT, MILESTONE):
        raise CommandRejected(f"{item.name!r} is a {item.kind}; only user event listeners and milestones occur")
    # A user event listener's authorized roles say who may raise it (CMMN 1.1 UserEventListener).
    check_roles(run, run.plan.items[item.def_id], "raise")
    run.transition(item, "occur")


@handles(c.SuspendItem)
def _suspend(run: Run, cmd: c.SuspendItem) -> None:
    item = resolve(run, cmd.item, (ACTIVE, AVAILABLE), "suspend", items_only=True)
    if item.state == AVAILABLE and item.kind not in EVENT_LISTENER_KINDS | {MILESTONE}:
        raise CommandRejected(f"cannot suspend {item.name!r}: it has not started")
    run.suspend(item, "suspend")


@handles(c.ResumeItem)
def _resume(run: Run, cmd: c.ResumeItem) -> None:
    item = resolve(run, cmd.item, ("suspended",), "resume")
    parent = run.state.items.get(item.parent) if item.parent else None
    if parent is not None and parent.state == "suspended":
        raise CommandRejected(f"cannot resume {item.name!r}: its stage {parent.name!r} is suspended")
    run.resume(item, "resume")


@handles(c.SuspendCase)
def _suspend_case(run: Run, cmd: c.SuspendCase) -> None:
    run.suspend(root(run), "suspend")


@handles(c.ResumeCase)
def _resume_case(run: Run, cmd: c.ResumeCase) -> None:
    plan_item = root(run)
    if plan_item.state != "suspended":
        raise CommandRejected("the case is not suspended")
    run.resume(plan_item, "resume")


@handles(c.SetVariables)
def _set_variables(run: Run, cmd: c.SetVariables) -> None:
    both = sorted(set(cmd.variables) & set(cmd.remove))
    if both:
        # Which one meant? Applied, the value was set and then removed, and its case file item heard an update.
        raise CommandRejected(f"cannot both set and remove {', '.join(map(repr, both))} in one command")
    if cmd.expected is not None:
        held = run.state.variables
        changed = sorted(name for name, seen in cmd.expected.items() if not _same_data(held.get(name), seen))
        if changed:
            raise CommandRejected(f"{', '.join(map(repr, changed))} changed since this change was decided: nothing "
                                  "set; look at the case again")
    set_variables(run, check_variables(cmd.variables), cmd.remove)


MAX_DATA_DEPTH = 64  # nesting of lists and objects in one variable's value
# What the variables one command sets may hold together, counted as the characters of their strings and keys plus one
# per other value (about their JSON size). Every event that sets them and every snapshot of the case carry them
# whole: bulk content (a scanned file, a mail archive) belongs in a document, which the case refers to by its digest.
MAX_DATA_SIZE = 1_000_000


def check_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """The case's own copy of `variables`, checked: names are identifiers (expressions read them) and values are JSON
    data (events and snapshots store them as JSON): null, booleans, finite numbers, strings, lists and objects with
    string keys, nested at most `MAX_DATA_DEPTH` deep, of at most `MAX_DATA_SIZE` together.

    A copy, because the state keeps what it is given: a caller that changed its list after the command would change
    the case's state behind the log's back (and make the next such command look like a no-op)."""
    used = 0
    for name, value in variables.items():
        if isinstance(name, str) and len(name) > c.MAX_NAME:
            raise CommandRejected(f"a variable name is {len(name):,} characters long; at most {c.MAX_NAME:,} are "
                                  "allowed")
        if not isinstance(name, str) or not name.isidentifier():
            raise CommandRejected(f"variable name {name!r} is not an identifier")
        # The bound is on all the data one command sets: fifty variables of a megabyte each bloat every event and
        # snapshot as one variable of fifty would.
        used += check_json_data(f"variable {name}", value, MAX_DATA_SIZE - used,
                                beside=" beside the rest this command sets" if used else "")
    return {name: _json_copy(value) for name, value in variables.items()}


def _json_copy(value: Any) -> Any:
    """A copy of checked JSON data (recursion stays within `MAX_DATA_DEPTH`); a tuple becomes the list JSON makes
    of it, so the live state is what a replay of the stored events gives."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(v) for v in value]
    return value


_Node = tuple[Any, int, "_Node | None", "str | int"]  # value, depth, the node it is in, its key or index there


def check_json_data(label: str, value: Any, limit: int = MAX_DATA_SIZE,
                    bulk: str = "; attach bulk content as a document instead", beside: str = "") -> int:
    """`CommandRejected`, naming where in `value`, unless it is JSON data (see `check_variables`) of at most `limit`
    (`bulk` says what to do with more; `beside`, what else the limit counted); returns its size."""
    # Iterative, so that a deeply nested value cannot exhaust the stack; paths are spelled out only for an error.
    stack: list[_Node] = [(value, 0, None, label)]
    size = 0
    while stack:
        node = stack.pop()
        v, depth = node[0], node[1]
        size += len(v) if isinstance(v, str) else 1
        if size > limit:
            raise CommandRejected(f"{label}: more than {limit:,} characters of data{beside}{bulk}")
        if v is None or isinstance(v, (str, bool)):
            continue
        if isinstance(v, int):
            if v.bit_length() > 14_000:  # past ~4,300 digits Python will not turn an int into text
                raise CommandRejected(f"{_path(node)}: the number is too large")
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                raise CommandRejected(f"{_path(node)}: {v} is not a number JSON can hold")
            continue
        if depth >= MAX_DATA_DEPTH:
            raise CommandRejected(f"{label}: nested more than {MAX_DATA_DEPTH} levels deep")
        if isinstance(v, (list, tuple)):
            stack.extend((item, depth + 1, node, i) for i, item in enumerate(v))
        elif isinstance(v, dict):
            for key, item in v.items():
                if not isinstance(key, str):
                    raise CommandRejected(f"{_path(node)}: key {key!r} is not a string")
                size += len(key)
                stack.append((item, depth + 1, node, key))
        else:
            raise CommandRejected(f"{_path(node)}: a {type(v).__name__} is not JSON data")
    return size


def _path(node: _Node) -> str:
    parts: list[str] = []
    current: _Node | None = node
    while current is not None:
        key, current = current[3], current[2]
        parts.append(f"[{key}]" if isinstance(key, int) else (f".{key}" if current is not None else key))
    return "".join(reversed(parts))


def set_variables(run: Run, variables: dict[str, Any], remove: Iterable[str]) -> None:
    before = run.state.variables
    removed = _with_children(run.plan.definition, before, remove)
    _check_file_parents(run.plan.definition, variables, _Held(before, variables, removed), removed)
    changed = {k: v for k, v in variables.items() if k not in before or not _same_data(before[k], v)}
    if not changed and not removed:
        return
    created = [k for k in changed if k not in before]
    run.emit("variables_set", {"variables": changed, "removed": removed})
    names = [*changed, *removed]
    for name in names:
        for owner, criterion, is_exit in (*run.plan.on_var.get(name, ()), *run.plan.on_var.get("*", ())):
            for target in run.state.live(owner):
                run.pending[(target.id, criterion.id, is_exit)] = criterion
        file_changed(run, name, "create" if name in created else ("delete" if name in removed else "update"))
    # The required rules of instances recorded before their value was kept on creation read these variables: let
    # every open stage look at its completion again.
    for stage_id in run.plan.stages:
        for stage in run.state.live(stage_id):
            if stage.state == ACTIVE:
                run.dirty_stages[stage.id] = None


def _same_data(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same data. Python's == holds for true and 1, 0 and false, 1.0 and 1: setting
    `true` on a variable holding 1 recorded nothing, and the case kept a number that CEL and JUEL read otherwise."""
    if a != b:  # the usual answer, found without a walk
        return False
    # Equal by ==: the same keys and lengths, so only the types of what they hold can differ. Iterative, one loop
    # rather than a call per value: a case's data may hold tens of thousands of values.
    pairs: list[tuple[Any, Any]] = [(a, b)]
    while pairs:
        x, y = pairs.pop()
        kind = type(x)
        if kind is not type(y):
            return False
        if kind is dict:
            pairs.extend((v, y[k]) for k, v in x.items())
        elif kind is list:
            pairs.extend(zip(x, y, strict=True))
    return True


class _Held(Container[str]):
    """The variables the case holds after a command that sets ``variables`` and removes ``removed``, asked one name
    at a time: a set of them all cost every command the size of the case's data."""

    __slots__ = ("before", "removed", "variables")

    def __init__(self, before: dict[str, Any], variables: dict[str, Any], removed: Collection[str]) -> None:
        self.before, self.variables, self.removed = before, variables, removed

    def __contains__(self, name: object) -> bool:
        return (name in self.before or name in self.variables) and name not in self.removed


def _with_children(definition: CaseDefinition, held: dict[str, Any], remove: Iterable[str]) -> list[str]:
    """The variables that removing ``remove`` removes: those of them the case holds, each after the variables of the
    case file items nested in it, at any depth, that the case holds. A parent case file item composes its children
    (CMMN 1.1), so they go with it; children first, so that each `removeChild` is raised on a parent still there."""
    out: dict[str, None] = {}
    for name in remove:
        if name not in held:
            continue
        item = definition.case_file_item_by_name(name)
        for cfi in _children_first(definition, item) if item is not None else []:
            if cfi.name in held:
                out.setdefault(cfi.name)
        out.setdefault(name)
    return list(out)


def _children_first(definition: CaseDefinition, item: CaseFileItemDef) -> list[CaseFileItemDef]:
    """``item`` and the case file items nested in it at any depth, each after its children, siblings in model
    order."""
    # Iterative, as the nesting is the model's: a depth-first walk that takes the last child first, reversed.
    walk: list[CaseFileItemDef] = []
    stack = [item]
    while stack:
        cfi = stack.pop()
        walk.append(cfi)
        stack.extend(definition.case_file_children(cfi.id))
    return walk[::-1]


def _check_file_parents(definition: CaseDefinition, variables: Iterable[str], held: Container[str],
                       removing: Collection[str] = ()) -> None:
    """`CommandRejected` if ``variables`` set a child case file item whose parent the case will not hold (``held``
    after the command, ``removing`` in it): a child exists within its parent (CMMN 1.1), and its `addChild` would
    be raised on nothing."""
    for name in variables:
        item = definition.case_file_item_by_name(name)
        if item is None or not item.parent:
            continue
        parent = definition.case_file_items[item.parent].name
        if parent in removing:
            raise CommandRejected(f"cannot set {name!r}: it is a case file item within {parent!r}, which this "
                                  "command removes")
        if parent not in held:
            raise CommandRejected(f"cannot set {name!r}: it is a case file item within {parent!r}, which the case "
                                  f"does not hold; set {parent!r} first, or in the same command")


def file_changed(run: Run, name: str, event: str) -> None:
    """Raise ``event`` (create, update or delete) on the case file item of variable ``name``, if there is one. A
    value is replaced as a whole, so a change is also CMMN's `replace`; a child case file item (nested in the model)
    that is created or deleted is `addChild` or `removeChild` of its parent."""
    file_item = run.plan.definition.case_file_item_by_name(name)
    if file_item is None:
        return
    run.raise_file_event(file_item.id, event)
    if event == "update":
        run.raise_file_event(file_item.id, "replace")
    elif file_item.parent:
        run.raise_file_event(file_item.parent, "addChild" if event == "create" else "removeChild")


# A cycle fires every occurrence that came due while nobody called (the worker was down, or a clock was advanced
# by days), but one command fires at most this many: a cycle of seconds left for months must not turn one command
# into millions of events. What is left fires at the next call, still earliest first.
MAX_TIMER_FIRINGS = 1000


@handles(c.FireDueTimers)
def _fire_due_timers(run: Run, cmd: c.FireDueTimers) -> None:
    passed: set[str] = set()  # timers of items that cannot occur now (e.g. held by a suspended stage)
    for _ in range(MAX_TIMER_FIRINGS):
        due = min(((parse_datetime(at), item_id) for item_id, at in run.state.timers.items() if item_id not in passed),
                  default=None)
        if due is None or due[0] > run.now:
            return
        at, item_id = due
        item = run.state.items[item_id]
        if item.state != AVAILABLE:
            passed.add(item_id)
            continue
        _fire_timer(run, item, at)


def _fire_timer(run: Run, item: ItemInstance, at: dt.datetime) -> None:
    definition = run.plan.items[item.def_id]
    # The clock fired it, not the command's actor (the worker that noticed it was due).
    run.automatic = True
    run.transition(item, "occur")
    run.automatic = False
    run.settle()
    timer = definition.timer
    try:
        next_due = timer.next_due(at, item.index) if timer is not None else None
    except TimerError:
        next_due = None  # the next firing would fall past year 9999: the cycle is spent
    parent = run.state.items[item.parent] if item.parent else None
    if next_due is not None and parent is not None and parent.state == ACTIVE and definition.kind == TIMER_EVENT:
        # The next firing of the cycle: it does not wait for a start trigger again.
        nxt = run.create_instance(definition, parent, index=item.index + 1, evaluate_entry=False)
        run.emit("timer_scheduled", {"id": nxt.id, "due": format_datetime(next_due)})


@handles(c.TerminateCase)
def _terminate_case(run: Run, cmd: c.TerminateCase) -> None:
    run.terminate(root(run))


def _check_completable(run: Run, stage: ItemInstance, *, force: bool) -> None:
    if stage.state != ACTIVE:
        raise CommandRejected(f"{stage.name!r} is {stage.state}; only an active stage can be completed")
    if force:
        return
    blockers = run.completable(stage)
    if blockers:
        names = ", ".join(f"{b.name} ({b.state})" for b in blockers)
        raise CommandRejected(f"{stage.name!r} is not completable: still open: {names}")


@handles(c.CompleteStage)
def _complete_stage(run: Run, cmd: c.CompleteStage) -> None:
    stage = resolve(run, cmd.item, (ACTIVE,), "complete")
    if stage.kind not in STAGE_KINDS:
        raise CommandRejected(f"{stage.name!r} is not a stage")
    _check_completable(run, stage, force=cmd.force)
    run.complete_stage(stage)


@handles(c.CompleteCase)
def _complete_case(run: Run, cmd: c.CompleteCase) -> None:
    plan_item = root(run)
    _check_completable(run, plan_item, force=cmd.force)
    run.complete_stage(plan_item)
