"""Adaptive commands on stages that are not running at the moment of the change."""

from __future__ import annotations

import datetime as dt

from casework.engine import CaseState, Event, commands, execute, replay
from casework.model import load_definition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# Treatment starts when Admission completes and completes by itself when its work is done.
CARE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="care" name="Care"><casePlanModel id="plan" name="Care">
    <planItem id="piAdmission" name="Admission" definitionRef="admission"/>
    <planItem id="piTreatment" name="Treatment" definitionRef="treatment"><entryCriterion id="ec" sentryRef="s"/>
    </planItem>
    <sentry id="s"><planItemOnPart id="on" sourceRef="piAdmission"><standardEvent>complete</standardEvent>
    </planItemOnPart></sentry>
    <humanTask id="admission" name="Admission"/>
    <stage id="treatment" name="Treatment" autoComplete="true">
      <planItem id="piSurgery" name="Surgery consult" definitionRef="surgery"/>
      <humanTask id="surgery" name="Surgery consult"/>
    </stage>
  </casePlanModel></case>
</definitions>"""


def test_a_task_added_to_a_suspended_stage_starts_when_the_stage_resumes() -> None:
    definition = load_definition(CARE)
    state = CaseState.create("c1", definition)
    log: list[Event] = []
    for command in (
        commands.StartCase(actor="ann"),
        commands.CompleteItem(item="Admission", actor="ann"),
        commands.SuspendItem(item="Treatment", actor="ann", reason="patient transferred"),
        commands.AddItem(kind="humanTask", name="Wound check", stage="Treatment", actor="nurse", reason="ulcer"),
        commands.ResumeItem(item="Treatment", actor="ann"),
        commands.CompleteItem(item="Surgery consult", actor="ann"),
    ):
        log.extend(execute(definition, state, command, NOW))
    by_name = {i.name: i.state for i in state.items.values()}
    # The added work exists and holds its stage open, as a modelled task would; it was not dropped.
    assert by_name["Wound check"] == "active"
    assert by_name["Treatment"] == "active"
    assert replay(definition, "c1", log).to_dict() == state.to_dict()
