"""The effective plan of a case that gains items is extended, not rebuilt: it must be the plan a rebuild gives."""

from __future__ import annotations

import datetime as dt

from helpers_engine import assert_same_plan

from casework.engine import CaseState, commands, execute, plan_for
from casework.engine.plan import effective_plan
from casework.model import load_definition

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="grow" name="Grow"><casePlanModel id="plan" name="Grow">
    <planItem id="piIntake" name="Intake" definitionRef="intake"/>
    <planItem id="piCall" name="Call" definitionRef="call"/>
    <planItem id="piWait" name="Wait" definitionRef="wait"><entryCriterion id="ec" sentryRef="s"/></planItem>
    <sentry id="s"><planItemOnPart id="on" sourceRef="piCall"><standardEvent>occur</standardEvent>
    </planItemOnPart></sentry>
    <humanTask id="intake" name="Intake"/><userEventListener id="call" name="Call"/>
    <humanTask id="wait" name="Wait"/>
  </casePlanModel></case>
</definitions>"""


def test_a_plan_extended_command_by_command_is_the_plan_rebuilt_from_the_overlay() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    steps = [
        commands.StartCase(actor="ann"),
        commands.AddItem(kind="humanTask", name="Notes", actor="ann"),
        commands.AddItem(kind="stage", name="Review", actor="ann"),
        commands.AddItem(kind="humanTask", name="Check", stage="Review", after=("Notes",), actor="ann"),
        commands.AddItem(kind="milestone", name="Heard", after=("Call",), actor="ann"),  # waits for a listener
        commands.AddItem(kind="humanTask", name="Repeat", repeat=True, candidate_groups=("desk",), actor="ann"),
        commands.CompleteItem(item="Notes", actor="ann"),
        commands.AddDependency(item="Repeat", after=("Intake",), actor="ann"),  # rebuilt: not an added item
        commands.AddItem(kind="humanTask", name="Later", after=("Repeat",), actor="ann"),
        commands.RemoveItem(item="Later", actor="ann"),
        commands.AddItem(kind="humanTask", name="After removal", after=("Check",), actor="ann"),
        commands.OccurEvent(item="Call", actor="ann"),
    ]
    for step in steps:
        execute(definition, state, step, NOW)
        assert_same_plan(plan_for(definition, state), effective_plan(definition, state.overlay))
    assert [i.name for i in state.items.values() if i.name == "Heard"] == ["Heard"]
    assert state.items[next(i for i, it in state.items.items() if it.name == "Heard")].state == "completed"


def test_a_plan_read_before_an_item_was_added_stays_as_it_was() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    execute(definition, state, commands.AddItem(kind="humanTask", name="First", actor="ann"), NOW)
    before = plan_for(definition, state)
    children = before.items["plan"].children
    execute(definition, state, commands.AddItem(kind="humanTask", name="Second", after=("First",), actor="ann"), NOW)
    after = plan_for(definition, state)
    assert after is not before
    assert "adhoc2" in after.items and "adhoc2" not in before.items
    assert before.items["plan"].children == children
    assert ("adhoc1", "complete") in after.on_event and ("adhoc1", "complete") not in before.on_event


def test_an_added_item_is_numbered_past_every_added_item_the_case_has_instances_of() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    for name in ("A", "B", "C"):
        execute(definition, state, commands.AddItem(kind="humanTask", name=name, actor="ann"), NOW)
    # A plan without the added items (as after a migration that dropped them) still numbers past their instances.
    state.overlay = state.overlay[:1]
    state.plan_cache = None
    execute(definition, state, commands.AddItem(kind="humanTask", name="D", actor="ann"), NOW)
    assert [i.def_id for i in state.items.values() if i.name == "D"] == ["adhoc4"]
    # And after a reload, which rebuilds the derived indexes.
    reloaded = CaseState.from_dict(state.to_dict())
    execute(definition, reloaded, commands.AddItem(kind="humanTask", name="E", actor="ann"), NOW)
    assert [i.def_id for i in reloaded.items.values() if i.name == "E"] == ["adhoc5"]
