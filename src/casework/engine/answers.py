"""Which suggestions a person has answered (accepted or dismissed) on a case: each is answered once.

A second acceptance of the same finding would count twice in the acceptance rates, and two people accepting it at
once would both be recorded; so the case keeps its answers (`CaseState.answered`), and `RecordFeedback` for one already
answered is refused. What counts as the same suggestion:

- a flag or a rule's finding (a suggestion with a `kind`): its id at its severity, and, for one that offers a value a
  document gives (`action.fill`), the values it is about (`values_seen`: the field's and the document's). A finding
  that got more severe since it was dismissed is offered again, and is a new question (decision support offers a
  dismissed one again only then); so is one about other values (a later letter, a case value changed since).
- a next-best action (no `kind`): its activity at this step of the case, counted by the items completed so far. Once
  the case has moved on, the model suggests from a new position, and answering it is a new decision.

The answers come from the feedback events that carry `answers` (written since this check exists): an event written
before it is not replayed into the state, since the snapshot stored for it, which `audit verify` compares with the
replay, has none.
"""

from __future__ import annotations

from typing import Any

from casework.engine.lifecycle import COMPLETED
from casework.engine.state import CaseState

ACCEPTED = "suggestion_accepted"
DISMISSED = "suggestion_dismissed"


def answer_key(state: CaseState, suggestion: dict[str, Any]) -> tuple[str, str]:
    """(what the suggestion is, the occasion it was offered on): see the module docstring."""
    if "kind" in suggestion:
        return finding_key(suggestion)
    step = sum(1 for item in state.items.values() if item.state == COMPLETED and item.id != state.root)
    return f"activity:{suggestion.get('activity') or suggestion.get('id')}", f"step {step}"


def finding_key(suggestion: dict[str, Any]) -> tuple[str, str]:
    """`answer_key` of a finding (a suggestion with a `kind`), which needs no case state: the log-wide acceptance
    counts (`insight.acceptance`) count each answer once by it, as the case records it once."""
    severity, seen = str(suggestion.get("severity") or ""), values_seen(suggestion)
    return f"finding:{suggestion.get('id') or suggestion['kind']}", f"{severity} {seen}" if seen else severity


def values_seen(suggestion: dict[str, Any]) -> str:
    """The digest of the values a finding offering a document's value is about (`rules.Fill.seen`), else ""."""
    action = suggestion.get("action")
    fill = action.get("fill") if isinstance(action, dict) else None
    seen = fill.get("seen") if isinstance(fill, dict) else None
    return str(seen) if seen else ""


def answer_of(state: CaseState, suggestion: dict[str, Any]) -> tuple[bool, str, str] | None:
    """How the suggestion was answered on this occasion: (accepted, when, by whom), or None if it has not been."""
    key, occasion = answer_key(state, suggestion)
    previous = state.answered.get(key, {}).get(occasion)
    if previous is None:
        return None
    accepted, at, actor = previous
    return bool(accepted), str(at), str(actor)


def answered(state: CaseState, suggestion: dict[str, Any]) -> str | None:
    """Why the suggestion cannot be answered again (when and by whom it was), or None if it has not been."""
    previous = answer_of(state, suggestion)
    if previous is None:
        return None
    accepted, at, actor = previous
    key, occasion = answer_key(state, suggestion)
    what, name = key.split(":", 1)
    decided = "accepted" if accepted else "dismissed"
    if what == "finding":
        level, _, seen = occasion.partition(" ")
        severity = (f" at severity {level}" if level else "") + (
            " about the same values (the case's and the document's)" if seen else "")
        again = " or about other values" if seen else ""
        return (f"finding {name!r} was already {decided}{severity} by {actor} at {at}: it is answered (a dismissed "
                f"finding can be answered again once it is offered more severe{again})")
    return (f"the suggestion {name!r} was already {decided} by {actor} at {at}, at this step of the case: it is "
            "answered (once the case moves on, a new suggestion can be answered)")
