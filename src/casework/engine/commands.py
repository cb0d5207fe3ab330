"""Commands: one frozen dataclass per thing a person or system can ask of a case.

Every command carries the actor and an optional reason; both are written on every event the command produces. Items
are named by instance id, plan item id or name (the instance in the state the command needs is chosen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    """Put an active task or stage (with its active children) on hold."""


@dataclass(frozen=True, kw_only=True)
class ResumeItem(ItemCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class SuspendCase(Command):
    """Put the whole case on hold: only resume and terminate are accepted until it resumes."""


@dataclass(frozen=True, kw_only=True)
class ResumeCase(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class SetVariables(Command):
    variables: dict[str, Any]
    remove: tuple[str, ...] = ()


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
class Migrate(Command):
    """Move a running case to another definition (see ``casework.engine.migration``)."""

    definition: Any  # the target CaseDefinition
    version: str | None = None  # the target's deployed version, for the store
