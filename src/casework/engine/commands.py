"""Commands: one frozen dataclass per thing a person or system can ask of a case.

Every command carries the actor and an optional reason; both are written on every event the command produces. Items
are named by instance id, plan item id or name (the instance in the state the command needs is chosen); a name or
plan item id that fits more than one instance in that state, or for a plan change more than one plan item, is
refused, listing their ids.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casework.engine.errors import CommandRejected
from casework.names import typed, unreadable


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: str = "system"
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class StartCase(Command):
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ItemCommand(Command):
    item: str


@dataclass(frozen=True, kw_only=True)
class CompleteItem(ItemCommand):
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StartItem(ItemCommand):
    """Manually start an enabled item."""


@dataclass(frozen=True, kw_only=True)
class DisableItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class EnableItem(ItemCommand):
    """Re-enable a disabled item."""


@dataclass(frozen=True, kw_only=True)
class TerminateItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class OccurEvent(ItemCommand):
    """A user event listener occurs (or a milestone is declared reached)."""


@dataclass(frozen=True, kw_only=True)
class SuspendItem(ItemCommand):
    """Put an active task or stage on hold: a stage's open children are held with it until it resumes."""


@dataclass(frozen=True, kw_only=True)
class ResumeItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class SuspendCase(Command):
    """Put the whole case on hold: only resume, terminate, a document attached and the dismissal of a suggestion
    are accepted until it resumes (`core.taken_while_suspended`)."""


@dataclass(frozen=True, kw_only=True)
class ResumeCase(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class SetVariables(Command):
    variables: dict[str, Any]
    remove: tuple[str, ...] = ()
    # What these variables held when the change was decided (None: absent): the command is refused if any of them
    # holds something else by the time it runs, so that a value someone entered meanwhile is not overwritten unseen.
    expected: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class FireDueTimers(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class TerminateCase(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class CompleteStage(ItemCommand):
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class CompleteCase(Command):
    force: bool = False


# -- adaptive commands -----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AddItem(Command):
    """Add a human task, stage or milestone to a running case."""

    kind: str  # "humanTask" | "stage" | "milestone"
    name: str
    stage: str | None = None
    after: tuple[str, ...] = ()
    manual: bool = False
    required: bool = False
    repeat: bool = False
    auto_complete: bool = True
    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()  # the queues that see the task until someone claims it
    candidate_users: tuple[str, ...] = ()  # people offered the task until someone claims it
    due: str | None = None
    description: str = ""
    # Refuse it while an item of this name is open (not completed or terminated): what a person accepting
    # a suggestion to add the task means, so that two people accepting it at once do not add it twice.
    unless_open: bool = False


@dataclass(frozen=True, kw_only=True)
class AddDependency(ItemCommand):
    after: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SkipItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RemoveItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class Reassign(ItemCommand):
    to: str | None


@dataclass(frozen=True, kw_only=True)
class AddParticipant(Command):
    user: str
    role: str


@dataclass(frozen=True, kw_only=True)
class RemoveParticipant(Command):
    user: str
    role: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetDue(Command):
    item: str | None  # None: the case's own deadline
    due: str  # ISO-8601 duration (from now) or date-time


@dataclass(frozen=True, kw_only=True)
class PlanItem(ItemCommand):
    """Plan a discretionary item from a planning table."""


@dataclass(frozen=True, kw_only=True)
class RecordFeedback(Command):
    """A person accepted or dismissed a suggestion; kept in the audit trail for acceptance rates."""

    suggestion: dict[str, Any]
    accepted: bool
    model_version: str = ""


@dataclass(frozen=True, kw_only=True)
class Together(Command):
    """Several commands as one: run in order against the one state, each as if alone (its own actor, reason and
    settling), their events in that order; if any is rejected, all are, and the state is as it was. For what must
    not be half done, such as a suggested action and the record that a person accepted it. The events are the
    parts' own (nothing marks them as together: a log reads as if the parts had run one after another), and this
    command's actor and reason are not written. A part cannot start the case, migrate it, or be `Together`."""

    commands: tuple[Command, ...]


@dataclass(frozen=True, kw_only=True)
class AttachDocument(Command):
    """A document was attached to the case. Its bytes are stored outside the case (content-addressed, by the
    caller); the event records which bytes, so the audit trail says who attached what, when and why. It changes
    nothing in the plan (a document is not a case file item: no sentry hears it), so a suspended case takes it."""

    name: str
    sha256: str  # of the content, hex
    size: int
    media_type: str
    document_id: str  # the stored document row's id
    # The highest version of this name stored before documents were events (or by `Store.add_document`), which the
    # case's state cannot know: the new one comes after it as well as after those the log holds.
    previous_version: int = 0


@dataclass(frozen=True, kw_only=True)
class Migrate(Command):
    """Move a running case to another definition (see ``casework.engine.migration``)."""

    definition: Any  # the target CaseDefinition
    version: str | None = None  # the target's deployed version, for the store


# -- field types, checked when a command arrives ------------------------------------------------------------------
# Commands come from code, scenario files and (later) request bodies; a field of the wrong type would otherwise
# fail deep inside a handler as a TypeError or AttributeError, which the engine treats as a defect.
_Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_texts(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: dict[Any, tuple[_Check, str]] = {
    str: (_is_str, "text"),
    str | None: (_is_optional_str, "text or null"),
    bool: (_is_bool, "true or false"),
    tuple[str, ...]: (_is_texts, "a list of texts"),
    dict[str, Any]: (_is_object, "an object"),
    int: (_is_int, "an integer"),
}


# -- how much text a command may carry -----------------------------------------------------------------------------
# The actor and reason are written on every event a command produces, and names, people and payloads into events,
# snapshots and the case's memory: unbounded, one careless or hostile caller could bloat the audit log for good or
# exhaust memory. The store's columns hold names of 500 characters and people, roles and media types of 200 (see
# `casework.store.storable`); the engine bounds the same fields the same way, and what the store keeps as unbounded
# text here.
MAX_TEXT = 4_000  # free text a person writes: a reason, an added item's description
MAX_NAME = 500  # names of items (and the references that name them), documents and variables
MAX_WORD = 200  # every other text field: actors, people, roles, groups, media types, ids, versions, due times
MAX_ENTRIES = 1_000  # entries of a list field (the items an added item waits for, its candidates, variables removed)
MAX_SUGGESTION = 20_000  # the data of a suggestion that feedback records, counted as `core.check_json_data` does

_TEXT_LIMITS = {"reason": MAX_TEXT, "description": MAX_TEXT, "name": MAX_NAME, "item": MAX_NAME,
                "stage": MAX_NAME, "after": MAX_NAME, "remove": MAX_NAME}


def text_limit(field_name: str) -> int:
    """The most characters field `field_name` of a command (or each entry of a list field) may hold."""
    return _TEXT_LIMITS.get(field_name, MAX_WORD)


_FieldCheck = tuple[str, _Check, str, int | None, bool]  # name, type check, type named, text limit, is a list


_FIELD_CHECKS: dict[type[Command], tuple[_FieldCheck, ...]] = {}


def _field_checks(cls: type[Command]) -> tuple[_FieldCheck, ...]:
    checks = _FIELD_CHECKS.get(cls)
    if checks is None:
        hints = typing.get_type_hints(cls)
        found: list[_FieldCheck] = []
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if hint in _CHECKS:
                texts = hint in (str, str | None, tuple[str, ...])
                found.append((f.name, *_CHECKS[hint], text_limit(f.name) if texts else None, hint == tuple[str, ...]))
        checks = tuple(found)
        _FIELD_CHECKS[cls] = checks
    return checks


_C = typing.TypeVar("_C", bound=Command)

# Text that is not a name: what a person writes to explain, which may run over lines (`casework.names`).
_FREE_TEXT = frozenset({"reason", "description"})
# Names of variables: identifiers, matched as the model's expressions write them, so kept as given (`check_variables`
# refuses what does not show in them: an identifier cannot hold it).
_AS_WRITTEN = frozenset({"remove"})


def check_fields(command: _C) -> _C:
    """`command` with its names as they are kept (`casework.names.typed`: without the whitespace around them, in
    NFC); `CommandRejected` naming the first field whose value is not of the field's type, holds more text (or
    entries) than `text_limit` (or `MAX_ENTRIES`) allows, or, for a name (every text field but a reason or
    description), a character a name cannot hold (`casework.names.unreadable`); the message never quotes the
    value."""
    kept: dict[str, Any] = {}
    for name, check, what, limit, is_list in _field_checks(type(command)):
        value = getattr(command, name)
        if not check(value):
            raise CommandRejected(f"{type(command).__name__}.{name} must be {what}, not {type(value).__name__}")
        if limit is None or value is None:
            continue
        label = f"{type(command).__name__}.{name}"
        if not is_list:
            if len(value) > limit:
                raise CommandRejected(f"{label} is {len(value):,} characters long; at most {limit:,} are allowed")
            if name not in _FREE_TEXT:
                if problem := unreadable(value, label):
                    raise CommandRejected(problem)
                if name not in _AS_WRITTEN and (normal := typed(value)) != value:
                    kept[name] = normal
            continue
        if len(value) > MAX_ENTRIES:
            raise CommandRejected(f"{label} has {len(value):,} entries; at most {MAX_ENTRIES:,} are allowed")
        for number, entry in enumerate(value, start=1):
            if len(entry) > limit:
                raise CommandRejected(f"{label}: entry {number} is {len(entry):,} characters long; at most "
                                      f"{limit:,} are allowed")
            if problem := unreadable(entry, f"{label}: entry {number}"):
                raise CommandRejected(problem)
        if value and name not in _AS_WRITTEN and (normals := tuple(map(typed, value))) != tuple(value):
            kept[name] = normals
    return dataclasses.replace(command, **kept) if kept else command
