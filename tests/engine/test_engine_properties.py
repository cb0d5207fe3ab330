"""Property tests: random interleavings of lifecycle and adaptive commands keep the engine's invariants."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers_engine import plan_is_rebuilt_plan, repeats_stuck_on_spent_dependencies
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st

from casework.engine import CaseState, CommandRejected, Event, commands, execute, plan_for, replay
from casework.engine.lifecycle import PREVIOUS, table_for
from casework.engine.runner import Run
from casework.engine.state import ItemInstance
from casework.model import CaseDefinition, load_definition
from casework.model.validation import find_entry_cycle
from casework.paths import shared_dir

OWN_MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# The audit event each adaptive command must write first (an added item's event depends on its kind).
AUDIT_TYPE: dict[type, str] = {
    commands.AddDependency: "add_dependency",
    commands.SkipItem: "skip",
    commands.RemoveItem: "remove",
    commands.Reassign: "reassign",
    commands.AddParticipant: "add_participant",
    commands.SetDue: "set_due",
    commands.PlanItem: "plan",
}
ADD_TYPE = {"humanTask": "add_task", "stage": "add_stage", "milestone": "add_milestone"}


def _models() -> list[Path]:
    paths = sorted(OWN_MODELS.glob("*.cmmn"))
    shared = shared_dir()
    if shared is not None:
        paths += sorted((shared / "cmmn" / "models").glob("*/*.cmmn"))
    return paths


MODELS: dict[str, CaseDefinition] = {}
for _path in _models():
    MODELS[_path.name] = load_definition(_path.read_bytes())
MODEL_NAMES = sorted(MODELS)
VARIABLES = ["amount", "needsEnvironment", "myVar", "variable", "stopRepeat", "whileTrue", "value", "required"]

# One step: an action name and a few random numbers that choose its target and arguments.
step = st.tuples(
    st.sampled_from(
        [
            "complete",
            "start_manual",
            "disable",
            "enable",
            "terminate",
            "occur",
            "set_var",
            "advance",
            "add_task",
            "add_stage",
            "add_milestone",
            "add_dependency",
            "skip",
            "remove",
            "reassign",
            "participant",
            "due",
            "plan",
            "complete_stage",
            "complete_case",
            "suspend",
            "resume",
            "suspend_case",
            "resume_case",
            "dismiss",
            "accept",
            "attach",
        ]
    ),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.sampled_from([True, False, 0, 5, 150, 20000, "true", None]),
)


def _pick(items: list[str], n: int) -> str | None:
    return items[n % len(items)] if items else None


def _command(state: CaseState, definition: CaseDefinition, action: str, a: int, b: int, value: object):
    items = [i for i in state.items.values() if i.id != state.root]
    by_state = lambda *states: [i.id for i in items if i.state in states]  # noqa: E731
    names = sorted({i.name for i in items}) + sorted({d.name for d in plan_for(definition, state).items.values()})
    actor = ["ann", "bob", "sam"][a % 3]
    if action == "complete":
        target = _pick(by_state("active"), a)
        return target and commands.CompleteItem(item=target, actor=actor)
    if action == "start_manual":
        target = _pick(by_state("enabled"), a)
        return target and commands.StartItem(item=target, actor=actor)
    if action == "disable":
        target = _pick(by_state("enabled"), a)
        return target and commands.DisableItem(item=target, actor=actor)
    if action == "enable":
        target = _pick(by_state("disabled"), a)
        return target and commands.EnableItem(item=target, actor=actor)
    if action == "terminate":
        target = _pick(by_state("active", "available", "enabled"), a)
        return target and commands.TerminateItem(item=target, actor=actor)
    if action == "occur":
        target = _pick([i.id for i in items if i.kind == "userEventListener" and i.state == "available"], a)
        return target and commands.OccurEvent(item=target, actor=actor)
    if action == "set_var":
        return commands.SetVariables(variables={VARIABLES[a % len(VARIABLES)]: value}, actor=actor)
    if action == "advance":
        return commands.FireDueTimers(actor=actor)
    if action in ("add_task", "add_stage", "add_milestone"):
        kind = {"add_task": "humanTask", "add_stage": "stage", "add_milestone": "milestone"}[action]
        after = (names[b % len(names)],) if names and b % 2 else ()
        return commands.AddItem(
            kind=kind, name=f"Extra {a}", after=after, manual=bool(b % 3 == 0), actor=actor, reason="random"
        )
    if action == "add_dependency":
        if not names:
            return None
        return commands.AddDependency(item=names[a % len(names)], after=(names[b % len(names)],), actor=actor)
    if action == "skip":
        target = _pick(by_state("active", "available", "enabled", "disabled"), a)
        return target and commands.SkipItem(item=target, actor=actor, reason="not needed")
    if action == "remove":
        target = _pick(by_state("available", "enabled", "disabled", "active"), a)
        return target and commands.RemoveItem(item=target, actor=actor)
    if action == "reassign":
        target = _pick(by_state("active", "enabled"), a)
        return target and commands.Reassign(item=target, to=["bob", "carol"][b % 2], actor=actor)
    if action == "participant":
        return commands.AddParticipant(user=actor, role=["SIU investigator", "specialist"][b % 2], actor="ann")
    if action == "due":
        target = _pick(by_state("active", "available"), a)
        return target and commands.SetDue(item=target, due=f"PT{b + 1}H", actor=actor)
    if action == "plan":
        return commands.PlanItem(item=_pick(names, a) or "none", actor=actor)
    if action == "complete_stage":
        target = _pick([i.id for i in items if i.kind == "stage" and i.state == "active"], a)
        return target and commands.CompleteStage(item=target, force=bool(b % 2), actor=actor)
    if action == "complete_case":
        return commands.CompleteCase(force=bool(b % 2), actor=actor)
    if action == "suspend":
        target = _pick(by_state("active"), a)
        return target and commands.SuspendItem(item=target, actor=actor)
    if action == "resume":
        target = _pick(by_state("suspended"), a)
        return target and commands.ResumeItem(item=target, actor=actor)
    if action == "suspend_case":
        return commands.SuspendCase(actor=actor)
    if action == "resume_case":
        return commands.ResumeCase(actor=actor)
    if action in ("dismiss", "accept"):
        # A next action (answered once per step of the case) or a flag (once per severity): repeats are refused.
        suggestion = ({"activity": _pick(names, b) or "Extra"} if a % 2 else
                      {"id": f"flag:{b % 3}", "kind": "flag", "severity": ["info", "warning", "critical"][a % 3]})
        return commands.RecordFeedback(suggestion=suggestion, accepted=action == "accept", model_version="nba-1",
                                       actor=actor, reason="triage")
    if action == "attach":  # a document, or the next version of one: whatever the case's status but ended
        name = ["police_report.pdf", "photo.jpg"][b % 2]
        return commands.AttachDocument(name=name, sha256=f"{a:064x}", size=a, media_type="application/pdf",
                                       document_id=f"d{a}-{b}", actor=actor, reason="arrived")
    raise AssertionError(action)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODEL_NAMES),
    start_vars=st.dictionaries(st.sampled_from(VARIABLES), st.sampled_from([True, False, 5, 150, 20000, "true"])),
    steps=st.lists(step, max_size=25),
)
def test_random_commands_keep_invariants(model: str, start_vars: dict[str, object], steps: list) -> None:
    definition = MODELS[model]
    state = CaseState.create("p1", definition)
    now = START
    log = execute(definition, state, commands.StartCase(variables=start_vars, actor="ann"), now)
    for action, a, b, value in steps:
        if state.ended:
            break
        now += dt.timedelta(minutes=37 * (1 + a % 5))
        command = _command(state, definition, action, a, b, value)
        if not command:
            continue
        before = copy.deepcopy(state.to_dict())  # to_dict shares the state's lists and dicts
        try:
            events = execute(definition, state, command, now)
        except CommandRejected as exc:
            assert state.to_dict() == before, "a rejected command changed the case"
            if isinstance(command, commands.RecordFeedback) and not command.accepted:
                # Whatever the case's status: triage goes on while it is suspended.
                assert "already" in str(exc), f"a dismissal was refused: {exc}"
            # Nor a document: the case is open (the run stops once it has ended), suspended or not.
            assert not isinstance(command, commands.AttachDocument), f"a document was refused: {exc}"
            continue
        if isinstance(command, commands.RecordFeedback):
            _check_only_recorded(command, before, state, events)
        if isinstance(command, commands.AttachDocument):
            _check_only_attached(command, before, state, events)
        if isinstance(command, commands.Migrate):  # pragma: no cover - not generated
            definition = command.definition
        for event in events:
            assert event.actor == command.actor
            assert event.reason == command.reason
        expected = ADD_TYPE[command.kind] if isinstance(command, commands.AddItem) else AUDIT_TYPE.get(type(command))
        if expected is not None:
            assert events and events[0].type == expected, "an adaptive change must be audited first, by its name"
        log.extend(events)
        event_note(f"accepted {type(command).__name__}")
        _check_nesting(state)
        _check_settled(definition, state)
    _check_transitions(log, state)
    plan = plan_for(definition, state)
    assert find_entry_cycle(plan.items) == []
    for item in plan.items.values():
        for criterion in (*item.entry, *item.exit):
            for part in criterion.sentry.on_parts:
                known = plan.items if part.kind == "planItem" else plan.definition.case_file_items
                assert part.source in known, f"{item.name} refers to unknown {part.source}"
    for instance in state.items.values():
        assert instance.def_id in plan.items or instance.state in ("completed", "terminated")
    assert replay(definition, "p1", log).to_dict() == state.to_dict()


def _check_only_recorded(command: commands.RecordFeedback, before: dict[str, object], state: CaseState,
                         events: list[Event]) -> None:
    """A decision on a suggestion is one record and changes nothing but the case's answers, whatever the case's
    status; a suspended case takes a dismissal, never an acceptance (its action would act on the held plan)."""
    assert not (before["status"] == "suspended" and command.accepted), "a suspended case took an acceptance"
    assert [e.type for e in events] == ["suggestion_accepted" if command.accepted else "suggestion_dismissed"]
    after = state.to_dict()
    for kept in (before, after):
        kept.pop("answered", None)
        kept.pop("version")
    assert after == before, "a decision on a suggestion changed the case"
    if before["status"] == "suspended":
        event_note("dismissed on a suspended case")


def _check_only_attached(command: commands.AttachDocument, before: dict[str, object], state: CaseState,
                         events: list[Event]) -> None:
    """A document is one record, the next version of its name, and changes nothing in the plan, whatever the case's
    status: no sentry fires and nothing starts, on hold or not."""
    assert [(e.type, e.payload["name"]) for e in events] == [("document_attached", command.name)]
    held = before.get("documents", {})
    assert isinstance(held, dict)
    assert events[0].payload["version"] == held.get(command.name, 0) + 1
    after = state.to_dict()
    for kept in (before, after):
        kept.pop("documents", None)
        kept.pop("version")
    assert after == before, "a document changed the case's plan"
    if before["status"] == "suspended":
        event_note("attached on a suspended case")


def _check_nesting(state: CaseState) -> None:
    """What a stage's state says about its children: one that has not started has none, an ended one has none open,
    and nothing in a suspended one can be under way or startable."""
    for item in state.items.values():
        if item.parent is None:
            continue
        parent = state.items[item.parent]
        assert not parent.not_started, f"{item.name} is in {parent.name}, which has not started"
        if parent.state in ("completed", "terminated"):
            assert item.state in ("completed", "terminated"), f"{item.name} is {item.state} in an ended stage"
        elif parent.state != "active":
            assert item.state not in ("active", "enabled", "available"), (
                f"{item.name} is {item.state} in a {parent.state} stage"
            )


def _check_settled(definition: CaseDefinition, state: CaseState) -> None:
    """A command leaves no stage running that could complete by itself (nothing holds it any more)."""
    probe = Run(definition, plan_for(definition, state), CaseState.from_dict(state.to_dict()), START, "system", None)
    for item in probe.state.items.values():
        if item.kind in ("stage", "casePlanModel") and item.state == "active":
            held = probe.blocking_children(item, first_only=True) or probe.open_for_planning(item)
            assert held, f"{item.name} could complete but is still active"


def _check_transitions(log: list, state: CaseState) -> None:
    kinds: dict[str, str] = {}
    current: dict[str, str] = {}
    left: dict[str, str] = {}  # the state each suspended item was suspended from
    for event in log:
        if event.type == "item_created":
            kinds[event.payload["id"]] = event.payload["kind"]
            current[event.payload["id"]] = "available"
        elif event.type == "item_transition":
            item_id = event.payload["id"]
            table = table_for(kinds[item_id])
            assert current[item_id] == event.payload["from"]
            target = table[current[item_id]].get(event.payload["transition"])
            if target == PREVIOUS:
                target = left[item_id]
            assert target == event.payload["to"], event.payload
            if target == "suspended" and current[item_id] != "suspended":
                left[item_id] = current[item_id]
            current[item_id] = event.payload["to"]
    assert current == {i.id: i.state for i in state.items.values()}


@pytest.mark.skipif(shared_dir() is None, reason="the shared corpus (../shared) is not beside this checkout")
def test_corpus_models_are_part_of_the_property_run() -> None:
    assert len(MODEL_NAMES) >= 66


# -- adaptive commands with repetition: every command settles ------------------------------------------------------
OWN_MODEL_NAMES = sorted(p.name for p in OWN_MODELS.glob("*.cmmn"))
# A command's own events stay far below the engine's runaway bound (10,000) on these small models; a command that
# comes near it is a loop the bound merely caught.
MODEST = 300


def _run_checked(
    definition: CaseDefinition, state: CaseState, command: commands.Command, now: dt.datetime
) -> list[Event] | None:
    """Run a random command: a rejected one (None) must leave the case as it was and not be a runaway; an accepted
    one makes a modest number of changes."""
    before = copy.deepcopy(state.to_dict())
    try:
        events = execute(definition, state, command, now)
    except CommandRejected as exc:
        assert "changes to the case" not in str(exc), f"{command} ran away: {exc}"
        assert state.to_dict() == before, f"a rejected {type(command).__name__} changed the case"
        plan_is_rebuilt_plan(definition, state)
        event_note(f"rejected {type(command).__name__}: {str(exc)[:40]}")
        return None
    assert len(events) < MODEST, f"{command} made {len(events)} changes"
    plan_is_rebuilt_plan(definition, state)  # the plan kept, extended as items are added, is the plan rebuilt
    return events

ADAPTIVE_ACTIONS = ["add", "add", "add", "dependency", "complete", "start_manual", "skip", "remove", "suspend",
                    "resume", "terminate", "occur", "complete_stage"]
adaptive_step = st.tuples(
    st.sampled_from([*ADAPTIVE_ACTIONS, "together", "together"]),
    st.integers(0, 1000),
    st.integers(0, 1000),
)


def _adaptive_command(state: CaseState, definition: CaseDefinition, action: str, a: int, b: int):
    if action == "together":  # two commands as one: both land, or neither (a rejected one is checked unchanged)
        parts = [_adaptive_command(state, definition, ADAPTIVE_ACTIONS[x % len(ADAPTIVE_ACTIONS)], x, y)
                 for x, y in ((a, b), (b, a + 1))]
        chosen = tuple(part for part in parts if part is not None)
        return commands.Together(commands=chosen, actor="ann") if chosen else None
    items = list(state.items.values())  # the case plan included: commands must refuse it, not break on it
    names = sorted({i.name for i in items}) + sorted({d.name for d in plan_for(definition, state).items.values()})
    if action == "add":
        stages = sorted({i.name for i in items if i.kind == "stage"})
        after = tuple(names[(b >> k) % len(names)] for k in range(b % 3))
        return commands.AddItem(
            kind=["humanTask", "stage", "milestone"][a % 3], name=f"Extra {a % 7}", repeat=b % 4 != 0, after=after,
            stage=_pick(stages, b) if a % 5 == 0 else None, auto_complete=a % 2 == 0, manual=b % 5 == 0,
            required=b % 7 == 0, actor="ann",
        )
    if action == "dependency":
        return commands.AddDependency(item=names[a % len(names)], after=(names[b % len(names)],), actor="ann")
    return _item_command(items, action, a, actor="ann")


_ITEM_COMMANDS: dict[str, type[commands.ItemCommand]] = {
    "complete": commands.CompleteItem, "start_manual": commands.StartItem, "skip": commands.SkipItem,
    "remove": commands.RemoveItem, "suspend": commands.SuspendItem, "resume": commands.ResumeItem,
    "terminate": commands.TerminateItem, "occur": commands.OccurEvent, "complete_stage": commands.CompleteStage,
}


def _item_command(
    items: list[ItemInstance], action: str, a: int, actor: str = "system", removable: Sequence[str] | None = None
) -> commands.ItemCommand | None:
    """`action` on the a-th of the items in a state it can take (any open one for the others); a removal names one
    not yet started or one of `removable` (plan item names), when given. None when there is none."""
    def by_state(*states: str) -> list[str]:
        return [i.id for i in items if i.state in states]

    pools = {
        "complete": lambda: by_state("active", "available"),
        "start_manual": lambda: by_state("enabled"),
        "suspend": lambda: by_state("active", "available"),
        "resume": lambda: by_state("suspended"),
        "complete_stage": lambda: [i.id for i in items if i.kind == "stage" and i.state == "active"],
    }
    if action == "remove" and removable is not None:
        pool = [*by_state("available", "enabled", "disabled"), *removable]
    else:
        pool = pools.get(action, lambda: [i.id for i in items if i.open])()
    target = _pick(pool, a)
    return None if target is None else _ITEM_COMMANDS[action](item=target, actor=actor)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(OWN_MODEL_NAMES), steps=st.lists(adaptive_step, max_size=20))
def test_random_adaptive_commands_with_repetition_always_settle(model: str, steps: list) -> None:
    definition = MODELS[model]
    state = CaseState.create("p1", definition)
    now = START
    log = execute(definition, state, commands.StartCase(variables={"amount": 150}, actor="ann"), now)
    for action, a, b in steps:
        if state.ended:
            break
        now += dt.timedelta(minutes=37)
        command = _adaptive_command(state, definition, action, a, b)
        if command is None:
            continue
        events = _run_checked(definition, state, command, now)
        if events is None:
            continue
        log.extend(events)
    assert replay(definition, "p1", log).to_dict() == state.to_dict()


# -- plan changes, migrations, timers, case file children and blocking expressions together -------------------------
# A model that has each of them, in two versions that differ in the timer cycle, the blocking expression and an
# exit sentry: random commands, migrations back and forth among them, must keep the invariants and replay.
def _features(cycle: str, blocking: str, exit_on: str, trigger: str = "", order: str = "cfOrder") -> CaseDefinition:
    on = '<planItemOnPart sourceRef="{0}"><standardEvent>{1}</standardEvent></planItemOnPart>'.format
    on_file = '<caseFileItemOnPart sourceRef="{0}"><standardEvent>{1}</standardEvent></caseFileItemOnPart>'.format
    return load_definition(
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn" '
        'targetNamespace="urn:test"><case id="features" name="Features">'
        f'<caseFileModel><caseFileItem id="{order}" name="order"><children><caseFileItem id="cfLine" name="line"/>'
        "</children></caseFileItem></caseFileModel>"
        '<casePlanModel id="plan" name="Features">'
        '<planItem id="pPrep" name="Prepare" definitionRef="prep"/>'
        '<planItem id="pCall" name="Call" definitionRef="call"><itemControl><repetitionRule>'
        "<condition>${repetitionCounter &lt; 3}</condition></repetitionRule></itemControl></planItem>"
        '<planItem id="pCheck" name="Check" definitionRef="check"><entryCriterion sentryRef="sIn"/>'
        '<exitCriterion sentryRef="sOut"/></planItem>'
        '<planItem id="pRem" name="Reminder" definitionRef="rem"/>'
        '<planItem id="pChase" name="Chase" definitionRef="chase"><entryCriterion sentryRef="sRem"/></planItem>'
        '<planItem id="pRev" name="Review" definitionRef="rev"/>'
        '<planItem id="pGot" name="Got line" definitionRef="got"><entryCriterion sentryRef="sLine"/></planItem>'
        f'<sentry id="sIn">{on("pPrep", "complete")}</sentry>'
        f'<sentry id="sOut">{on("pCall", "complete")}{on(exit_on, "complete")}</sentry>'
        f'<sentry id="sRem">{on("pRem", "occur")}</sentry>'
        f'<sentry id="sLine">{on_file(order, "addChild")}</sentry>'
        f'<humanTask id="prep" name="Prepare" flowable:isBlockingExpression="{blocking}"/>'
        '<humanTask id="call" name="Call"/><humanTask id="check" name="Check"/><humanTask id="chase" name="Chase"/>'
        f'<timerEventListener id="rem" name="Reminder"><timerExpression>{cycle}</timerExpression>'
        + (f'<planItemStartTrigger sourceRef="{trigger}"><standardEvent>complete</standardEvent>'
           "</planItemStartTrigger>" if trigger else "")
        + "</timerEventListener>"
        '<milestone id="got" name="Got line"/>'
        '<stage id="rev" name="Review" autoComplete="false">'
        '<planItem id="pRead" name="Read" definitionRef="read"/><humanTask id="read" name="Read"/>'
        '<planningTable id="ptRev"><discretionaryItem id="dMore" name="Read more" definitionRef="more"/>'
        '</planningTable><humanTask id="more" name="Read more"/></stage>'
        "</casePlanModel></case></definitions>"
    )


FEATURE_MODELS = [
    _features("R3/PT1H", "${quick == false}", "pRead"),
    _features("R2/PT2H", "${quick != true}", "pChase"),
    _features("PT90M", "${quick == false}", "pRead"),
    # The reminder counts from a start trigger, which migrations add, change and drop.
    _features("R2/PT1H", "${quick == false}", "pRead", trigger="pPrep"),
    _features("PT90M", "${quick != true}", "pChase", trigger="pCall"),
    # The order by another id: the same case variable, so the same on-part.
    _features("R3/PT1H", "${quick == false}", "pRead", order="cfOrderV2"),
]
feature_step = st.tuples(
    st.sampled_from(["complete", "start_manual", "terminate", "set_var", "delete_var", "advance", "add", "dependency",
                     "remove", "skip", "plan", "complete_stage", "suspend", "resume", "migrate", "migrate"]),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
FEATURE_VARIABLES = ["order", "line", "quick"]


def _feature_command(state: CaseState, definition: CaseDefinition, action: str, a: int, b: int):
    items = [i for i in state.items.values() if i.id != state.root]
    names = sorted({d.name for d in plan_for(definition, state).items.values()})
    if action == "set_var":
        return commands.SetVariables(variables={FEATURE_VARIABLES[a % 3]: [True, False, b, None][b % 4]})
    if action == "delete_var":
        return commands.SetVariables(variables={}, remove=(FEATURE_VARIABLES[a % 3],))
    if action == "advance":
        return commands.FireDueTimers()
    if action == "migrate":
        return commands.Migrate(definition=FEATURE_MODELS[a % len(FEATURE_MODELS)])
    if action == "add":
        after = tuple(_pick(names + [i.id for i in items], b >> k) or "none" for k in range(b % 3))
        stages = [i.id for i in items if i.kind == "stage"]
        return commands.AddItem(kind=["humanTask", "stage", "milestone"][a % 3], name=f"Extra {a % 5}", after=after,
                                stage=_pick(stages, b) if a % 4 == 0 else None, repeat=b % 4 == 0, manual=b % 5 == 0)
    if action == "dependency":
        pool = names + [i.id for i in items]
        return commands.AddDependency(item=_pick(pool, a) or "none", after=(_pick(pool, b) or "none",))
    if action == "plan":
        return commands.PlanItem(item="Read more" if a % 2 else _pick(names, a) or "none")
    return _item_command(items, action, a, removable=names)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from([{}, {"quick": True}, {"order": 1, "line": 2}]), steps=st.lists(feature_step, max_size=40))
def test_random_plan_changes_and_migrations_keep_invariants_and_replay(start: dict[str, object], steps: list) -> None:
    definition = FEATURE_MODELS[0]
    state = CaseState.create("p1", definition)
    now = START
    log = execute(definition, state, commands.StartCase(variables=start), now)
    for action, a, b in steps:
        if state.ended:
            break
        now += dt.timedelta(minutes=23 * (1 + a % 7))
        command = _feature_command(state, definition, action, a, b)
        if command is None:
            continue
        events = _run_checked(definition, state, command, now)
        if events is None:
            continue
        if isinstance(command, commands.Migrate):
            definition = command.definition
        log.extend(events)
        event_note(f"accepted {type(command).__name__}")
        _check_nesting(state)
        _check_settled(definition, state)
        assert repeats_stuck_on_spent_dependencies(definition, state) == [], f"after {command}"
        for item_id in state.timers:
            assert state.items[item_id].state in ("available", "suspended"), "a timer is due for an ended item"
        _check_timers_armed(definition, state, command)
        # A child case file item exists only within its parent: created with it or after it, deleted with it.
        assert "line" not in state.variables or "order" in state.variables, f"a line without its order after {command}"
    _check_transitions(log, state)
    assert replay(definition, "p1", log).to_dict() == state.to_dict()


def _check_timers_armed(definition: CaseDefinition, state: CaseState, command: object) -> None:
    """A waiting timer without a start trigger counts from its stage's start: it always has a due time, whatever
    model the case migrated from (one whose trigger the timer was still waiting for, say)."""
    plan = plan_for(definition, state)
    for item in state.items.values():
        timer = plan.items.get(item.def_id)
        if item.kind == "timerEventListener" and item.open and timer is not None and timer.timer_start is None:
            assert item.id in state.timers, f"{item.name} #{item.index} waits unscheduled after {command}"
