"""Adaptive commands at their edges: what each one checks before it changes the plan, and what it leaves alone."""

from __future__ import annotations

from helpers_engine import DrivenCase, model_of

from casework.engine import commands

TASK = '<planItem id="pa" name="Review" definitionRef="a"/><humanTask id="a" name="Review"/>'


def test_an_item_added_unless_open_may_share_the_name_of_the_running_case_plan() -> None:
    # The case plan is open for as long as the case runs: counting it would refuse every such name for good.
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Plan", actor="ann", unless_open=True))
    assert case.states("Plan") == ["active", "active"]
    assert case.replays()
