"""When a stage completes: by itself (what its children hold it open for) and by hand (what may not be left open).
Found by mutation testing: each test fails when one condition of `Run.blocking_children` or `Run.completable`
is changed."""

from __future__ import annotations

import pytest
from helpers_engine import NS, DrivenCase, model_of, on_part

from casework.engine import commands
from casework.model import load_definition

MANUAL = "<manualActivationRule/>"
REQUIRED = "<requiredRule/>"


def _plan(check_control: str, *, auto_complete: bool, check_waits: bool = False) -> str:
    """Main starts at once; Check (with ``check_control``) waits for Go when ``check_waits``; Other waits by hand."""
    entry = '<entryCriterion sentryRef="sGo"/>' if check_waits else ""
    return (
        '<planItem id="pMain" name="Main" definitionRef="main"/><planItem id="pGo" name="Go" definitionRef="go"/>'
        f'<planItem id="pCheck" name="Check" definitionRef="check"><itemControl>{check_control}</itemControl>{entry}'
        f'</planItem><sentry id="sGo">{on_part("pGo", "occur")}</sentry><humanTask id="main" name="Main"/>'
        '<userEventListener id="go" name="Go"/><humanTask id="check" name="Check"/>'
        + ("" if auto_complete else
           f'<planItem id="pOther" name="Other" definitionRef="other"><itemControl>{MANUAL}</itemControl>'
           '</planItem><humanTask id="other" name="Other"/>')
    )


def test_an_auto_complete_stage_waits_for_a_required_item_that_has_not_started() -> None:
    case = DrivenCase(model_of(_plan(REQUIRED, auto_complete=True, check_waits=True), auto_complete=True))
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    assert (case.states("Check"), case.state.status) == (["available"], "active")
    case.run(commands.OccurEvent(item="Go", actor="ann"))
    case.run(commands.CompleteItem(item="Check", actor="ann"))
    assert case.state.status == "completed"


@pytest.mark.parametrize(("steps", "check"), [
    ((commands.StartItem(item="Check", actor="ann"), commands.CompleteItem(item="Check", actor="ann")), "completed"),
    ((commands.DisableItem(item="Check", actor="ann"),), "disabled"),
])
def test_a_required_item_completed_or_disabled_does_not_keep_the_case_from_being_completed_by_hand(
    steps: tuple[commands.Command, ...], check: str
) -> None:
    # Other, enabled, keeps the case plan (not autoComplete) from completing by itself, but not by hand.
    case = DrivenCase(model_of(_plan(REQUIRED + MANUAL, auto_complete=False)))
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    for step in steps:
        case.run(step)
    assert (case.states("Check"), case.state.status) == ([check], "active")
    case.run(commands.CompleteCase(actor="ann"))
    assert (case.state.status, case.states("Other")) == ("completed", ["terminated"])
    assert case.replays()


def test_an_item_that_heard_a_listener_now_spent_still_holds_its_stage_while_the_rest_may_come() -> None:
    # Review waits for Go and for the report's data. Go, a user event, is spent once it occurred; but Review heard
    # it, and the report may still come: Review can start, and holds the case plan (not autoComplete) open.
    case = DrivenCase(load_definition(
        f'<definitions {NS}><case id="m"><caseFileModel><caseFileItem id="cfReport" name="report"/></caseFileModel>'
        '<casePlanModel id="plan" name="Plan"><planItem id="pMain" name="Main" definitionRef="main"/>'
        '<planItem id="pGo" name="Go" definitionRef="go"/><planItem id="pReview" name="Review" definitionRef="rev">'
        f'<entryCriterion sentryRef="sBoth"/></planItem><sentry id="sBoth">{on_part("pGo", "occur")}'
        '<caseFileItemOnPart sourceRef="cfReport"><standardEvent>create</standardEvent></caseFileItemOnPart>'
        '</sentry><humanTask id="main" name="Main"/><userEventListener id="go" name="Go"/>'
        '<humanTask id="rev" name="Review"/></casePlanModel></case></definitions>'
    ))
    case.run(commands.OccurEvent(item="Go", actor="ann"))
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    assert (case.states("Review"), case.state.status) == (["available"], "active")
    case.run(commands.SetVariables(variables={"report": "police report 17"}, actor="ann"))
    assert case.states("Review") == ["active"]
    assert case.replays()
