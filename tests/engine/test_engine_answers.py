"""A suggestion a person answered is answered: a second decision on it is refused, naming when and by whom, and
changes nothing; a finding dismissed and offered again more severe, or a next action suggested again after the case
moved on, is a new question."""

from __future__ import annotations

import datetime as dt

import pytest

from casework.engine import CaseState, CommandRejected, Event, commands, execute, replay
from casework.model import CaseDefinition, load_definition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
MODEL = (
    '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="c"><casePlanModel id="p">'
    '<planItem id="pA" name="A" definitionRef="t"/><planItem id="pB" name="B" definitionRef="t"/>'
    '<humanTask id="t"/></casePlanModel></case></definitions>'
)
SLA = {"id": "sla:risk", "kind": "flag", "message": "may miss its deadline", "severity": "warning"}


def _case() -> tuple[CaseDefinition, CaseState]:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="intake"), NOW)
    return definition, state


def _decide(definition: CaseDefinition, state: CaseState, suggestion: dict[str, object], actor: str, *,
            accepted: bool = True, minutes: int = 0) -> list[str]:
    command = commands.RecordFeedback(suggestion=suggestion, accepted=accepted, actor=actor, reason="r")
    return [e.type for e in execute(definition, state, command, NOW + dt.timedelta(minutes=minutes))]


def test_a_finding_accepted_is_not_accepted_again_and_the_refusal_says_when_and_by_whom() -> None:
    definition, state = _case()
    assert _decide(definition, state, SLA, "ann") == ["suggestion_accepted"]
    before = state.to_dict()
    with pytest.raises(CommandRejected, match=r"finding 'sla:risk' was already accepted at severity warning by ann "
                                              r"at 2026-03-02T09:00:00"):
        _decide(definition, state, SLA, "bob", minutes=5)
    with pytest.raises(CommandRejected, match="already accepted"):
        _decide(definition, state, SLA, "bob", accepted=False, minutes=5)
    assert state.to_dict() == before


def test_a_dismissed_finding_offered_again_more_severe_may_be_answered_again() -> None:
    definition, state = _case()
    _decide(definition, state, SLA, "ann", accepted=False)
    with pytest.raises(CommandRejected, match="already dismissed at severity warning by ann"):
        _decide(definition, state, SLA, "bob", accepted=False)
    assert _decide(definition, state, {**SLA, "severity": "critical"}, "bob") == ["suggestion_accepted"]
    with pytest.raises(CommandRejected, match="already accepted at severity critical by bob"):
        _decide(definition, state, {**SLA, "severity": "critical"}, "carol")
    # The answers are the events': replay gives them back.
    events: list[Event] = []
    state2 = CaseState.create("c1", definition)
    for command in (commands.StartCase(actor="intake"),
                    commands.RecordFeedback(suggestion=SLA, accepted=False, actor="ann")):
        events += execute(definition, state2, command, NOW)
    assert replay(definition, "c1", events).answered == state2.answered != {}
    assert CaseState.from_dict(state.to_dict()).answered == state.answered


def test_a_next_action_is_answered_once_at_each_step_of_the_case() -> None:
    definition, state = _case()
    nba = {"activity": "B", "probability": 0.8, "reason": "after A", "model_version": "v1"}
    assert _decide(definition, state, nba, "ann") == ["suggestion_accepted"]
    with pytest.raises(CommandRejected, match=r"the suggestion 'B' was already accepted by ann at .*at this step"):
        _decide(definition, state, nba, "bob")
    # Another activity is another suggestion.
    assert _decide(definition, state, {**nba, "activity": "C"}, "bob", accepted=False) == ["suggestion_dismissed"]
    execute(definition, state, commands.CompleteItem(item="A", actor="ann"), NOW)
    assert _decide(definition, state, nba, "bob") == ["suggestion_accepted"]


def test_a_feedback_event_written_before_answers_were_kept_replays_to_the_snapshot_stored_then() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    log = execute(definition, state, commands.StartCase(actor="intake"), NOW)
    log += execute(definition, state, commands.RecordFeedback(suggestion=SLA, accepted=True, actor="ann"), NOW)
    # As this version writes it, less the mark: as such events were written before the mark existed.
    old = [e._replace(payload={k: v for k, v in e.payload.items() if k != "answers"}) for e in log]
    replayed = replay(definition, "c1", old)
    assert replayed.answered == {} and "answered" not in replayed.to_dict()
    assert replay(definition, "c1", log).to_dict() == state.to_dict()


def _apart_from_answers(state: CaseState) -> dict[str, object]:
    kept = state.to_dict()
    kept.pop("answered", None)
    kept.pop("version")  # each event counts
    return kept


def test_a_suspended_case_takes_a_dismissal_and_nothing_in_its_plan_moves() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    log = execute(definition, state, commands.StartCase(actor="intake"), NOW)
    log += execute(definition, state, commands.SuspendCase(actor="ann", reason="waiting for the police report"), NOW)
    held = _apart_from_answers(state)
    nba = {"activity": "B", "probability": 0.8, "reason": "after A", "model_version": "v1"}
    for suggestion in (SLA, nba):
        command = commands.RecordFeedback(suggestion=suggestion, accepted=False, model_version="v1", actor="bob",
                                          reason="does not apply while the claim waits")
        events = execute(definition, state, command, NOW)
        assert [(e.type, e.actor, e.reason) for e in events] == [
            ("suggestion_dismissed", "bob", "does not apply while the claim waits")]
        log += events
    assert state.status == "suspended" and _apart_from_answers(state) == held
    # Answered as any dismissal is: a second one is refused, naming the first.
    with pytest.raises(CommandRejected, match="already dismissed at severity warning by bob"):
        _decide(definition, state, SLA, "carol", accepted=False)
    log += execute(definition, state, commands.ResumeCase(actor="ann"), NOW)
    assert {i.name: i.state for i in state.items.values() if i.id != state.root} == {"A": "active", "B": "active"}
    assert replay(definition, "c1", log).to_dict() == state.to_dict()


def test_a_suspended_case_refuses_an_acceptance_alone_or_with_its_action_and_an_ended_one_a_dismissal() -> None:
    definition, state = _case()
    execute(definition, state, commands.SuspendCase(actor="ann"), NOW)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="the case is suspended; resume it first"):
        _decide(definition, state, SLA, "bob")  # accepting acts on the plan: it waits for the resume
    # A dismissal does not carry a change to the plan through with it.
    with pytest.raises(CommandRejected, match=r"part 2 of 2 \(CompleteItem\) was rejected.*suspended"):
        execute(definition, state, commands.Together(commands=(
            commands.RecordFeedback(suggestion=SLA, accepted=False, actor="bob"),
            commands.CompleteItem(item="A", actor="bob"))), NOW)
    assert state.to_dict() == before
    execute(definition, state, commands.TerminateCase(actor="ann"), NOW)
    ended = state.to_dict()
    with pytest.raises(CommandRejected, match=r"the case has ended \(terminated\); it cannot be changed"):
        _decide(definition, state, SLA, "bob", accepted=False)
    assert state.to_dict() == ended
