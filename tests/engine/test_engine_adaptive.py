"""Adaptive commands on stages that are not running at the moment of the change."""

from __future__ import annotations

import datetime as dt

import pytest

from casework.engine import CaseState, CommandRejected, Event, commands, execute, explain, plannable, replay
from casework.engine.errors import UnknownItem
from casework.model import CaseDefinition, load_definition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# Treatment starts when Admission completes and completes by itself when its work is done; Physio plan is started
# by hand.
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
      <planItem id="piPhysio" name="Physio plan" definitionRef="physio">
        <itemControl><manualActivationRule/></itemControl></planItem>
      <humanTask id="surgery" name="Surgery consult"/><humanTask id="physio" name="Physio plan"/>
    </stage>
  </casePlanModel></case>
</definitions>"""


def _care_case(*steps: commands.Command) -> tuple[CaseDefinition, CaseState, list[Event]]:
    """A care case started by ann, admitted, then taken through `steps`: its definition, state and event log."""
    definition = load_definition(CARE)
    state = CaseState.create("c1", definition)
    log: list[Event] = []
    for command in (commands.StartCase(actor="ann"), commands.CompleteItem(item="Admission", actor="ann"), *steps):
        log.extend(execute(definition, state, command, NOW))
    return definition, state, log


def test_a_task_added_to_a_suspended_stage_starts_when_the_stage_resumes() -> None:
    definition, state, log = _care_case(
        commands.SuspendItem(item="Treatment", actor="ann", reason="patient transferred"),
        commands.AddItem(kind="humanTask", name="Wound check", stage="Treatment", actor="nurse", reason="ulcer"),
        commands.ResumeItem(item="Treatment", actor="ann"),
        commands.CompleteItem(item="Surgery consult", actor="ann"),
    )
    by_name = {i.name: i.state for i in state.items.values()}
    # The added work exists and holds its stage open, as a modelled task would; it was not dropped.
    assert by_name["Wound check"] == "active"
    assert by_name["Treatment"] == "active"
    assert replay(definition, "c1", log).to_dict() == state.to_dict()


def test_an_enabled_item_that_gains_a_dependency_cannot_be_started_before_it_completes() -> None:
    definition, state, log = _care_case(
        commands.AddItem(kind="humanTask", name="Consent", stage="Treatment", actor="ann"),
        commands.AddDependency(item="Physio plan", after=("Consent",), actor="ann", reason="needs consent first"),
    )
    assert {i.name: i.state for i in state.items.values()}["Physio plan"] == "enabled"  # it has not started
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="'Physio plan' waits for Consent to complete"):
        execute(definition, state, commands.StartItem(item="Physio plan", actor="bob"), NOW)
    assert state.to_dict() == before
    assert "waits for Consent" in explain(definition, state, "Physio plan")[0]
    log.extend(execute(definition, state, commands.CompleteItem(item="Consent", actor="ann"), NOW))
    log.extend(execute(definition, state, commands.StartItem(item="Physio plan", actor="bob"), NOW))
    assert {i.name: i.state for i in state.items.values()}["Physio plan"] == "active"
    assert replay(definition, "c1", log).to_dict() == state.to_dict()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        # Treatment would complete at once (nothing in it is required) and end Surgery consult unstarted.
        (commands.AddDependency(item="Surgery consult", after=("Treatment",), actor="ann"),
         "'Surgery consult' is inside 'Treatment' and cannot wait for it"),
        # A required task waiting for its own stage would hold the stage open for ever.
        (commands.AddItem(kind="humanTask", name="Wound check", stage="Treatment", after=("Treatment",),
                          required=True, actor="ann"),
         "'Wound check' is inside 'Treatment' and cannot wait for it"),
        (commands.AddItem(kind="humanTask", name="Wound check", stage="Treatment", after=("Care",), actor="ann"),
         "'Wound check' is inside 'Care' and cannot wait for it"),
        # Treatment would never start, and the case would complete without it as soon as Admission did.
        (commands.AddDependency(item="Treatment", after=("Surgery consult",), actor="ann"),
         "'Treatment' cannot wait for 'Surgery consult', which is inside it"),
    ],
)
def test_an_item_cannot_wait_for_its_own_stage_nor_a_stage_for_what_is_inside_it(
    command: commands.Command, message: str
) -> None:
    definition = load_definition(CARE)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match=message):
        execute(definition, state, command, NOW)
    assert state.to_dict() == before
    execute(definition, state, commands.CompleteItem(item="Admission", actor="ann"), NOW)
    assert {i.name: i.state for i in state.items.values()}["Surgery consult"] == "active"


PLANNING = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="planning" name="Planning"><casePlanModel id="plan" name="Planning">
    <planItem id="piReview" name="Review" definitionRef="review"/>
    <planningTable id="table">
      <discretionaryItem id="diVisit" name="Site visit" definitionRef="visit"/>
      <discretionaryItem id="diAudit" name="Audit" definitionRef="audit"/>
    </planningTable>
    <humanTask id="review" name="Review"/><humanTask id="visit" name="Site visit"/><humanTask id="audit" name="Audit"/>
  </casePlanModel></case>
</definitions>"""


def test_a_discretionary_item_removed_from_the_plan_is_no_longer_offered_for_planning() -> None:
    definition = load_definition(PLANNING)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    assert plannable(definition, state) == ["Site visit", "Audit"]
    execute(definition, state, commands.RemoveItem(item="Site visit", actor="ann", reason="no site"), NOW)
    assert plannable(definition, state) == ["Audit"]  # what `plan` accepts
    with pytest.raises(CommandRejected, match="no item 'Site visit'"):
        execute(definition, state, commands.PlanItem(item="Site visit", actor="ann"), NOW)


# -- a name that several items share is refused; ids always work ----------------------------------------------------
def _twice_named() -> tuple[CaseState, list[str]]:
    definition = load_definition(CARE)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    for _ in range(2):
        execute(definition, state, commands.AddItem(kind="humanTask", name="Call family", manual=True), NOW)
    ids = [i.id for i in state.items.values() if i.name == "Call family"]
    assert len(ids) == 2
    return state, ids


@pytest.mark.parametrize(
    "command",
    [
        commands.StartItem(item="Call family"),
        commands.DisableItem(item="Call family"),
        commands.TerminateItem(item="Call family"),
        commands.SkipItem(item="Call family"),
        commands.Reassign(item="Call family", to="bob"),
        commands.SetDue(item="Call family", due="P1D"),
        commands.RemoveItem(item="Call family"),
        commands.AddDependency(item="Call family", after=("Admission",)),
        commands.AddDependency(item="Treatment", after=("Call family",)),
        commands.AddItem(kind="humanTask", name="Write up", after=("Call family",)),
    ],
)
def test_a_command_naming_an_item_that_several_share_is_refused_listing_them(command: commands.Command) -> None:
    definition = load_definition(CARE)
    state, ids = _twice_named()
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="'Call family' names more than one item") as refused:
        execute(definition, state, command, NOW)
    message = str(refused.value)
    plan_ids = [state.items[i].def_id for i in ids]
    assert all(i in message for i in ids) or all(p in message for p in plan_ids)
    assert state.to_dict() == before


def test_an_item_that_shares_its_name_is_reached_by_its_instance_or_plan_item_id() -> None:
    definition = load_definition(CARE)
    state, (first, second) = _twice_named()
    execute(definition, state, commands.StartItem(item=first), NOW)
    execute(definition, state, commands.RemoveItem(item=second), NOW)
    assert [state.items[first].state, state.items[second].state] == ["active", "terminated"]
    # Only one of them is active now: the name is no longer ambiguous for completing.
    execute(definition, state, commands.CompleteItem(item="Call family"), NOW)
    assert state.items[first].state == "completed"


def test_completing_a_name_that_a_milestone_and_an_active_task_share_is_refused() -> None:
    definition = load_definition(CARE)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    execute(definition, state, commands.AddItem(kind="milestone", name="Admission", after=("Surgery consult",)), NOW)
    with pytest.raises(CommandRejected, match="'Admission' names more than one item"):
        execute(definition, state, commands.CompleteItem(item="Admission"), NOW)


def test_explain_lists_the_items_a_shared_name_could_mean() -> None:
    state, ids = _twice_named()
    with pytest.raises(UnknownItem) as raised:
        explain(load_definition(CARE), state, "Call family")
    line = str(raised.value)
    assert line.startswith("'Call family' names more than one item: ") and all(i in line for i in ids)


def test_an_item_added_unless_open_is_refused_while_one_of_that_name_is_open_and_changes_nothing() -> None:
    add = commands.AddItem(kind="humanTask", name="Call GP", actor="ann", unless_open=True)
    definition, state, _ = _care_case(add)
    (first,) = [i for i in state.items.values() if i.name == "Call GP"]
    version = state.version
    with pytest.raises(CommandRejected, match=rf"'Call GP' is already in the case \({first.id}\)"):
        execute(definition, state, add, NOW)
    assert state.version == version
    # once it is done it may be added again; without the flag a second one is added as before
    execute(definition, state, commands.CompleteItem(item=first.id, actor="ann"), NOW)
    execute(definition, state, add, NOW)
    execute(definition, state, commands.AddItem(kind="humanTask", name="Call GP", actor="ann"), NOW)
    assert len([i for i in state.items.values() if i.name == "Call GP"]) == 3


@pytest.mark.parametrize("name", ["i1", " i12 "])
def test_an_item_is_not_added_under_a_name_that_has_the_form_of_an_item_id(name: str) -> None:
    # Commands read an id before a name: "complete i1" would complete item i1 (the case's first item), never the
    # task named "i1".
    definition, state, _ = _care_case()
    version = state.version
    with pytest.raises(CommandRejected, match="has the form of an item id"):
        execute(definition, state, commands.AddItem(kind="humanTask", name=name, actor="ann"), NOW)
    assert state.version == version
    # names that only begin like one are names
    execute(definition, state, commands.AddItem(kind="humanTask", name="i1 follow-up", actor="ann"), NOW)
    execute(definition, state, commands.AddItem(kind="humanTask", name="I1", actor="ann"), NOW)


def test_set_due_refuses_a_duration_whose_t_has_no_time_after_it() -> None:
    # isodate reads "PT" as zero: the task was due at once
    definition, state, _ = _care_case()
    version = state.version
    with pytest.raises(CommandRejected, match="followed by no hours, minutes or seconds"):
        execute(definition, state, commands.SetDue(item="Surgery consult", due="PT", actor="ann"), NOW)
    assert state.version == version
