"""Process-mining activities derived from a case's events."""

from __future__ import annotations

import datetime as dt

from casework.engine import CaseState, commands, execute
from casework.export.activities import activities
from casework.model import load_definition
from casework.store import StoredEvent

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
MODEL = (
    '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="m"><casePlanModel id="plan">'
    '<planItem id="pS" name="Review" definitionRef="S"/><stage id="S" name="Review">'
    '<planItem id="pA" name="Check" definitionRef="A"/>'
    '<planItem id="pB" name="Sign" definitionRef="B"><itemControl><manualActivationRule/></itemControl></planItem>'
    '<humanTask id="A"/><humanTask id="B"/></stage></casePlanModel></case></definitions>'
)


def test_suspending_a_stage_shows_as_suspended_work_not_as_suspended_items_that_never_started() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    log = []
    for command in (
        commands.StartCase(),
        commands.SuspendItem(item="Review"),  # Check is under way; Sign (enabled) had not started
        commands.ResumeItem(item="Review"),
    ):
        log += execute(definition, state, command, NOW)
    stored = [
        StoredEvent(n, "c1", n, e.type, e.at, e.actor, e.reason, e.payload, "", "") for n, e in enumerate(log, 1)
    ]
    seen = [(a.activity, a.transition) for a in activities(stored) if a.transition in ("suspend", "resume")]
    assert seen == [("Review", "suspend"), ("Check", "suspend"), ("Review", "resume"), ("Check", "resume")]
