"""Edges of the engine's contract: repetition that must not run away, and bad input that must come back as
`CommandRejected` (never an internal error) with the case unchanged."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casework.engine import CaseState, CommandRejected, commands, execute, replay
from casework.engine.events import Event
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _load(name: str) -> CaseDefinition:
    return load_definition((MODELS / name).read_bytes())


def _start(definition: CaseDefinition, log: list[Event] | None = None, **variables: object) -> CaseState:
    state = CaseState.create("c1", definition)
    events = execute(definition, state, commands.StartCase(variables=dict(variables), actor="ann"), NOW)
    if log is not None:
        log.extend(events)
    return state


def _instances(state: CaseState, name: str) -> list[tuple[int, str]]:
    return [(i.index, i.state) for i in state.items.values() if i.name == name]


def _snapshot(state: CaseState) -> dict[str, Any]:
    return copy.deepcopy(state.to_dict())  # to_dict shares the state's own lists and dicts


def _rejected(definition: CaseDefinition, state: CaseState, command: commands.Command, match: str) -> None:
    before = _snapshot(state)
    with pytest.raises(CommandRejected, match=match):
        execute(definition, state, command, NOW)
    assert _snapshot(state) == before


# -- repetition -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "first"), [("humanTask", "active"), ("milestone", "completed"), ("stage", "active")]
)
def test_an_added_repeating_item_after_an_item_that_does_not_repeat_waits_only_for_its_completion(
    kind: str, first: str
) -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    execute(claim, state, commands.AddItem(kind=kind, name="Follow-up", repeat=True, after=("Review claim",)), NOW)
    execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    # "Review claim" will not complete again: no next instance waits for it. The series goes on as one without
    # entry criteria (the next task or stage comes when this one completes; a milestone occurs once).
    assert _instances(state, "Follow-up") == [(1, first)]


def test_an_added_repeating_item_repeats_each_time_its_after_item_completes() -> None:
    claim = _load("claim.cmmn")
    log: list[Event] = []
    state = _start(claim, log)
    for command in (
        commands.AddItem(kind="humanTask", name="Weekly call", repeat=True),
        commands.AddItem(kind="milestone", name="Call logged", repeat=True, after=("Weekly call",)),
        commands.CompleteItem(item="Weekly call"),
        commands.CompleteItem(item="Weekly call"),
    ):
        log += execute(claim, state, command, NOW)
    assert _instances(state, "Call logged") == [(1, "completed"), (2, "completed"), (3, "available")]
    assert replay(claim, "c1", log).to_dict() == state.to_dict()


@pytest.mark.parametrize("auto_complete", [True, False])
def test_an_empty_repeating_stage_waits_for_its_first_item_and_does_not_repeat_by_itself(
    auto_complete: bool,
) -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    execute(claim, state, commands.AddItem(kind="stage", name="Loop", repeat=True, auto_complete=auto_complete), NOW)
    assert _instances(state, "Loop") == [(1, "active")]
    execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    assert _instances(state, "Loop") == [(1, "active")]
    # Completed by hand while still empty, it was created by an earlier command: the next round begins, and waits.
    execute(claim, state, commands.CompleteStage(item="Loop"), NOW)
    assert _instances(state, "Loop") == [(1, "completed"), (2, "active")]


def test_a_repeating_stage_without_after_repeats_when_an_instance_completes_after_work() -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    # The outer stage waits, so that the repeating stage and its task are both in the plan before either starts.
    execute(claim, state, commands.AddItem(kind="stage", name="Outer", after=("Review claim",)), NOW)
    execute(claim, state, commands.AddItem(kind="stage", name="Round", stage="Outer", repeat=True), NOW)
    execute(claim, state, commands.AddItem(kind="humanTask", name="Call", stage="Round"), NOW)
    execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    assert _instances(state, "Round") == [(1, "active")]
    execute(claim, state, commands.CompleteItem(item="Call"), NOW)
    assert _instances(state, "Round") == [(1, "completed"), (2, "active")]
    assert _instances(state, "Call") == [(1, "completed"), (1, "active")]


def test_a_repeating_stage_left_without_work_waits_in_an_empty_round_for_work() -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    execute(claim, state, commands.AddItem(kind="stage", name="Outer", after=("Review claim",)), NOW)
    execute(claim, state, commands.AddItem(kind="stage", name="Round", stage="Outer", repeat=True,
                                           auto_complete=False), NOW)
    execute(claim, state, commands.AddItem(kind="humanTask", name="Check", stage="Round", after=("Assess damage",)),
            NOW)
    execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    assert _instances(state, "Round") == [(1, "active")]  # Check may still start: it holds the round open
    # Without Check the round has nothing left and completes; the next round, empty, waits for work to be added to
    # it (a stage added at run time waits for its first item) instead of completing as it starts.
    execute(claim, state, commands.RemoveItem(item="Check"), NOW)
    assert _instances(state, "Round") == [(1, "completed"), (2, "active")]


RUNAWAY_XML = (
    f'<definitions {NS}><case id="runaway"><casePlanModel id="p" name="Runaway">'
    '<planItem id="pi" name="Ping" definitionRef="t"><itemControl><repetitionRule>'
    "<condition>${repetitionCounter &gt; 0}</condition></repetitionRule></itemControl></planItem>"
    '<task id="t" isBlocking="false"/></casePlanModel></case></definitions>'
)


def test_a_command_that_would_change_the_case_without_end_is_rejected_naming_the_item() -> None:
    # A non-blocking task whose repetition rule always holds (the engine cannot know that it does) completes as it
    # starts and repeats as it completes.
    definition = load_definition(RUNAWAY_XML)
    state = CaseState.create("c1", definition)
    _rejected(definition, state, commands.StartCase(actor="ann"), r"stopped after 10,000 changes.*'Ping' kept changing")
    assert state.status == "new" and not state.items


# -- rejected commands change nothing ---------------------------------------------------------------------------------
def test_a_rejected_command_that_recorded_an_expression_failure_changes_nothing() -> None:
    planned = load_definition(
        f'<definitions {NS}><case id="m"><casePlanModel id="plan" name="Plan"><planItem id="pW" definitionRef="W"/>'
        '<planningTable id="table"><discretionaryItem id="dX" definitionRef="X" applicabilityRuleRefs="big"/>'
        '<applicabilityRule id="big"><condition>${amount > 10000}</condition></applicabilityRule></planningTable>'
        '<humanTask id="W" name="W"/><humanTask id="X" name="Expert opinion"/></casePlanModel></case></definitions>'
    )
    state = _start(planned, amount="a lot")
    # Planning evaluates the applicability rule, which fails and is recorded (so it counts as false), and then the
    # command is refused: the record goes with it.
    _rejected(planned, state, commands.PlanItem(item="Expert opinion"), "'Expert opinion' is not applicable now")
    assert state.errors == []
    # A caller that discards the state on a rejection (the service) is told the same; the record is left in place.
    with pytest.raises(CommandRejected, match="'Expert opinion' is not applicable now"):
        execute(planned, state, commands.PlanItem(item="Expert opinion"), NOW, restore=False)
    assert [e["where"] for e in state.errors] == ["applicabilityRule of dX"]


def test_skip_refuses_what_the_lifecycle_does_not_allow() -> None:
    permit = _load("permit_review_v2.cmmn")
    state = _start(permit)
    for item in ("Reviewed", "Withdrawn"):
        execute(permit, state, commands.SuspendItem(item=item), NOW)
        _rejected(permit, state, commands.SkipItem(item=item), f"cannot skip '{item}'.* while suspended; resume")
    assert state.root is not None
    _rejected(permit, state, commands.SkipItem(item=state.root), rf"^cannot skip '{state.root}': it is the case plan")
    execute(permit, state, commands.ResumeItem(item="Reviewed"), NOW)
    execute(permit, state, commands.SkipItem(item="Reviewed"), NOW)
    assert _instances(state, "Reviewed") == [(1, "completed")]


def test_the_case_plan_named_by_its_id_is_not_suspended_or_terminated_as_an_item() -> None:
    """One digit from a task's id (i1, i12), `case terminate-item` ended the whole case for good, reported as done
    to an item, and `case suspend-item` put it on hold; the case commands do that, and say so."""
    claim = _load("claim.cmmn")
    state = _start(claim)
    assert state.root is not None
    for command, what in ((commands.TerminateItem(item=state.root, actor="ann"), "terminate"),
                          (commands.SuspendItem(item=state.root, actor="ann"), "suspend")):
        _rejected(claim, state, command,
                  rf"^cannot {what} '{state.root}': it is the case plan, not an item in it; {what} the case instead$")
    assert state.status == "active"
    # An item is named by its id all the same.
    (review,) = (i.id for i in state.items.values() if i.name == "Review claim")
    execute(claim, state, commands.SuspendItem(item=review, actor="ann"), NOW)
    assert _instances(state, "Review claim") == [(1, "suspended")]
    execute(claim, state, commands.ResumeItem(item=review, actor="ann"), NOW)
    execute(claim, state, commands.SuspendCase(actor="ann"), NOW)
    # Suspending it again is not told to resume it first.
    _rejected(claim, state, commands.SuspendCase(actor="ann"), "^the case is already suspended$")
    execute(claim, state, commands.TerminateCase(actor="ann"), NOW)
    assert state.status == "terminated"


@pytest.mark.parametrize(("make", "refused"), [
    (lambda ref: commands.SkipItem(item=ref), "cannot skip {ref}: it is the case plan, not an item in it; complete "
                                              "or terminate the case instead"),
    (lambda ref: commands.RemoveItem(item=ref), "cannot remove {ref}: it is the case plan, not an item in it; "
                                                "terminate the case instead"),
    (lambda ref: commands.AddDependency(item=ref, after=("Review claim",)),
     "cannot add a dependency to {ref}: it is the case plan, not an item in it; only the items in it can wait for "
     "others"),
    (lambda ref: commands.TerminateItem(item=ref), "cannot terminate {ref}: it is the case plan, not an item in it; "
                                                   "terminate the case instead"),
    (lambda ref: commands.SuspendItem(item=ref), "cannot suspend {ref}: it is the case plan, not an item in it; "
                                                 "suspend the case instead"),
    (lambda ref: commands.Reassign(item=ref, to="bob"), "cannot reassign {ref}: it is the case plan, not an item in "
                                                        "it; add a participant to the case instead"),
    (lambda ref: commands.SetDue(item=ref, due="P3D"), "cannot set the due of {ref}: it is the case plan, not an "
                                                       "item in it; set the case's own due instead (name no item)"),
], ids=["skip", "remove", "add_dependency", "terminate", "suspend", "reassign", "set_due"])
def test_every_item_command_refuses_the_case_plan_in_one_form_naming_the_command(
    make: Callable[[str], commands.Command], refused: str
) -> None:
    """Skip, remove, add_dependency, terminate, suspend, reassign and set_due refuse the case plan alike
    (`core.case_plan_refused`), however it is named: by its instance id, and for the plan changes also by its plan
    item id or name (an instance command finds no item by those: a name or plan item id never reaches the case
    plan)."""
    claim = _load("claim.cmmn")
    state = _start(claim)
    assert state.root is not None
    plan_change = isinstance(make("x"), commands.RemoveItem | commands.AddDependency)
    for ref in (state.root, "claimPlan", "Claim") if plan_change else (state.root,):
        before = _snapshot(state)
        with pytest.raises(CommandRejected) as caught:
            execute(claim, state, make(ref), NOW)
        assert str(caught.value) == refused.format(ref=repr(ref))
        assert _snapshot(state) == before
    if not plan_change:
        _rejected(claim, state, make("claimPlan"), "^no item 'claimPlan' in this case$")


@pytest.mark.parametrize("due", ["P99999999Y", "P1000000000D", "P999999999D", "PT99999999999999999999S", "P0.5Y",
                                 "9999-12-31T23:59:59-05:00"])
def test_a_due_date_no_calendar_holds_is_rejected(due: str) -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    _rejected(claim, state, commands.SetDue(item=None, due=due), "due: ")
    _rejected(claim, state, commands.SetDue(item="Review claim", due=due), "due: ")
    _rejected(claim, state, commands.AddItem(kind="humanTask", name="Call", due=due), "due: ")


def test_a_model_timer_that_cannot_be_scheduled_rejects_the_start() -> None:
    # Import refuses a duration that gives no date from 2000; one that runs past year 9999 only from a later start
    # is refused when the case reaches it.
    xml = (
        f'<definitions {NS}><case id="c"><casePlanModel id="p">'
        '<planItem id="pi" name="Late" definitionRef="l"/><planItem id="pt" name="Work" definitionRef="t"/>'
        '<timerEventListener id="l" name="Late"><timerExpression>P7990Y</timerExpression></timerEventListener>'
        '<humanTask id="t"/></casePlanModel></case></definitions>'
    )
    definition = load_definition(xml)
    _rejected(definition, CaseState.create("c1", definition), commands.StartCase(), "the timer of 'Late' cannot be")


@pytest.mark.parametrize("target", ["claim", None, 5])
def test_migrate_needs_a_case_definition(target: object) -> None:
    claim = _load("claim.cmmn")
    state = _start(claim)
    _rejected(claim, state, commands.Migrate(definition=target), "Migrate.definition must be a case definition")


ROLES_XML = (
    f'<definitions {NS}><case id="c"><casePlanModel id="p"><planItem id="a" name="A" definitionRef="t"/>'
    '<humanTask id="t"/></casePlanModel><caseRoles id="roles"><role id="roleAdjuster" name="Claims adjuster"/>'
    "</caseRoles></case></definitions>"
)


@pytest.mark.parametrize(("user", "role"), [("sam", "roleAdjuster"), ("sam", "Claims adjuster"), (" bob ", "helper"),
                                            ("ann", " roleAdjuster ")])
def test_a_participant_is_removed_with_the_values_that_added_them(user: str, role: str) -> None:
    definition = load_definition(ROLES_XML)
    state = _start(definition)
    execute(definition, state, commands.AddParticipant(user=user, role=role), NOW)
    execute(definition, state, commands.RemoveParticipant(user=user, role=role), NOW)
    assert state.participants == {}
    execute(definition, state, commands.AddParticipant(user=user, role=role), NOW)
    execute(definition, state, commands.RemoveParticipant(user=user), NOW)
    assert state.participants == {}


def test_removing_a_participant_still_names_what_is_wrong() -> None:
    definition = load_definition(ROLES_XML)
    state = _start(definition)
    execute(definition, state, commands.AddParticipant(user="sam", role="roleAdjuster"), NOW)
    _rejected(definition, state, commands.RemoveParticipant(user="sam", role="helper"), "does not take part as helper")
    _rejected(definition, state, commands.RemoveParticipant(user="bob"), "bob does not take part in this case")
    _rejected(definition, state, commands.RemoveParticipant(user=" "), "name the participant")
    _rejected(definition, state, commands.RemoveParticipant(user="sam", role=" "), "name the role to remove")
