from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from insight_synth import timing_log, write_log

from casework.engine import CaseState, commands, execute
from casework.engine.events import Event
from casework.insight.advisor import PathProbability, RemainingSeconds, next_best_actions
from casework.insight.eventlog import read_log
from casework.insight.flags import case_performers, unusual_path
from casework.insight.nba import NBAParams, NextActionModel, train_next_action
from casework.insight.remaining import RemainingParams, train_remaining_time
from casework.model import load_definition

NOW = dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC)
MODEL = """<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="claim">
<casePlanModel id="plan">
  <planItem id="pReg" name="Register claim" definitionRef="reg"/>
  <planItem id="pAss" name="Assess damage" definitionRef="ass"><entryCriterion id="e1" sentryRef="s1"/></planItem>
  <planItem id="pApp" name="Approve" definitionRef="app">
    <itemControl><manualActivationRule/></itemControl><entryCriterion id="e2" sentryRef="s2"/></planItem>
  <sentry id="s1"><planItemOnPart id="o1" sourceRef="pReg"><standardEvent>complete</standardEvent>
    </planItemOnPart></sentry>
  <sentry id="s2"><planItemOnPart id="o2" sourceRef="pAss"><standardEvent>complete</standardEvent>
    </planItemOnPart></sentry>
  <planningTable id="t"><discretionaryItem id="dDocs" name="Request documents" definitionRef="docs"/></planningTable>
  <humanTask id="reg" name="Register claim"/><humanTask id="ass" name="Assess damage"/>
  <humanTask id="app" name="Approve"/><humanTask id="docs" name="Request documents"/>
</casePlanModel></case></definitions>"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[NextActionModel, object]:
    path = write_log(tmp_path_factory.mktemp("log") / "claims.csv.gz", timing_log(400))
    cases = read_log(Path(path))
    nba = train_next_action(cases, NBAParams(), version="nba-test")
    remaining = train_remaining_time(cases, RemainingParams())
    return nba, remaining


def _case_after_assessment(minutes: int) -> tuple[object, CaseState]:
    definition, state, _ = _case_with_events(minutes, "ann")
    return definition, state


def _case_with_events(minutes: int, actor: str) -> tuple[object, CaseState, list[Event]]:
    definition = load_definition(MODEL)
    state = CaseState.create("c1", definition)
    events = execute(definition, state, commands.StartCase(actor=actor), NOW)
    events += execute(definition, state, commands.CompleteItem(item="Register claim", actor=actor), NOW)
    later = NOW + dt.timedelta(minutes=minutes)
    events += execute(definition, state, commands.CompleteItem(item="Assess damage", actor=actor), later)
    return definition, state, events


def test_suggestions_are_mapped_onto_what_the_case_can_do(trained: tuple[NextActionModel, object]) -> None:
    nba, _ = trained
    definition, state, events = _case_with_events(20, "ann")
    # every step, however unlikely, to see each mapped (ann's cases were approved: the rest fall below 1%)
    actions = next_best_actions(nba, definition, state, k=3, events=events, min_probability=0.0)  # type: ignore[arg-type]
    by_activity = {a.activity: a for a in actions}
    assert set(by_activity) >= {"Approve", "Request documents"}
    approve, docs = by_activity["Approve"], by_activity["Request documents"]
    assert approve.action.kind == "start" and approve.action.item is not None  # enabled: start it
    assert docs.action.kind == "plan"  # a discretionary item that can be planned now
    assert approve.reason.startswith("after ") and "Assess damage handled by ann" in approve.reason
    assert "%" in approve.reason
    assert {a.model_version for a in actions} == {"nba-test"}
    assert sum(a.probability for a in actions) <= 1.0 + 1e-9
    if "Pay" in by_activity:
        assert by_activity["Pay"].action.kind == "add_task"


def test_the_live_path_passes_who_performed_each_step(trained: tuple[NextActionModel, object]) -> None:
    # in the training log ann's cases were approved and bob's went on to Request documents, whatever the timing
    nba, _ = trained
    assert nba.choices["noeoc"].resource > 0
    for actor, expected in (("ann", "Approve"), ("bob", "Request documents")):
        definition, state, events = _case_with_events(20, actor)
        assert case_performers(state, events) == [actor, actor]
        best = next_best_actions(nba, definition, state, k=1, events=events)[0]  # type: ignore[arg-type]
        assert best.activity == expected and best.probability > 0.9
        assert f"Assess damage handled by {actor}, 100% of " in best.reason
    # without the history the model cannot tell: the two stay close
    definition, state = _case_after_assessment(20)
    blind = {a.activity: a.probability for a in next_best_actions(nba, definition, state, k=2)}  # type: ignore[arg-type]
    assert abs(blind["Approve"] - blind["Request documents"]) < 0.2


def test_following_and_dismissing_a_suggestion_is_audited(trained: tuple[NextActionModel, object]) -> None:
    nba, _ = trained
    definition, state = _case_after_assessment(20)
    docs = next(a for a in next_best_actions(nba, definition, state, k=3) if a.activity == "Request documents")  # type: ignore[arg-type]
    command = docs.command(actor="ann")
    assert isinstance(command, commands.PlanItem)
    events = execute(definition, state, command, NOW)  # type: ignore[arg-type]
    assert events[0].type == "plan" and events[0].reason is not None and events[0].reason.startswith("suggested:")
    approve = next(a for a in next_best_actions(nba, definition, state, k=3) if a.activity == "Approve")  # type: ignore[arg-type]
    recorded = execute(definition, state, approve.feedback(accepted=False, actor="ann", reason="not yet"), NOW)  # type: ignore[arg-type]
    assert [(e.type, e.payload["model_version"], e.payload["suggestion"]["activity"]) for e in recorded] == [
        ("suggestion_dismissed", "nba-test", "Approve")
    ]


def test_adapters_feed_the_flags(trained: tuple[NextActionModel, object]) -> None:
    nba, remaining = trained
    path = PathProbability(nba)
    assert path.probability(["Register claim"], "Assess damage") > 0.9
    assert path.probability(["Register claim"], "Pay") < 0.05
    assert path.probability(["Register claim"], "Never seen") == 0.0
    seconds = RemainingSeconds(remaining)  # type: ignore[arg-type]
    assert seconds.predict_remaining_seconds([], []) == 0.0
    assert seconds.predict_remaining_seconds(["Register claim"], [0.0]) > 3600
    _, state = _case_after_assessment(20)
    assert unusual_path(state, path) is None
    assert path.version == nba.version == "nba-test"  # the flags it raises name it


def test_steps_below_the_probability_floor_are_not_offered(trained: tuple[NextActionModel, object]) -> None:
    nba, _ = trained
    definition, state, events = _case_with_events(20, "ann")  # ann's cases were approved: one step is near-certain
    offered = next_best_actions(nba, definition, state, k=5, events=events)  # type: ignore[arg-type]
    everything = next_best_actions(nba, definition, state, k=5, events=events, min_probability=0.0)  # type: ignore[arg-type]
    assert offered and all(a.probability >= 0.01 for a in offered)
    assert [a.activity for a in offered] == [a.activity for a in everything][: len(offered)]
    assert len(everything) > len(offered)  # the unlikely rest is still there for whoever asks for it


def test_an_enabled_item_held_back_by_an_added_dependency_is_a_wait(trained: tuple[NextActionModel, object]) -> None:
    nba, _ = trained
    definition, state, events = _case_with_events(20, "ann")
    events += execute(definition, state, commands.PlanItem(item="Request documents", actor="ann"), NOW)  # type: ignore[arg-type]
    events += execute(definition, state, commands.AddDependency(  # type: ignore[arg-type]
        item="Approve", after=("Request documents",), actor="ann", reason="documents first"), NOW)
    approve = next(a for a in next_best_actions(nba, definition, state, k=3, events=events, min_probability=0.0)  # type: ignore[arg-type]
                   if a.activity == "Approve")
    # The engine refuses to start it until Request documents completes: not "start: Approve".
    assert approve.action.kind == "wait" and approve.action.item is not None
    assert "waits for Request documents to complete" in approve.action.blocked
    with pytest.raises(ValueError, match="'Approve' cannot be done now"):
        approve.accept(actor="ann")
    # Dismissing it is an answer all the same.
    assert approve.feedback(accepted=False, actor="ann", reason="not yet").suggestion["action"]["kind"] == "wait"
