"""Case state: plain data, serialisable to JSON with a format version.

Indexes (live instances by plan item, children by parent) are derived data: they are kept up to date by ``apply`` and
rebuilt on load, never stored, so a snapshot cannot disagree with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from casework.engine.lifecycle import NOT_STARTED, SUSPENDED, TERMINAL
from casework.model.definition import EVENT_LISTENER_KINDS, MILESTONE

FORMAT_VERSION = 1

EVENT_LIKE = EVENT_LISTENER_KINDS | {MILESTONE}

# States in which a child keeps its stage from completing whatever the stage's rules say.
BUSY = frozenset({"active", "suspended", "failed"})


# The plan item ids an item added at run time gets (`engine.adaptive`): adhoc1, adhoc2, ...
ADDED_ID = re.compile(r"^adhoc(\d+)$")


def added_number(def_id: str) -> int:
    """N of a plan item id ``adhocN``, 0 for any other id."""
    m = ADDED_ID.match(def_id)
    return int(m.group(1)) if m else 0


# The ids instances get (`Run.new_id`): i1, i2, ... Commands read a reference of this form as an id before a name.
INSTANCE_ID = re.compile(r"i[0-9]+")


def has_instance_id_form(name: str) -> bool:
    """Whether ``name`` reads as an instance id (``i5``): an item so named could not be reached by its name."""
    return INSTANCE_ID.fullmatch(name.strip()) is not None


def _busy(item: ItemInstance, state: str) -> bool:
    # An event listener never holds its stage, suspended or not (`Run.blocking_children`).
    return state in BUSY and item.kind not in EVENT_LISTENER_KINDS


@dataclass
class ItemInstance:
    id: str
    def_id: str
    name: str
    kind: str
    parent: str | None
    state: str = "available"
    index: int = 1  # the 1-based repetitionCounter of this instance
    owner: str | None = None
    due: str | None = None
    skipped: bool = False
    held_by_parent: bool = False  # suspended because its stage was (parentSuspend)
    # While held with its suspended stage before it started: the state it returns to (None: active, or available for
    # a milestone or event listener).
    suspended_from: str | None = None
    created_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    memory: dict[str, list[int]] = field(default_factory=dict)  # criterion id -> on-part indexes that have fired
    # A timer event listener's time on hold: [since, until or None, held with its stage], from the suspensions this
    # version records (`hold` in the transition), so that a migration that gives it a new start trigger tells which
    # of the trigger's past events it would have heard. Replaced, never changed in place (`Undo`).
    holds: list[list[Any]] = field(default_factory=list)
    # "migration" for a timer that a migration ended (a firing its new model does not have): a later migration that
    # gives it firings again continues it, as it does a timer that fired its last time.
    ended_by: str | None = None
    # What its conditional required rule gave when the instance was created (CMMN 1.1 keeps that value for the rest of
    # the case); None when its rule has no condition, or it has none, or the case recorded it before this was kept.
    required: bool | None = None

    @property
    def open(self) -> bool:
        return self.state not in TERMINAL

    @property
    def not_started(self) -> bool:
        """Available, enabled or disabled, or suspended from one of these (milestones and event listeners never
        start: suspended, they are available on hold)."""
        if self.state == SUSPENDED:
            return self.suspended_from in NOT_STARTED or self.kind in EVENT_LIKE
        return self.state in NOT_STARTED

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "def_id": self.def_id,
            "name": self.name,
            "kind": self.kind,
            "parent": self.parent,
            "state": self.state,
            "index": self.index,
            "owner": self.owner,
            "due": self.due,
            "skipped": self.skipped,
            "held_by_parent": self.held_by_parent,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "memory": {k: list(v) for k, v in sorted(self.memory.items())},
        }
        # Only while set: the snapshots of cases that never suspended a stage stay byte-for-byte the same.
        if self.suspended_from is not None:
            d["suspended_from"] = self.suspended_from
        if self.holds:
            d["holds"] = [list(h) for h in self.holds]
        if self.ended_by is not None:
            d["ended_by"] = self.ended_by
        if self.required is not None:
            d["required"] = self.required
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemInstance:
        return cls(**{
            **d, "memory": {k: list(v) for k, v in d.get("memory", {}).items()},
            "holds": [list(h) for h in d.get("holds", [])],
        })


@dataclass
class CaseState:
    case_id: str
    definition_key: str
    status: str = "new"
    variables: dict[str, Any] = field(default_factory=dict)
    items: dict[str, ItemInstance] = field(default_factory=dict)
    root: str | None = None
    timers: dict[str, str] = field(default_factory=dict)  # item instance id -> due time (ISO, UTC)
    participants: dict[str, list[str]] = field(default_factory=dict)  # user -> case roles
    overlay: list[dict[str, Any]] = field(default_factory=list)  # plan changes made while the case runs
    due: str | None = None  # the case's own deadline (SLA)
    version: int = 0  # number of events applied
    next_id: int = 1
    created_at: str = ""
    ended_at: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)  # expression failures recorded on the case
    documents: dict[str, int] = field(default_factory=dict)  # document name -> its latest version
    # Suggestions a person answered (see `answers`): what -> occasion -> [accepted, at, actor]
    answered: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    # Derived indexes, rebuilt from ``items``.
    live_by_def: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    children: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    created_by_def: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    busy_children: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # The highest N of the ``adhocN`` plan items the case has instances of, so that the next added item's id costs
    # no scan of them all.
    highest_added: int = field(default=0, repr=False, compare=False)
    plan_cache: Any = field(default=None, repr=False, compare=False)  # casework.engine.plan.PlanIndex

    @classmethod
    def create(cls, case_id: str, definition: Any) -> CaseState:
        return cls(case_id=case_id, definition_key=str(definition.key))

    # -- derived indexes ---------------------------------------------------------------------------------------
    def reindex(self) -> None:
        self.live_by_def = {}
        self.children = {}
        self.created_by_def = {}
        self.busy_children = {}
        self.highest_added = 0
        for item in self.items.values():
            self._index_new(item)

    def _index_new(self, item: ItemInstance) -> None:
        if item.parent is not None:
            self.children.setdefault(item.parent, []).append(item.id)
            if _busy(item, item.state):
                self.busy_children[item.parent] = self.busy_children.get(item.parent, 0) + 1
        if item.open:
            self.live_by_def.setdefault(item.def_id, []).append(item.id)
        created = self.created_by_def.get(item.def_id, 0)
        if not created:
            self.highest_added = max(self.highest_added, added_number(item.def_id))
        self.created_by_def[item.def_id] = created + 1

    def state_changed(self, item: ItemInstance, before: str) -> None:
        if item.parent is None:
            return
        delta = _busy(item, item.state) - _busy(item, before)
        if delta:
            self.busy_children[item.parent] = self.busy_children.get(item.parent, 0) + delta

    def ever_created(self, def_id: str) -> bool:
        return self.created_by_def.get(def_id, 0) > 0

    def add_item(self, item: ItemInstance) -> None:
        self.items[item.id] = item
        self._index_new(item)

    def item_closed(self, item: ItemInstance) -> None:
        live = self.live_by_def.get(item.def_id)
        if live is not None and item.id in live:
            live.remove(item.id)

    def live(self, def_id: str) -> list[ItemInstance]:
        return [self.items[i] for i in self.live_by_def.get(def_id, ())]

    def child_items(self, parent_id: str) -> list[ItemInstance]:
        return [self.items[i] for i in self.children.get(parent_id, ())]

    def instances_of(self, def_id: str) -> list[ItemInstance]:
        return [i for i in self.items.values() if i.def_id == def_id]

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "terminated")

    # -- serialisation -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "case_id": self.case_id,
            "definition_key": self.definition_key,
            "status": self.status,
            "variables": self.variables,
            "items": [i.to_dict() for i in self.items.values()],
            "root": self.root,
            "timers": dict(sorted(self.timers.items())),
            "participants": {u: list(r) for u, r in sorted(self.participants.items())},
            "overlay": self.overlay,
            "due": self.due,
            "version": self.version,
            "next_id": self.next_id,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "errors": self.errors,
            # Only when there are any: snapshots written before documents were events stay byte-for-byte the same.
            **({"documents": dict(sorted(self.documents.items()))} if self.documents else {}),
            # The same for answers: cases decided on before they were kept replay to the snapshots stored then.
            **({"answered": {k: dict(v) for k, v in sorted(self.answered.items())}} if self.answered else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseState:
        fmt = d.get("format")
        if fmt != FORMAT_VERSION:
            raise ValueError(f"case state format {fmt!r} is not supported (expected {FORMAT_VERSION})")
        state = cls(
            case_id=d["case_id"],
            definition_key=d["definition_key"],
            status=d["status"],
            variables=dict(d["variables"]),
            items={i["id"]: ItemInstance.from_dict(i) for i in d["items"]},
            root=d["root"],
            timers=dict(d["timers"]),
            participants={u: list(r) for u, r in d["participants"].items()},
            overlay=list(d["overlay"]),
            due=d.get("due"),
            version=d["version"],
            next_id=d["next_id"],
            created_at=d["created_at"],
            ended_at=d.get("ended_at"),
            errors=list(d.get("errors", [])),
            documents=dict(d.get("documents", {})),
            answered={k: {o: list(a) for o, a in v.items()} for k, v in d.get("answered", {}).items()},
        )
        state.reindex()
        return state
