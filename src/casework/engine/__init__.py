"""The case engine: pure and deterministic. ``execute(definition, state, command, now) -> events``.

No I/O, no clock, no randomness: time and actor come in with each call, instance ids come from the state.
"""

from casework.engine import commands
from casework.engine.adaptive import plannable
from casework.engine.core import decide, execute, plan_for, replay
from casework.engine.errors import CommandRejected
from casework.engine.events import Event, apply
from casework.engine.explain import explain
from casework.engine.migration import MigrationPlan, plan_migration
from casework.engine.state import CaseState, ItemInstance

__all__ = [
    "CaseState",
    "CommandRejected",
    "Event",
    "ItemInstance",
    "MigrationPlan",
    "apply",
    "commands",
    "decide",
    "execute",
    "explain",
    "plan_for",
    "plan_migration",
    "plannable",
    "replay",
]
