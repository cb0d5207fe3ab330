"""Case definitions: immutable objects built from a CMMN model, shared by every case of that definition.

A definition never holds runtime state. Plan items are keyed by their planItem id; the case plan model itself is a
plan item of kind ``casePlanModel`` at the root, so stages and the case share one code path in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from casework.expr import Expression
from casework.model.timers import TimerSpec

HUMAN_TASK = "humanTask"
TASK = "task"
STAGE = "stage"
MILESTONE = "milestone"
USER_EVENT = "userEventListener"
TIMER_EVENT = "timerEventListener"
CASE_PLAN = "casePlanModel"

TASK_KINDS = frozenset({HUMAN_TASK, TASK})
STAGE_KINDS = frozenset({STAGE, CASE_PLAN})
EVENT_LISTENER_KINDS = frozenset({USER_EVENT, TIMER_EVENT})

PLAN_ITEM_EVENTS = frozenset(
    {
        "create",
        "enable",
        "disable",
        "reenable",
        "start",
        "manualStart",
        "complete",
        "terminate",
        "exit",
        "fault",
        "suspend",
        "resume",
        "parentSuspend",
        "parentResume",
        "occur",
        "reactivate",
        "close",
    }
)
ANY_EVENT = "*"
TIMER_START = "timerStart"  # the id suffix of the entry criterion that a timer's start trigger becomes
CASE_FILE_EVENTS = frozenset(
    {"create", "update", "replace", "delete", "addChild", "removeChild", "addReference", "removeReference"}
)


@dataclass(frozen=True)
class OnPart:
    """One on-part of a sentry: fires when ``source`` (a plan item id or case file item id) undergoes ``event``."""

    source: str
    event: str
    kind: str = "planItem"  # or "caseFileItem"
    id: str = ""
    # Added at run time (`after`, `add_dependency`): unlike a modelled on-part it counts a completion that happened
    # before the waiting instance existed (docs/semantics.md, Sentries).
    added: bool = False
    # CMMN 1.1 exitCriterionRef (1.0: sentryRef), with the event exit: the on-part fires only when the source exits
    # by this exit criterion of its own (named by the criterion's id, or by its sentry's id as CMMN 1.0 did).
    exit_criterion: str = ""


@dataclass(frozen=True)
class Sentry:
    id: str
    on_parts: tuple[OnPart, ...] = ()
    if_part: Expression | None = None


@dataclass(frozen=True)
class Criterion:
    """An entry or exit criterion: a use of a sentry by one plan item."""

    id: str
    sentry: Sentry


@dataclass(frozen=True)
class Rule:
    """A manual activation, required or repetition rule. No condition means the rule holds."""

    id: str = ""
    condition: Expression | None = None


@dataclass(frozen=True)
class PlanItemDef:
    id: str
    name: str
    kind: str
    definition_id: str
    parent: str | None
    entry: tuple[Criterion, ...] = ()
    exit: tuple[Criterion, ...] = ()
    manual: Rule | None = None
    required: Rule | None = None
    repetition: Rule | None = None
    counter_variable: str = "repetitionCounter"
    blocking: bool = True
    # flowable:isBlockingExpression: evaluated when the task starts, in place of `blocking` (as Flowable does)
    blocking_expression: Expression | None = None
    auto_complete: bool = False
    timer: TimerSpec | None = None
    # CMMN 1.1 timerStart (planItemStartTrigger / caseFileItemStartTrigger): the timer counts from this event, not
    # from its stage's start. It is also the listener's entry criterion TIMER_START, so sentries carry it.
    timer_start: OnPart | None = None
    children: tuple[str, ...] = ()
    discretionary: bool = False
    applicability: tuple[Expression, ...] = ()
    authorized_roles: tuple[str, ...] = ()
    # Discretionary item ids plannable into this stage; for a human task, those of its own planning table (CMMN 1.1
    # §7.7: planned into its stage, only while the task is active), which its stage's table lists too.
    planning_table: tuple[str, ...] = ()
    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    description: str = ""
    due: str | None = None  # set for items added at runtime with a deadline
    # flowable:dueDate / camunda:dueDate of a human task: a duration, date-time or date, or `${...}` giving one,
    # turned into the instance's due time when it starts (a duration counts from then), as Flowable does.
    due_date: str | None = None
    added: bool = False  # added to a running case rather than modelled


@dataclass(frozen=True)
class CaseFileItemDef:
    id: str
    name: str
    multiplicity: str = "Unspecified"
    definition_ref: str = ""
    parent: str = ""  # the case file item whose child it is in the model (CMMN `children`), if any


@dataclass(frozen=True)
class CaseRole:
    id: str
    name: str


@dataclass(frozen=True)
class CaseDefinition:
    """A parsed, validated case model. Lookups the engine needs on every command are precomputed here."""

    key: str
    name: str
    root: str
    items: Mapping[str, PlanItemDef]
    case_file_items: Mapping[str, CaseFileItemDef] = field(default_factory=lambda: MappingProxyType({}))
    roles: Mapping[str, CaseRole] = field(default_factory=lambda: MappingProxyType({}))
    initiator_variable: str | None = None
    target_namespace: str = ""
    # Derived data the engine computes once per definition (its plan index); never part of equality.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def plan(self) -> PlanItemDef:
        return self.items[self.root]

    def item(self, item_id: str) -> PlanItemDef:
        return self.items[item_id]

    def role_by_name_or_id(self, text: str) -> CaseRole | None:
        if text in self.roles:
            return self.roles[text]
        for role in self.roles.values():
            if role.name == text:
                return role
        return None

    def case_file_item_by_name(self, name: str) -> CaseFileItemDef | None:
        for cfi in self.case_file_items.values():
            if cfi.name == name:
                return cfi
        return None

    def case_file_children(self, item_id: str) -> list[CaseFileItemDef]:
        """The case file items nested directly in ``item_id`` (CMMN `children`; "" for the top ones), in model order."""
        return [cfi for cfi in self.case_file_items.values() if cfi.parent == item_id]
