"""`projection.advance` (the views a command leaves, from the instances its events touched) against the views of the
whole case: random command sequences, checked after every command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from helpers_service import TIMER_MODEL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.engine import CaseState, CommandRejected, Event, commands, execute, plan_for
from casework.model import CaseDefinition, load_definition
from casework.service import projection as proj

MODELS_DIR = Path(__file__).resolve().parents[1] / "conformance" / "models"
MODELS: dict[str, CaseDefinition] = {p.name: load_definition(p.read_bytes()) for p in sorted(MODELS_DIR.glob("*.cmmn"))}
MODELS["timed"] = load_definition(TIMER_MODEL)
# Offered work in a stage that can be held, repeated and left: candidates, an assignee, timers, an event listener.
MODELS["offers"] = load_definition("""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn"
             targetNamespace="urn:test">
  <case id="offers" name="Offers">
    <casePlanModel id="plan" name="Offers" autoComplete="false">
      <planItem id="piStage" name="Triage" definitionRef="stage"/>
      <planItem id="piTimer" name="Reminder" definitionRef="timer"/>
      <planItem id="piLate" name="Chase up" definitionRef="late">
        <entryCriterion id="ecLate" sentryRef="sTimer"/>
      </planItem>
      <sentry id="sTimer">
        <planItemOnPart id="onTimer" sourceRef="piTimer"><standardEvent>occur</standardEvent></planItemOnPart>
      </sentry>
      <stage id="stage" name="Triage" autoComplete="true">
        <planItem id="piSort" name="Sort" definitionRef="sort"/>
        <planItem id="piCheck" name="Check" definitionRef="check">
          <itemControl><repetitionRule/><manualActivationRule/></itemControl>
        </planItem>
        <planItem id="piStop" name="Stop" definitionRef="stop"/>
        <exitCriterion id="xStage" sentryRef="sStop"/>
        <sentry id="sStop">
          <planItemOnPart id="onStop" sourceRef="piStop"><standardEvent>occur</standardEvent></planItemOnPart>
        </sentry>
        <humanTask id="sort" name="Sort" flowable:candidateGroups="clerks, seniors" flowable:candidateUsers="dan"/>
        <humanTask id="check" name="Check" flowable:assignee="erin" flowable:candidateUsers="bob, dan"/>
        <userEventListener id="stop" name="Stop"/>
      </stage>
      <humanTask id="late" name="Chase up" flowable:candidateGroups="clerks"/>
      <timerEventListener id="timer" name="Reminder"><timerExpression>PT2H</timerExpression></timerEventListener>
    </casePlanModel>
  </case>
</definitions>
""")
# Where a case of the first may migrate to (a migration has the views computed whole).
MIGRATIONS = {"permit_review.cmmn": "permit_review_v2.cmmn", "permit_review_v2.cmmn": "permit_review_v3_no_intake.cmmn"}
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
USERS = ["ann", "bob", "dan", "erin"]
GROUPS = ["clerks", "seniors", "fraud"]
VARIABLES = ["amount", "needsEnvironment", "myVar", "variable", "stopRepeat", "value", "required"]
ACTIONS = [
    "complete", "start", "disable", "enable", "terminate", "occur", "suspend", "resume", "skip", "remove",
    "reassign", "due", "case_due", "add_task", "add_stage", "add_milestone", "add_dependency", "plan", "set_var",
    "advance", "participant", "unparticipant", "feedback", "document", "complete_stage", "complete_case",
    "suspend_case", "resume_case", "together", "migrate",
]
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1000), st.integers(0, 1000),
                 st.sampled_from([True, False, 0, 5, 150, 20000, "true", None]))


def _pick(ids: list[str], n: int) -> str | None:
    return ids[n % len(ids)] if ids else None


def _command(state: CaseState, definition: CaseDefinition, model: str, action: str, a: int, b: int,
             value: object) -> commands.Command | None:
    items = [i for i in state.items.values() if i.id != state.root]

    def where(*states: str) -> str | None:
        return _pick([i.id for i in items if i.state in states], a)

    names = sorted({i.name for i in items} | {d.name for d in plan_for(definition, state).items.values()})
    actor = USERS[a % len(USERS)]
    item: str | None
    if action in ("complete", "start", "disable", "enable", "terminate", "suspend", "resume", "skip", "remove"):
        kind, states = {
            "complete": (commands.CompleteItem, ("active",)),
            "start": (commands.StartItem, ("enabled",)),
            "disable": (commands.DisableItem, ("enabled",)),
            "enable": (commands.EnableItem, ("disabled",)),
            "terminate": (commands.TerminateItem, ("active", "available", "enabled")),
            "suspend": (commands.SuspendItem, ("active",)),
            "resume": (commands.ResumeItem, ("suspended",)),
            "skip": (commands.SkipItem, ("active", "available", "enabled", "disabled")),
            "remove": (commands.RemoveItem, ("available", "enabled", "disabled", "active")),
        }[action]
        item = where(*states)
        return item and kind(item=item, actor=actor)
    if action == "occur":
        item = _pick([i.id for i in items if i.kind == "userEventListener" and i.state == "available"], a)
        return item and commands.OccurEvent(item=item, actor=actor)
    if action == "reassign":
        item = where("active", "enabled", "available")
        return item and commands.Reassign(item=item, to=USERS[b % len(USERS)], actor=actor)
    if action == "due":
        item = where("active", "available", "enabled")
        return item and commands.SetDue(item=item, due=f"PT{b % 7 + 1}H", actor=actor)
    if action == "case_due":
        return commands.SetDue(item=None, due=f"P{b % 5 + 1}D", actor=actor)
    if action in ("add_task", "add_stage", "add_milestone"):
        kind_name = {"add_task": "humanTask", "add_stage": "stage", "add_milestone": "milestone"}[action]
        task = kind_name == "humanTask"
        return commands.AddItem(
            kind=kind_name, name=f"Extra {a % 7}", after=(names[b % len(names)],) if names and b % 2 else (),
            manual=b % 3 == 0, actor=actor,
            assignee=USERS[b % 4] if task and b % 5 == 0 else None,
            candidate_groups=tuple(GROUPS[: b % 3]) if task else (),
            candidate_users=tuple(USERS[a % 2: a % 2 + b % 3]) if task else (),
            due=f"PT{a % 3 + 1}H" if task and a % 2 else None,
        )
    if action == "add_dependency":
        return (names and commands.AddDependency(item=names[a % len(names)], after=(names[b % len(names)],),
                                                actor=actor)) or None
    if action == "plan":
        return commands.PlanItem(item=_pick(names, a) or "none", actor=actor)
    if action == "set_var":
        return commands.SetVariables(variables={VARIABLES[a % len(VARIABLES)]: value}, actor=actor)
    if action == "advance":
        return commands.FireDueTimers(actor=actor)
    if action == "participant":
        return commands.AddParticipant(user=actor, role=["SIU investigator", "specialist"][b % 2], actor="ann")
    if action == "unparticipant":
        return commands.RemoveParticipant(user=actor, role=None if b % 2 else "specialist", actor="ann")
    if action == "feedback":
        return commands.RecordFeedback(suggestion={"activity": "x"}, accepted=bool(b % 2), actor=actor)
    if action == "document":
        return commands.AttachDocument(name=f"doc{b % 2}", sha256="0" * 64, size=1, media_type="text/plain",
                                       document_id=f"d{a}", actor=actor)
    if action == "complete_stage":
        item = _pick([i.id for i in items if i.kind == "stage" and i.state == "active"], a)
        return item and commands.CompleteStage(item=item, force=bool(b % 2), actor=actor)
    if action == "complete_case":
        return commands.CompleteCase(force=bool(b % 2), actor=actor)
    if action == "suspend_case":
        return commands.SuspendCase(actor=actor)
    if action == "resume_case":
        return commands.ResumeCase(actor=actor)
    if action == "together":
        parts = [_command(state, definition, model, act, a + n, b + n, value)
                 for n, act in enumerate(("reassign", "due", "add_task", "complete"))]
        found = [p for p in parts if p is not None and not isinstance(p, commands.Together)]
        return commands.Together(commands=tuple(found), actor=actor) if found else None
    if action == "migrate":
        target = MIGRATIONS.get(model)
        return (target and commands.Migrate(definition=MODELS[target], actor="admin")) or None
    raise AssertionError(action)


def _rows(c: proj.Changes) -> dict[str, Any]:
    return vars(c)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(sorted(MODELS)), steps=st.lists(step, max_size=30))
def test_advance_gives_the_rows_of_the_whole_case(model: str, steps: list[tuple[str, int, int, object]]) -> None:
    _check(model, steps)


def test_advance_after_a_migration() -> None:
    steps: list[tuple[str, int, int, object]] = [
        ("reassign", 0, 1, None), ("due", 0, 2, None), ("add_task", 1, 1, None), ("migrate", 0, 0, None),
        ("reassign", 1, 2, None), ("due", 1, 3, None), ("add_task", 3, 4, None), ("complete", 0, 0, None),
    ]
    assert _check("permit_review.cmmn", steps) == ["Migrate"]


def _check(model: str, steps: list[tuple[str, int, int, object]]) -> list[str]:
    """Runs the steps on a new case of `model`, checking `advance` after each accepted one; returns the names of the
    commands it left to the whole computation."""
    whole: list[str] = []
    definition = MODELS[model]
    state = CaseState.create("c1", definition)
    now = START
    execute(definition, state, commands.StartCase(variables={"amount": 500}, actor="ann"), now)
    kept = proj.views(state, definition)  # what the service keeps with the case, advanced command by command
    for action, a, b, value in steps:
        now += dt.timedelta(minutes=37 * (1 + a % 5))
        command = _command(state, definition, model, action, a, b, value)
        if command is None:
            continue
        whole_before = proj.views(state, definition)
        try:
            events = execute(definition, state, command, now)
        except CommandRejected:
            continue
        if not events:
            continue
        target = command.definition if isinstance(command, commands.Migrate) else definition
        whole_after = proj.views(state, target)
        expected = proj.changes("c1", whole_before, whole_after, now)
        advanced = None if target is not definition else proj.advance("c1", kept, state, definition, events, now)
        if advanced is None:
            # Only a migration needs the whole case (or a plan item redefined, which these commands cannot do).
            assert isinstance(command, commands.Migrate), [e.type for e in events]
            whole.append(type(command).__name__)
            kept, got = whole_after, proj.changes("c1", kept, whole_after, now)
        else:
            kept, got = advanced
        assert _rows(got) == _rows(expected), command
        assert kept == whole_after, command
        definition = target
    return whole


def test_advance_takes_the_whole_case_for_what_it_cannot_follow() -> None:
    definition = MODELS["timed"]
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), START)
    views = proj.views(state, definition)
    for event in (
        Event("migrate", "t", "admin", None, {"definition": "claim"}),
        Event("something_new", "t", "admin", None, {}),
        Event("add_dependency", "t", "admin", None, {"item": "x", "overlay": {"op": "something_new"}}),
    ):
        assert proj.advance("c1", views, state, definition, [event], NOW) is None, event.type
    # An added plan item with the id of one the case has instances of: those instances may show other candidates.
    redefined = {"op": "add_item", "def": {"id": "piWork"}}
    added = Event("add_task", "t", "ann", None, {"item": "piWork", "overlay": redefined})
    assert proj.advance("c1", views, state, definition, [added], NOW) is None
