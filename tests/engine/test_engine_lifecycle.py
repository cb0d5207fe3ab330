"""The CMMN 1.1 lifecycles (§8.4.2) as a case worker meets them: which commands each state takes, and where each
transition leads. Found by mutation testing: each test fails when one entry of `casework.engine.lifecycle` or its
use is changed."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_engine import NOW, DrivenCase, model_of, on_part

from casework.engine import CommandRejected, commands

MANUAL = "<itemControl><manualActivationRule/></itemControl>"
# D waits to be started by hand, W starts at once and B waits for W; each has a milestone reached when it completes.
WAITING = model_of(
    f'<planItem id="pD" name="D" definitionRef="D">{MANUAL}</planItem><planItem id="pW" name="W" definitionRef="W"/>'
    '<planItem id="pB" name="B" definitionRef="B"><entryCriterion sentryRef="sB"/></planItem>'
    f'<sentry id="sB">{on_part("pW")}</sentry><humanTask id="D" name="D"/><humanTask id="W" name="W"/>'
    '<humanTask id="B" name="B"/>'
    + "".join(
        f'<planItem id="pAfter{n}" name="after {n}" definitionRef="After{n}"><entryCriterion sentryRef="after{n}"/>'
        f'</planItem><sentry id="after{n}">{on_part("p" + n)}</sentry><milestone id="After{n}" name="after {n}"/>'
        for n in "DWB"
    )
)


@pytest.mark.parametrize(
    ("command", "state"),
    [
        (commands.TerminateItem(item="D", actor="ann"), "terminated"),
        (commands.SkipItem(item="D", actor="ann"), "completed"),
        (commands.RemoveItem(item="D", actor="ann"), "terminated"),
        (commands.EnableItem(item="D", actor="ann"), "enabled"),
    ],
)
def test_a_disabled_item_is_open_and_not_started(command: commands.Command, state: str) -> None:
    # Disabled is an open state of an item that has not started (CMMN 1.1 table 8.3): it can still be ended, taken
    # out of the plan, enabled again, or given to someone, as an enabled one can.
    case = DrivenCase(WAITING)
    case.run(commands.DisableItem(item="D", actor="ann"))
    case.run(command)
    assert case.states("D") == [state]
    assert case.replays()


def test_a_disabled_item_is_given_its_owner_and_due() -> None:
    case = DrivenCase(WAITING)
    case.run(commands.DisableItem(item="D", actor="ann"))
    case.run(commands.Reassign(item="D", to="bob", actor="ann"))
    case.run(commands.SetDue(item="D", due="2026-04-01", actor="ann"))
    (item,) = (i for i in case.state.items.values() if i.name == "D")
    assert (item.owner, item.due) == ("bob", "2026-04-01T00:00:00Z")


@pytest.mark.parametrize(
    ("item", "before", "state"),
    [
        ("B", [], "available"),
        ("D", [], "enabled"),
        ("D", [commands.DisableItem(item="D", actor="ann")], "disabled"),
        ("W", [], "active"),
        ("W", [commands.SuspendItem(item="W", actor="ann")], "suspended"),
    ],
)
def test_a_task_is_skipped_from_every_open_state_and_what_waits_for_it_goes_on(
    item: str, before: list[commands.Command], state: str
) -> None:
    case = DrivenCase(WAITING)
    for command in before:
        case.run(command)
    assert case.states(item) == [state]
    case.run(commands.SkipItem(item=item, actor="ann", reason="done on paper"))
    # skip raises `complete` (docs/semantics.md, Lifecycles): the milestone waiting for the item is reached.
    assert (case.states(item), case.states(f"after {item}")) == (["completed"], ["completed"])
    assert case.replays()


# M waits in stage S for A to complete, and exits when Cancel occurs; "after M" waits for M to occur.
MILESTONE = model_of(
    '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pCancel" name="Cancel" definitionRef="Cancel"/>'
    '<planItem id="pS" name="S" definitionRef="S"/><humanTask id="A" name="A"/>'
    '<userEventListener id="Cancel" name="Cancel"/>'
    '<stage id="S" name="S"><planItem id="pM" name="M" definitionRef="M"><entryCriterion sentryRef="sA"/>'
    '<exitCriterion sentryRef="sCancel"/></planItem><planItem id="pAfter" name="after M" definitionRef="After">'
    '<entryCriterion sentryRef="sM"/></planItem><planItem id="pK" name="K" definitionRef="K"/>'
    f'<sentry id="sA">{on_part("pA")}</sentry><sentry id="sCancel">{on_part("pCancel", "occur")}</sentry>'
    f'<sentry id="sM">{on_part("pM", "occur")}</sentry><milestone id="M" name="M"/>'
    '<milestone id="After" name="after M"/><humanTask id="K" name="K"/></stage>'
)
_ENDINGS = {
    "terminate": commands.TerminateItem(item="M", actor="ann"),
    "remove": commands.RemoveItem(item="M", actor="ann"),
    "exit": commands.OccurEvent(item="Cancel", actor="ann"),
    "parentTerminate": commands.TerminateItem(item="S", actor="ann"),
}


@pytest.mark.parametrize("held", [False, True], ids=["waiting", "suspended"])
@pytest.mark.parametrize("ending", sorted(_ENDINGS))
def test_a_milestone_waiting_or_on_hold_ends_without_being_reached(held: bool, ending: str) -> None:
    case = DrivenCase(MILESTONE)
    if held:
        case.run(commands.SuspendItem(item="M", actor="ann"))
        assert case.states("M") == ["suspended"]
    events = case.run(_ENDINGS[ending])
    # By the transition of its lifecycle that the command stands for (CMMN 1.1 table 8.5).
    (milestone,) = (i.id for i in case.state.items.values() if i.name == "M")
    assert [(e.payload["transition"], e.payload["to"]) for e in events
            if e.type == "item_transition" and e.payload["id"] == milestone] == [(ending, "terminated")]
    # Ended with its stage, "after M" too; otherwise it waits on: M never occurred.
    after = "terminated" if ending == "parentTerminate" else "available"
    assert case.states("after M") == [after]
    assert case.replays()


def test_a_milestone_is_skipped_or_resumed_and_then_reached_as_it_heard() -> None:
    skipped = DrivenCase(MILESTONE)
    skipped.run(commands.SkipItem(item="M", actor="ann"))
    # skip raises `occur` for a milestone: what waits for it is reached too.
    assert (skipped.states("M"), skipped.states("after M")) == (["completed"], ["completed"])
    resumed = DrivenCase(MILESTONE)
    resumed.run(commands.SuspendItem(item="M", actor="ann"))
    resumed.run(commands.CompleteItem(item="A", actor="ann"))
    assert resumed.states("M") == ["suspended"]  # on hold it hears nothing
    resumed.run(commands.ResumeItem(item="M", actor="ann"))
    assert resumed.states("M") == ["available"]
    resumed.run(commands.OccurEvent(item="M", actor="ann"))
    assert resumed.states("after M") == ["completed"]
    # Held with its stage, it hears what happens meanwhile, and is reached when the stage resumes.
    held = DrivenCase(MILESTONE)
    held.run(commands.SuspendItem(item="S", actor="ann"))
    held.run(commands.CompleteItem(item="A", actor="ann"))
    assert held.states("M") == ["suspended"]
    held.run(commands.ResumeItem(item="S", actor="ann"))
    assert (held.states("M"), held.states("after M")) == (["completed"], ["completed"])
    assert skipped.replays() and resumed.replays() and held.replays()


def test_removing_an_item_raises_its_exit_for_what_waits_for_it() -> None:
    # remove raises `exit` (docs/semantics.md, Lifecycles): an on-part on the item's exit fires, as when it exits.
    case = DrivenCase(model_of(
        f'<planItem id="pD" name="D" definitionRef="D">{MANUAL}</planItem>'
        '<planItem id="pFallback" name="Fallback" definitionRef="Fallback"><entryCriterion sentryRef="sOut"/>'
        f'</planItem><sentry id="sOut">{on_part("pD", "exit")}</sentry><humanTask id="D" name="D"/>'
        '<humanTask id="Fallback" name="Fallback"/>'
    ))
    case.run(commands.RemoveItem(item="D", actor="ann", reason="not needed"))
    assert (case.states("D"), case.states("Fallback")) == (["terminated"], ["active"])
    assert case.replays()


def test_completing_a_name_a_milestone_and_a_waiting_task_share_occurs_the_milestone() -> None:
    # A milestone is completed (occurs) while available, a task only while active: of the two waiting for A, the
    # task is not taken.
    case = DrivenCase(model_of(
        '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pM" name="Checked" definitionRef="M">'
        '<entryCriterion sentryRef="sA"/></planItem><planItem id="pT" name="Checked" definitionRef="T">'
        '<entryCriterion sentryRef="sA"/></planItem>'
        f'<sentry id="sA">{on_part("pA")}</sentry><humanTask id="A" name="A"/><milestone id="M" name="Checked"/>'
        '<humanTask id="T" name="Checked"/>'
    ))
    case.run(commands.CompleteItem(item="Checked", actor="ann"))
    assert sorted((i.kind, i.state) for i in case.state.items.values() if i.name == "Checked") == [
        ("humanTask", "available"), ("milestone", "completed")]
    with pytest.raises(CommandRejected, match="cannot complete 'Checked': it is available, completed"):
        case.run(commands.CompleteItem(item="Checked", actor="ann"))


def test_completing_a_stage_by_hand_ends_what_has_not_started_in_it() -> None:
    # A stage that is not autoComplete waits for its enabled item; completed by hand, the item ends with it.
    case = DrivenCase(model_of(
        f'<planItem id="pS" name="S" definitionRef="S"/><planItem id="pNext" name="Next" definitionRef="Next">'
        f'<entryCriterion sentryRef="sS"/></planItem><sentry id="sS">{on_part("pS")}</sentry>'
        f'<humanTask id="Next" name="Next"/><stage id="S" name="S"><planItem id="pE" name="E" definitionRef="E">'
        f'{MANUAL}</planItem><humanTask id="E" name="E"/></stage>'
    ))
    assert (case.states("S"), case.states("E")) == (["active"], ["enabled"])
    case.run(commands.CompleteItem(item="S", actor="ann"))
    assert [case.states(n) for n in ("S", "E", "Next")] == [["completed"], ["terminated"], ["active"]]
    assert case.replays()


def test_a_task_that_waits_is_not_completed() -> None:
    case = DrivenCase(WAITING)
    with pytest.raises(CommandRejected, match=r"^cannot complete 'B': it is available; complete needs it active$"):
        case.run(commands.CompleteItem(item="B", actor="ann"))


def test_a_user_event_listener_terminated_by_hand_never_occurs() -> None:
    case = DrivenCase(MILESTONE)
    events = case.run(commands.TerminateItem(item="Cancel", actor="ann"))
    assert [(e.payload["transition"], e.payload["to"]) for e in events if e.type == "item_transition"] == [
        ("terminate", "terminated")]
    with pytest.raises(CommandRejected, match="cannot occur 'Cancel': it is terminated"):
        case.run(commands.OccurEvent(item="Cancel", actor="ann"))
    assert case.states("M") == ["available"]  # its exit criterion waits for an occurrence that cannot come


@pytest.mark.parametrize("hold", ["W", "S"], ids=["by a worker", "with its stage"])
def test_an_active_task_on_hold_exits_when_its_exit_criterion_fires(hold: str) -> None:
    # Exit criteria apply in every open state (CMMN 1.1 §8.4.2), suspended too (docs/semantics.md, Suspension).
    case = DrivenCase(model_of(
        '<planItem id="pCancel" name="Cancel" definitionRef="Cancel"/><planItem id="pS" name="S" definitionRef="S"/>'
        '<userEventListener id="Cancel" name="Cancel"/><stage id="S" name="S"><planItem id="pW" name="W" '
        'definitionRef="W"><exitCriterion sentryRef="sCancel"/></planItem><planItem id="pK" name="K" '
        f'definitionRef="K"/><sentry id="sCancel">{on_part("pCancel", "occur")}</sentry><humanTask id="W" name="W"/>'
        '<humanTask id="K" name="K"/></stage>'
    ))
    case.run(commands.SuspendItem(item=hold, actor="ann"))
    assert case.states("W") == ["suspended"]
    case.run(commands.OccurEvent(item="Cancel", actor="ann"))
    assert case.states("W") == ["terminated"]
    assert case.replays()


def test_a_timer_held_with_its_stage_hears_its_start_trigger_and_counts_from_the_resume() -> None:
    case = DrivenCase(model_of(
        '<planItem id="pA" name="A" definitionRef="A"/><planItem id="pS" name="S" definitionRef="S"/>'
        '<humanTask id="A" name="A"/><stage id="S" name="S"><planItem id="pT" name="Reminder" definitionRef="T"/>'
        '<planItem id="pK" name="K" definitionRef="K"/><timerEventListener id="T" name="Reminder">'
        '<timerExpression>PT1H</timerExpression><planItemStartTrigger sourceRef="pA"><standardEvent>complete'
        '</standardEvent></planItemStartTrigger></timerEventListener><humanTask id="K" name="K"/></stage>'
    ))
    case.run(commands.SuspendItem(item="S", actor="ann"))
    case.run(commands.CompleteItem(item="A", actor="ann"))
    assert case.state.timers == {}  # on hold: not counting yet
    case.run(commands.ResumeItem(item="S", actor="ann"), NOW + dt.timedelta(hours=2))
    assert list(case.state.timers.values()) == ["2026-03-02T12:00:00Z"]
    case.run(commands.FireDueTimers(actor="ann"), NOW + dt.timedelta(hours=3))
    assert case.states("Reminder") == ["completed"]
    assert case.replays()
