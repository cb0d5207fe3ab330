"""Rows derived from a case state: the task inbox, participants and timer jobs.

Only what a command changes is written. The views of a case are kept with its cached state, and a command brings
them up to date from the instances its events touched (`advance`), so its cost does not grow with the case; they are
computed from the whole case (`views`, then `changes` for the difference) for a case read from the store, and for a
command whose events may have changed more than the instances they name (a migration).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from casework.engine import CaseState, Event, plan_for
from casework.engine.lifecycle import COMPLETED, TERMINAL
from casework.model.definition import CaseDefinition, PlanItemDef

TaskKey = tuple[str | None, str | None, str, str, str | None, str | None, str | None, str | None]
Offers = set[tuple[str, str]]  # (item id, group or user name)

# A task row's state for an item a worker skipped: CMMN completes it (what waited for it goes on), but the inbox and
# its readers must not take skipped work for work done.
SKIPPED = "skipped"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def task_view(state: CaseState, items: Mapping[str, PlanItemDef]) -> tuple[dict[str, TaskKey], Offers, Offers]:
    """item id -> (def_id, name, kind, state, owner, candidate groups, candidate users, due) for every plan item but
    the case plan; the (item id, group) pairs of the open ones, the rows of the group queues; and their (item id,
    user) pairs, the rows of the candidate users' lists.

    `items` is the case's effective plan (modelled and added items), where the candidates are declared."""
    out: dict[str, TaskKey] = {}
    queued: Offers = set()
    offered: Offers = set()
    for item in state.items.values():
        if item.id == state.root:
            continue
        d = items.get(item.def_id)
        groups = d.candidate_groups if d is not None else ()
        users = d.candidate_users if d is not None else ()
        if item.state not in TERMINAL:
            if groups:
                queued.update((item.id, g) for g in groups)
            if users:
                offered.update((item.id, u) for u in users)
        shown = SKIPPED if item.skipped and item.state == COMPLETED else item.state
        out[item.id] = (item.def_id, item.name, item.kind, shown, item.owner,
                        ",".join(groups) if groups else None, ",".join(users) if users else None, item.due)
    return out, queued, offered


def task_changes(
    case_id: str, before: dict[str, TaskKey], after: dict[str, TaskKey], now: datetime
) -> tuple[list[dict[str, Any]], list[str]]:
    upserts = [_task_row(case_id, item_id, row, now) for item_id, row in after.items() if before.get(item_id) != row]
    removed = [item_id for item_id in before if item_id not in after]
    return upserts, removed


def participant_pairs(state: CaseState) -> set[tuple[str, str]]:
    return {(user, role) for user, roles in state.participants.items() for role in roles}


def sla_view(state: CaseState) -> dict[str, str]:
    """Deadlines the worker must watch: the case's own (ref "case") and each open item's (ref = item id)."""
    out = {item.id: item.due for item in state.items.values() if item.due and item.open and item.id != state.root}
    if state.due and not state.ended:
        out["case"] = state.due
    return out


def job_changes(
    kind: str, case_id: str, before: dict[str, str], after: dict[str, str], now: datetime
) -> tuple[list[dict[str, Any]], list[str]]:
    """Jobs to (re)arm and to drop when a case's timers or deadlines move from `before` to `after`."""
    upserts = [_job_row(kind, case_id, ref, due, now) for ref, due in after.items() if before.get(ref) != due]
    return upserts, [ref for ref in before if ref not in after]


class Views(NamedTuple):
    """Everything the projections derive from one case state.

    Built whole by `views`; `advance` brings a case's views up to date with its state in place, since they travel
    with the state object they describe (both changed by a command, both dropped if it is not written)."""

    tasks: dict[str, TaskKey]
    queued: Offers  # (item id, candidate group) of open tasks
    offered: Offers  # (item id, candidate user) of open tasks
    people: set[tuple[str, str]]
    timers: dict[str, str]
    sla: dict[str, str]


NOTHING = Views({}, set(), set(), set(), {}, {})


def views(state: CaseState, definition: CaseDefinition) -> Views:
    """The views of `state`, from every instance of the case: for a case read from the store, and where `advance`
    cannot tell what a command changed."""
    tasks, queued, offered = task_view(state, plan_for(definition, state).items)
    return Views(tasks, queued, offered, participant_pairs(state), dict(state.timers), sla_view(state))


@dataclass
class Changes:
    """The rows to write when a case's views move from one state to the next."""

    task_upserts: list[dict[str, Any]] = field(default_factory=list)
    task_deletes: list[str] = field(default_factory=list)
    participants_add: list[tuple[str, str]] = field(default_factory=list)
    participants_remove: list[tuple[str, str]] = field(default_factory=list)
    queued_add: list[tuple[str, str]] = field(default_factory=list)  # (item id, group)
    queued_remove: list[tuple[str, str]] = field(default_factory=list)
    offered_add: list[tuple[str, str]] = field(default_factory=list)  # (item id, user)
    offered_remove: list[tuple[str, str]] = field(default_factory=list)
    job_upserts: list[dict[str, Any]] = field(default_factory=list)
    job_deletes: list[tuple[str, str]] = field(default_factory=list)  # (kind, ref)


def _offer_changes(before: Offers, after: Offers) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(added, removed) offer rows; most cases offer nothing, which costs no set arithmetic."""
    if not before and not after:
        return [], []
    return sorted(after - before), sorted(before - after)


def changes(case_id: str, before: Views, after: Views, now: datetime) -> Changes:
    task_upserts, task_deletes = task_changes(case_id, before.tasks, after.tasks, now)
    queued_add, queued_remove = _offer_changes(before.queued, after.queued)
    offered_add, offered_remove = _offer_changes(before.offered, after.offered)
    job_upserts: list[dict[str, Any]] = []
    job_deletes: list[tuple[str, str]] = []
    for kind, old, new in (("timer", before.timers, after.timers), ("sla", before.sla, after.sla)):
        if old or new:
            ups, gone = job_changes(kind, case_id, old, new, now)
            job_upserts.extend(ups)
            job_deletes.extend((kind, ref) for ref in gone)
    # Built whole: a `Changes()` would make ten empty lists only to replace them.
    return Changes(task_upserts, task_deletes, sorted(after.people - before.people),
                   sorted(before.people - after.people), queued_add, queued_remove, offered_add, offered_remove,
                   job_upserts, job_deletes)


# Events whose handlers change no field of an instance that a view reads (what they change of the case itself, its
# participants, timers and own deadline, `advance` takes whole). A plan change recorded in a payload's "overlay" is
# judged apart.
_NO_ITEM_FIELDS = frozenset({
    "case_started", "memory", "variables_set", "timer_scheduled", "timer_cancelled", "expression_failed",
    "add_participant", "remove_participant", "document_attached", "skip", "plan", "add_dependency", "remove",
    "add_task", "add_stage", "add_milestone", "suggestion_accepted", "suggestion_dismissed",
})
# Events that change fields of one instance, and the payload key naming it (None for a case's own deadline).
_ONE_ITEM = {"item_created": "id", "item_transition": "id", "reassign": "item", "set_due": "item"}
_PEOPLE = frozenset({"add_participant", "remove_participant"})
_TOUCHED_ID = re.compile(r"i([0-9]+)")


def advance(case_id: str, before: Views, state: CaseState, definition: CaseDefinition, events: list[Event],
            now: datetime) -> tuple[Views, Changes] | None:
    """The views of `state` after `events` (a command's, applied to the state `before` describes) and the rows to
    write, from the instances the events touched alone: what `views` and `changes` give, for a cost that does not
    grow with the case. `before` is updated in place and returned in the new views. None (nothing changed) when the
    events may have changed more than the instances they name: a migration, a plan item redefined, an event this
    does not know; the caller then computes the views whole.

    A task row reads an instance's own fields and its plan item's candidates. Only the events in `_ONE_ITEM` change
    an instance's fields once it exists, each that of the instance it names (`events.apply`); the candidates of an
    existing instance's plan item change only when a migration or an added plan item replaces it."""
    touched: dict[str, None] = {}
    created: dict[str, int] = {}  # plan item -> instances of it this command created
    added: list[str] = []  # plan items added by this command
    people = False
    for event in events:
        type_ = event.type
        p = event.payload
        key = _ONE_ITEM.get(type_)
        if key is not None:
            item_id = p[key]
            if item_id is not None:
                touched[item_id] = None
            if type_ == "item_created":
                created[p["def"]] = created.get(p["def"], 0) + 1
        elif type_ in _NO_ITEM_FIELDS:
            people = people or type_ in _PEOPLE
        else:
            return None
        op = p.get("overlay")
        if op is not None:
            kind = op.get("op")
            if kind == "add_item":
                added.append(op["def"]["id"])
            elif kind not in ("add_dependency", "remove"):  # these change sentries and stages' children alone
                return None
    for def_id in added:
        if state.created_by_def.get(def_id, 0) > created.get(def_id, 0):
            return None  # the plan item was there before, and instances made of it may show other candidates now
    # Rows in the order of the case's instances, as `changes` writes them: instance ids number them in order.
    order: list[tuple[int, str]] = []
    for item_id in touched:
        m = _TOUCHED_ID.fullmatch(item_id)
        if m is None:
            return None
        order.append((int(m.group(1)), item_id))
    order.sort()

    items = plan_for(definition, state).items
    tasks, queued, offered, sla = before.tasks, before.queued, before.offered, before.sla
    task_upserts: list[dict[str, Any]] = []
    queued_add: list[tuple[str, str]] = []
    queued_remove: list[tuple[str, str]] = []
    offered_add: list[tuple[str, str]] = []
    offered_remove: list[tuple[str, str]] = []
    sla_upserts: list[dict[str, Any]] = []
    sla_deletes: list[tuple[str, str]] = []
    root = state.root
    instances = state.items
    for _, item_id in order:
        if item_id == root:
            continue
        item = instances[item_id]
        d = items.get(item.def_id)
        groups = d.candidate_groups if d is not None else ()
        users = d.candidate_users if d is not None else ()
        is_open = item.state not in TERMINAL
        for names, offers, adds, removes in ((groups, queued, queued_add, queued_remove),
                                             (users, offered, offered_add, offered_remove)):
            for name in names:
                pair = (item_id, name)
                if is_open and pair not in offers:
                    offers.add(pair)
                    adds.append(pair)
                elif not is_open and pair in offers:
                    offers.discard(pair)
                    removes.append(pair)
        shown = SKIPPED if item.skipped and item.state == COMPLETED else item.state
        row = (item.def_id, item.name, item.kind, shown, item.owner,
               ",".join(groups) if groups else None, ",".join(users) if users else None, item.due)
        if tasks.get(item_id) != row:
            tasks[item_id] = row
            task_upserts.append(_task_row(case_id, item_id, row, now))
        due = item.due if item.due and item.open else None
        _move_deadline(case_id, sla, item_id, due, now, sla_upserts, sla_deletes)
    _move_deadline(case_id, sla, "case", state.due if state.due and not state.ended else None, now, sla_upserts,
                   sla_deletes)
    job_upserts: list[dict[str, Any]] = []
    job_deletes: list[tuple[str, str]] = []
    timers = before.timers
    if timers != state.timers:
        timers = dict(state.timers)
        job_upserts, gone = job_changes("timer", case_id, before.timers, timers, now)
        job_deletes = [("timer", ref) for ref in gone]
    job_upserts.extend(sla_upserts)
    job_deletes.extend(sla_deletes)
    pairs = before.people
    participants_add: list[tuple[str, str]] = []
    participants_remove: list[tuple[str, str]] = []
    if people:
        pairs = participant_pairs(state)
        participants_add, participants_remove = sorted(pairs - before.people), sorted(before.people - pairs)
    after = Views(tasks, queued, offered, pairs, timers, sla)
    queued_add.sort()
    queued_remove.sort()
    offered_add.sort()
    offered_remove.sort()
    return after, Changes(task_upserts, [], participants_add, participants_remove, queued_add, queued_remove,
                          offered_add, offered_remove, job_upserts, job_deletes)


def _task_row(case_id: str, item_id: str, row: TaskKey, now: datetime) -> dict[str, Any]:
    def_id, name, kind, st, owner, groups, users, due = row
    return {"case_id": case_id, "item_id": item_id, "def_id": def_id, "name": name, "kind": kind, "state": st,
            "owner": owner, "candidate_groups": groups, "candidate_users": users, "due_at": parse_time(due),
            "updated_at": now}


def _move_deadline(case_id: str, sla: dict[str, str], ref: str, due: str | None, now: datetime,
                   upserts: list[dict[str, Any]], deletes: list[tuple[str, str]]) -> None:
    """`sla[ref]` set to `due` (dropped for None), and the job row to write for it if it changed."""
    old = sla.get(ref)
    if due is None:
        if old is not None:
            del sla[ref]
            deletes.append(("sla", ref))
    elif old != due:
        sla[ref] = due
        upserts.append(_job_row("sla", case_id, ref, due, now))


def _job_row(kind: str, case_id: str, ref: str, due: str, now: datetime) -> dict[str, Any]:
    return {"kind": kind, "case_id": case_id, "ref": ref, "due_at": parse_time(due) or now,
            "payload": json.dumps({"item": ref} if ref != "case" else {"case": case_id}), "claimed_by": None,
            "claimed_until": None, "attempts": 0, "created_at": now}
