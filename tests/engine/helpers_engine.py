"""Invariants shared by the engine's property tests, and a case driven command by command for the others."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from casework.engine import CaseState, commands, execute, plan_for, replay
from casework.engine.events import Event
from casework.engine.plan import PlanIndex, effective_plan
from casework.model import CaseDefinition, load_definition
from casework.model.definition import PlanItemDef

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def model_of(body: str, *, auto_complete: bool = False) -> CaseDefinition:
    """A case whose plan model holds ``body`` (plan items, sentries and their definitions)."""
    return load_definition(
        f'<definitions {NS}><case id="m"><casePlanModel id="plan" name="Plan" '
        f'autoComplete="{str(auto_complete).lower()}">{body}</casePlanModel></case></definitions>'
    )


def on_part(source: str, event: str = "complete") -> str:
    return f'<planItemOnPart sourceRef="{source}"><standardEvent>{event}</standardEvent></planItemOnPart>'


class DrivenCase:
    """A case driven command by command, keeping its event log so that a test can check the replay too."""

    def __init__(self, definition: CaseDefinition, **variables: Any) -> None:
        self.definition = definition
        self.state = CaseState.create("c1", definition)
        self.log: list[Event] = []
        self.run(commands.StartCase(variables=variables, actor="ann"))

    def run(self, command: commands.Command, now: dt.datetime = NOW) -> list[Event]:
        events = execute(self.definition, self.state, command, now)
        self.log += events
        return events

    def states(self, name: str) -> list[str]:
        return [i.state for i in self.state.items.values() if i.name == name]

    def replays(self) -> bool:
        return replay(self.definition, "c1", self.log).to_dict() == copy.deepcopy(self.state.to_dict())


def assert_same_plan(a: PlanIndex, b: PlanIndex) -> None:
    """Two effective plans are the same: items (and their order, which listeners keep), indexes and overlay."""
    assert dict(a.items) == dict(b.items)
    assert list(a.items) == list(b.items)
    for table in ("on_event", "on_file", "on_var", "listener_owners", "planned_stages"):
        assert getattr(a, table) == getattr(b, table), table
    assert (a.stages, a.removed, a.listener_watchers, a.dependents) == (b.stages, b.removed, b.listener_watchers,
                                                                         b.dependents)
    assert (a.overlay, a.released, a.highest_added) == (b.overlay, b.released, b.highest_added)


def plan_is_rebuilt_plan(definition: CaseDefinition, state: CaseState) -> None:
    """The plan the engine keeps for a case (extended item by item as the case gains items) is the plan a rebuild
    from the definition and the case's overlay gives."""
    assert_same_plan(plan_for(definition, state), effective_plan(definition, state.overlay))


def _once_only(items: dict[str, PlanItemDef], def_id: str) -> bool:
    """Whether ``def_id`` comes once unless a worker plans it again: neither it nor a stage around it repeats, up to
    the first discretionary one (a repeating stage around that does not create it again; only planning does). (A
    discretionary item planned again is a new decision, which a dependency on it does not wait for.)"""
    item: PlanItemDef | None = items.get(def_id)
    while item is not None:
        if item.repetition is not None:
            return False
        if item.discretionary:
            return True
        item = items.get(item.parent) if item.parent is not None else None
    return True


def repeats_stuck_on_spent_dependencies(definition: CaseDefinition, state: CaseState) -> list[str]:
    """Waiting instances of repeating items that have not heard a dependency added at run time on an item that
    completed and cannot come again: that item never completes again, and they would wait for ever."""
    plan = plan_for(definition, state)
    items = dict(plan.items)
    completed = {i.def_id for i in state.items.values() if i.state == "completed"}
    # An item with an open instance can still complete (a timer cycle's next firing: it repeats by its timer, not by
    # a repetition rule).
    pending = {i.def_id for i in state.items.values() if i.open}
    stuck = []
    for instance in state.items.values():
        owner = items.get(instance.def_id)
        if instance.state != "available" or owner is None or owner.repetition is None:
            continue
        for criterion in owner.entry:
            heard = instance.memory.get(criterion.id, [])
            stuck.extend(
                f"{instance.name} #{instance.index} on {part.source}"
                for n, part in enumerate(criterion.sentry.on_parts)
                if n not in heard
                and part.added
                and part.source in completed
                and part.source not in pending
                and part.source not in plan.removed
                and _once_only(items, part.source)
            )
    return stuck
