"""Transitions the engine makes by the model's rules are marked `auto`: the command's actor caused them but did not
do them. The event's actor stays the command's (the audit trail says whose command it was); `performed_by` says who
did the work."""

from __future__ import annotations

import datetime as dt

from casework.engine import CaseState, Event, commands, execute
from casework.model import load_definition
from casework.performed import performed_by

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'
MODEL = (
    f'<definitions {NS}><case id="c"><casePlanModel id="p">'
    '<planItem id="pA" name="A" definitionRef="t"/>'
    '<planItem id="pB" name="B" definitionRef="t"><entryCriterion id="eB" sentryRef="sA"/></planItem>'
    '<planItem id="pM" name="M" definitionRef="m"><entryCriterion id="eM" sentryRef="sA"/></planItem>'
    '<planItem id="pS" name="S" definitionRef="S"><entryCriterion id="eS" sentryRef="sA"/></planItem>'
    '<planItem id="pL" name="Reminder" definitionRef="l"/>'
    '<sentry id="sA"><planItemOnPart id="oA" sourceRef="pA"><standardEvent>complete</standardEvent></planItemOnPart>'
    "</sentry>"
    '<stage id="S" name="S"><planItem id="pC" name="C" definitionRef="t"/>'
    '<planItem id="pD" name="D" definitionRef="t"/></stage>'
    '<humanTask id="t"/><milestone id="m" name="M"/>'
    '<timerEventListener id="l" name="Reminder"><timerExpression>PT1H</timerExpression></timerEventListener>'
    "</casePlanModel></case></definitions>"
)


def moves(events: list[Event]) -> list[tuple[str, str, str, str | None]]:
    """(item name, transition, actor, performer) of each transition, the names from the events that created them."""
    names: dict[str, str] = {}
    out = []
    for e in events:
        if e.type == "item_created":
            names[e.payload["id"]] = e.payload["name"]
        elif e.type == "item_transition" and e.payload["id"] in names:
            out.append((names[e.payload["id"]], e.payload["transition"], e.actor,
                        performed_by(e.type, e.actor, e.payload)))
    return out


def test_what_a_command_set_off_is_marked_as_the_engines_and_what_it_asked_for_is_the_actors() -> None:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    log = execute(definition, state, commands.StartCase(actor="intake"), NOW)
    done = execute(definition, state, commands.CompleteItem(item="A", actor="ann"), NOW)
    seen = moves(log + done)[len(moves(log)):]
    assert seen[0] == ("A", "complete", "ann", "ann")  # what Ann did
    # what her completion set off: the audit trail names her command, nobody is said to have done it
    assert sorted(seen[1:]) == [("B", "start", "ann", None), ("C", "start", "ann", None), ("D", "start", "ann", None),
                                ("M", "occur", "ann", None), ("S", "start", "ann", None)]
    assert all(e.payload.get("auto") is True for e in done if e.type == "item_transition" and e is not done[0])
    # Bob ends the stage: its items end with it, by the engine; the stage's end is his.
    ended = execute(definition, state, commands.TerminateItem(item="S", actor="bob"), NOW)
    assert moves(log + done + ended)[-3:] == [("C", "exit", "bob", None), ("D", "exit", "bob", None),
                                              ("S", "terminate", "bob", "bob")]
    # Suspending and resuming the case holds and releases its work by the engine: only the case plan's move is the
    # actor's (and the case plan is no step of the case).
    held = execute(definition, state, commands.SuspendCase(actor="carol"), NOW)
    held += execute(definition, state, commands.ResumeCase(actor="carol"), NOW)
    root = state.root
    assert sorted((e.payload["transition"], performed_by(e.type, e.actor, e.payload)) for e in held
                  if e.type == "item_transition" and e.payload["id"] != root) == [
        ("parentResume", None), ("parentSuspend", None), ("resume", None), ("suspend", None)]  # B; the timer
    # The clock fires a timer, not whoever asked for due timers to be fired.
    fired = execute(definition, state, commands.FireDueTimers(actor="worker"), NOW + dt.timedelta(hours=2))
    assert moves(log + done + ended + held + fired)[-1] == ("Reminder", "occur", "worker", None)


def test_a_log_written_before_the_mark_still_credits_nobody_with_an_automatic_start() -> None:
    # Only the engine starts work by `start` or offers it by `enable` (a person starts it by `manualStart`).
    old = {"id": "i3", "transition": "start", "from": "available", "to": "active"}
    assert performed_by("item_transition", "ann", old) is None
    assert performed_by("item_transition", "ann", {**old, "transition": "enable", "to": "enabled"}) is None
    assert performed_by("item_transition", "ann", {**old, "transition": "manualStart", "from": "enabled"}) == "ann"
    assert performed_by("item_transition", "ann", {**old, "transition": "complete", "from": "active"}) == "ann"
    assert performed_by("reassign", "ann", {"item": "i3", "to": "bob"}) == "ann"
