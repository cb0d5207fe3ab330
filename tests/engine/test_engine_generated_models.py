"""Property tests on generated CMMN models (model_strategies.py): random command sequences keep the engine's
invariants on models nobody wrote by hand.

CI runs a modest number of examples (about 6 s); hunting for defects, run more, on larger models:
GENERATED_MODELS_EXAMPLES=20000 GENERATED_MODELS_ITEMS=14 (plan items per model, 10 by default).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from dataclasses import replace

from helpers_engine import plan_is_rebuilt_plan, repeats_stuck_on_spent_dependencies
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from model_strategies import ROLE_NAME, VARIABLES, cmmn_models
from test_engine_properties import (
    ADAPTIVE_ACTIONS,
    _adaptive_command,
    _check_nesting,
    _check_settled,
    _check_timers_armed,
    _check_transitions,
    _command,
)

from casework.engine import (
    CaseState,
    CommandRejected,
    Event,
    ItemInstance,
    commands,
    execute,
    explain,
    plan_for,
    plannable,
    replay,
)
from casework.expr.errors import EvaluationError
from casework.model import CaseDefinition, load_definition, to_xml
from casework.model.definition import TIMER_START, Criterion, PlanItemDef, Rule
from casework.model.timers import parse_datetime

EXAMPLES = int(os.environ.get("GENERATED_MODELS_EXAMPLES", "300"))
MAX_ITEMS = int(os.environ.get("GENERATED_MODELS_ITEMS", "10"))
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# A command's own events stay far below the engine's runaway bound (10,000) on models of a dozen items; a command
# that comes near it is a loop the bound merely caught.
MODEST = 300
VALUES = st.sampled_from([True, False, 0, 5, 150, 20000, "true", None, {"line": 1}, "2026-02-01T00:00:00Z"])
ALL_ACTIONS = ["complete", "start_manual", "disable", "enable", "terminate", "occur", "set_var", "advance", "add_task",
               "add_stage", "add_milestone", "add_dependency", "skip", "remove", "reassign", "participant", "due",
               "plan", "complete_stage", "complete_case", "suspend", "resume", "suspend_case", "resume_case",
               "attach"]
# The property test's actions (test_engine_properties._command), with those that move a case on (completing,
# starting, events, data, time) drawn more often: most random commands are refused, and a case must get somewhere.
ACTIONS = [*ALL_ACTIONS, *["complete", "start_manual", "occur", "set_file", "advance"] * 3, "delete_var", "occur_any",
           "migrate", "together", "adaptive", "adaptive", "plan_now", "plan_now", "specialist"]
generated_step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1000), st.integers(0, 1000), VALUES)


def _generated_command(
    state: CaseState, models: tuple[CaseDefinition, ...], definition: CaseDefinition, action: str, a: int, b: int,
    value: object,
):
    actor = ["ann", "bob", "sam"][a % 3]
    if action == "together":  # two commands as one: both land, or neither
        parts = [_generated_command(state, models, definition, ALL_ACTIONS[x % len(ALL_ACTIONS)], x, y, value)
                 for x, y in ((a, b), (b, a))]
        chosen = tuple(p for p in parts if p)
        return commands.Together(commands=chosen, actor=actor) if chosen else None
    if action == "plan_now":  # a discretionary item that can be planned now, by anyone (roles are checked then)
        names = plannable(definition, state)
        return names and commands.PlanItem(item=names[a % len(names)], actor=actor)
    if action == "specialist":  # who may plan the items and raise the listeners the models keep to a role
        return commands.AddParticipant(user=actor, role=ROLE_NAME, actor="ann")
    if action == "adaptive":  # the plan changes of the adaptive property test: added stages, repeats, dependencies
        return _adaptive_command(state, definition, ADAPTIVE_ACTIONS[a % len(ADAPTIVE_ACTIONS)], a, b)
    if action == "migrate":  # to another generated model (most are refused: what started must map) or back
        return commands.Migrate(definition=models[a % len(models)], actor=actor, reason="new version")
    if action in ("set_var", "set_file"):
        return commands.SetVariables(variables={VARIABLES[(a + b) % len(VARIABLES)]: value}, actor=actor)
    if action == "delete_var":
        return commands.SetVariables(variables={}, remove=(VARIABLES[a % len(VARIABLES)],), actor=actor)
    if action == "occur_any":  # also one waiting on hold, or already ended: the engine must refuse, not break
        listeners = [i.id for i in state.items.values() if i.kind == "userEventListener"]
        return listeners and commands.OccurEvent(item=listeners[a % len(listeners)], actor=actor)
    return _command(state, definition, action, a, b, value)


def _run(
    models: tuple[CaseDefinition, ...], start_vars: dict[str, object], steps: list
) -> tuple[CaseDefinition, CaseState, list[Event]]:
    """Run the steps on a case of the first model, checking each command; returns the definition the case ended on
    (it may have migrated to another), its final state and the whole log."""
    definition = models[0]
    state = CaseState.create("g1", definition)
    now = START
    try:
        log = execute(definition, state, commands.StartCase(variables=start_vars, actor="ann"), now)
    except CommandRejected as exc:
        # A child case file item without its parent, or a repetition rule that always holds on a task that
        # completes as it starts (docs/semantics.md, Repetition): refused, and the case is as it was.
        assert state.status == "new" and not state.items, f"a refused start changed the case: {exc}"
        event_note("start refused")
        return definition, state, []
    assert len(log) < MODEST, f"starting the case made {len(log)} changes"
    for action, a, b, value in steps:
        now += dt.timedelta(minutes=37 * (1 + a % 5))
        command = _generated_command(state, models, definition, action, a, b, value)
        if not command:
            continue
        before = copy.deepcopy(state.to_dict())  # to_dict shares the state's lists and dicts
        ended = state.ended
        scheduled = dict(state.timers)
        try:
            events = execute(definition, state, command, now)
        except CommandRejected as exc:
            assert state.to_dict() == before, f"a rejected {type(command).__name__} changed the case"
            event_note("runaway refused" if "changes to the case" in str(exc) else "rejected")
            continue
        assert not ended, f"the case had ended ({state.status}), and {command} changed it"
        assert len(events) < MODEST, f"{command} made {len(events)} changes"
        if isinstance(command, commands.Migrate):
            definition = command.definition
        for event in events:
            parts = command.commands if isinstance(command, commands.Together) else (command,)
            assert event.actor in {p.actor for p in parts}
        log.extend(events)
        event_note(f"accepted {type(command).__name__}")
        _check_nesting(state)
        _check_settled(definition, state)
        _check_sentries_settled(definition, state, command)
        _check_timers_armed(definition, state, command)
        assert repeats_stuck_on_spent_dependencies(definition, state) == [], f"after {command}"
        for item_id, due in state.timers.items():
            assert state.items[item_id].state in ("available", "suspended"), "a timer is due for an ended item"
            # What was due fired, unless it is on hold. A timer scheduled by the command itself may be due too (the
            # next firing of a cycle that fired late, a date already past when its start trigger happened): it fires
            # at the next FireDueTimers, so that one command fires each timer once and a long gap cannot run away.
            if isinstance(command, commands.FireDueTimers) and scheduled.get(item_id) == due:
                assert state.items[item_id].state == "suspended" or parse_datetime(due) > now, f"{item_id} did not fire"
        plan_is_rebuilt_plan(definition, state)
        if state.ended:
            assert all(not i.open and i.state != "active" for i in state.items.values()), "open items in an ended case"
    return definition, state, log


def _named(definition: CaseDefinition) -> CaseDefinition:
    """The definition with the ids of its on-parts and rules left out: where the model gives none, the export names
    them (which changes nothing: the engine knows an on-part by its place in its sentry)."""
    def criteria(found: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        return tuple(replace(c, sentry=replace(c.sentry, on_parts=tuple(replace(p, id="") for p in c.sentry.on_parts)))
                     for c in found)

    def rule(found: Rule | None) -> Rule | None:
        return None if found is None else replace(found, id="")

    items = {
        key: replace(item, entry=criteria(item.entry), exit=criteria(item.exit), manual=rule(item.manual),
                     required=rule(item.required), repetition=rule(item.repetition),
                     timer_start=None if item.timer_start is None else replace(item.timer_start, id=""))
        for key, item in definition.items.items()
    }
    return replace(definition, items=items)


def _check_sentries_settled(definition: CaseDefinition, state: CaseState, command: object) -> None:
    """A command leaves no criterion that holds untaken (`_untaken`): the item has started or exited. Nor an item
    without entry criteria waiting in a running stage: it starts (or occurs) when its stage starts."""
    if state.status != "active":
        return
    plan = plan_for(definition, state)
    for item in state.items.values():
        owner = plan.items.get(item.def_id)
        parent = state.items.get(item.parent) if item.parent else None
        if item.id == state.root:  # the case plan model: its exit criteria apply while it is active
            if item.state == "active":
                _untaken(state, owner, item, [(c, True) for c in owner.exit], command)
            continue
        if owner is None or parent is None or parent.state != "active" or not item.open:
            continue
        if item.state == "available" and not owner.entry and owner.kind not in ("userEventListener",
                                                                                  "timerEventListener"):
            raise AssertionError(f"{item.name} #{item.index} waits, though nothing holds it back, after {command}")
        checks = [(c, True) for c in owner.exit] if item.state != "available" else [
            *((c, False) for c in owner.entry if not c.id.endswith(TIMER_START)), *((c, True) for c in owner.exit)]
        _untaken(state, owner, item, checks, command)


def _untaken(
    state: CaseState, owner: PlanItemDef, item: ItemInstance, checks: list[tuple[Criterion, bool]], command: object
) -> None:
    """Fails when one of ``checks`` (criterion, whether an exit criterion) holds: every on-part heard, the if-part true
    with the case's data now. Not for an if-part alone on a repeating item's next instance, which does not see the
    firing that created it (docs/semantics.md, Repetition)."""
    for criterion, is_exit in checks:
        sentry = criterion.sentry
        if not is_exit and not sentry.on_parts and owner.repetition is not None:
            continue
        if len(item.memory.get(criterion.id, [])) < len(sentry.on_parts):
            continue
        if sentry.if_part is not None:
            try:
                holds = sentry.if_part.evaluate_bool(state.variables, {owner.counter_variable: item.index})
            except EvaluationError:
                continue
            if not holds:
                continue
        raise AssertionError(f"{item.name} #{item.index} is {item.state} though its "
                             f"{'exit' if is_exit else 'entry'} criterion {criterion.id} holds, after {command}")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    xml=cmmn_models(max_items=MAX_ITEMS),
    other=cmmn_models(max_items=MAX_ITEMS),
    start_vars=st.dictionaries(st.sampled_from(VARIABLES), VALUES),
    steps=st.lists(generated_step, min_size=5, max_size=30),
)
def test_generated_models_keep_the_engines_invariants(
    xml: str, other: str, start_vars: dict[str, object], steps: list
) -> None:
    definition = load_definition(xml)  # valid by construction: a refusal is a defect of the generator or importer
    exported = load_definition(to_xml(definition))
    assert _named(exported) == _named(definition), "export and import changed the definition"
    event_note(f"{len(definition.items)} plan items")
    models = (definition, load_definition(other))
    definition, state, log = _run(models, start_vars, steps)
    _check_transitions(log, state)
    if log:  # what a worker asks of the case answers for every item, whatever the model
        assert explain(definition, state)
        for instance in list(state.items.values()):
            explain(definition, state, instance.id)
        plannable(definition, state)
    assert replay(definition, "g1", log).to_dict() == state.to_dict()
    # As the store keeps them: events and snapshot through JSON.
    stored = [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in log]
    assert replay(definition, "g1", stored).to_dict() == state.to_dict()
    snapshot = json.loads(json.dumps(state.to_dict()))
    assert CaseState.from_dict(snapshot).to_dict() == state.to_dict()
    # Deterministic: the same commands at the same times on a fresh case give the same events.
    _, _, again = _run((load_definition(xml), load_definition(other)), start_vars, steps)
    assert json.dumps([e.to_dict() for e in again], default=str) == json.dumps([e.to_dict() for e in log], default=str)
    event_note(f"case {state.status}")
