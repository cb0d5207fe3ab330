"""Turn a case's stored events into process-mining activities: which plan item did what, when, by whom.

Works from the events alone (no engine, no replay): `item_created` names the instance, `migrate` may rename it,
`item_transition` moves it, and imported history carries its activity name directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from casework.performed import performed_by
from casework.store import StoredEvent

# CMMN transitions -> the XES standard lifecycle model. Transitions with no XES counterpart (create, disable,
# reenable, reactivate) are bookkeeping, not work, and are left out of the export; so is holding an item that had
# not started while its stage is suspended, and letting it wait again (see `_work_on_hold`).
LIFECYCLE = {
    "enable": "schedule",
    "start": "start",
    "manualStart": "start",
    "complete": "complete",
    "occur": "complete",
    # Skipping work not started: the standard model's manual skip. Work under way that is skipped was abandoned, which
    # the standard model calls ate_abort (its skips lead from scheduled or assigned only): see `activities`.
    "skip": "manualskip",
    # Taken out of the plan before it started (by a worker, or by a migration): offered work withdrawn.
    "remove": "withdraw",
    "terminate": "ate_abort",
    "exit": "ate_abort",
    "parentTerminate": "ate_abort",
    "suspend": "suspend",
    "parentSuspend": "suspend",
    "resume": "resume",
    "parentResume": "resume",
    "fault": "pi_abort",
}


@dataclass(frozen=True)
class Activity:
    event_id: int
    case_id: str
    seq: int
    activity: str
    transition: str
    time: datetime
    resource: str | None  # who did it (ENGINE for the engine: see `caused_by`); None: an imported log named nobody
    item_id: str | None  # plan item instance, for object-centric export
    item_kind: str | None
    # When the item took the name `activity`, if a migration renamed it (None: named so from the start); object-
    # centric export records the change then.
    named_at: datetime | None = None
    # Done by the engine by the model's rules (`resource` is ENGINE): the actor whose command caused it.
    caused_by: str | None = None


def parse_at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _work_on_hold(p: dict[str, object]) -> bool:
    """Whether a suspend or resume stops or restarts work under way (rather than an item still waiting)."""
    return "active" in (p.get("from"), p.get("to"))


# The attribute that names, on what the engine did by itself, whose command caused it. No XES extension defines it
# (org:resource is who did the work), so its key has no prefix.
CAUSED_BY = "caused_by"
# The resource of what the engine did by the model's rules. Not left empty: process-mining tools expect every event of
# a log of this kind to name a resource (pm4py 2.7's handover-of-work network fails on an event without one), and an
# analysis can see the engine's steps as one resource and leave it out.
ENGINE = "casework"

STARTS = frozenset({"start", "manualStart"})


def activities(events: Iterable[StoredEvent]) -> Iterator[Activity]:
    """Events must come grouped by case in seq order (as `Store.iter_events(order="case")` yields them)."""
    current: str | None = None
    items: dict[str, tuple[str, str, str | None]] = {}  # instance id -> (name, kind, parent)
    renamed: dict[str, datetime] = {}  # instance id -> when a migration last renamed it
    # Instances that started: a skip of one is abandoned work. Its `from` state cannot tell: a suspended item may
    # have been held with its stage before it started.
    started: set[str] = set()
    for ev in events:
        if ev.case_id != current:
            current, items, renamed, started = ev.case_id, {}, {}, set()
        p = ev.payload
        if ev.type == "item_created":
            items[p["id"]] = (p.get("name") or p["id"], p.get("kind", ""), p.get("parent"))
        elif ev.type == "item_transition":
            info = items.get(p["id"])
            cmmn = p.get("transition", "")
            if cmmn in STARTS:
                started.add(p["id"])
            transition = "ate_abort" if cmmn == "skip" and p["id"] in started else LIFECYCLE.get(cmmn)
            # The case plan model (no parent) is the case itself, not an activity within it.
            if info is None or transition is None or info[2] is None:
                continue
            if transition in ("suspend", "resume") and not _work_on_hold(p):
                continue
            # A start a sentry made when Ann completed the task before is not Ann's work: handover and workload
            # analyses would credit her with it.
            performer = performed_by(ev.type, ev.actor, p)
            resource, caused_by = (ENGINE, ev.actor) if performer is None else (performer, None)
            yield Activity(ev.id, ev.case_id, ev.seq, info[0], transition, parse_at(ev.at), resource, p["id"], info[1],
                           renamed.get(p["id"]), caused_by)
        elif ev.type == "reassign":
            info = items.get(p.get("item", ""))
            if info is not None:
                yield Activity(ev.id, ev.case_id, ev.seq, info[0], "reassign", parse_at(ev.at), ev.actor,
                               p.get("item"), info[1], renamed.get(p.get("item", "")))
        elif ev.type == "migrate":
            # The new model may name an item otherwise: what it does from now on is done under the new name, as the
            # case and its task list show it.
            for item_id, name in p.get("rename", {}).items():
                info = items.get(item_id)
                if info is not None and name != info[0]:
                    items[item_id] = (name, info[1], info[2])
                    renamed[item_id] = parse_at(ev.at)
        elif ev.type == "imported_activity":
            # Not the event's actor: a row without a resource is stored as done by "import", which is no resource.
            yield Activity(ev.id, ev.case_id, ev.seq, str(p["activity"]), "complete", parse_at(ev.at),
                           p.get("resource"), None, None)
