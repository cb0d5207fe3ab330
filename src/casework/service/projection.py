"""Rows derived from a case state: the task inbox, participants and timer jobs.

Each is computed for the state before and after a command and only the difference is written. The views after a
command are kept with the cached case, so the next command on it starts from them instead of computing them again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from casework.engine import CaseState, plan_for
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
    upserts: list[dict[str, Any]] = []
    for item_id, row in after.items():
        if before.get(item_id) != row:
            def_id, name, kind, st, owner, groups, users, due = row
            upserts.append(
                {
                    "case_id": case_id,
                    "item_id": item_id,
                    "def_id": def_id,
                    "name": name,
                    "kind": kind,
                    "state": st,
                    "owner": owner,
                    "candidate_groups": groups,
                    "candidate_users": users,
                    "due_at": parse_time(due),
                    "updated_at": now,
                }
            )
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
    upserts = [
        {
            "kind": kind,
            "case_id": case_id,
            "ref": ref,
            "due_at": parse_time(due) or now,
            "payload": json.dumps({"item": ref} if ref != "case" else {"case": case_id}),
            "claimed_by": None,
            "claimed_until": None,
            "attempts": 0,
            "created_at": now,
        }
        for ref, due in after.items()
        if before.get(ref) != due
    ]
    return upserts, [ref for ref in before if ref not in after]


class Views(NamedTuple):
    """Everything the projections derive from one case state. Never mutated once built."""

    tasks: dict[str, TaskKey]
    queued: Offers  # (item id, candidate group) of open tasks
    offered: Offers  # (item id, candidate user) of open tasks
    people: set[tuple[str, str]]
    timers: dict[str, str]
    sla: dict[str, str]


NOTHING = Views({}, set(), set(), set(), {}, {})


def views(state: CaseState, definition: CaseDefinition) -> Views:
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
