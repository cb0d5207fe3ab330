"""CMMN 1.1 semantics beyond the conformance corpus: case file items, stage suspension, exit criteria, planning
tables. Each test names the behaviour a case worker relies on."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from casework.engine import CaseState, commands, execute, replay
from casework.engine.events import Event
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _load(name: str) -> CaseDefinition:
    return load_definition((MODELS / name).read_bytes())


def _model(body: str, *, auto_complete: bool = False) -> CaseDefinition:
    return load_definition(
        f'<definitions {NS}><case id="m"><casePlanModel id="plan" name="Plan" '
        f'autoComplete="{str(auto_complete).lower()}">{body}</casePlanModel></case></definitions>'
    )


def _on(source: str, event: str = "complete") -> str:
    return f'<planItemOnPart sourceRef="{source}"><standardEvent>{event}</standardEvent></planItemOnPart>'


class _Case:
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


# -- case file items ------------------------------------------------------------------------------------------------
def test_data_the_case_starts_with_creates_its_case_file_item_for_the_plan_items_waiting_on_it() -> None:
    permit = _load("permit_review.cmmn")
    started_with = _Case(permit, application={"parcel": "12-7"}, needsEnvironment=False)
    assert started_with.states("Validate application") == ["active"]
    # The same as when the data arrives later.
    later = _Case(permit, needsEnvironment=False)
    later.run(commands.SetVariables(variables={"application": {"parcel": "12-7"}}))
    assert later.states("Validate application") == ["active"]
    assert started_with.replays()
