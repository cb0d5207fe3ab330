"""The effective plan of one case: its definition plus the changes made while it runs, with the lookup indexes the
engine needs so that the work per command is proportional to what changed, not to the size of the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from casework.model.definition import (
    ANY_EVENT,
    CASE_FILE_EVENTS,
    EVENT_LISTENER_KINDS,
    HUMAN_TASK,
    MILESTONE,
    STAGE_KINDS,
    CaseDefinition,
    Criterion,
    OnPart,
    PlanItemDef,
    Rule,
    Sentry,
)

Listener = tuple[str, Criterion, int, bool]  # owner plan item, criterion, on-part index, is exit criterion


@dataclass
class PlanIndex:
    definition: CaseDefinition
    on_event: dict[tuple[str, str], list[Listener]] = field(default_factory=dict)
    on_file: dict[tuple[str, str], list[Listener]] = field(default_factory=dict)
    on_var: dict[str, list[tuple[str, Criterion, bool]]] = field(default_factory=dict)
    listener_owners: dict[str, set[str]] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    stages: list[str] = field(default_factory=list)  # plan items that are stages, the case plan included
    listener_watchers: frozenset[str] = frozenset()  # plan items with on-parts on event listeners
    dependents: frozenset[str] = frozenset()  # plan items with entry on-parts added at run time
    # Stages that are not autoComplete -> the discretionary items of their own planning table (not a task's) that a
    # worker has not removed: CMMN 1.1 lets such a stage complete by itself only when none remains to be planned.
    planned_stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def items(self) -> Mapping[str, PlanItemDef]:
        return self.definition.items

    def children_of(self, stage_def: str) -> list[PlanItemDef]:
        return [self.items[c] for c in self.items[stage_def].children if c not in self.removed]


def build_index(definition: CaseDefinition, removed: frozenset[str] = frozenset()) -> PlanIndex:
    index = PlanIndex(definition=definition, removed=removed)
    index.stages = [i.id for i in definition.items.values() if i.kind in STAGE_KINDS]
    index.listener_watchers = frozenset(
        owner.id
        for owner in definition.items.values()
        for criterion in (*owner.entry, *owner.exit)
        for part in criterion.sentry.on_parts
        if part.kind == "planItem"
        and part.source in definition.items
        and definition.items[part.source].kind in EVENT_LISTENER_KINDS
    )
    index.dependents = frozenset(
        owner.id for owner in definition.items.values() for c in owner.entry if any(p.added for p in c.sentry.on_parts)
    )
    task_tables = {i for t in definition.items.values() if t.kind == HUMAN_TASK for i in t.planning_table}
    index.planned_stages = {
        stage.id: own
        for stage in definition.items.values()
        if stage.kind in STAGE_KINDS
        and not stage.auto_complete
        and (own := tuple(i for i in stage.planning_table if i not in task_tables and i not in removed))
    }
    for owner in definition.items.values():
        for is_exit, criteria in ((False, owner.entry), (True, owner.exit)):
            for criterion in criteria:
                sentry = criterion.sentry
                for n, part in enumerate(sentry.on_parts):
                    table = index.on_event if part.kind == "planItem" else index.on_file
                    events = CASE_FILE_EVENTS if part.event == ANY_EVENT else (part.event,)
                    for event in events:
                        table.setdefault((part.source, event), []).append((owner.id, criterion, n, is_exit))
                    if part.kind == "planItem":
                        index.listener_owners.setdefault(part.source, set()).add(owner.id)
                if sentry.if_part is not None:
                    for var in sentry.if_part.variables:
                        index.on_var.setdefault(var, []).append((owner.id, criterion, is_exit))
    return index


def effective_plan(base: CaseDefinition, overlay: list[dict[str, Any]]) -> PlanIndex:
    if not overlay:
        # Every case of a definition without plan changes shares one index.
        index: PlanIndex | None = base.cache.get("index")
        if index is None:
            index = base.cache["index"] = build_index(base)
        return index
    items = dict(base.items)
    removed: set[str] = set()
    released: set[str] = set()
    for op in overlay:
        kind = op.get("op")
        if kind == "add_item":
            spec = op["def"]
            item = added_item_def(spec, items)
            items[item.id] = item
            parent = items[spec["parent"]]
            items[parent.id] = replace(parent, children=(*parent.children, item.id))
        elif kind == "add_dependency":
            items[op["item"]] = with_dependency(items[op["item"]], tuple(op["after"]), op["criterion"], items)
        elif kind == "remove":
            removed.add(op["item"])
            if op.get("release"):
                released.update(nested_in(items, op["item"]))
    if released:
        for item_id in [i for i, item in items.items() if any(p.added for c in item.entry for p in c.sentry.on_parts)]:
            items[item_id] = without_dependencies_on(items[item_id], released)
    return build_index(replace(base, items=MappingProxyType(items)), frozenset(removed))


def done_event(source: str, items: Mapping[str, PlanItemDef]) -> str:
    """The event by which an item counts as done: milestones and event listeners occur, the rest complete."""
    kind = items[source].kind if source in items else ""
    return "occur" if kind in EVENT_LISTENER_KINDS or kind == MILESTONE else "complete"


def added_item_def(spec: dict[str, Any], items: Mapping[str, PlanItemDef]) -> PlanItemDef:
    after = tuple(spec.get("after", ()))
    entry: tuple[Criterion, ...] = ()
    if after:
        parts = tuple(OnPart(a, done_event(a, items), id=f"{spec['id']}:after:{a}", added=True) for a in after)
        sentry = Sentry(f"{spec['id']}:after", parts)
        entry = (Criterion(f"{spec['id']}:after", sentry),)
    return PlanItemDef(
        id=spec["id"],
        name=spec["name"],
        kind=spec["kind"],
        definition_id=spec["id"],
        parent=spec["parent"],
        entry=entry,
        manual=Rule() if spec.get("manual") else None,
        required=Rule() if spec.get("required") else None,
        repetition=Rule() if spec.get("repeat") else None,
        auto_complete=bool(spec.get("auto_complete", True)),
        assignee=spec.get("assignee"),
        candidate_groups=tuple(spec.get("candidate_groups", ())),
        candidate_users=tuple(spec.get("candidate_users", ())),
        due=spec.get("due"),
        description=spec.get("description", ""),
        added=True,
    )


def with_dependency(
    item: PlanItemDef, after: tuple[str, ...], criterion_id: str, items: Mapping[str, PlanItemDef]
) -> PlanItemDef:
    """Every entry criterion of ``item`` gains on-parts for the completion of ``after`` (a new one if it had none)."""
    new_parts = tuple(OnPart(a, done_event(a, items), id=f"{criterion_id}:{a}", added=True) for a in after)
    if not item.entry:
        return replace(item, entry=(Criterion(criterion_id, Sentry(criterion_id, new_parts)),))
    entry = tuple(Criterion(c.id, replace(c.sentry, on_parts=c.sentry.on_parts + new_parts)) for c in item.entry)
    return replace(item, entry=entry)


def without_dependencies_on(item: PlanItemDef, released: set[str]) -> PlanItemDef:
    """``item`` without the on-parts added at run time that wait for a released item (one a worker removed from the
    plan); a criterion left with nothing to wait for (one a dependency made) goes with them."""
    entry: list[Criterion] = []
    for criterion in item.entry:
        sentry = criterion.sentry
        parts = tuple(p for p in sentry.on_parts if not (p.added and p.source in released))
        if len(parts) == len(sentry.on_parts):
            entry.append(criterion)
        elif parts or sentry.if_part is not None:
            entry.append(Criterion(criterion.id, replace(sentry, on_parts=parts)))
    return replace(item, entry=tuple(entry))


def nested_in(items: Mapping[str, PlanItemDef], item_id: str) -> set[str]:
    """``item_id`` and the plan items inside it, at any depth (a stage's children and discretionary items): what
    leaves the plan when it is removed, since nothing inside a removed stage can happen any more."""
    found = {item_id}
    for item in items.values():
        parent = item.parent
        while parent is not None and parent not in found and parent in items:
            parent = items[parent].parent
        if parent in found:
            found.add(item.id)
    return found


def released_dependencies(
    overlay: list[dict[str, Any]], def_id: str, items: Mapping[str, PlanItemDef]
) -> list[tuple[str, str]]:
    """(waited for, removed): the items that dependencies added to plan item ``def_id`` waited for and that left the
    plan when a worker removed them or the stage they were in, which released the dependency on them."""
    waited: set[str] = set()
    released: list[tuple[str, str]] = []
    for op in overlay:
        kind = op.get("op")
        if kind == "add_dependency" and op["item"] == def_id:
            waited.update(op["after"])
        elif kind == "add_item" and op["def"]["id"] == def_id:
            waited.update(op["def"].get("after", ()))
        elif kind == "remove" and op.get("release"):
            released.extend((w, op["item"]) for w in sorted(waited & nested_in(items, op["item"])))
    return released


def restated_memory(
    old: PlanItemDef,
    new: PlanItemDef,
    memory: Mapping[str, list[int]],
    sources: Mapping[str, str],
    files: Mapping[str, str] | None = None,
) -> dict[str, list[int]]:
    """criterion id -> the on-parts that have fired, in ``new``'s terms, for each criterion of ``memory`` (kept by
    position in ``old``'s criteria) whose positions differ there. A plan change may reorder, add or drop on-parts
    (and an added dependency's come after the modelled ones): a position kept as it was would name another on-part,
    and the item would start early or wait for ever for one that already fired. ``sources`` maps old plan item ids
    to new ones where they differ, ``files`` old case file item ids to new ones; a criterion that ``new`` lacks is
    forgotten."""
    old_criteria = {c.id: c for c in (*old.exit, *old.entry)}
    new_criteria = {c.id: c for c in (*new.exit, *new.entry)}
    changed: dict[str, list[int]] = {}
    for criterion_id, fired in memory.items():
        before, after = old_criteria.get(criterion_id), new_criteria.get(criterion_id)
        done: set[tuple[str, str, str]] = set()
        if before is not None:
            parts = before.sentry.on_parts
            done = {part_key(parts[n], sources, files) for n in fired if n < len(parts)}
        kept = [] if after is None else [n for n, p in enumerate(after.sentry.on_parts) if part_key(p) in done]
        if kept != fired:
            changed[criterion_id] = kept
    return changed


def part_key(
    part: OnPart, sources: Mapping[str, str] | None = None, files: Mapping[str, str] | None = None
) -> tuple[str, str, str]:
    """What an on-part waits for, in the new model's ids when ``sources`` (plan items) and ``files`` (case file
    items) map the old ones to them."""
    mapping = sources if part.kind == "planItem" else files
    source = mapping.get(part.source, part.source) if mapping else part.source
    return part.kind, source, part.event


def repeats_on_completion(item: PlanItemDef) -> bool:
    """Whether the next instance of a repeating ``item`` comes when one completes. An item with entry criteria
    repeats when they fire; dependencies added at run time do not make it one: they hold its next instance back."""
    return all(
        c.sentry.if_part is None and bool(c.sentry.on_parts) and all(p.added for p in c.sentry.on_parts)
        for c in item.entry
    )
