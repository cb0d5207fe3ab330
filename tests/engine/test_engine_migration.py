"""Migrating a running case that workers have changed: ad hoc items, added dependencies, sentries half-way through.
What the case remembers and what it adds afterwards must mean the same under the new model as under the old one."""

from __future__ import annotations

import datetime as dt

from casework.engine import CaseState, Event, commands, execute, plan_for, replay
from casework.model import CaseDefinition, load_definition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _model(body: str, key: str = "adapt") -> CaseDefinition:
    return load_definition(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">'
        f'<case id="{key}" name="Adapt"><casePlanModel id="plan" name="Adapt">{body}</casePlanModel></case>'
        "</definitions>"
    )


class Case:
    """A case that keeps its log and the definition it runs on, so a test can migrate it and check replay."""

    def __init__(self, definition: CaseDefinition) -> None:
        self.definition = definition
        self.state = CaseState.create("c1", definition)
        self.log: list[Event] = []
        self.do(commands.StartCase(actor="ann"))

    def do(self, command: commands.Command) -> list[Event]:
        events = execute(self.definition, self.state, command, NOW)
        self.log.extend(events)
        if isinstance(command, commands.Migrate):
            self.definition = command.definition
        return events

    def item(self, name: str) -> str:
        (found,) = [i for i in self.state.items.values() if i.name == name]
        return found.state

    def replays(self) -> bool:
        return replay(self.definition, "c1", self.log).to_dict() == self.state.to_dict()


_TASK_IN_STAGE = """
  <planItem id="piA" name="A" definitionRef="a"/>
  {stage}
  <humanTask id="a" name="A"/>
"""
_STAGE = """<planItem id="piS" name="S" definitionRef="s"/>
  <stage id="s" name="S"><planItem id="piB" name="B" definitionRef="b"/><humanTask id="b" name="B"/></stage>"""


def test_an_item_added_after_a_migration_dropped_an_earlier_one_gets_an_id_of_its_own() -> None:
    # "X" was added to stage S and done; the new model has no S, so X leaves the overlay while its instance stays.
    case = Case(_model(_TASK_IN_STAGE.format(stage=_STAGE)))
    case.do(commands.AddItem(kind="humanTask", name="X", stage="S", actor="ann"))
    case.do(commands.CompleteItem(item="B"))
    case.do(commands.CompleteItem(item="X"))
    case.do(commands.AddItem(kind="humanTask", name="Y", assignee="bob", actor="ann"))
    case.do(commands.Migrate(definition=_model(_TASK_IN_STAGE.format(stage="")), actor="admin"))
    case.do(commands.AddItem(kind="humanTask", name="Z", candidate_groups=("clerks",), actor="ann"))
    by_name = {i.name: i for i in case.state.items.values()}
    assert len({by_name[n].def_id for n in ("X", "Y", "Z")}) == 3
    plan = plan_for(case.definition, case.state)
    assert plan.items[by_name["Y"].def_id].name == "Y"
    assert plan.items[by_name["Y"].def_id].candidate_groups == ()
    assert plan.items[by_name["Z"].def_id].candidate_groups == ("clerks",)
    assert case.replays()


def test_an_added_item_does_not_take_the_place_of_a_modelled_item_with_an_id_like_its_own() -> None:
    case = Case(_model('<planItem id="adhoc1" name="Modelled" definitionRef="m"/><humanTask id="m" name="Modelled"/>'))
    case.do(commands.AddItem(kind="humanTask", name="Added", actor="ann"))
    plan = plan_for(case.definition, case.state)
    assert plan.items["adhoc1"].name == "Modelled"
    assert {plan.items[i.def_id].name for i in case.state.items.values()} >= {"Modelled", "Added"}
    assert case.item("Modelled") == "active"
