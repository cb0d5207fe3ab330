"""``explain``: why an item has not started, or why a stage or the case cannot complete, in plain words."""

from __future__ import annotations

import datetime as dt

from casework.engine.core import ambiguous, plan_for
from casework.engine.errors import UnknownItem
from casework.engine.lifecycle import ACTIVE, AVAILABLE, ENABLED, SUSPENDED
from casework.engine.plan import released_dependencies
from casework.engine.runner import Run
from casework.engine.state import CaseState, ItemInstance
from casework.expr import EvaluationError, Expression
from casework.model.definition import STAGE_KINDS, CaseDefinition

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # conditions do not read time; a fixed value keeps this pure


def explain(definition: CaseDefinition, state: CaseState, item_ref: str | None = None) -> list[str]:
    """Reasons, one per line. ``item_ref`` names an item (id or name); None explains the case itself.
    `UnknownItem` if it names none, or several."""
    plan = plan_for(definition, state)
    probe = Run(definition, plan, CaseState.from_dict(state.to_dict()), _EPOCH, "system", None)
    items = probe.state.items
    if item_ref is None:
        assert state.root is not None
        item = items[state.root]
    else:
        found = items.get(item_ref)
        if found is None:
            named = [i for i in items.values() if item_ref in (i.name, i.def_id) and i.id != state.root]
            candidates = [i for i in named if i.open] or named
            if len(candidates) > 1:
                raise UnknownItem(ambiguous(item_ref, candidates, "explain"))
            if not candidates:
                raise UnknownItem(f"no item {item_ref!r} in this case")
            found = candidates[0]
        item = found
    return _why(probe, item) + _released(probe, item)


def _released(run: Run, item: ItemInstance) -> list[str]:
    items = run.plan.items
    return [
        f"  its dependency on {items[waited].name!r} was released when {items[removed].name!r} was removed from the "
        "plan"
        for waited, removed in released_dependencies(run.state.overlay, item.def_id, items)
    ]


def _why(probe: Run, item: ItemInstance) -> list[str]:
    items = probe.state.items
    if item.kind in STAGE_KINDS and item.state == ACTIVE:
        return _why_stage_open(probe, item)
    if item.state == AVAILABLE:
        return _why_waiting(probe, item)
    if item.state == ENABLED:
        waiting = probe.unmet_dependencies(item)
        if waiting:
            return [f"{item.name!r} is enabled but waits for {', '.join(waiting)} to complete (a dependency added to "
                    "it); then someone can start it"]
        return [f"{item.name!r} is enabled: it waits for someone to start it (manual activation)"]
    if item.state == SUSPENDED and item.held_by_parent and item.parent is not None:
        stage = items[item.parent]
        return [f"{item.name!r} is on hold with its stage {stage.name!r}, which is {stage.state}; resume the stage"]
    return [f"{item.name!r} is {item.state}", *_no_due(probe, item)]


def _no_due(run: Run, item: ItemInstance) -> list[str]:
    """Why a task that started has no due time although its model gives one (`Run.model_due`)."""
    definition = run.plan.items.get(item.def_id)
    if item.due is not None or item.started_at is None or definition is None or not definition.due_date:
        return []
    for error in reversed(run.state.errors):
        if error.get("id") == item.id and error.get("where") == "dueDate":
            return [f"  it has no due time: its dueDate {error['expression']!r} failed as it started: {error['error']}"]
    return [f"  it has no due time: its dueDate {definition.due_date!r} gave none as it started"]


def _why_waiting(run: Run, item: ItemInstance) -> list[str]:
    definition = run.plan.items[item.def_id]
    due = run.state.timers.get(item.id)
    if due is not None:
        # Scheduled: it waits for its time, not for its start trigger (which a migration may have changed to one
        # whose earlier event it never heard).
        return [f"{item.name!r} is a timer due at {due}: it occurs at the first FireDueTimers from then"]
    if not definition.entry:
        return [f"{item.name!r} is available and waits for nothing; it starts when its stage runs"]
    lines = [
        f"{item.name!r} waits for any one of its {len(definition.entry)} entry criteria:"
        if len(definition.entry) > 1
        else f"{item.name!r} waits for its entry criterion:"
    ]
    for criterion in definition.entry:
        fired = item.memory.get(criterion.id, [])
        for n, part in enumerate(criterion.sentry.on_parts):
            source = run.plan.items.get(part.source)
            label = source.name if source is not None else part.source
            status = "done" if n in fired else "waiting"
            lines.append(f"  [{criterion.id}] {label} {part.event}: {status}")
        if criterion.sentry.if_part is not None:
            lines.append(f"  [{criterion.id}] condition {criterion.sentry.if_part.source}: "
                         f"{_condition(run, criterion.sentry.if_part, item)}")
    if not run.reachable(item):
        lines.append(f"  {item.name!r} can no longer start: what it waits for can no longer happen")
    dead = run.dead_dependencies(item)
    if dead:
        # No command takes a dependency back; removing the waiting item is the way out that records no work as done.
        lines.append(
            f"  {item.name!r} can never start: it waits for {', '.join(repr(n) for n in dead)} (a dependency added "
            f"at run time), which cannot complete any more; `remove` {item.name!r} to end the wait"
        )
    return lines


def _condition(run: Run, expr: Expression, item: ItemInstance) -> str:
    """"true", "false", or why it cannot be evaluated: the engine counts a broken condition as false, and "false"
    alone sent the case worker to the wrong fix (a claim of 18,000 whose amount was typed as text, "18,000", read
    as a claim too small for the condition's amount > 10000)."""
    local = {run.plan.items[item.def_id].counter_variable: item.index}
    try:
        return "true" if expr.evaluate_bool(run.state.variables, local) else "false"
    except EvaluationError as exc:
        return f"cannot be evaluated, so it counts as false: {exc}"


def _why_stage_open(run: Run, stage: ItemInstance) -> list[str]:
    blockers = run.blocking_children(stage)
    if not blockers and run.open_for_planning(stage):
        unplanned = [run.plan.items[i].name for i in run.unplanned(stage)]
        if unplanned:
            names = ", ".join(repr(n) for n in unplanned)
            return [f"{stage.name!r} is open for work to be planned into it ({names} not planned yet): it completes "
                    "when someone completes it, or once each of them is planned (or removed) and done"]
        return [f"{stage.name!r} is open for work to be planned into it: it completes when someone completes it"
                + (" or its items are done" if run.plan.items[stage.def_id].auto_complete else "")]
    if not blockers:
        return [f"{stage.name!r} can complete now"]
    lines = [f"{stage.name!r} cannot complete yet:"]
    for child in blockers:
        why = "required" if run.is_required(child) else child.state
        lines.append(f"  {child.name} is {child.state} ({why})")
    # Once those are done the stage still waits for the items of its table not planned yet: say so now.
    lines.extend(f"  {run.plan.items[i].name} is not planned yet (plan or remove it)" for i in run.unplanned(stage))
    return lines
