"""CMMN 1.1 lifecycles (spec section 8.4.2) as data: state -> transition -> next state.

Every state change in the engine goes through ``next_state``, so a transition the table does not allow can never be
recorded. ``skip`` and ``remove`` are casework's adaptive transitions; they are listed here so that they obey the same
check.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from casework.model.definition import EVENT_LISTENER_KINDS, MILESTONE

AVAILABLE = "available"
ENABLED = "enabled"
DISABLED = "disabled"
ACTIVE = "active"
SUSPENDED = "suspended"
FAILED = "failed"
COMPLETED = "completed"
TERMINATED = "terminated"

# The target of `parentResume`: the state the item was in when its stage was suspended (CMMN 1.1 table 8.3).
PREVIOUS = "previous"

TERMINAL = frozenset({COMPLETED, TERMINATED})
OPEN = frozenset({AVAILABLE, ENABLED, DISABLED, ACTIVE, SUSPENDED, FAILED})
NOT_STARTED = frozenset({AVAILABLE, ENABLED, DISABLED})

Table = Mapping[str, Mapping[str, str]]


def _table(rows: dict[str, dict[str, str]]) -> Table:
    return MappingProxyType({state: MappingProxyType(moves) for state, moves in rows.items()})


TASK_OR_STAGE: Table = _table(
    {
        AVAILABLE: {
            "enable": ENABLED,
            "start": ACTIVE,
            "parentSuspend": SUSPENDED,
            "exit": TERMINATED,
            "skip": COMPLETED,
            "remove": TERMINATED,
        },
        ENABLED: {
            "disable": DISABLED,
            "manualStart": ACTIVE,
            "parentSuspend": SUSPENDED,
            "exit": TERMINATED,
            "skip": COMPLETED,
            "remove": TERMINATED,
        },
        DISABLED: {
            "reenable": ENABLED,
            "parentSuspend": SUSPENDED,
            "exit": TERMINATED,
            "skip": COMPLETED,
            "remove": TERMINATED,
        },
        ACTIVE: {
            "complete": COMPLETED,
            "terminate": TERMINATED,
            "exit": TERMINATED,
            "fault": FAILED,
            "suspend": SUSPENDED,
            "parentSuspend": SUSPENDED,
            "skip": COMPLETED,
        },
        # `remove` only for an item that had not started (the command checks): its stage is what was suspended.
        SUSPENDED: {
            "resume": ACTIVE,
            "parentResume": PREVIOUS,
            "exit": TERMINATED,
            "skip": COMPLETED,
            "remove": TERMINATED,
        },
        FAILED: {"reactivate": ACTIVE, "exit": TERMINATED, "skip": COMPLETED},
        COMPLETED: {},
        TERMINATED: {},
    }
)

EVENT_LISTENER_OR_MILESTONE: Table = _table(
    {
        AVAILABLE: {
            "occur": COMPLETED,
            "suspend": SUSPENDED,
            "terminate": TERMINATED,
            "parentTerminate": TERMINATED,
            "exit": TERMINATED,
            "skip": COMPLETED,
            "remove": TERMINATED,
        },
        SUSPENDED: {
            "resume": AVAILABLE,
            "terminate": TERMINATED,
            "parentTerminate": TERMINATED,
            "exit": TERMINATED,
            "remove": TERMINATED,
        },
        COMPLETED: {},
        TERMINATED: {},
    }
)

# The case plan model: it starts when the case starts and cannot be skipped or removed.
CASE_PLAN: Table = _table(
    {
        AVAILABLE: {"start": ACTIVE},
        ACTIVE: {
            "complete": COMPLETED,
            "terminate": TERMINATED,
            "exit": TERMINATED,
            "fault": FAILED,
            "suspend": SUSPENDED,
        },
        SUSPENDED: {"resume": ACTIVE, "terminate": TERMINATED},
        FAILED: {"reactivate": ACTIVE, "terminate": TERMINATED},
        COMPLETED: {},
        TERMINATED: {},
    }
)

# The standard event that a transition raises for on-parts; adaptive transitions raise the event of their effect.
RAISED_EVENT: Mapping[str, str] = MappingProxyType({"skip": "complete", "remove": "exit"})


def table_for(kind: str) -> Table:
    if kind in EVENT_LISTENER_KINDS or kind == MILESTONE:
        return EVENT_LISTENER_OR_MILESTONE
    if kind == "casePlanModel":
        return CASE_PLAN
    return TASK_OR_STAGE


class TransitionError(ValueError):
    pass


def next_state(kind: str, state: str, transition: str, previous: str | None = None) -> str:
    """The state ``transition`` leads to; ``previous`` is where a suspended item was before (for parentResume)."""
    moves = table_for(kind).get(state, {})
    target = moves.get(transition)
    if target is None:
        allowed = ", ".join(sorted(moves)) or "none: it has ended"
        raise TransitionError(f"a {kind} in state {state} cannot {transition} (allowed: {allowed})")
    if target == PREVIOUS:
        if previous is None:
            # Held while active (only items held before they started record where they were; see events.py).
            return ACTIVE
        if previous in TERMINAL or previous == SUSPENDED:
            raise TransitionError(f"a {kind} in state {state} cannot {transition}: it was not suspended from a state")
        return previous
    return target
