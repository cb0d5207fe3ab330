"""The effective plan of one case: its definition plus the changes made while it runs, with the lookup indexes the
engine needs so that the work per command is proportional to what changed, not to the size of the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from casework.engine.state import added_number
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
    # The run-time changes this plan reflects (its case's overlay when it was built), so that a later plan can be
    # built from it by adding what the case changed since (`extend_plan`); and the plan items whose dependencies a
    # removal released.
    overlay: list[dict[str, Any]] = field(default_factory=list)
    released: frozenset[str] = frozenset()
    highest_added: int = 0  # the highest N of its ``adhocN`` plan items

    @property
    def items(self) -> Mapping[str, PlanItemDef]:
        return self.definition.items

    def children_of(self, stage_def: str) -> list[PlanItemDef]:
        return [self.items[c] for c in self.items[stage_def].children if c not in self.removed]


def build_index(definition: CaseDefinition, removed: frozenset[str] = frozenset()) -> PlanIndex:
    index = PlanIndex(definition=definition, removed=removed)
    items = definition.items
    index.stages = [i.id for i in items.values() if i.kind in STAGE_KINDS]
    index.highest_added = max(map(added_number, items), default=0)
    index.listener_watchers = frozenset(owner.id for owner in items.values() if _watches_listener(owner, items))
    index.dependents = frozenset(owner.id for owner in items.values() if _has_dependency(owner))
    task_tables = {i for t in items.values() if t.kind == HUMAN_TASK for i in t.planning_table}
    index.planned_stages = {
        stage.id: own
        for stage in items.values()
        if stage.kind in STAGE_KINDS
        and not stage.auto_complete
        and (own := tuple(i for i in stage.planning_table if i not in task_tables and i not in removed))
    }
    for owner in items.values():
        _index_owner(index, owner, items)
    return index


def _watches_listener(owner: PlanItemDef, items: Mapping[str, PlanItemDef]) -> bool:
    """Whether ``owner`` has an on-part on an event listener."""
    return any(
        part.kind == "planItem" and part.source in items and items[part.source].kind in EVENT_LISTENER_KINDS
        for criterion in (*owner.entry, *owner.exit)
        for part in criterion.sentry.on_parts
    )


def _has_dependency(owner: PlanItemDef) -> bool:
    """Whether ``owner`` has entry on-parts added at run time."""
    return any(p.added for c in owner.entry for p in c.sentry.on_parts)


def _index_owner(index: PlanIndex, owner: PlanItemDef, items: Mapping[str, PlanItemDef], *, copy: bool = False) -> None:
    """Add what ``owner``'s sentries listen to to ``index``, after what is there (so that listeners are in plan
    order). With ``copy``, each list or set it adds to is replaced by a longer copy rather than changed: the tables
    are shallow copies of another index's (`extend_plan`)."""
    for is_exit, criteria in ((False, owner.entry), (True, owner.exit)):
        for criterion in criteria:
            sentry = criterion.sentry
            for n, part in enumerate(sentry.on_parts):
                table = index.on_event if part.kind == "planItem" else index.on_file
                events = CASE_FILE_EVENTS if part.event == ANY_EVENT else (part.event,)
                for event in events:
                    _append(table, (part.source, event), (owner.id, criterion, n, is_exit), copy)
                if part.kind == "planItem":
                    owners = index.listener_owners.get(part.source)
                    if owners is None or copy:
                        owners = index.listener_owners[part.source] = set(owners or ())
                    owners.add(owner.id)
            if sentry.if_part is not None:
                for var in sentry.if_part.variables:
                    _append(index.on_var, var, (owner.id, criterion, is_exit), copy)


def _append(table: dict[Any, list[Any]], key: Any, entry: Any, copy: bool) -> None:
    found = table.get(key)
    if found is None:
        table[key] = [entry]
    elif copy:
        table[key] = [*found, entry]
    else:
        found.append(entry)


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
    # Children added to each stage, joined to it once at the end: replacing the stage's definition for every added
    # item copied its growing list of children each time, quadratic in the items a case gains.
    added_children: dict[str, list[str]] = {}
    for op in overlay:
        kind = op.get("op")
        if kind == "add_item":
            spec = op["def"]
            item = added_item_def(spec, items)
            items[item.id] = item
            if spec["parent"] not in items:
                raise KeyError(spec["parent"])  # as before: a migration refuses an added item whose stage is gone
            added_children.setdefault(spec["parent"], []).append(item.id)
        elif kind == "add_dependency":
            items[op["item"]] = with_dependency(items[op["item"]], tuple(op["after"]), op["criterion"], items)
        elif kind == "remove":
            removed.add(op["item"])
            if op.get("release"):
                released.update(nested_in(items, op["item"]))
    for parent_id, children in added_children.items():
        parent = items[parent_id]
        items[parent_id] = replace(parent, children=(*parent.children, *children))
    if released:
        for item_id in [i for i, item in items.items() if any(p.added for c in item.entry for p in c.sentry.on_parts)]:
            items[item_id] = without_dependencies_on(items[item_id], released)
    index = build_index(replace(base, items=MappingProxyType(items)), frozenset(removed))
    index.overlay = list(overlay)
    index.released = frozenset(released)
    return index


def extend_plan(plan: PlanIndex, overlay: list[dict[str, Any]]) -> PlanIndex | None:
    """``plan`` (the effective plan of ``plan.overlay``) with the items added by the entries of ``overlay`` past
    it, as `effective_plan` would build it, or None when only a rebuild gives that plan: the overlay is not
    ``plan.overlay`` plus more, an entry is not an added item, or a removal released dependencies (which
    `effective_plan` takes out of every item, later ones too). A new index: the one given is left as it was, since
    a command that is rejected, or a caller that kept it, still reads it. Adding an item costs what the item
    brings, not the size of the plan, so a case that gains thousands of tasks does not slow down with each."""
    done = len(plan.overlay)
    if not done or len(overlay) <= done or plan.released or overlay[:done] != plan.overlay:
        return None
    new_ops = overlay[done:]
    if any(op.get("op") != "add_item" for op in new_ops):
        return None
    items = dict(plan.items)
    added_children: dict[str, list[str]] = {}
    new_defs: list[PlanItemDef] = []
    for op in new_ops:
        spec = op["def"]
        if spec["parent"] not in items or spec["id"] in items:
            return None  # `effective_plan` says what is wrong (or replaces an item in place)
        item = added_item_def(spec, items)
        items[item.id] = item
        new_defs.append(item)
        added_children.setdefault(spec["parent"], []).append(item.id)
    for parent_id, children in added_children.items():
        parent = items[parent_id]
        items[parent_id] = replace(parent, children=(*parent.children, *children))
    index = replace(
        plan,
        definition=replace(plan.definition, items=MappingProxyType(items)),
        # Shallow copies, whose lists and sets `_index_owner` replaces where it adds to them: the index given stays
        # as it was.
        on_event=dict(plan.on_event),
        on_file=dict(plan.on_file),
        on_var=dict(plan.on_var),
        listener_owners=dict(plan.listener_owners),
        stages=[*plan.stages, *(i.id for i in new_defs if i.kind in STAGE_KINDS)],
        overlay=list(overlay),
    )
    for item in new_defs:
        _index_owner(index, item, items, copy=True)
    index.listener_watchers = plan.listener_watchers | {i.id for i in new_defs if _watches_listener(i, items)}
    index.dependents = plan.dependents | {i.id for i in new_defs if _has_dependency(i)}
    index.highest_added = max(plan.highest_added, *map(added_number, (i.id for i in new_defs)))
    return index


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
