"""`Together`: several commands done as one, or not at all (a suggested action and its acceptance record)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from casework.engine import CaseState, CommandRejected, commands, decide, execute, explain, replay
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ACCEPTED = commands.RecordFeedback(suggestion={"activity": "Site visit"}, accepted=True, model_version="nba-1",
                                   actor="ann", reason="makes sense")


def _planned_review() -> tuple[CaseDefinition, CaseState, list]:  # type: ignore[type-arg]
    definition = load_definition((MODELS / "planned_review.cmmn").read_bytes())
    state = CaseState.create("c1", definition)
    events = execute(definition, state, commands.StartCase(actor="ann"), NOW)
    return definition, state, events


@pytest.mark.parametrize("restore", [True, False])
def test_parts_run_in_order_each_under_its_own_actor_and_reason(restore: bool) -> None:
    definition, state, log = _planned_review()
    together = commands.Together(commands=(
        commands.PlanItem(item="Site visit", actor="bob", reason="suggested: 80% did this next"), ACCEPTED))
    events = execute(definition, state, together, NOW, restore=restore)
    assert [e.type for e in events][-1] == "suggestion_accepted"
    assert events[-1].actor == "ann" and events[-1].reason == "makes sense"
    action = events[:-1]
    assert action and {(e.actor, e.reason) for e in action} == {("bob", "suggested: 80% did this next")}
    assert "Site visit" in {i.name for i in state.items.values()}
    # The same events as the two commands one after another: nothing in the log says they were together.
    _, alone, _ = _planned_review()
    apart = [*execute(definition, alone, together.commands[0], NOW), *execute(definition, alone, ACCEPTED, NOW)]
    assert events == apart and alone.to_dict() == state.to_dict()
    assert replay(definition, "c1", [*log, *events]).to_dict() == state.to_dict()
    assert explain(definition, state) == explain(definition, alone)


def test_a_rejected_part_rejects_all_and_changes_nothing() -> None:
    definition, state, _ = _planned_review()
    before = copy.deepcopy(state.to_dict())
    # The first part changes the case (a task added, variables set) before the second is refused.
    bad = commands.Together(commands=(
        commands.AddItem(kind="humanTask", name="Call the insurer", actor="ann"),
        commands.SetVariables(variables={"amount": 10}, actor="ann"),
        commands.PlanItem(item="No such item", actor="ann"),
        ACCEPTED,
    ))
    with pytest.raises(CommandRejected, match=r"part 3 of 4 \(PlanItem\) was rejected, so none was done: .*No such"):
        execute(definition, state, bad, NOW)
    assert state.to_dict() == before
    # The acceptance last and refused: the action before it is undone too.
    with pytest.raises(CommandRejected, match=r"part 2 of 2 \(RecordFeedback\)"):
        execute(definition, state, commands.Together(commands=(
            commands.PlanItem(item="Site visit", actor="ann"),
            commands.RecordFeedback(suggestion={}, accepted=True, actor="ann"))), NOW)
    assert state.to_dict() == before
    # And the state still takes the parts afterwards (nothing half-restored is left behind).
    execute(definition, state, commands.Together(commands=(commands.PlanItem(item="Site visit", actor="ann"),
                                                           ACCEPTED)), NOW)
    assert "Site visit" in {i.name for i in state.items.values()}


def test_what_cannot_be_together_is_refused_up_front() -> None:
    definition, state, _ = _planned_review()
    before = copy.deepcopy(state.to_dict())
    for parts, message in (
        ((), "non-empty list"),
        (ACCEPTED, "non-empty list of commands"),  # a command given without its list
        ((commands.StartCase(actor="ann"),), "StartCase cannot be part of Together"),
        ((commands.Together(commands=(ACCEPTED,)),), "Together cannot be part of Together"),
        ((commands.Migrate(definition=definition, actor="ann"),), "Migrate cannot be part of Together"),
        (("SetVariables",), "must be commands, not str"),
        ((ACCEPTED,) * 1_001, "Together has 1,001 parts; at most 1,000 are allowed"),  # as any list a command holds
    ):
        with pytest.raises(CommandRejected, match=message):
            execute(definition, state, commands.Together(commands=parts), NOW)  # type: ignore[arg-type]
    assert state.to_dict() == before
    # The bound itself is allowed.
    due = commands.SetDue(item=None, due="P1D", actor="ann")
    events = execute(definition, state, commands.Together(commands=(due,) * 1_000), NOW)
    assert [e.type for e in events] == ["set_due"] * 1_000


def test_each_part_is_checked_against_the_case_as_the_parts_before_left_it() -> None:
    definition, state, _ = _planned_review()
    execute(definition, state, commands.SuspendCase(actor="ann"), NOW)
    # Resumed by the first part, the case takes the second.
    events = execute(definition, state, commands.Together(commands=(commands.ResumeCase(actor="ann"), ACCEPTED)),
                     NOW)
    assert events[-1].type == "suggestion_accepted" and state.status == "active"
    # `decide` answers for the whole without touching the state (another suggestion: this one is answered).
    before = copy.deepcopy(state.to_dict())
    audit = dataclasses.replace(ACCEPTED, suggestion={"activity": "Audit"})
    decided = decide(definition, state, commands.Together(commands=(commands.PlanItem(item="Audit", actor="ann"),
                                                                    audit)), NOW)
    assert decided[-1].type == "suggestion_accepted" and state.to_dict() == before
