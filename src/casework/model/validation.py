"""Checks on a whole plan that single elements cannot show."""

from __future__ import annotations

from collections.abc import Mapping

from casework.model.definition import PlanItemDef
from casework.model.errors import Problem

# Events that a plan item can raise only after it has started: an item that waits for one of them on another item
# that itself waits on the first can never start.
_NEEDS_START = frozenset({"start", "manualStart", "complete", "suspend", "resume", "fault"})


def blocking_predecessors(item: PlanItemDef) -> frozenset[str]:
    """Items that must start before ``item`` can: those named in every one of its entry criteria."""
    if not item.entry:
        return frozenset()
    common: set[str] | None = None
    for criterion in item.entry:
        sources = {p.source for p in criterion.sentry.on_parts if p.kind == "planItem" and p.event in _NEEDS_START}
        common = sources if common is None else common & sources
    return frozenset(common or ())


def find_entry_cycle(items: Mapping[str, PlanItemDef], extra: Mapping[str, frozenset[str]] | None = None) -> list[str]:
    """A cycle of items that each wait for the next to start, as a list of ids (first repeated last), or []."""
    graph = {item_id: set(blocking_predecessors(item)) for item_id, item in items.items()}
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


def check_entry_cycles(items: Mapping[str, PlanItemDef]) -> list[Problem]:
    cycle = find_entry_cycle(items)
    if not cycle:
        return []
    names = " -> ".join(items[i].name for i in cycle)
    return [Problem(cycle[0], f"entry criteria form a cycle that can never fire: {names}")]
