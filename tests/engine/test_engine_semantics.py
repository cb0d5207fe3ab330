"""CMMN 1.1 semantics beyond the conformance corpus: case file items, stage suspension, exit criteria, planning
tables. Each test names the behaviour a case worker relies on."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
from helpers_engine import NOW, NS
from helpers_engine import DrivenCase as _Case
from helpers_engine import model_of as _model
from helpers_engine import on_part as _on

from casework.engine import CaseState, CommandRejected, commands, execute, explain, plannable, replay
from casework.engine.events import Event
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"


def _load(name: str) -> CaseDefinition:
    return load_definition((MODELS / name).read_bytes())


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


# -- suspending a stage ---------------------------------------------------------------------------------------------
STAGE_ON_HOLD = _model(
    '<planItem id="pA1" name="A1" definitionRef="A1"/><planItem id="pA2" name="A2" definitionRef="A2"/>'
    '<planItem id="pS" name="S" definitionRef="S"/>'
    f'<sentry id="sBoth">{_on("pA1")}{_on("pA2")}</sentry>'
    '<humanTask id="A1"/><humanTask id="A2"/>'
    '<stage id="S" name="S">'
    '<planItem id="pB" name="B" definitionRef="B"><entryCriterion sentryRef="sBoth"/></planItem>'
    '<planItem id="pC" name="C" definitionRef="C"/>'
    '<planItem id="pE" name="E" definitionRef="E"><itemControl><manualActivationRule/></itemControl></planItem>'
    '<planItem id="pT" name="T" definitionRef="T"/><planItem id="pU" name="U" definitionRef="U"/>'
    '<humanTask id="B"/><humanTask id="C"/><humanTask id="E"/>'
    '<timerEventListener id="T"><timerExpression>PT1H</timerExpression></timerEventListener>'
    '<userEventListener id="U"/>'
    "</stage>"
)


def test_nothing_in_a_suspended_stage_starts_occurs_or_fires_until_it_resumes() -> None:
    case = _Case(STAGE_ON_HOLD)
    case.run(commands.CompleteItem(item="A1"))
    case.run(commands.SuspendItem(item="S", reason="waiting for the applicant"))
    # Every open child is on hold with its stage (CMMN 1.1 §8.4.2), not only the active one.
    assert [case.states(n) for n in ("B", "C", "E", "T", "U")] == [["suspended"]] * 5
    case.run(commands.CompleteItem(item="A2"))
    assert case.states("B") == ["suspended"]  # its entry criterion holds, but its stage is on hold
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=2))
    assert case.states("T") == ["suspended"]
    for command in (commands.StartItem(item="E"), commands.OccurEvent(item="U")):
        with pytest.raises(CommandRejected, match="it is suspended"):
            case.run(command)
    assert explain(STAGE_ON_HOLD, case.state, "B") == [
        "'B' is on hold with its stage 'S', which is suspended; resume the stage"
    ]
    case.run(commands.ResumeItem(item="S"))
    # Back where they were; B heard both completions (one before the suspension, one during it) and starts.
    assert [case.states(n) for n in ("B", "C", "E", "T", "U")] == [
        ["active"], ["active"], ["enabled"], ["available"], ["available"]
    ]
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=2))
    assert case.states("T") == ["completed"]
    assert case.replays()
    assert CaseState.from_dict(case.state.to_dict()).to_dict() == case.state.to_dict()


def test_an_item_added_to_a_suspended_stage_is_held_with_it_and_starts_when_it_resumes() -> None:
    case = _Case(STAGE_ON_HOLD)
    case.run(commands.SuspendItem(item="S"))
    case.run(commands.AddItem(kind="humanTask", name="Call the applicant", stage="S"))
    assert case.states("Call the applicant") == ["suspended"]
    case.run(commands.ResumeItem(item="S"))
    assert case.states("Call the applicant") == ["active"]
    assert case.replays()


def test_an_item_added_to_a_held_stage_that_had_not_started_is_created_once_the_stage_starts() -> None:
    nested = _model(
        '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pS" name="S" definitionRef="S"/>'
        f'<sentry id="sA">{_on("pA")}</sentry><humanTask id="A"/>'
        '<stage id="S" name="S"><planItem id="pS2" name="S2" definitionRef="S2"><entryCriterion sentryRef="sA"/>'
        '</planItem><stage id="S2" name="S2"><planItem id="pD" name="D" definitionRef="D"/><humanTask id="D"/>'
        "</stage></stage>"
    )
    case = _Case(nested)
    case.run(commands.SuspendItem(item="S"))
    case.run(commands.AddItem(kind="humanTask", name="Extra", stage="S2"))
    assert case.states("Extra") == []  # S2 is held with S but has not started: it has no items yet
    case.run(commands.ResumeItem(item="S"))
    case.run(commands.CompleteItem(item="A"))
    assert case.states("S2") == ["active"] and case.states("Extra") == ["active"]
    assert case.replays()


def test_a_waiting_item_of_a_suspended_stage_can_still_be_removed_or_made_to_wait_longer() -> None:
    case = _Case(STAGE_ON_HOLD)
    case.run(commands.SuspendItem(item="S"))
    case.run(commands.AddDependency(item="B", after=("C",)))
    case.run(commands.RemoveItem(item="E", reason="not needed"))
    assert case.states("E") == ["terminated"]
    case.run(commands.ResumeItem(item="S"))
    case.run(commands.CompleteItem(item="A1"))
    case.run(commands.CompleteItem(item="A2"))
    assert case.states("B") == ["available"]  # and now also waits for C
    case.run(commands.CompleteItem(item="C"))
    assert case.states("B") == ["active"]
    assert case.replays()


def test_suspending_work_under_way_is_recorded_as_earlier_versions_recorded_it() -> None:
    # Logs written before stages held their waiting items suspend only active items; replaying them must still give
    # the snapshots stored then (audit verify compares them), so such items carry nothing new.
    definition = _model(
        '<planItem id="pX" name="X" definitionRef="t"/><planItem id="pS" name="S" definitionRef="S"/>'
        '<humanTask id="t"/><stage id="S" name="S"><planItem id="pC" name="C" definitionRef="t"/></stage>'
    )
    case = _Case(definition)
    case.run(commands.SuspendItem(item="X"))
    case.run(commands.SuspendItem(item="S"))
    snapshot = case.state.to_dict()
    assert all("suspended_from" not in item for item in snapshot["items"])
    case.run(commands.ResumeItem(item="S"))
    assert case.states("C") == ["active"] and case.states("X") == ["suspended"]
    case.run(commands.ResumeItem(item="X"))
    assert case.states("X") == ["active"]
    assert case.replays()


def test_migrating_a_case_whose_stage_is_suspended_drops_its_waiting_items_and_holds_the_new_ones() -> None:
    case = _Case(_load("permit_review.cmmn"), needsEnvironment=False)
    case.run(commands.CompleteItem(item="Intake"))
    case.run(commands.SuspendItem(item="Review"))
    assert case.states("Environmental check") == ["suspended"]  # enabled before, and not started
    version_2 = _load("permit_review_v2.cmmn")
    case.run(commands.Migrate(definition=version_2))
    case.definition = version_2
    assert case.states("Environmental check") == ["terminated"]
    assert case.states("Heritage check") == ["suspended"]
    case.run(commands.ResumeItem(item="Review"))
    assert case.states("Heritage check") == ["active"] and case.states("Zoning check") == ["active"]


# -- exit criteria --------------------------------------------------------------------------------------------------
def _exit_by(reference: str) -> CaseDefinition:
    """Work exits when Cancelled occurs (xCancel) or when Replaced occurs (xReplace); Refund waits for it to exit."""
    return _model(
        '<planItem id="pCancel" name="Cancelled" definitionRef="ev"/>'
        '<planItem id="pReplace" name="Replaced" definitionRef="ev"/>'
        '<planItem id="pWork" name="Work" definitionRef="t"><exitCriterion id="xCancel" sentryRef="sCancel"/>'
        '<exitCriterion id="xReplace" sentryRef="sReplace"/></planItem>'
        '<planItem id="pRefund" name="Refund" definitionRef="t"><entryCriterion sentryRef="sRefund"/></planItem>'
        f'<sentry id="sCancel">{_on("pCancel", "occur")}</sentry><sentry id="sReplace">{_on("pReplace", "occur")}'
        f'</sentry><sentry id="sRefund"><planItemOnPart sourceRef="pWork" {reference}>'
        "<standardEvent>exit</standardEvent></planItemOnPart></sentry>"
        '<userEventListener id="ev"/><humanTask id="t"/>'
    )


def test_an_on_part_with_an_exit_criterion_ref_fires_only_when_its_source_exits_by_that_criterion() -> None:
    # CMMN 1.1 names the criterion (exitCriterionRef); CMMN 1.0 named its sentry (sentryRef).
    for reference in ('exitCriterionRef="xCancel"', 'sentryRef="sCancel"'):
        replaced = _Case(_exit_by(reference))
        replaced.run(commands.OccurEvent(item="Replaced"))
        assert replaced.states("Work") == ["terminated"]
        assert replaced.states("Refund") == ["available"], reference
        cancelled = _Case(_exit_by(reference))
        cancelled.run(commands.OccurEvent(item="Cancelled"))
        assert cancelled.states("Refund") == ["active"], reference
    # Without the reference any exit counts.
    anyhow = _Case(_exit_by(""))
    anyhow.run(commands.OccurEvent(item="Replaced"))
    assert anyhow.states("Refund") == ["active"]


def test_an_exit_by_another_criterion_or_with_the_case_fires_only_the_on_parts_without_a_reference() -> None:
    # Refund waits for Work to exit by xCancel; Note, after it in the model, for any exit of Work.
    model = _model(
        '<planItem id="pCancel" name="Cancelled" definitionRef="ev"/>'
        '<planItem id="pReplace" name="Replaced" definitionRef="ev"/>'
        '<planItem id="pWork" name="Work" definitionRef="t"><exitCriterion id="xCancel" sentryRef="sCancel"/>'
        '<exitCriterion id="xReplace" sentryRef="sReplace"/></planItem>'
        '<planItem id="pRefund" name="Refund" definitionRef="t"><entryCriterion sentryRef="sRefund"/></planItem>'
        '<planItem id="pNote" name="Note" definitionRef="t"><entryCriterion sentryRef="sNote"/></planItem>'
        f'<sentry id="sCancel">{_on("pCancel", "occur")}</sentry><sentry id="sReplace">{_on("pReplace", "occur")}'
        '</sentry><sentry id="sRefund"><planItemOnPart sourceRef="pWork" exitCriterionRef="xCancel">'
        f'<standardEvent>exit</standardEvent></planItemOnPart></sentry><sentry id="sNote">{_on("pWork", "exit")}'
        '</sentry><userEventListener id="ev"/><humanTask id="t"/>'
    )
    replaced, with_note = _Case(model), _Case(model)
    replaced.run(commands.OccurEvent(item="Replaced"))
    assert (replaced.states("Refund"), replaced.states("Note")) == (["available"], ["active"])
    # Ended with the case, Work exits by no criterion of its own: the on-part with the reference does not fire.
    with_note.run(commands.TerminateCase(actor="ann"))
    assert [with_note.states(n) for n in ("Work", "Refund", "Note")] == [["terminated"]] * 3
    assert replaced.replays() and with_note.replays()


# -- the order of a model's plan items does not matter ------------------------------------------------------------
def _milestone_and_stage(entry: str, *, milestone_first: bool) -> CaseDefinition:
    """Milestone M and stage S start together (at once, or when ``go`` is set); B in S waits for M to occur."""
    criterion = '<entryCriterion sentryRef="sGo"/>' if entry else ""
    m = f'<planItem id="pM" name="M" definitionRef="M">{criterion}</planItem>'
    s = f'<planItem id="pS" name="S" definitionRef="S">{criterion}</planItem>'
    return _model(
        (m + s if milestone_first else s + m)
        + f'<sentry id="sGo"><ifPart><condition>{entry or "${true}"}</condition></ifPart></sentry>'
        + f'<sentry id="sM">{_on("pM", "occur")}</sentry><milestone id="M" name="M"/>'
        + '<stage id="S" name="S"><planItem id="pB" name="B" definitionRef="B"><entryCriterion sentryRef="sM"/>'
        + '</planItem><humanTask id="B"/></stage>'
    )


@pytest.mark.parametrize("milestone_first", [True, False])
@pytest.mark.parametrize("entry", ["", "${go}"])
def test_an_item_in_a_stage_hears_a_milestone_that_occurs_as_the_stage_starts_whatever_the_model_order(
    entry: str, milestone_first: bool
) -> None:
    case = _Case(_milestone_and_stage(entry, milestone_first=milestone_first))
    if entry:
        case.run(commands.SetVariables(variables={"go": True}))
    assert case.states("M") == ["completed"] and case.states("S") == ["active"]
    assert case.states("B") == ["active"]
    assert case.replays()


def test_explain_says_a_condition_that_cannot_be_evaluated_is_not_simply_false() -> None:
    # The engine counts a broken condition as false; explain said "false", which reads as "the amount is too small"
    # when the amount was typed as text.
    case = _Case(_model('<planItem id="pF" name="Fraud check" definitionRef="F"><entryCriterion id="ecF" '
                        'sentryRef="sF"/></planItem><sentry id="sF"><ifPart><condition>${amount &gt; 10000}'
                        '</condition></ifPart></sentry><humanTask id="F"/>'), amount="18,000")
    assert case.states("Fraud check") == ["available"]
    assert explain(case.definition, case.state, "Fraud check") == [
        "'Fraud check' waits for its entry criterion:",
        "  [ecF] condition ${amount > 10000}: cannot be evaluated, so it counts as false: cannot evaluate "
        "'${amount > 10000}': cannot use '18,000' (str) as a number",
    ]
    case.run(commands.SetVariables(variables={"amount": 9000}))
    assert explain(case.definition, case.state, "Fraud check")[1] == "  [ecF] condition ${amount > 10000}: false"


# -- planning tables ------------------------------------------------------------------------------------------------
TASK_TABLE = _model(
    '<planItem id="pAssess" name="Assess" definitionRef="assess"><itemControl><manualActivationRule/></itemControl>'
    '</planItem><planningTable id="tPlan"><discretionaryItem id="dCall" name="Call" definitionRef="call"/>'
    "</planningTable>"
    '<humanTask id="assess" name="Assess"><planningTable id="tAssess">'
    '<discretionaryItem id="dOpinion" name="Second opinion" definitionRef="opinion"/></planningTable></humanTask>'
    '<humanTask id="opinion" name="Second opinion"/><humanTask id="call" name="Call"/>'
)


def test_an_item_of_a_human_tasks_planning_table_is_plannable_only_while_that_task_is_active() -> None:
    case = _Case(TASK_TABLE)
    assert plannable(TASK_TABLE, case.state) == ["Call"]  # the case plan's own table: while the case runs
    with pytest.raises(CommandRejected, match="only while 'Assess' is active"):
        case.run(commands.PlanItem(item="Second opinion"))
    case.run(commands.StartItem(item="Assess"))
    assert sorted(plannable(TASK_TABLE, case.state)) == ["Call", "Second opinion"]
    case.run(commands.PlanItem(item="Second opinion"))
    # Planned into the stage that holds the task (here the case plan), where it runs like any other item.
    opinion = next(i for i in case.state.items.values() if i.name == "Second opinion")
    assert opinion.state == "active" and opinion.parent == case.state.root
    case.run(commands.CompleteItem(item="Assess"))
    assert plannable(TASK_TABLE, case.state) == ["Call"]
    assert case.replays()


# -- timers ---------------------------------------------------------------------------------------------------------
def _reminder(trigger: str) -> CaseDefinition:
    """A two-hour reminder that counts from ``trigger`` (a start trigger), then Chase starts."""
    return load_definition(
        f'<definitions {NS}><case id="m"><caseFileModel><caseFileItem id="cfOffer" name="offer"/></caseFileModel>'
        '<casePlanModel id="plan" name="Plan">'
        '<planItem id="pSubmit" name="Submit" definitionRef="submit"/>'
        '<planItem id="pReminder" name="Reminder" definitionRef="reminder"/>'
        '<planItem id="pChase" name="Chase" definitionRef="chase"><entryCriterion sentryRef="sReminded"/></planItem>'
        f'<sentry id="sReminded">{_on("pReminder", "occur")}</sentry>'
        f'<timerEventListener id="reminder"><timerExpression>PT2H</timerExpression>{trigger}</timerEventListener>'
        '<humanTask id="submit"/><humanTask id="chase"/></casePlanModel></case></definitions>'
    )


@pytest.mark.parametrize(
    ("trigger", "event"),
    [
        (
            '<planItemStartTrigger sourceRef="pSubmit"><standardEvent>complete</standardEvent></planItemStartTrigger>',
            commands.CompleteItem(item="Submit"),
        ),
        (
            '<caseFileItemStartTrigger sourceRef="cfOffer"><standardEvent>create</standardEvent>'
            "</caseFileItemStartTrigger>",
            commands.SetVariables(variables={"offer": {"price": 10}}),
        ),
    ],
)
def test_a_timer_with_a_start_trigger_counts_from_that_event_not_from_its_stages_start(
    trigger: str, event: commands.Command
) -> None:
    case = _Case(_reminder(trigger))
    assert case.state.timers == {}  # nothing to count yet
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=3))
    assert case.states("Reminder") == ["available"] and case.states("Chase") == ["available"]
    case.run(event, NOW + dt.timedelta(hours=3))
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=4))
    assert case.states("Chase") == ["available"]
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=5))
    assert case.states("Reminder") == ["completed"] and case.states("Chase") == ["active"]
    assert case.replays()



def test_the_next_firing_of_a_cycle_is_recorded_once_with_its_due_time() -> None:
    case = _Case(_model(
        '<planItem id="pW" name="Work" definitionRef="w"/><humanTask id="w" name="Work"/>'
        '<planItem id="pT" name="Reminder" definitionRef="t"/>'
        '<timerEventListener id="t" name="Reminder"><timerExpression>R3/PT1H</timerExpression></timerEventListener>'
    ))
    events = case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=1, minutes=30))  # fired late
    # Counted from the firing before, not from now: no other due time is recorded on the way.
    assert [e.payload["due"] for e in events if e.type == "timer_scheduled"] == ["2026-03-02T11:00:00Z"]
    assert case.replays()


def _cycle(expression: str) -> CaseDefinition:
    return _model(
        '<planItem id="pW" name="Work" definitionRef="w"/><humanTask id="w" name="Work"/>'
        '<planItem id="pT" name="Reminder" definitionRef="t"/>'
        f'<timerEventListener id="t" name="Reminder"><timerExpression>{expression}</timerExpression>'
        "</timerEventListener>"
    )


def test_every_firing_of_a_cycle_that_came_due_while_nobody_called_fires_at_the_next_call() -> None:
    case = _Case(_cycle("R3/PT1H"))
    # Five hours with the worker down: all three firings are due; one call fires them, in order, and the cycle ends.
    events = case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=5))
    assert [e.payload["due"] for e in events if e.type == "timer_scheduled"] == [
        "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"]
    assert case.states("Reminder") == ["completed"] * 3 and case.state.timers == {}
    assert case.replays()


def test_one_call_fires_a_bounded_number_of_a_cycles_overdue_firings_and_the_next_call_goes_on() -> None:
    from casework.engine.core import MAX_TIMER_FIRINGS

    case = _Case(_cycle("R/PT1S"))
    later = NOW + dt.timedelta(days=1)  # 86,400 firings due
    case.run(commands.FireDueTimers(), later)
    assert len(case.states("Reminder")) == MAX_TIMER_FIRINGS + 1  # the fired ones and the next, still due
    case.run(commands.FireDueTimers(), later)
    assert case.states("Reminder").count("completed") == 2 * MAX_TIMER_FIRINGS
    assert case.replays()


def test_each_overdue_firing_is_heard_before_the_next_and_a_cycle_stops_with_its_stage() -> None:
    # Tick fires three times in one call; Count repeats on each firing. Tock's first firing exits its stage S, so
    # the cycle has nowhere to go on.
    case = _Case(_model(
        '<planItem id="pT" name="Tick" definitionRef="T"/><planItem id="pC" name="Count" definitionRef="C">'
        '<itemControl><repetitionRule/></itemControl><entryCriterion sentryRef="sT"/></planItem>'
        '<planItem id="pS" name="S" definitionRef="S"><exitCriterion sentryRef="sTock"/></planItem>'
        f'<sentry id="sT">{_on("pT", "occur")}</sentry><sentry id="sTock">{_on("pTock", "occur")}</sentry>'
        '<timerEventListener id="T" name="Tick"><timerExpression>R3/PT1H</timerExpression></timerEventListener>'
        '<humanTask id="C" name="Count"/><stage id="S" name="S"><planItem id="pTock" name="Tock" '
        'definitionRef="Tock"/><planItem id="pW" name="W" definitionRef="W"/><timerEventListener id="Tock" '
        'name="Tock"><timerExpression>R3/PT1H</timerExpression></timerEventListener><humanTask id="W" name="W"/>'
        "</stage>"
    ))
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=5))
    assert case.states("Tick") == ["completed"] * 3
    assert case.states("Count") == ["active"] * 3 + ["available"]
    assert (case.states("S"), case.states("Tock")) == (["terminated"], ["completed"])
    assert case.replays()


def test_a_timer_on_hold_does_not_keep_a_later_one_from_firing() -> None:
    # T, in the stage on hold, is due in an hour; the reminder, outside it, in two.
    case = _Case(_model(
        '<planItem id="pS" name="S" definitionRef="S"/><planItem id="pR" name="Reminder" definitionRef="R"/>'
        '<timerEventListener id="R" name="Reminder"><timerExpression>PT2H</timerExpression></timerEventListener>'
        '<stage id="S" name="S"><planItem id="pT" name="T" definitionRef="T"/><planItem id="pW" name="W" '
        'definitionRef="W"/><timerEventListener id="T" name="T"><timerExpression>PT1H</timerExpression>'
        '</timerEventListener><humanTask id="W" name="W"/></stage>'
    ))
    case.run(commands.SuspendItem(item="S"))
    case.run(commands.FireDueTimers(), NOW + dt.timedelta(hours=3))
    assert (case.states("T"), case.states("Reminder")) == (["suspended"], ["completed"])
    assert case.replays()

# -- user event listeners -------------------------------------------------------------------------------------------
WITHDRAWAL = load_definition(
    f'<definitions {NS}><case id="m"><casePlanModel id="plan" name="Plan">'
    '<planItem id="pWork" name="Work" definitionRef="work"/>'
    '<planItem id="pWithdraw" name="Withdraw" definitionRef="withdraw"/>'
    '<humanTask id="work"/><userEventListener id="withdraw" name="Withdraw" authorizedRoleRefs="roleSup"/>'
    '<exitCriterion sentryRef="sWithdrawn"/>'
    f'<sentry id="sWithdrawn">{_on("pWithdraw", "occur")}</sentry>'
    '</casePlanModel><caseRoles id="roles"><role id="roleSup" name="Supervisor"/></caseRoles></case></definitions>'
)


@pytest.mark.parametrize("how", [commands.OccurEvent, commands.CompleteItem])
def test_only_an_actor_in_an_authorized_role_may_raise_a_user_event(how: type[commands.ItemCommand]) -> None:
    case = _Case(WITHDRAWAL)
    before = copy.deepcopy(case.state.to_dict())
    with pytest.raises(CommandRejected, match="bob may not raise 'Withdraw': it needs the case role Supervisor"):
        case.run(how(item="Withdraw", actor="bob"))
    assert case.state.to_dict() == before
    case.run(commands.AddParticipant(user="bob", role="Supervisor", actor="ann"))
    case.run(how(item="Withdraw", actor="bob"))
    assert case.state.status == "terminated"


def test_a_stage_completes_when_the_listener_its_last_item_waits_for_ends_elsewhere() -> None:
    # Y is not autoComplete: its available item I holds it while I can still start. I waits only for L, outside Y.
    definition = _model(
        '<planItem id="pL" name="L" definitionRef="L"/><planItem id="pY" name="Y" definitionRef="Y"/>'
        '<planItem id="pZ" name="Z" definitionRef="Z"/>'
        f'<sentry id="sL">{_on("pL", "occur")}</sentry><userEventListener id="L" name="L"/><humanTask id="Z"/>'
        '<stage id="Y" name="Y" autoComplete="false"><planItem id="pT" name="T" definitionRef="T"/>'
        '<planItem id="pI" name="I" definitionRef="I"><entryCriterion sentryRef="sL"/></planItem>'
        '<humanTask id="T"/><humanTask id="I"/></stage>'
    )
    case = _Case(definition)
    case.run(commands.CompleteItem(item="T"))
    assert case.states("Y") == ["active"]
    case.run(commands.TerminateItem(item="L", reason="the customer will not call back"))
    assert case.states("Y") == ["completed"] and case.states("I") == ["terminated"]
    case.run(commands.CompleteItem(item="Z"))
    assert case.state.status == "completed"
    assert case.replays()


def test_a_suspended_event_listener_does_not_hold_its_stage() -> None:
    # Event listeners never hold a stage (docs/semantics.md, Stage and case completion), suspended ones neither.
    case = _Case(_model('<planItem id="pL" name="L" definitionRef="L"/><planItem id="pA" name="A" definitionRef="A"/>'
                        '<userEventListener id="L" name="L"/><humanTask id="A"/>'))
    case.run(commands.SuspendItem(item="L"))
    case.run(commands.CompleteItem(item="A"))
    assert case.state.status == "completed"
    assert case.replays()


# -- repetition -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("again", "instances"), [(False, ["active"]), (True, ["active", "available"])])
def test_an_entry_criterion_that_fires_makes_a_next_instance_only_while_the_repetition_rule_holds(
    again: bool, instances: list[str]
) -> None:
    case = _Case(_model(
        '<planItem id="pA" name="A" definitionRef="a"/><planItem id="pB" name="Follow-up" definitionRef="b">'
        '<itemControl><repetitionRule><condition>${again}</condition></repetitionRule></itemControl>'
        f'<entryCriterion sentryRef="sA"/></planItem><sentry id="sA">{_on("pA")}</sentry>'
        '<humanTask id="a"/><humanTask id="b"/>'
    ), again=again)
    case.run(commands.CompleteItem(item="A"))
    assert case.states("Follow-up") == instances
    assert case.replays()


def test_skipping_one_occurrence_of_a_repeating_task_keeps_the_series_going() -> None:
    definition = _model(
        '<planItem id="pW" name="Weekly call" definitionRef="w"><itemControl><repetitionRule/></itemControl></planItem>'
        '<planItem id="pX" name="X" definitionRef="x"/><humanTask id="w"/><humanTask id="x"/>'
    )
    case = _Case(definition)
    case.run(commands.CompleteItem(item="Weekly call"))
    case.run(commands.SkipItem(item="Weekly call", reason="public holiday"))
    assert case.states("Weekly call") == ["completed", "completed", "active"]
    case.run(commands.TerminateItem(item="Weekly call", reason="the customer asked us to stop"))
    assert case.states("Weekly call") == ["completed", "completed", "terminated"]
    assert case.replays()


# -- exit criteria hear their on-parts in every open state ------------------------------------------------------------
# B starts when A completes and exits when both C and D have completed (CMMN 1.1: exit criteria apply while an item is
# available, enabled, disabled or active, and a sentry remembers its on-parts until it fires).
EXIT_AFTER_TWO = (
    '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pC" name="C" definitionRef="C"/>'
    '<planItem id="pD" name="D" definitionRef="D"/>'
    '<planItem id="pB" name="B" definitionRef="B"><entryCriterion id="enB" sentryRef="sA"/>'
    '<exitCriterion id="exB" sentryRef="sCD"/></planItem>'
    f'<sentry id="sA">{_on("pA")}</sentry><sentry id="sCD">{_on("pC")}{_on("pD")}</sentry>'
    '<humanTask id="A"/><humanTask id="B"/><humanTask id="C"/><humanTask id="D"/>'
)


@pytest.mark.parametrize("manual", [False, True])
def test_an_exit_on_part_heard_while_the_item_waited_is_remembered_when_it_starts(manual: bool) -> None:
    control = "<itemControl><manualActivationRule/></itemControl>" if manual else ""
    case = _Case(_model(EXIT_AFTER_TWO.replace('<exitCriterion id="exB"', f'{control}<exitCriterion id="exB"')))
    case.run(commands.CompleteItem(item="C"))
    case.run(commands.CompleteItem(item="A"))
    assert case.states("B") == ["enabled" if manual else "active"]
    case.run(commands.CompleteItem(item="D"))
    assert case.states("B") == ["terminated"]
    assert case.replays()


def test_a_waiting_milestone_suspended_and_resumed_keeps_what_its_entry_criterion_heard() -> None:
    # Milestone B is reached when both C and D have completed; C completes, a worker puts B on hold (a milestone
    # can be suspended while it waits) and takes it off again, then D completes.
    both = ('<planItem id="pC" name="C" definitionRef="C"/><planItem id="pD" name="D" definitionRef="D"/>'
            '<planItem id="pB" name="B" definitionRef="B"><entryCriterion id="enB" sentryRef="sCD"/></planItem>'
            f'<sentry id="sCD">{_on("pC")}{_on("pD")}</sentry>'
            '<milestone id="B"/><humanTask id="C"/><humanTask id="D"/>')
    case = _Case(_model(both))
    case.run(commands.CompleteItem(item="C"))
    case.run(commands.SuspendItem(item="B"))
    case.run(commands.ResumeItem(item="B"))
    assert case.states("B") == ["available"]
    case.run(commands.CompleteItem(item="D"))
    assert case.states("B") == ["completed"]
    assert case.replays()


def test_a_milestone_on_hold_while_the_item_it_was_made_to_wait_for_completes_is_reached_when_resumed() -> None:
    # "B after C", added at run time: C completes while B is on hold; B would otherwise wait for ever.
    case = _Case(_model('<planItem id="pC" name="C" definitionRef="C"/><humanTask id="C"/>'))
    case.run(commands.AddItem(kind="milestone", name="B", after=("C",)))
    case.run(commands.SuspendItem(item="B"))
    case.run(commands.CompleteItem(item="C"))
    assert case.states("B") == ["suspended"]
    case.run(commands.ResumeItem(item="B"))
    assert case.states("B") == ["completed"]
    assert case.replays()


# -- stages open for planning ----------------------------------------------------------------------------------------
def test_a_stage_added_empty_waits_for_the_work_planned_into_it() -> None:
    case = _Case(_model('<planItem id="pA" name="A" definitionRef="A"/><humanTask id="A"/>'))
    case.run(commands.AddItem(kind="stage", name="Appeal"))
    assert case.states("Appeal") == ["active"]
    assert explain(case.definition, case.state, "Appeal") == [
        "'Appeal' is open for work to be planned into it: it completes when someone completes it or its items are done"
    ]
    case.run(commands.AddItem(kind="humanTask", name="Hear appellant", stage="Appeal"))
    case.run(commands.CompleteItem(item="Hear appellant"))
    assert case.states("Appeal") == ["completed"]  # autoComplete: its work is done
    assert case.replays()


PLANNED = (
    '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pS" name="S" definitionRef="S"/>'
    '<humanTask id="A"/><humanTask id="D"/>'
    '<stage id="S" name="S" autoComplete="{auto}"><planningTable id="tS">'
    '<discretionaryItem id="dD" name="D" definitionRef="D"/></planningTable></stage>'
)


def test_a_stage_not_autocomplete_with_only_discretionary_items_waits_to_be_completed_by_hand() -> None:
    case = _Case(_model(PLANNED.format(auto="false"), auto_complete=True))
    assert case.states("S") == ["active"]
    assert explain(case.definition, case.state, "S") == [
        "'S' is open for work to be planned into it ('D' not planned yet): it completes when someone completes it, "
        "or once each of them is planned (or removed) and done"
    ]
    case.run(commands.CompleteStage(item="S"))
    assert case.states("S") == ["completed"] and case.states("D") == []
    assert case.replays()


@pytest.mark.parametrize("ending", ["complete", "terminate"])
def test_a_stage_not_autocomplete_completes_once_its_discretionary_item_was_planned_and_ended(ending: str) -> None:
    # A planned item is no longer to be planned, however it ended (and an ended one cannot be removed): it holds
    # its stage as any child does. Planning it again stays possible while the stage runs, but is not waited for.
    case = _Case(_model(PLANNED.format(auto="false"), auto_complete=True))
    case.run(commands.PlanItem(item="D", actor="ann"))
    assert case.states("S") == ["active"]
    case.run(commands.CompleteItem(item="D") if ending == "complete" else commands.TerminateItem(item="D"))
    assert case.states("S") == ["completed"]
    case.run(commands.CompleteItem(item="A"))
    assert case.state.status == "completed"
    assert case.replays()


def test_a_stage_not_autocomplete_waits_for_the_discretionary_items_not_planned_yet() -> None:
    case = _Case(_model(
        '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pS" name="S" definitionRef="S"/>'
        '<humanTask id="A"/><humanTask id="D"/><humanTask id="E"/>'
        '<stage id="S" name="S" autoComplete="false"><planningTable id="tS">'
        '<discretionaryItem id="dD" name="D" definitionRef="D"/><discretionaryItem id="dE" name="E" definitionRef="E"/>'
        "</planningTable></stage>",
        auto_complete=True,
    ))
    case.run(commands.PlanItem(item="D", actor="ann"))
    # explain names what the stage waits for once its open children are done, too
    assert explain(case.definition, case.state, "S") == ["'S' cannot complete yet:", "  D is active (active)",
                                                         "  E is not planned yet (plan or remove it)"]
    case.run(commands.CompleteItem(item="D"))
    assert case.states("S") == ["active"]  # E may still be planned
    with pytest.raises(CommandRejected, match="has already ended"):
        case.run(commands.RemoveItem(item="D"))
    case.run(commands.RemoveItem(item="E", reason="not needed"))
    assert case.states("S") == ["completed"]
    assert case.replays()


def test_a_stage_waiting_only_for_planning_completes_when_its_discretionary_item_is_removed() -> None:
    # Nothing is left to plan into S: it is held by nothing, as a stage not autoComplete without a planning table.
    case = _Case(_model(PLANNED.format(auto="false"), auto_complete=True))
    assert case.states("S") == ["active"]
    case.run(commands.RemoveItem(item="D", reason="not needed in this case"))
    assert case.states("S") == ["completed"]
    case.run(commands.CompleteItem(item="A"))
    assert case.state.status == "completed"
    assert case.replays()


def test_a_stage_whose_last_holder_was_removed_while_it_was_suspended_completes_when_resumed() -> None:
    case = _Case(_model(PLANNED.format(auto="false"), auto_complete=True))
    case.run(commands.SuspendItem(item="S"))
    case.run(commands.RemoveItem(item="D"))
    assert case.states("S") == ["suspended"]
    case.run(commands.ResumeItem(item="S"))
    assert case.states("S") == ["completed"]
    assert case.replays()


def test_an_autocomplete_stage_with_only_discretionary_items_completes_as_it_starts() -> None:
    # CMMN 1.1: autoComplete completes a stage with no active children and no required ones, planned or not.
    case = _Case(_model(PLANNED.format(auto="true"), auto_complete=True))
    assert case.states("S") == ["completed"]


# -- case file events beyond create, update and delete ---------------------------------------------------------------
def _on_file(source: str, event: str) -> str:
    return f'<caseFileItemOnPart sourceRef="{source}"><standardEvent>{event}</standardEvent></caseFileItemOnPart>'


FILED = load_definition(
    f'<definitions {NS}><case id="m"><caseFileModel><caseFileItem id="cfClaim" name="claim"><children>'
    '<caseFileItem id="cfPhoto" name="photo"/></children></caseFileItem></caseFileModel>'
    '<casePlanModel id="plan" name="Plan">'
    '<planItem id="pR" name="Recheck" definitionRef="t"><entryCriterion sentryRef="sR"/></planItem>'
    '<planItem id="pV" name="View photo" definitionRef="t"><entryCriterion sentryRef="sV"/></planItem>'
    '<planItem id="pA" name="Ask again" definitionRef="t"><entryCriterion sentryRef="sA"/></planItem>'
    f'<sentry id="sR">{_on_file("cfClaim", "replace")}</sentry>'
    f'<sentry id="sV">{_on_file("cfClaim", "addChild")}</sentry>'
    f'<sentry id="sA">{_on_file("cfClaim", "removeChild")}</sentry>'
    '<humanTask id="t"/></casePlanModel></case></definitions>'
)


def test_a_value_set_over_another_replaces_the_case_file_item() -> None:
    case = _Case(FILED, claim={"amount": 100})
    case.run(commands.SetVariables(variables={"claim": {"amount": 100}}))  # the same value: nothing changes
    assert case.states("Recheck") == ["available"]
    case.run(commands.SetVariables(variables={"claim": {"amount": 250}}))
    assert case.states("Recheck") == ["active"]
    assert case.replays()


def test_a_child_case_file_item_created_or_deleted_is_added_to_or_removed_from_its_parent() -> None:
    case = _Case(FILED, claim={"amount": 100})
    case.run(commands.SetVariables(variables={"photo": "front.jpg"}))
    assert [case.states(n) for n in ("View photo", "Ask again")] == [["active"], ["available"]]
    case.run(commands.SetVariables(variables={"photo": "side.jpg"}))  # replaced, not added again
    case.run(commands.SetVariables(variables={}, remove=("photo",)))
    assert case.states("Ask again") == ["active"]
    assert case.replays()


def test_a_child_case_file_item_the_case_starts_with_is_added_to_its_parent() -> None:
    case = _Case(FILED, photo="front.jpg", claim={"amount": 100})
    assert case.states("View photo") == ["active"]


# A claim composes its photo, which composes its thumbnail; the report is the claim's other child.
NESTED = load_definition(
    f'<definitions {NS}><case id="m"><caseFileModel><caseFileItem id="cfClaim" name="claim"><children>'
    '<caseFileItem id="cfPhoto" name="photo"><children><caseFileItem id="cfThumb" name="thumb"/></children>'
    '</caseFileItem><caseFileItem id="cfReport" name="report"/></children></caseFileItem>'
    '<caseFileItem id="cfNote" name="note"/></caseFileModel>'
    '<casePlanModel id="plan" name="Plan">'
    '<planItem id="pT" name="Thumb gone" definitionRef="t"><entryCriterion sentryRef="sT"/></planItem>'
    '<planItem id="pP" name="Photo lost thumb" definitionRef="t"><entryCriterion sentryRef="sP"/></planItem>'
    '<planItem id="pC" name="Claim lost child" definitionRef="t"><entryCriterion sentryRef="sC"/></planItem>'
    '<planItem id="pB" name="Both gone" definitionRef="t"><entryCriterion sentryRef="sB"/></planItem>'
    f'<sentry id="sT">{_on_file("cfThumb", "delete")}</sentry>'
    f'<sentry id="sP">{_on_file("cfPhoto", "removeChild")}</sentry>'
    f'<sentry id="sC">{_on_file("cfClaim", "removeChild")}</sentry>'
    f'<sentry id="sB">{_on_file("cfReport", "delete")}{_on_file("cfNote", "delete")}</sentry>'
    '<humanTask id="t"/></casePlanModel></case></definitions>'
)
ALL_FILED = {"claim": {"amount": 100}, "photo": "front.jpg", "thumb": "front.png", "report": "ok", "note": "n"}


def test_deleting_a_parent_case_file_item_deletes_its_children_at_any_depth() -> None:
    case = _Case(NESTED, **ALL_FILED)
    events = case.run(commands.SetVariables(variables={}, remove=("claim",)))
    # Children before their parent, in model order: each removeChild is raised on a parent still there. The event
    # lists them all, so a replay (or audit state-at) rebuilds the case without deciding again.
    removed = [e.payload["removed"] for e in events if e.type == "variables_set"]
    assert removed == [["thumb", "photo", "report", "claim"]]
    assert case.state.variables == {"note": "n"}
    assert [case.states(n) for n in ("Thumb gone", "Photo lost thumb", "Claim lost child")] == [["active"]] * 3
    # explain says which of a criterion's on-parts the cascade satisfied.
    assert explain(NESTED, case.state, "Both gone")[1:] == [
        "  [pB:entryCriterion:0] cfReport delete: done",
        "  [pB:entryCriterion:0] cfNote delete: waiting",
    ]
    assert case.replays()


def test_deleting_a_child_deletes_its_own_children_and_keeps_its_parent_and_siblings() -> None:
    case = _Case(NESTED, **ALL_FILED)
    case.run(commands.SetVariables(variables={}, remove=("photo", "note")))
    assert sorted(case.state.variables) == ["claim", "report"]
    assert case.replays()


def test_an_event_recorded_before_parents_deleted_their_children_replays_as_recorded() -> None:
    case = _Case(NESTED, **ALL_FILED)
    old = Event(type="variables_set", at=case.log[-1].at, actor="ann", payload={"variables": {}, "removed": ["claim"]})
    assert sorted(replay(NESTED, "c1", [*case.log, old]).variables) == ["note", "photo", "report", "thumb"]


@pytest.mark.parametrize("command", [
    commands.SetVariables(variables={"photo": "front.jpg"}),
    commands.SetVariables(variables={"claim": {}, "thumb": "front.png"}),  # the photo between them is missing
])
def test_a_child_case_file_item_without_its_parent_is_refused(command: commands.Command) -> None:
    case = _Case(NESTED, note="n")
    before = copy.deepcopy(case.state.to_dict())
    with pytest.raises(CommandRejected, match=r"within '(claim|photo)', which the case does not hold; set "):
        case.run(command)
    assert case.state.to_dict() == before


def test_a_case_cannot_start_with_a_child_case_file_item_without_its_parent() -> None:
    with pytest.raises(CommandRejected, match="set 'claim' first, or in the same command"):
        _Case(NESTED, photo="front.jpg")


def test_a_task_cannot_complete_with_a_child_case_file_item_whose_parent_is_gone() -> None:
    case = _Case(NESTED, **ALL_FILED)
    case.run(commands.SetVariables(variables={}, remove=("claim",)))
    with pytest.raises(CommandRejected, match=r"cannot set 'photo': .* set 'claim' first, or in the same command"):
        case.run(commands.CompleteItem(item="Thumb gone", variables={"photo": "side.jpg"}))
    assert case.states("Thumb gone") == ["active"]
    assert "photo" not in case.state.variables


def test_a_child_cannot_be_set_while_its_parent_is_removed() -> None:
    case = _Case(NESTED, **ALL_FILED)
    with pytest.raises(CommandRejected, match="cannot set 'photo': it is a case file item within 'claim', which this "
                                              "command removes"):
        case.run(commands.SetVariables(variables={"photo": "side.jpg"}, remove=("claim",)))
    assert case.state.variables == ALL_FILED


def test_a_child_set_with_its_parent_in_one_command_is_added_to_it() -> None:
    case = _Case(FILED)
    case.run(commands.SetVariables(variables={"photo": "front.jpg", "claim": {"amount": 100}}))
    assert case.states("View photo") == ["active"]
    assert case.replays()


# -- flowable:isBlockingExpression -----------------------------------------------------------------------------------
def _blocking(expression: str) -> CaseDefinition:
    return load_definition(
        f'<definitions {NS} xmlns:flowable="http://flowable.org/cmmn"><case id="m">'
        '<casePlanModel id="plan" name="Plan"><planItem id="pA" name="A" definitionRef="A"/>'
        '<planItem id="pB" name="B" definitionRef="B"/><humanTask id="B"/>'
        f'<humanTask id="A" flowable:isBlockingExpression="{expression}"/></casePlanModel></case></definitions>'
    )


@pytest.mark.parametrize(("wait", "state"), [(True, "active"), (False, "completed")])
def test_a_tasks_blocking_expression_is_evaluated_when_it_starts(wait: bool, state: str) -> None:
    case = _Case(_blocking("${wait}"), wait=wait)
    assert case.states("A") == [state]
    assert case.replays()


def test_a_blocking_expression_that_fails_is_recorded_and_the_task_waits() -> None:
    case = _Case(_blocking("wait == true"))  # CEL: an unknown variable is an error
    assert case.states("A") == ["active"]
    assert [e["where"] for e in case.state.errors] == ["isBlockingExpression"]


# -- required rules -------------------------------------------------------------------------------------------------
def _required_when(condition: str) -> CaseDefinition:
    """An autoComplete case plan: "Optional check" (manual) is required when ``condition`` holds; "Main" is not."""
    return _model(
        '<planItem id="pCheck" name="Optional check" definitionRef="check"><itemControl><requiredRule>'
        f'<condition>{condition}</condition></requiredRule><manualActivationRule/></itemControl></planItem>'
        '<planItem id="pMain" name="Main" definitionRef="main"/>'
        '<humanTask id="check" name="Optional check"/><humanTask id="main" name="Main"/>',
        auto_complete=True,
    )


@pytest.mark.parametrize(("at_creation", "later", "case_status"), [(False, True, "completed"), (True, False, "active")])
def test_a_required_rule_is_decided_when_the_item_is_created_and_kept(
    at_creation: bool, later: bool, case_status: str
) -> None:
    # CMMN 1.1 (PlanItemControl, RequiredRule): evaluated when the item is instantiated and enters available, and its
    # value is kept for the rest of the case; data that changes later does not make an item required or optional.
    case = _Case(_required_when("${needsCheck}"), needsCheck=at_creation)
    case.run(commands.SetVariables(variables={"needsCheck": later}, actor="ann"))
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    assert case.state.status == case_status
    assert case.states("Optional check") == (["terminated"] if case_status == "completed" else ["enabled"])
    assert case.replays()


def test_each_instance_of_a_repeating_item_decides_its_required_rule_with_its_own_counter() -> None:
    definition = _model(
        '<planItem id="pA" name="A" definitionRef="a"><itemControl><repetitionRule><condition>'
        '${repetitionCounter &lt; 2}</condition></repetitionRule><requiredRule><condition>'
        '${repetitionCounter == 1}</condition></requiredRule></itemControl></planItem><humanTask id="a" name="A"/>',
        auto_complete=True,
    )
    case = _Case(definition)
    first = next(i for i in case.state.items.values() if i.name == "A")
    assert first.required is True
    case.run(commands.CompleteItem(item="A", actor="ann"))
    second = next(i for i in case.state.items.values() if i.name == "A" and i.open)
    assert (second.index, second.required) == (2, False)
    assert case.replays()


def test_a_required_rule_that_cannot_be_evaluated_counts_as_false() -> None:
    case = _Case(_required_when("${needsCheck}"), needsCheck=5)  # not a truth value: recorded, and false
    assert [e["where"] for e in case.state.errors] == ["requiredRule"]
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    assert case.state.status == "completed"


def test_an_instance_recorded_without_its_required_value_reads_its_rule_as_before() -> None:
    # Cases stored before the value was recorded on creation: their instances have none and read the rule now.
    case = _Case(_required_when("${needsCheck}"), needsCheck=False)
    events = [e._replace(payload={k: v for k, v in e.payload.items() if k != "required"}) for e in case.log]
    state = replay(case.definition, "c1", events)
    check = next(i for i in state.items.values() if i.name == "Optional check")
    assert check.required is None and "required" not in check.to_dict()
    execute(case.definition, state, commands.SetVariables(variables={"needsCheck": True}, actor="ann"), NOW)
    execute(case.definition, state, commands.CompleteItem(item="Main", actor="ann"), NOW)
    assert state.status == "active"
    # Its rule false again, nothing holds the case plan, which completes by itself with the change of data.
    execute(case.definition, state, commands.SetVariables(variables={"needsCheck": False}, actor="ann"), NOW)
    assert state.status == "completed"


# -- lifecycle transitions as on-parts ------------------------------------------------------------------------------
_WATCHED = ("create", "enable", "disable", "reenable", "parentSuspend", "parentResume", "manualStart", "suspend",
            "resume", "terminate", "complete", "exit")


def test_each_lifecycle_transition_of_a_task_is_an_event_its_sentries_hear() -> None:
    # CMMN 1.1 table 8.8: a manual task in a stage walks create, enable, disable, reenable, parentSuspend and
    # parentResume (its stage on hold), manualStart, suspend, resume, terminate; a milestone waits for each event.
    body = (
        '<planItem id="pS" definitionRef="S"/><stage id="S" name="S">'
        '<planItem id="pA" definitionRef="A"><itemControl><manualActivationRule/></itemControl></planItem>'
        '<planItem id="pZ" definitionRef="Z"/><humanTask id="A" name="A"/><humanTask id="Z" name="Z"/></stage>'
    )
    for event in _WATCHED:
        body += (f'<planItem id="m{event}" name="{event}" definitionRef="d{event}"><entryCriterion '
                 f'sentryRef="s{event}"/></planItem><sentry id="s{event}">{_on("pA", event)}</sentry>'
                 f'<milestone id="d{event}" name="{event}"/>')
    case = _Case(_model(body))
    for command in (commands.DisableItem, commands.EnableItem):
        case.run(command(item="A", actor="ann"))
    case.run(commands.SuspendItem(item="S", actor="ann"))
    case.run(commands.ResumeItem(item="S", actor="ann"))
    for command in (commands.StartItem, commands.SuspendItem, commands.ResumeItem, commands.TerminateItem):
        case.run(command(item="A", actor="ann"))
    reached = {i.name for i in case.state.items.values() if i.kind == "milestone" and i.state == "completed"}
    assert reached == set(_WATCHED) - {"complete", "exit"}  # A was terminated by hand: it neither completed nor exited
    assert case.replays()


def test_resuming_a_stage_returns_each_held_child_to_its_own_state_and_leaves_one_a_worker_suspended() -> None:
    # CMMN 1.1 table 8.8: parentResume returns a child to the state it was in; a child suspended by itself before its
    # stage was is not held by the stage, and stays suspended until it is resumed.
    manual = '<itemControl><manualActivationRule/></itemControl>'
    case = _Case(_model(
        f'<planItem id="pS" definitionRef="S"/><stage id="S" name="S"><planItem id="pE" definitionRef="E">{manual}'
        f'</planItem><planItem id="pD" definitionRef="D">{manual}</planItem><planItem id="pA" definitionRef="A"/>'
        '<planItem id="pW" definitionRef="W"/><humanTask id="E" name="E"/><humanTask id="D" name="D"/>'
        '<humanTask id="A" name="A"/><humanTask id="W" name="W"/></stage>'
    ))
    case.run(commands.DisableItem(item="D", actor="ann"))
    case.run(commands.SuspendItem(item="W", actor="ann"))
    case.run(commands.SuspendItem(item="S", actor="ann"))
    assert [case.states(n) for n in ("E", "D", "A", "W")] == [["suspended"]] * 4
    with pytest.raises(CommandRejected):
        case.run(commands.ResumeItem(item="W", actor="ann"))  # its stage is on hold
    case.run(commands.ResumeItem(item="S", actor="ann"))
    assert [case.states(n) for n in ("E", "D", "A", "W")] == [["enabled"], ["disabled"], ["active"], ["suspended"]]
    case.run(commands.ResumeItem(item="W", actor="ann"))
    assert case.states("W") == ["active"]
    assert case.replays()


@pytest.mark.parametrize(("at_creation", "new_rule", "case_status"), [
    (True, "${needsCheck}", "active"), (True, None, "completed"),
    (False, "", "active"),  # a rule without a condition: required, whatever the instance recorded
])
def test_a_migration_keeps_a_required_value_while_the_new_rule_has_a_condition(
    at_creation: bool, new_rule: str | None, case_status: str
) -> None:
    case = _Case(_required_when("${needsCheck}"), needsCheck=at_creation)
    case.run(commands.SetVariables(variables={"needsCheck": not at_creation}, actor="ann"))
    rule = "" if new_rule is None else (f"<requiredRule><condition>{new_rule}</condition></requiredRule>" if new_rule
                                        else "<requiredRule/>")
    control = f"{rule}<manualActivationRule/>"
    version_2 = _model(
        f'<planItem id="pCheck" name="Optional check" definitionRef="check"><itemControl>{control}</itemControl>'
        '</planItem><planItem id="pMain" name="Main" definitionRef="main"/>'
        '<humanTask id="check" name="Optional check"/><humanTask id="main" name="Main"/>',
        auto_complete=True,
    )
    case.run(commands.Migrate(definition=version_2, actor="ann"))
    case.definition = version_2
    case.run(commands.CompleteItem(item="Main", actor="ann"))
    assert case.state.status == case_status
