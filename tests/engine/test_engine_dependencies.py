"""Dependencies added at run time (`AddDependency`, `AddItem(after=...)`) count items that already completed as done
(DESIGN.md, "Adaptive steps"; docs/semantics.md, "Sentries") — also when the waiting item's instance is created
later than the dependency: its stage starts afterwards, it is planned from a planning table, or its stage repeats.
Modelled on-parts keep CMMN's reading: an instance does not see what happened before it existed."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_engine import repeats_stuck_on_spent_dependencies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.demo import demo_definition
from casework.engine import CaseState, CommandRejected, commands, execute, explain, plan_for, replay
from casework.engine.events import Event
from casework.model import CaseDefinition, load_definition
from casework.model.definition import CASE_PLAN, EVENT_LISTENER_KINDS

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


class Case:
    """One case of a definition, with the log of every event, so that a test can check replay at the end."""

    def __init__(self, definition: CaseDefinition, **variables: object) -> None:
        self.definition = definition
        self.state = CaseState.create("c1", definition)
        self.log: list[Event] = []
        self.do(commands.StartCase(variables=dict(variables)))

    def do(self, command: commands.Command) -> list[Event]:
        events = execute(self.definition, self.state, command, NOW)
        self.log.extend(events)
        return events

    def states(self, name: str) -> list[str]:
        return [i.state for i in self.state.items.values() if i.name == name]

    def replays(self) -> bool:
        return replay(self.definition, "c1", self.log).to_dict() == self.state.to_dict()


def _claim() -> Case:
    """The demo insurance claim, with "Call claimant" added to the case plan: work that can complete while the
    Assessment stage has not started (it starts when "Register claim" completes)."""
    case = Case(demo_definition("insurance_claim.cmmn"), amount=500)
    case.do(commands.AddItem(kind="humanTask", name="Call claimant"))
    assert case.states("Assessment") == ["available"]  # waiting for its entry criterion: no children yet
    return case


# -- the waiting item's stage starts after the dependency's item completed ------------------------------------------
# A modelled item that gained a dependency ("Assess damage") and an item added with `after` ("Check photos") wait
# alike, whether the dependency's item completed before the dependency was added or after it.
@pytest.mark.parametrize("completed_first", [True, False])
def test_a_dependency_that_completed_before_the_stage_started_counts_as_done(completed_first: bool) -> None:
    case = _claim()
    if completed_first:
        case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.AddDependency(item="Assess damage", after=("Call claimant",)))
    case.do(commands.AddItem(kind="humanTask", name="Check photos", stage="Assessment", after=("Call claimant",)))
    if not completed_first:
        case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.CompleteItem(item="Register claim"))
    assert case.states("Assessment") == ["active"]
    assert case.states("Assess damage") == ["active"]
    assert case.states("Check photos") == ["active"]
    assert case.replays()


def test_a_dependency_on_the_item_whose_completion_starts_the_stage_counts_in_the_same_command() -> None:
    # The completion is raised before the stage's children exist: the stage it starts creates them.
    case = _claim()
    case.do(commands.AddDependency(item="Assess damage", after=("Register claim",)))
    case.do(commands.AddItem(kind="humanTask", name="Check photos", stage="Assessment", after=("Register claim",)))
    case.do(commands.CompleteItem(item="Register claim"))
    assert case.states("Assess damage") == ["active"]
    assert case.states("Check photos") == ["active"]
    assert case.replays()


def test_a_partly_done_dependency_waits_for_the_rest_when_the_stage_starts() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage"))
    case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.AddDependency(item="Assess damage", after=("Call claimant", "Call garage")))
    case.do(commands.CompleteItem(item="Register claim"))
    assert case.states("Assess damage") == ["available"]
    case.do(commands.CompleteItem(item="Call garage"))
    assert case.states("Assess damage") == ["active"]
    assert case.replays()


# -- the stage is active, the waiting item's instance is created later ----------------------------------------------
@pytest.mark.parametrize("completed_first", [True, False])
def test_a_discretionary_item_planned_after_its_dependency_completed_starts(completed_first: bool) -> None:
    case = _claim()
    case.do(commands.CompleteItem(item="Register claim"))
    assert case.states("Assessment") == ["active"]
    if completed_first:
        case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.AddDependency(item="Site visit", after=("Call claimant",)))
    if not completed_first:
        case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.PlanItem(item="Site visit"))
    case.do(commands.AddItem(kind="humanTask", name="Check photos", stage="Assessment", after=("Call claimant",)))
    assert case.states("Site visit") == ["active"]
    assert case.states("Check photos") == ["active"]
    assert case.replays()


def test_a_discretionary_item_planned_with_a_partly_done_dependency_waits_for_the_rest() -> None:
    case = _claim()
    case.do(commands.CompleteItem(item="Register claim"))
    case.do(commands.CompleteItem(item="Call claimant"))
    case.do(commands.AddDependency(item="Site visit", after=("Call claimant", "Collect documents")))
    case.do(commands.PlanItem(item="Site visit"))
    assert case.states("Site visit") == ["available"]
    case.do(commands.CompleteItem(item="Collect documents"))
    assert case.states("Site visit") == ["active"]
    assert case.replays()


# A stage that repeats: each round creates its children anew. "Prepare" waits for nothing, "Report" is started by
# hand; "Kickoff" completes outside the stage.
ROUNDS_XML = (
    f'<definitions {NS}><case id="rounds"><casePlanModel id="plan" name="Rounds" autoComplete="true">'
    '<planItem id="piKickoff" name="Kickoff" definitionRef="kickoff"/>'
    '<planItem id="piRound" name="Round" definitionRef="round"><itemControl><repetitionRule/></itemControl>'
    "</planItem>"
    '<humanTask id="kickoff" name="Kickoff"/>'
    '<stage id="round" name="Round" autoComplete="true">'
    '<planItem id="piPrepare" name="Prepare" definitionRef="prepare"/>'
    '<planItem id="piReport" name="Report" definitionRef="report">'
    "<itemControl><manualActivationRule/></itemControl></planItem>"
    '<humanTask id="prepare" name="Prepare"/><humanTask id="report" name="Report"/>'
    "</stage></casePlanModel></case></definitions>"
)


def test_an_item_of_a_repeating_stage_counts_its_dependency_in_the_next_round() -> None:
    case = Case(load_definition(ROUNDS_XML))
    case.do(commands.CompleteItem(item="Kickoff"))
    assert case.states("Report") == ["enabled"]  # manual activation: not started, so it may still gain a dependency
    case.do(commands.AddDependency(item="Report", after=("Kickoff",)))
    case.do(commands.AddItem(kind="humanTask", name="Minutes", stage="Round", after=("Kickoff",), manual=True))
    case.do(commands.CompleteItem(item="Prepare"))
    # The round completed (nothing in it is required or started) and the next one began with a new Report and
    # Minutes, which must not wait for Kickoff to complete a second time.
    assert case.states("Round") == ["completed", "active"]
    assert case.states("Report") == ["terminated", "enabled"]
    assert case.states("Minutes") == ["terminated", "enabled"]
    assert case.replays()


# -- only the dependencies added at run time count what happened before ---------------------------------------------
# "Check" waits (modelled) for "Intake", which is outside its stage; the stage starts when "Open" completes.
LATE_XML = (
    f'<definitions {NS}><case id="late"><casePlanModel id="plan" name="Late" autoComplete="true">'
    '<planItem id="piIntake" name="Intake" definitionRef="intake"/>'
    '<planItem id="piOpen" name="Open" definitionRef="open"/>'
    '<planItem id="piWork" name="Work" definitionRef="work"><entryCriterion id="ecWork" sentryRef="sOpen"/></planItem>'
    '<sentry id="sOpen"><planItemOnPart id="onOpen" sourceRef="piOpen"><standardEvent>complete</standardEvent>'
    "</planItemOnPart></sentry>"
    '<humanTask id="intake" name="Intake"/><humanTask id="open" name="Open"/>'
    '<stage id="work" name="Work" autoComplete="false">'
    '<planItem id="piCheck" name="Check" definitionRef="check"><entryCriterion id="ecCheck" sentryRef="sIntake"/>'
    "</planItem>"
    '<sentry id="sIntake"><planItemOnPart id="onIntake" sourceRef="piIntake"><standardEvent>complete</standardEvent>'
    "</planItemOnPart></sentry>"
    '<humanTask id="check" name="Check"/>'
    "</stage></casePlanModel></case></definitions>"
)


def test_adding_a_dependency_to_a_waiting_item_does_not_count_its_modelled_on_parts_as_done() -> None:
    case = Case(load_definition(LATE_XML))
    case.do(commands.AddItem(kind="humanTask", name="Call"))
    for name in ("Intake", "Open", "Call"):
        case.do(commands.CompleteItem(item=name))
    # Intake completed before Check existed: the modelled on-part has not seen it, as CMMN reads it.
    assert case.states("Check") == ["available"]
    case.do(commands.AddDependency(item="Check", after=("Call",)))
    # A dependency only adds waiting: Call counts as done, Intake still has not been seen.
    assert case.states("Check") == ["available"]
    check = next(i for i in case.state.items.values() if i.name == "Check")
    assert check.memory == {"ecCheck": [1]}
    assert case.replays()


def test_a_dependency_counted_at_creation_leaves_the_modelled_on_parts_waiting() -> None:
    case = Case(load_definition(LATE_XML))
    case.do(commands.AddItem(kind="humanTask", name="Call"))
    case.do(commands.CompleteItem(item="Intake"))
    case.do(commands.CompleteItem(item="Call"))
    case.do(commands.AddDependency(item="Check", after=("Call",)))
    case.do(commands.CompleteItem(item="Open"))
    assert case.states("Check") == ["available"]
    check = next(i for i in case.state.items.values() if i.name == "Check")
    assert check.memory == {"ecCheck": [1]}
    assert case.replays()


# "Visit" repeats on a modelled sentry (each "Call" completion); a dependency added to it holds only its first one.
SERIES_XML = (
    f'<definitions {NS}><case id="series"><casePlanModel id="plan" name="Series" autoComplete="false">'
    '<planItem id="piCall" name="Call" definitionRef="call"><itemControl><repetitionRule/></itemControl></planItem>'
    '<planItem id="piApprove" name="Approve" definitionRef="approve"/>'
    '<planItem id="piVisit" name="Visit" definitionRef="visit"><itemControl><repetitionRule/></itemControl>'
    '<entryCriterion id="ecVisit" sentryRef="sCall"/></planItem>'
    '<sentry id="sCall"><planItemOnPart id="onCall" sourceRef="piCall"><standardEvent>complete</standardEvent>'
    "</planItemOnPart></sentry>"
    '<humanTask id="call" name="Call"/><humanTask id="approve" name="Approve"/><humanTask id="visit" name="Visit"/>'
    "</casePlanModel></case></definitions>"
)


# -- property: nothing waits on a run-time dependency whose items have completed -------------------------------------
PROPERTY_MODELS: dict[str, CaseDefinition] = {
    "insurance_claim": demo_definition("insurance_claim.cmmn"),
    "rounds": load_definition(ROUNDS_XML),
    "late": load_definition(LATE_XML),
    "series": load_definition(SERIES_XML),
}
dependency_step = st.tuples(
    st.sampled_from(
        ["dependency", "dependency", "add", "add", "complete", "complete", "complete", "start", "plan", "remove"]
    ),
    st.integers(0, 1000),
    st.integers(0, 1000),
)


def _step_command(case: Case, action: str, a: int, b: int) -> commands.Command | None:
    plan = plan_for(case.definition, case.state)
    names = sorted({d.name for d in plan.items.values() if d.kind != CASE_PLAN})
    pick = lambda options, n: options[n % len(options)] if options else None  # noqa: E731
    if action == "dependency":
        return commands.AddDependency(item=names[a % len(names)], after=(names[b % len(names)],))
    if action == "add":
        stages = sorted({d.name for d in plan.items.values() if d.kind == "stage"})
        after = tuple(names[(b >> k) % len(names)] for k in range(1 + b % 2))
        stage = pick(stages, b) if a % 2 else None
        return commands.AddItem(kind=["humanTask", "milestone"][a % 2], name=f"Extra {a % 5}", stage=stage,
                                after=after, manual=b % 3 == 0, repeat=a % 4 == 2)
    if action == "remove":
        return commands.RemoveItem(item=names[a % len(names)])
    if action == "plan":
        discretionary = sorted(d.name for d in plan.items.values() if d.discretionary)
        item = pick(discretionary, a)
        return commands.PlanItem(item=item, actor="ann") if item else None
    wanted = "active" if action == "complete" else "enabled"
    ids = [i.id for i in case.state.items.values() if i.state == wanted and i.kind != CASE_PLAN]
    item = pick(ids, a)
    if item is None:
        return None
    return commands.CompleteItem(item=item) if action == "complete" else commands.StartItem(item=item)


def _waiting_on_done_dependencies(case: Case) -> list[str]:
    """First instances still waiting on an entry criterion whose run-time dependencies all completed although the
    criterion has nothing else to wait for (no modelled on-part, no condition), or on an item that was removed."""
    plan = plan_for(case.definition, case.state)
    completed = {i.def_id for i in case.state.items.values() if i.state == "completed"}
    stuck = []
    for item in case.state.items.values():
        definition = plan.items.get(item.def_id)
        # Later instances are checked by `repeats_stuck_on_spent_dependencies` (docs/semantics.md, Repetition).
        if item.state != "available" or item.index != 1 or definition is None:
            continue
        if definition.kind in EVENT_LISTENER_KINDS:  # they occur when told to; an entry criterion never starts them
            continue
        for criterion in definition.entry:
            parts = criterion.sentry.on_parts
            if criterion.sentry.if_part is None and all(p.added and p.source in completed for p in parts):
                stuck.append(f"{item.name} ({criterion.id})")
            # A worker removed the item it waits for: the removal released the dependency.
            stuck.extend(f"{item.name} on removed {p.source}" for p in parts if p.added and p.source in plan.removed)
    return stuck


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(sorted(PROPERTY_MODELS)), steps=st.lists(dependency_step, max_size=15))
def test_no_item_waits_on_run_time_dependencies_that_all_completed(
    model: str, steps: list[tuple[str, int, int]]
) -> None:
    case = Case(PROPERTY_MODELS[model], amount=500)
    for action, a, b in steps:
        if case.state.ended:
            break
        command = _step_command(case, action, a, b)
        if command is None:
            continue
        try:
            case.do(command)
        except CommandRejected:
            continue
        assert _waiting_on_done_dependencies(case) == [], f"after {command}"
        assert repeats_stuck_on_spent_dependencies(case.definition, case.state) == [], f"after {command}"
    assert case.replays()


def test_an_event_listener_cannot_be_given_a_dependency() -> None:
    case = _claim()
    listeners = sorted(d.name for d in case.definition.items.values() if d.kind in EVENT_LISTENER_KINDS)
    assert listeners  # the demo claim has a user event and a timer
    before = case.state.to_dict()
    for name in listeners:
        with pytest.raises(CommandRejected, match="is an event listener: it occurs when its event happens"):
            case.do(commands.AddDependency(item=name, after=("Register claim",)))
    assert case.state.to_dict() == before


# -- removing an item that others were made to wait for releases them ------------------------------------------------
@pytest.mark.parametrize("manual", [False, True])
def test_removing_the_item_a_dependency_waits_for_releases_the_waiting_item(manual: bool) -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))  # enabled: it can still be removed
    case.do(commands.AddItem(kind="humanTask", name="Write letter", after=("Call garage",), manual=manual))
    case.do(commands.AddDependency(item="Assess damage", after=("Call garage",)))  # its stage has not started
    assert case.states("Write letter") == ["available"]
    events = case.do(commands.RemoveItem(item="Call garage", actor="bob", reason="the quote came by mail"))
    assert events[0].type == "remove"
    assert [r["name"] for r in events[0].payload["released"]] == ["Assess damage", "Write letter"]
    if manual:
        assert case.states("Write letter") == ["enabled"]
        case.do(commands.StartItem(item="Write letter"))
    assert case.states("Write letter") == ["active"]
    assert explain(case.definition, case.state, "Write letter")[-1] == (
        "  its dependency on 'Call garage' was released when 'Call garage' was removed from the plan"
    )
    case.do(commands.CompleteItem(item="Register claim"))
    assert case.states("Assess damage") == ["active"]
    assert case.replays()


def test_removing_a_stage_releases_the_dependencies_on_the_items_inside_it() -> None:
    # "Assess damage" is in the Assessment stage: once the stage leaves the plan it can never complete.
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Write letter", after=("Assess damage",)))
    case.do(commands.AddItem(kind="humanTask", name="Close file", manual=True))
    case.do(commands.AddDependency(item="Close file", after=("Assess damage", "Write letter")))
    events = case.do(commands.RemoveItem(item="Assessment", reason="settled on the phone"))
    assert [r["name"] for r in events[0].payload["released"]] == ["Write letter", "Close file"]
    assert case.states("Write letter") == ["active"]
    assert explain(case.definition, case.state, "Write letter")[-1] == (
        "  its dependency on 'Assess damage' was released when 'Assessment' was removed from the plan"
    )
    assert case.states("Close file") == ["enabled"]
    with pytest.raises(CommandRejected, match="waits for Write letter"):
        case.do(commands.StartItem(item="Close file"))
    case.do(commands.CompleteItem(item="Write letter"))
    case.do(commands.StartItem(item="Close file"))
    assert case.states("Close file") == ["active"]
    assert case.replays()


def test_an_enabled_item_whose_dependency_is_removed_can_be_started() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))
    case.do(commands.AddItem(kind="humanTask", name="Write letter", manual=True))
    case.do(commands.AddDependency(item="Write letter", after=("Call garage",)))
    with pytest.raises(CommandRejected, match="waits for Call garage"):
        case.do(commands.StartItem(item="Write letter"))
    case.do(commands.RemoveItem(item="Call garage"))
    case.do(commands.StartItem(item="Write letter"))
    assert case.states("Write letter") == ["active"]
    assert case.replays()


def test_a_released_dependency_leaves_the_item_waiting_for_the_rest_and_forgets_what_the_removed_item_did() -> None:
    # "Call garage" repeats and is started by hand: its second instance has not started and can be removed, while
    # its first completion already counts for "Write letter" (a dependency counts items that completed).
    case = _claim()
    for name in ("First", "Last"):
        case.do(commands.AddItem(kind="humanTask", name=name, manual=True))
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True, repeat=True))
    case.do(commands.StartItem(item="Call garage"))
    case.do(commands.CompleteItem(item="Call garage"))
    case.do(commands.AddItem(kind="humanTask", name="Write letter", after=("First", "Call garage", "Last")))
    case.do(commands.RemoveItem(item="Call garage"))
    for name in ("First", "Last"):
        assert case.states("Write letter") == ["available"]
        case.do(commands.StartItem(item=name))
        case.do(commands.CompleteItem(item=name))
    assert case.states("Write letter") == ["active"]
    assert case.replays()


def test_a_removal_that_releases_nothing_is_recorded_as_before() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))
    events = case.do(commands.RemoveItem(item="Call garage"))
    assert events[0].payload == {
        "item": "adhoc2", "name": "Call garage", "overlay": {"op": "remove", "item": "adhoc2"}
    }


# -- a repeating item under way can gain a dependency: its next instances wait ---------------------------------------
def test_a_repeating_task_under_way_gains_a_dependency_for_its_next_instances() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))
    case.do(commands.AddItem(kind="humanTask", name="Weekly call", repeat=True))
    case.do(commands.CompleteItem(item="Weekly call"))
    assert case.states("Weekly call") == ["completed", "active"]
    case.do(commands.AddDependency(item="Weekly call", after=("Call garage",), reason="after the garage's quote"))
    assert case.states("Weekly call") == ["completed", "active"]  # the one under way goes on
    case.do(commands.CompleteItem(item="Weekly call"))
    assert case.states("Weekly call") == ["completed", "completed", "available"]  # the next one waits
    case.do(commands.StartItem(item="Call garage"))
    case.do(commands.CompleteItem(item="Call garage"))
    # "Call garage" does not repeat: once it completed, the series goes on as if it had no dependency.
    assert case.states("Weekly call") == ["completed", "completed", "active"]
    assert case.replays()


def test_a_repeating_stage_under_way_gains_a_dependency_for_its_next_round() -> None:
    case = Case(load_definition(ROUNDS_XML))
    case.do(commands.AddDependency(item="Round", after=("Kickoff",)))
    case.do(commands.CompleteItem(item="Prepare"))
    assert case.states("Round") == ["completed", "available"]
    case.do(commands.CompleteItem(item="Kickoff"))
    assert case.states("Round") == ["completed", "active"]
    assert case.replays()


def test_a_task_that_does_not_repeat_cannot_wait_once_it_started() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))
    case.do(commands.AddItem(kind="humanTask", name="Write letter"))
    with pytest.raises(CommandRejected, match="'Write letter' has already started"):
        case.do(commands.AddDependency(item="Write letter", after=("Call garage",)))


# -- a repeating item's dependency on an item that does not repeat is met once that item completed ------------------
# "B after A" means that no instance of B starts before A completed; A completing once more, which an item that does
# not repeat never does, is not asked for. A repeating A keeps CMMN's reading: B's next instance waits for A's next.
def test_a_repeating_task_after_one_that_does_not_repeat_goes_on_repeating_once_it_completed() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", manual=True))
    case.do(commands.AddItem(kind="humanTask", name="Weekly call", repeat=True, after=("Call garage",)))
    assert case.states("Weekly call") == ["available"]
    case.do(commands.StartItem(item="Call garage"))
    case.do(commands.CompleteItem(item="Call garage"))
    for done in range(3):
        assert case.states("Weekly call") == ["completed"] * done + ["active"]
        case.do(commands.CompleteItem(item="Weekly call"))
    assert case.states("Weekly call") == ["completed"] * 3 + ["active"]
    assert case.replays()


def test_a_repeating_stage_after_an_item_that_does_not_repeat_goes_on_with_its_rounds() -> None:
    case = Case(load_definition(ROUNDS_XML))
    case.do(commands.AddDependency(item="Round", after=("Kickoff",)))
    case.do(commands.CompleteItem(item="Kickoff"))
    case.do(commands.CompleteItem(item="Prepare"))
    case.do(commands.CompleteItem(item="Prepare"))
    assert case.states("Round") == ["completed", "completed", "active"]
    assert case.replays()


def test_a_repeating_task_after_a_repeating_one_waits_for_its_next_completion() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", repeat=True))
    case.do(commands.AddItem(kind="humanTask", name="Weekly call", repeat=True, after=("Call garage",)))
    case.do(commands.CompleteItem(item="Call garage"))
    assert case.states("Weekly call") == ["active", "available"]
    case.do(commands.CompleteItem(item="Weekly call"))
    assert case.states("Weekly call") == ["completed", "available"]  # the garage has not been called again
    case.do(commands.CompleteItem(item="Call garage"))
    assert case.states("Weekly call") == ["completed", "active", "available"]
    assert case.replays()


def test_a_modelled_repetition_keeps_a_met_dependency_on_an_item_that_does_not_repeat() -> None:
    case = Case(load_definition(SERIES_XML))
    case.do(commands.AddDependency(item="Visit", after=("Approve",)))
    case.do(commands.CompleteItem(item="Call"))
    assert case.states("Visit") == ["available"]  # the call was heard; the approval is still missing
    case.do(commands.CompleteItem(item="Approve"))
    assert case.states("Visit") == ["active", "available"]
    case.do(commands.CompleteItem(item="Call"))  # the modelled sentry fires again: that is all the next one needs
    assert case.states("Visit") == ["active", "active", "available"]
    lines = explain(case.definition, case.state, [i.id for i in case.state.items.values() if i.name == "Visit"][-1])
    assert lines[1:] == ["  [ecVisit] Call complete: waiting", "  [ecVisit] Approve complete: done"]
    assert case.replays()


def test_a_repeating_task_after_one_that_was_terminated_can_never_start_and_explain_says_so() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage"))
    case.do(commands.AddItem(kind="humanTask", name="Weekly call", repeat=True, after=("Call garage",)))
    case.do(commands.TerminateItem(item="Call garage"))
    assert case.states("Weekly call") == ["available"]
    lines = explain(case.definition, case.state, "Weekly call")
    assert lines[-1] == (
        "  'Weekly call' can never start: it waits for 'Call garage' (a dependency added at run time), which cannot "
        "complete any more; `remove` 'Weekly call' to end the wait"
    )
    case.do(commands.RemoveItem(item="Weekly call"))
    assert case.states("Weekly call") == ["terminated"]
    assert case.replays()


def test_explain_does_not_call_a_dependency_dead_while_its_item_may_still_complete() -> None:
    case = _claim()
    case.do(commands.AddItem(kind="humanTask", name="Call garage", repeat=True))
    case.do(commands.AddItem(kind="humanTask", name="Weekly call", repeat=True, after=("Call garage",)))
    case.do(commands.CompleteItem(item="Call garage"))
    case.do(commands.CompleteItem(item="Weekly call"))
    waiting = [i.id for i in case.state.items.values() if i.name == "Weekly call" and i.state == "available"]
    assert not any("can never start" in line for line in explain(case.definition, case.state, waiting[0]))


# -- a dependency on a discretionary item that a worker planned and that completed ------------------------------------
# "W" repeats by itself and starts each next instance of "R" (which repeats when its sentry fires); "X" is planned.
PLANNED_DONE = load_definition(
    f'<definitions {NS}><case id="d"><casePlanModel id="plan" name="Plan">'
    '<planItem id="piW" name="W" definitionRef="w"><itemControl><repetitionRule/></itemControl></planItem>'
    '<planItem id="piR" name="R" definitionRef="r"><itemControl><repetitionRule/></itemControl>'
    '<entryCriterion sentryRef="sW"/></planItem>'
    '<sentry id="sW"><planItemOnPart sourceRef="piW"><standardEvent>complete</standardEvent></planItemOnPart></sentry>'
    '<planningTable id="t"><discretionaryItem id="diX" name="X" definitionRef="x"/></planningTable>'
    '<humanTask id="w" name="W"/><humanTask id="r" name="R"/><humanTask id="x" name="X"/>'
    "</casePlanModel></case></definitions>"
)


def test_the_next_instances_of_repeating_items_count_a_discretionary_item_that_completed_as_done() -> None:
    # Planning X again would be a new decision of a worker, which "after X" does not wait for: it would wait for ever.
    case = Case(PLANNED_DONE)
    case.do(commands.PlanItem(item="X", actor="ann"))
    case.do(commands.CompleteItem(item="X"))
    case.do(commands.AddDependency(item="R", after=("X",)))
    case.do(commands.AddItem(kind="humanTask", name="B", after=("X",), repeat=True))
    assert case.states("B") == ["active"]  # no next instance waiting for X to complete again
    case.do(commands.CompleteItem(item="B"))
    assert case.states("B") == ["completed", "active"]
    case.do(commands.CompleteItem(item="W"))
    case.do(commands.CompleteItem(item="W"))
    assert case.states("R") == ["active", "active", "available"]  # each completion of W starts the next R
    assert repeats_stuck_on_spent_dependencies(case.definition, case.state) == []
    assert case.replays()


def test_a_discretionary_item_planned_again_is_waited_for_while_it_is_open() -> None:
    case = Case(PLANNED_DONE)
    case.do(commands.PlanItem(item="X", actor="ann"))
    case.do(commands.CompleteItem(item="X"))
    case.do(commands.PlanItem(item="X", actor="ann"))  # planned again: the next instances wait for it
    case.do(commands.AddDependency(item="R", after=("X",)))
    case.do(commands.CompleteItem(item="W"))
    assert case.states("R") == ["active", "available"]
    case.do(commands.CompleteItem(item="W"))
    assert case.states("R") == ["active", "available"]
    case.do(commands.CompleteItem(item="X"))
    assert case.states("R") == ["active", "active", "available"]
    assert case.replays()


def test_a_discretionary_item_in_a_repeating_stage_that_completed_counts_as_done_for_the_next_instances() -> None:
    # The stage's next instance does not create X again (only planning it there does, a worker's new decision):
    # the next instances of R must not wait for X to complete again.
    case = Case(load_definition(
        f'<definitions {NS}><case id="d"><casePlanModel id="plan" name="Plan">'
        '<planItem id="piW" name="W" definitionRef="w"><itemControl><repetitionRule/></itemControl></planItem>'
        '<planItem id="piR" name="R" definitionRef="r"><itemControl><repetitionRule/></itemControl>'
        '<entryCriterion sentryRef="sW"/></planItem>'
        '<sentry id="sW"><planItemOnPart sourceRef="piW"><standardEvent>complete</standardEvent></planItemOnPart>'
        "</sentry>"
        '<planItem id="piS" name="S" definitionRef="s"><itemControl><repetitionRule/></itemControl></planItem>'
        '<stage id="s" name="S" autoComplete="false">'
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planningTable id="t"><discretionaryItem id="diX" name="X" definitionRef="x"/></planningTable>'
        '<humanTask id="x" name="X"/></stage>'
        '<humanTask id="w" name="W"/><humanTask id="r" name="R"/>'
        "</casePlanModel></case></definitions>"
    ))
    case.do(commands.PlanItem(item="X", actor="ann"))
    case.do(commands.CompleteItem(item="X"))
    case.do(commands.CompleteItem(item="A"))
    assert case.states("S") == ["completed", "active"]  # the next S has no X until someone plans it there
    case.do(commands.AddDependency(item="R", after=("X",)))
    case.do(commands.CompleteItem(item="W"))
    case.do(commands.CompleteItem(item="W"))
    assert case.states("R") == ["active", "active", "available"]
    assert repeats_stuck_on_spent_dependencies(case.definition, case.state) == []
    assert case.replays()


def test_explain_calls_a_dependency_dead_once_its_discretionary_item_ended_with_its_stage() -> None:
    # D was planned and terminated, and its stage S is over: D can no longer be planned again, B never starts.
    case = Case(load_definition(
        f'<definitions {NS}><case id="d"><casePlanModel id="plan" name="Plan">'
        '<planItem id="piW" name="W" definitionRef="w"/><humanTask id="w" name="W"/>'
        '<planItem id="piS" name="S" definitionRef="s"/>'
        '<stage id="s" name="S" autoComplete="false">'
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planningTable id="t"><discretionaryItem id="diD" name="D" definitionRef="x"/></planningTable>'
        '<humanTask id="x" name="D"/></stage>'
        "</casePlanModel></case></definitions>"
    ))
    case.do(commands.PlanItem(item="D", actor="ann"))
    case.do(commands.AddItem(kind="humanTask", name="B", after=("D",)))
    case.do(commands.TerminateItem(item="D"))
    assert not any("can never start" in line for line in explain(case.definition, case.state, "B"))  # D again
    case.do(commands.CompleteItem(item="A"))
    assert case.states("S") == ["completed"] and case.states("B") == ["available"]
    assert any("can never start" in line for line in explain(case.definition, case.state, "B"))
