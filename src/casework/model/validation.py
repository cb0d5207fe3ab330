"""Checks on a whole plan that single elements cannot show."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

from casework.model.definition import PlanItemDef
from casework.model.errors import Problem

# Events that a plan item can raise only after it has started: an item that waits for one of them on another item
# that itself waits on the first can never start.
_NEEDS_START = frozenset({"start", "manualStart", "complete", "suspend", "resume", "fault"})
# A milestone or timer occurs only once its own entry criteria (a timer's start trigger) have fired.
_NEEDS_START_OR_OCCUR = _NEEDS_START | {"occur"}


def blocking_predecessors(item: PlanItemDef, events: frozenset[str] = _NEEDS_START) -> frozenset[str]:
    """Items that must start before ``item`` can: those named in every one of its entry criteria."""
    if not item.entry:
        return frozenset()
    common: set[str] | None = None
    for criterion in item.entry:
        sources = {p.source for p in criterion.sentry.on_parts if p.kind == "planItem" and p.event in events}
        common = sources if common is None else common & sources
    return frozenset(common or ())


def find_entry_cycle(
    items: Mapping[str, PlanItemDef],
    extra: Mapping[str, frozenset[str]] | None = None,
    events: frozenset[str] = _NEEDS_START,
) -> list[str]:
    """A cycle of items that each wait for the next to start, as a list of ids (first repeated last), or []."""
    graph = {item_id: set(blocking_predecessors(item, events)) for item_id, item in items.items()}
    for item_id, preds in (extra or {}).items():
        graph.setdefault(item_id, set()).update(preds)
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    for start in graph:
        if color[start] != white:
            continue
        path: list[str] = []
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        color[start] = grey
        path.append(start)
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                color[node] = black
                continue
            nxt = pending.pop()
            if nxt not in color:
                continue
            if color[nxt] == grey:
                return [*path[path.index(nxt) :], nxt]
            if color[nxt] == white:
                color[nxt] = grey
                path.append(nxt)
                stack.append((nxt, sorted(graph[nxt])))
    return []


def check_entry_cycles(items: Mapping[str, PlanItemDef], *, deployed: bool = False) -> list[Problem]:
    cycle = find_entry_cycle(items)
    if not cycle and not deployed:
        # Found since a later version (so not for a definition already deployed, which must load for its cases): a
        # milestone or timer waiting for its own occurrence or for another's that waits for it, and a stage waiting
        # for an item inside it, which exists only once the stage has started.
        inside = {item.id: frozenset({item.parent}) for item in items.values() if item.parent is not None}
        cycle = find_entry_cycle(items, inside, _NEEDS_START_OR_OCCUR)
    if not cycle:
        return []
    names = " -> ".join(items[i].name for i in cycle)
    inner = [(a, b) for a, b in pairwise(cycle) if items[a].parent == b]
    why = "".join(f" ({items[a].name} is inside {items[b].name}, so it exists only once that has started)"
                  for a, b in inner)
    return [Problem(cycle[0], f"entry criteria form a cycle that can never fire: {names}{why}")]
