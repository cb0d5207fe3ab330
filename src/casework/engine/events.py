"""Events and ``apply``: the only code that changes a case state.

``apply`` is deliberately simple bookkeeping with no decisions in it, so that replaying a case's events rebuilds its
state exactly, whatever engine version made the decisions.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from casework.engine.answers import ACCEPTED, DISMISSED
from casework.engine.lifecycle import TERMINAL
from casework.engine.state import CaseState, ItemInstance

MAX_RECORDED_ERRORS = 100


class Event(NamedTuple):
    """One recorded fact about a case. A named tuple: immutable, and cheap to create on the engine's hot path."""

    type: str
    at: str
    actor: str
    reason: str | None = None
    payload: dict[str, Any] = {}  # noqa: RUF012 - never mutated; every producer passes its own dict

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at, "actor": self.actor, "reason": self.reason, "payload": self.payload}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(type=d["type"], at=d["at"], actor=d["actor"], reason=d.get("reason"), payload=dict(d["payload"]))


def apply(state: CaseState, event: Event) -> CaseState:
    """Apply one event to ``state`` in place and return it."""
    handler = _HANDLERS.get(event.type)
    p = event.payload
    if "overlay" in p:
        state.overlay.append(p["overlay"])
    if handler is not None:
        handler(state, event, p)
    state.version += 1
    return state


# -- undo -------------------------------------------------------------------------------------------------------------
# The attributes of an instance that `apply` may change after creating it (memory is kept apart: it needs a copy).
_ITEM_FIELDS = (
    "def_id", "name", "state", "owner", "due", "skipped", "held_by_parent", "suspended_from", "started_at", "ended_at",
    "holds", "ended_by",
)
_item_fields = operator.attrgetter(*_ITEM_FIELDS)


class Undo:
    """What the events of one command changed, kept so that a command rejected half-way leaves the state as it was.

    Events are applied as they are decided, and most rejections come before the first one; but a condition that
    fails while a command is checked records `expression_failed`, and the engine stops a runaway command only after
    its events have piled up. Copying the whole state for every command would cost a third of a task completion, so
    this keeps only what the events touch, the first time they touch it (it mirrors the handlers below).
    """

    __slots__ = ("fields", "items", "scalars", "state")

    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.scalars = (
            state.definition_key, state.status, state.root, state.due, state.version, state.next_id,
            state.created_at, state.ended_at,
        )
        self.fields: dict[str, Any] = {}  # state field -> a copy of its value before the command
        # instance id -> its attributes and memory before the command; None for an instance created by it
        self.items: dict[str, tuple[tuple[Any, ...], dict[str, list[int]]] | None] = {}

    def note(self, type_: str, p: dict[str, Any]) -> None:
        """Remember what applying an event of ``type_`` with payload ``p`` is about to change."""
        if type_ == "item_transition" or type_ == "memory":
            item_id = p["id"]
            if item_id not in self.items:
                self._keep_item(item_id)
            if type_ == "item_transition" and (item_id in self.state.timers or item_id == self.state.root):
                self._keep("timers")
        elif type_ == "item_created":
            self.items.setdefault(p["id"], None)
        else:
            self._note_other(type_, p)

    def _note_other(self, type_: str, p: dict[str, Any]) -> None:
        if "overlay" in p or type_ == "migrate":
            self._keep("overlay")
        if type_ in ("variables_set", "case_started"):
            self._keep("variables")
        elif type_ in ("timer_scheduled", "timer_cancelled"):
            self._keep("timers")
        elif type_ == "expression_failed":
            self._keep("errors")
        elif type_ in ("add_participant", "remove_participant"):
            self._keep("participants")
        elif type_ == "document_attached":
            self._keep("documents")
        elif type_ in (ACCEPTED, DISMISSED):
            self._keep("answered")
        elif type_ in ("reassign", "set_due") and p.get("item") is not None:
            self._keep_item(p["item"])
        elif type_ == "migrate":
            for item_id in self.state.items:
                self._keep_item(item_id)

    def _keep(self, name: str) -> None:
        if name not in self.fields:
            value = getattr(self.state, name)
            # `apply` replaces the values inside these, never changes them in place, except the lists of roles.
            self.fields[name] = {u: list(r) for u, r in value.items()} if name == "participants" else value.copy()

    def _keep_item(self, item_id: str) -> None:
        if item_id not in self.items:
            item = self.state.items[item_id]
            # `apply` replaces an instance's memory lists, never changes them in place. (Not `item.__dict__`: asking
            # for it slows every later attribute access on the instance.)
            self.items[item_id] = (_item_fields(item), item.memory.copy())

    def restore(self) -> None:
        state = self.state
        (
            state.definition_key, state.status, state.root, state.due, state.version, state.next_id,
            state.created_at, state.ended_at,
        ) = self.scalars
        for name, value in self.fields.items():
            setattr(state, name, value)
        for item_id, saved in self.items.items():
            if saved is None:
                del state.items[item_id]
            else:
                item = state.items[item_id]
                for name, value in zip(_ITEM_FIELDS, saved[0], strict=True):
                    setattr(item, name, value)
                item.memory = saved[1]
        state.reindex()
        state.plan_cache = None


def _case_started(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.definition_key = p["definition"]
    state.variables.update(p.get("variables", {}))
    state.created_at = event.at
    state.status = "active"


def _item_created(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    item = ItemInstance(
        id=p["id"],
        def_id=p["def"],
        name=p["name"],
        kind=p["kind"],
        parent=p.get("parent"),
        index=p.get("index", 1),
        owner=p.get("owner"),
        due=p.get("due"),
        created_at=event.at,
        required=p.get("required"),
    )
    state.add_item(item)
    state.next_id += 1
    if item.parent is None:
        state.root = item.id


def _item_transition(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    item = state.items[p["id"]]
    before = item.state
    item.state = p["to"]
    state.state_changed(item, before)
    transition = p["transition"]
    # Milestones and event listeners have no parentSuspend (CMMN 1.1 table 8.4): theirs is a suspend marked as held.
    held = transition == "parentSuspend" or bool(p.get("held_by_parent"))
    if before == "available" and not held:
        # A sentry that fired is forgotten once the item moves on, but not while its stage is on hold: it waits on.
        item.memory.clear()
    if transition in ("start", "manualStart"):
        item.started_at = event.at
    if "due" in p:  # from the model's dueDate, as the task started
        item.due = p["due"]
    if transition == "skip":
        item.skipped = True
    item.held_by_parent = held
    # Only a task or stage held with its stage before it started records where it was: one suspended while active
    # goes back to active (all that logs written before stages held waiting items contain, so that their replay
    # still gives the snapshots stored then), a milestone or event listener to available.
    if item.state == "suspended" and before in ("available", "enabled", "disabled") and transition == "parentSuspend":
        item.suspended_from = before
    elif item.state != "suspended":
        item.suspended_from = None
    if p.get("hold"):
        # A timer put on hold or resumed (recorded so since this version; earlier logs never set it).
        if item.state == "suspended":
            item.holds = [*item.holds, [event.at, None, held]]
        elif item.holds:
            since, _, by_parent = item.holds[-1]
            item.holds = [*item.holds[:-1], [since, event.at, by_parent]]
    if item.state in TERMINAL:
        if p.get("by") == "migration":
            item.ended_by = "migration"
        item.ended_at = event.at
        item.memory.clear()
        state.item_closed(item)
        state.timers.pop(item.id, None)
    if item.id == state.root:
        if item.state in TERMINAL:
            state.status = item.state
            state.ended_at = event.at
            state.timers.clear()
        else:
            state.status = "suspended" if item.state == "suspended" else "active"


def _memory(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    item = state.items[p["id"]]
    parts = p.get("parts")
    if parts:
        item.memory[p["criterion"]] = list(parts)
    else:
        item.memory.pop(p["criterion"], None)


def _variables_set(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.variables.update(p.get("variables", {}))
    for name in p.get("removed", ()):
        state.variables.pop(name, None)


def _timer_scheduled(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.timers[p["id"]] = p["due"]


def _timer_cancelled(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    # A migration to a model whose start trigger for the timer has not happened: it waits for it, unscheduled.
    state.timers.pop(p["id"], None)


def _expression_failed(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.errors.append({**p, "at": event.at})
    del state.errors[:-MAX_RECORDED_ERRORS]


def _reassign(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.items[p["item"]].owner = p["to"]


def _add_participant(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    roles = state.participants.setdefault(p["user"], [])
    if p["role"] not in roles:
        roles.append(p["role"])


def _remove_participant(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    role = p.get("role")
    if role is None:
        state.participants.pop(p["user"], None)
        return
    roles = state.participants.get(p["user"], [])
    if role in roles:
        roles.remove(role)
    if not roles:
        state.participants.pop(p["user"], None)


def _set_due(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    if p.get("item") is None:
        state.due = p["due"]
    else:
        state.items[p["item"]].due = p["due"]


def _migrate(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.definition_key = p["definition"]
    for instance_id, new_def in p.get("remap", {}).items():
        state.items[instance_id].def_id = new_def
    for instance_id, name in p.get("rename", {}).items():
        state.items[instance_id].name = name
    state.overlay = list(p.get("keep_overlay", []))
    state.reindex()


def _document_attached(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    state.documents[p["name"]] = p["version"]


def _feedback(state: CaseState, event: Event, p: dict[str, Any]) -> None:
    if "answers" not in p:
        return  # written before answers were kept: see `answers`
    key, occasion = p["answers"]
    # Replaced, not changed in place: `Undo` keeps the mapping before the command by a shallow copy.
    state.answered[key] = {**state.answered.get(key, {}), occasion: [event.type == ACCEPTED, event.at, event.actor]}


_HANDLERS = {
    "case_started": _case_started,
    "item_created": _item_created,
    "item_transition": _item_transition,
    "memory": _memory,
    "variables_set": _variables_set,
    "timer_scheduled": _timer_scheduled,
    "timer_cancelled": _timer_cancelled,
    "expression_failed": _expression_failed,
    "reassign": _reassign,
    "add_participant": _add_participant,
    "remove_participant": _remove_participant,
    "set_due": _set_due,
    "migrate": _migrate,
    "document_attached": _document_attached,
    ACCEPTED: _feedback,
    DISMISSED: _feedback,
}
