"""Who did what a case's event records, as exports and per-person figures read it.

The event's actor is whose command it was (the audit trail's truth); an `item_transition` the engine made by the
model's rules as a consequence is marked `auto` (`engine.runner.Run.transition`, docs/semantics.md) and was done by
nobody. Apart from the engine so that reading a log (`casework export`) does not load it.
"""

from __future__ import annotations

from typing import Any

# Transitions only the engine makes, by the model's rules (a person starts work by `manualStart`, never `start`; the
# case plan's own start is no step of the case): automatic in logs written before transitions were marked `auto`.
ENGINE_TRANSITIONS = frozenset({"start", "enable", "parentSuspend", "parentResume", "parentTerminate"})


def automatic(type_: str, payload: dict[str, Any]) -> bool:
    """Whether an event records something the engine did by the model's rules, which its actor caused by a command
    but did not do (see `Run.transition`)."""
    return type_ == "item_transition" and (bool(payload.get("auto")) or payload.get("transition") in ENGINE_TRANSITIONS)


def performed_by(type_: str, actor: str, payload: dict[str, Any]) -> str | None:
    """Who did what an event records: its actor, or None for what the engine did by itself. The audit trail keeps
    the actor either way: that person's command caused it."""
    return None if automatic(type_, payload) else actor
