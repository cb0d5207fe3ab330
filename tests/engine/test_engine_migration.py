"""Migrating a running case that workers have changed: ad hoc items, added dependencies, sentries half-way through.
What the case remembers and what it adds afterwards must mean the same under the new model as under the old one."""

from __future__ import annotations

import datetime as dt

import pytest

from casework.engine import CaseState, CommandRejected, Event, commands, execute, explain, plan_for, replay
from casework.model import CaseDefinition, load_definition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _model(body: str, key: str = "adapt") -> CaseDefinition:
    return load_definition(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">'
        f'<case id="{key}" name="Adapt"><casePlanModel id="plan" name="Adapt">{body}</casePlanModel></case>'
        "</definitions>"
    )


class Case:
    """A case that keeps its log and the definition it runs on, so a test can migrate it and check replay."""

    def __init__(self, definition: CaseDefinition) -> None:
        self.definition = definition
        self.state = CaseState.create("c1", definition)
        self.log: list[Event] = []
        self.do(commands.StartCase(actor="ann"))

    def do(self, command: commands.Command) -> list[Event]:
        events = execute(self.definition, self.state, command, NOW)
        self.log.extend(events)
        if isinstance(command, commands.Migrate):
            self.definition = command.definition
        return events

    def item(self, name: str) -> str:
        (found,) = [i for i in self.state.items.values() if i.name == name]
        return found.state

    def replays(self) -> bool:
        return replay(self.definition, "c1", self.log).to_dict() == self.state.to_dict()


_TASK_IN_STAGE = """
  <planItem id="piA" name="A" definitionRef="a"/>
  {stage}
  <humanTask id="a" name="A"/>
"""
_STAGE = """<planItem id="piS" name="S" definitionRef="s"/>
  <stage id="s" name="S"><planItem id="piB" name="B" definitionRef="b"/><humanTask id="b" name="B"/></stage>"""


def test_an_item_added_after_a_migration_dropped_an_earlier_one_gets_an_id_of_its_own() -> None:
    # "X" was added to stage S and done; the new model has no S, so X leaves the overlay while its instance stays.
    case = Case(_model(_TASK_IN_STAGE.format(stage=_STAGE)))
    case.do(commands.AddItem(kind="humanTask", name="X", stage="S", actor="ann"))
    case.do(commands.CompleteItem(item="B"))
    case.do(commands.CompleteItem(item="X"))
    case.do(commands.AddItem(kind="humanTask", name="Y", assignee="bob", actor="ann"))
    case.do(commands.Migrate(definition=_model(_TASK_IN_STAGE.format(stage="")), actor="admin"))
    case.do(commands.AddItem(kind="humanTask", name="Z", candidate_groups=("clerks",), actor="ann"))
    by_name = {i.name: i for i in case.state.items.values()}
    assert len({by_name[n].def_id for n in ("X", "Y", "Z")}) == 3
    plan = plan_for(case.definition, case.state)
    assert plan.items[by_name["Y"].def_id].name == "Y"
    assert plan.items[by_name["Y"].def_id].candidate_groups == ()
    assert plan.items[by_name["Z"].def_id].candidate_groups == ("clerks",)
    assert case.replays()


def test_an_added_item_does_not_take_the_place_of_a_modelled_item_with_an_id_like_its_own() -> None:
    case = Case(_model('<planItem id="adhoc1" name="Modelled" definitionRef="m"/><humanTask id="m" name="Modelled"/>'))
    case.do(commands.AddItem(kind="humanTask", name="Added", actor="ann"))
    plan = plan_for(case.definition, case.state)
    assert plan.items["adhoc1"].name == "Modelled"
    assert {plan.items[i.def_id].name for i in case.state.items.values()} >= {"Modelled", "Added"}
    assert case.item("Modelled") == "active"


_CLAIM = """
  <planItem id="piReview" name="Review" definitionRef="review"/>
  <planItem id="piAssess" name="Assess" definitionRef="assess"><entryCriterion id="ecAssess" sentryRef="sR"/></planItem>
  <planItem id="piDecide" name="Decide" definitionRef="decide">{decide_entry}</planItem>
  {extra_item}
  <sentry id="sR"><planItemOnPart id="onR" sourceRef="piReview"><standardEvent>complete</standardEvent></planItemOnPart>
  </sentry>
  <sentry id="sA"><planItemOnPart id="onA" sourceRef="piAssess"><standardEvent>complete</standardEvent></planItemOnPart>
    {extra_on_part}</sentry>
  <humanTask id="review" name="Review"/><humanTask id="assess" name="Assess"/><humanTask id="decide" name="Decide"/>
"""
_DECIDE_AFTER_ASSESS = '<entryCriterion id="ecDecide" sentryRef="sA"/>'
_FRAUD = '<planItem id="piFraud" name="Fraud check" definitionRef="fraud"/><humanTask id="fraud" name="Fraud check"/>'
_ON_FRAUD = '<planItemOnPart id="onF" sourceRef="piFraud"><standardEvent>complete</standardEvent></planItemOnPart>'


def _claim(decide_entry: str = _DECIDE_AFTER_ASSESS, extra_item: str = "", extra_on_part: str = "") -> CaseDefinition:
    return _model(_CLAIM.format(decide_entry=decide_entry, extra_item=extra_item, extra_on_part=extra_on_part))


def test_an_on_part_that_fired_before_a_migration_still_counts_when_the_new_model_adds_one_before_it() -> None:
    # Decide waits for Assess and (added at run time) Consult; Consult is done. Version 2 makes Decide wait for a new
    # Fraud check too: the on-part remembered as "the second one" is now Fraud check's, and Consult's comes third.
    case = Case(_claim())
    case.do(commands.AddItem(kind="humanTask", name="Consult", actor="ann"))
    case.do(commands.AddDependency(item="Decide", after=("Consult",), actor="ann"))
    case.do(commands.CompleteItem(item="Consult"))
    case.do(commands.Migrate(definition=_claim(extra_item=_FRAUD, extra_on_part=_ON_FRAUD), actor="admin"))
    case.do(commands.CompleteItem(item="Review"))
    case.do(commands.CompleteItem(item="Assess"))
    assert case.item("Decide") == "available"  # Fraud check has not completed
    case.do(commands.CompleteItem(item="Fraud check"))
    assert case.item("Decide") == "active"  # and Consult, done before the migration, is not waited for again
    assert case.replays()


def test_a_dependency_keeps_waiting_for_its_items_that_stay_when_one_of_them_leaves_the_plan() -> None:
    # Decide also waits for Consult (added) and Fraud check; version 2 drops Fraud check, which had not started.
    waiting_fraud = ('<planItem id="piFraud" name="Fraud check" definitionRef="fraud"><entryCriterion id="ecFraud" '
                     'sentryRef="sR"/></planItem><humanTask id="fraud" name="Fraud check"/>')
    case = Case(_claim(extra_item=waiting_fraud))
    case.do(commands.AddItem(kind="humanTask", name="Consult", actor="ann"))
    case.do(commands.AddDependency(item="Decide", after=("Consult", "Fraud check"), actor="ann"))
    case.do(commands.Migrate(definition=_claim(), actor="admin"))
    case.do(commands.CompleteItem(item="Review"))
    case.do(commands.CompleteItem(item="Assess"))
    assert case.item("Decide") == "available"
    case.do(commands.CompleteItem(item="Consult"))
    assert case.item("Decide") == "active"
    assert case.replays()


def test_an_item_that_the_new_model_lets_start_without_waiting_starts_at_the_migration() -> None:
    case = Case(_claim())
    assert case.item("Decide") == "available"
    case.do(commands.Migrate(definition=_claim(decide_entry=""), actor="admin"))
    assert case.item("Decide") == "active"  # as a Decide created by version 2 would be; else it waits for nothing
    assert case.replays()


def test_a_sentry_that_what_already_happened_satisfies_under_the_new_model_fires_at_the_migration() -> None:
    # Decide waits for Assess and for Consult (added, done); version 2 no longer makes it wait for Assess.
    case = Case(_claim())
    case.do(commands.AddItem(kind="humanTask", name="Consult", actor="ann"))
    case.do(commands.AddDependency(item="Decide", after=("Consult",), actor="ann"))
    case.do(commands.CompleteItem(item="Consult"))
    case.do(commands.Migrate(definition=_claim(decide_entry=""), actor="admin"))
    # Only the added dependency is left, and its item completed: nothing holds Decide back.
    assert case.item("Decide") == "active"
    assert case.replays()


def test_an_item_new_in_the_model_joins_a_stage_that_was_suspended_during_the_migration_when_it_resumes() -> None:
    stage_v2 = _STAGE.replace('<humanTask id="b" name="B"/>', '<planItem id="piC" name="C" definitionRef="c"/>'
                              '<humanTask id="b" name="B"/><humanTask id="c" name="C"/>')
    case = Case(_model(_TASK_IN_STAGE.format(stage=_STAGE)))
    case.do(commands.SuspendItem(item="S", actor="ann"))
    case.do(commands.Migrate(definition=_model(_TASK_IN_STAGE.format(stage=stage_v2)), actor="admin"))
    case.do(commands.ResumeItem(item="S", actor="ann"))
    assert case.item("C") == "active"
    case.do(commands.CompleteItem(item="B"))
    assert case.item("S") == "active"  # C is still to do
    assert case.replays()



_PLANNING = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="planning" name="Planning">
    <casePlanModel id="plan" name="Planning">
      <planItem id="piReview" name="Review" definitionRef="review"/>
      <planningTable id="table">
        <discretionaryItem id="diInterview" name="Interview" definitionRef="interview" authorizedRoleRefs="roleSiu"/>
      </planningTable>
      <humanTask id="review" name="Review"/><humanTask id="interview" name="Interview"/>
    </casePlanModel>
    <caseRoles id="roles"><role id="roleSiu" name="{role}"/></caseRoles>
  </case>
</definitions>"""


def test_a_participant_keeps_a_case_role_that_the_new_model_renames() -> None:
    case = Case(load_definition(_PLANNING.format(role="SIU investigator")))
    case.do(commands.AddParticipant(user="sam", role="SIU investigator", actor="ann"))
    case.do(commands.AddParticipant(user="sam", role="reviewer", actor="ann"))  # not a model role: kept as it is
    case.do(commands.Migrate(definition=load_definition(_PLANNING.format(role="Fraud investigator")), actor="admin",
                             reason="roles renamed"))
    assert case.state.participants == {"sam": ["reviewer", "Fraud investigator"]}
    case.do(commands.PlanItem(item="Interview", actor="sam"))  # the role still authorizes what it did
    assert case.item("Interview") == "active"
    assert case.replays()


# -- timers whose expression the new model changes ------------------------------------------------------------------
def _timed(expression: str) -> CaseDefinition:
    return _model(
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planItem id="piT" name="Reminder" definitionRef="t"/>'
        f'<timerEventListener id="t" name="Reminder"><timerExpression>{expression}</timerExpression>'
        "</timerEventListener>"
    )


def _due(case: Case) -> list[str]:
    return [case.state.timers[i.id] for i in case.state.items.values() if i.id in case.state.timers]


def test_a_timer_that_has_not_fired_falls_due_as_the_new_model_says_counted_from_its_start() -> None:
    case = Case(_timed("P7D"))
    assert _due(case) == ["2026-03-09T09:00:00Z"]
    later = NOW + dt.timedelta(days=1)
    events = execute(case.definition, case.state, commands.Migrate(definition=_timed("P3D")), later)
    case.log.extend(events)
    case.definition = _timed("P3D")
    assert _due(case) == ["2026-03-05T09:00:00Z"]
    assert replay(case.definition, "c1", case.log).to_dict() == case.state.to_dict()
    case.do(commands.Migrate(definition=_timed("2026-04-01T00:00:00Z")))
    assert _due(case) == ["2026-04-01T00:00:00Z"]
    case.do(commands.Migrate(definition=_timed("2026-04-01T00:00:00Z")))  # the same expression: nothing to do
    assert _due(case) == ["2026-04-01T00:00:00Z"]
    assert case.replays()


def test_the_next_firing_of_a_cycle_counts_from_the_firing_before_under_the_new_model() -> None:
    case = Case(_timed("R3/PT1H"))
    events = execute(case.definition, case.state, commands.FireDueTimers(), NOW + dt.timedelta(hours=1))
    case.log.extend(events)
    assert _due(case) == ["2026-03-02T11:00:00Z"]  # the second firing
    case.do(commands.Migrate(definition=_timed("R3/PT2H")))
    assert _due(case) == ["2026-03-02T12:00:00Z"]
    case.do(commands.Migrate(definition=_timed("R1/PT2H")))  # it would have fired its only time
    assert _due(case) == [] and [i.state for i in case.state.items.values() if i.name == "Reminder"] == [
        "completed", "terminated"
    ]
    assert case.replays()


def test_a_timer_that_fired_is_left_as_it_was() -> None:
    case = Case(_timed("PT1H"))
    events = execute(case.definition, case.state, commands.FireDueTimers(), NOW + dt.timedelta(hours=1))
    case.log.extend(events)
    assert case.item("Reminder") == "completed" and _due(case) == []
    events = case.do(commands.Migrate(definition=_timed("PT5H")))
    assert [e for e in events if e.type == "timer_scheduled"] == [] and _due(case) == []
    assert case.replays()


def _fire(case: Case, at: dt.datetime) -> None:
    case.log.extend(execute(case.definition, case.state, commands.FireDueTimers(), at))


def _migrate(case: Case, definition: CaseDefinition, at: dt.datetime) -> list[Event]:
    events = execute(case.definition, case.state, commands.Migrate(definition=definition), at)
    case.log.extend(events)
    case.definition = definition
    return events


def _reminders(case: Case) -> list[tuple[int, str]]:
    return [(i.index, i.state) for i in case.state.items.values() if i.name == "Reminder"]


def test_a_one_shot_timer_that_fired_goes_on_as_the_cycle_the_new_model_makes_it_counting_its_firing() -> None:
    case = Case(_timed("PT1H"))
    _fire(case, NOW + dt.timedelta(hours=1, minutes=5))  # fired five minutes late
    events = _migrate(case, _timed("R3/PT2H"), NOW + dt.timedelta(hours=2))
    # One decision, recorded once: no due time counted from the migration before it.
    assert [e.payload for e in events if e.type == "timer_scheduled"] == [{"id": "i4", "due": "2026-03-02T12:05:00Z"}]
    # The firing done is the cycle's first; the next comes a period after it fired.
    assert _reminders(case) == [(1, "completed"), (2, "available")]
    assert _due(case) == ["2026-03-02T12:05:00Z"]
    assert case.replays()
    _fire(case, NOW + dt.timedelta(hours=3, minutes=5))
    _fire(case, NOW + dt.timedelta(hours=5, minutes=5))
    assert _reminders(case) == [(1, "completed"), (2, "completed"), (3, "completed")] and _due(case) == []
    assert case.replays()


def test_a_spent_timer_gets_no_firing_from_a_cycle_it_has_already_fired_through() -> None:
    case = Case(_timed("PT1H"))
    _fire(case, NOW + dt.timedelta(hours=1))
    events = _migrate(case, _timed("R1/PT2H"), NOW + dt.timedelta(hours=2))
    assert [e.type for e in events] == ["migrate"] and _reminders(case) == [(1, "completed")]
    case2 = Case(_timed("R2/PT1H"))
    _fire(case2, NOW + dt.timedelta(hours=1))
    _fire(case2, NOW + dt.timedelta(hours=2))
    assert _reminders(case2) == [(1, "completed"), (2, "completed")]
    _migrate(case2, _timed("R3/PT1H"), NOW + dt.timedelta(hours=4))  # one firing left, past due: fires next
    assert _reminders(case2)[-1] == (3, "available") and _due(case2) == ["2026-03-02T12:00:00Z"]
    assert case2.replays()


def _triggered(source: str | None, expression: str = "PT2H") -> CaseDefinition:
    trigger = (
        f'<planItemStartTrigger sourceRef="{source}"><standardEvent>complete</standardEvent></planItemStartTrigger>'
        if source else ""
    )
    return _model(
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planItem id="piB" name="B" definitionRef="b"/><humanTask id="b" name="B"/>'
        '<planItem id="piC" name="C" definitionRef="c"/><humanTask id="c" name="C"/>'  # keeps the case open
        '<planItem id="piT" name="Reminder" definitionRef="t"/>'
        f'<timerEventListener id="t" name="Reminder"><timerExpression>{expression}</timerExpression>{trigger}'
        "</timerEventListener>"
    )


def test_a_timer_whose_new_start_trigger_has_not_happened_waits_for_it_unscheduled() -> None:
    case = Case(_triggered("piA"))
    case.do(commands.CompleteItem(item="A"))
    assert _due(case) == ["2026-03-02T11:00:00Z"]
    events = _migrate(case, _triggered("piB"), NOW + dt.timedelta(minutes=30))
    assert "timer_cancelled" in [e.type for e in events] and _due(case) == []
    assert case.replays()
    case.log.extend(execute(case.definition, case.state, commands.CompleteItem(item="B"), NOW + dt.timedelta(hours=1)))
    assert _due(case) == ["2026-03-02T12:00:00Z"]  # counted from B's completion
    assert case.replays()


def test_a_timer_whose_new_start_trigger_already_happened_counts_from_it() -> None:
    case = Case(_triggered("piA"))
    case.log.extend(execute(case.definition, case.state, commands.CompleteItem(item="B"), NOW + dt.timedelta(hours=1)))
    assert _due(case) == []  # waits for A
    _migrate(case, _triggered("piB"), NOW + dt.timedelta(hours=2))
    assert _due(case) == ["2026-03-02T12:00:00Z"]  # two hours after B completed
    # It waits for its time, not for B (whose completion it never heard: the model it had then waited for A).
    assert explain(case.definition, case.state, "Reminder") == [
        "'Reminder' is a timer due at 2026-03-02T12:00:00Z: it occurs at the first FireDueTimers from then"
    ]
    assert case.replays()


def test_a_timer_whose_start_trigger_the_new_model_drops_counts_from_its_stages_start() -> None:
    case = Case(_triggered("piA"))  # waiting for A, unscheduled
    _migrate(case, _triggered(None), NOW + dt.timedelta(hours=1))
    assert _due(case) == ["2026-03-02T11:00:00Z"]
    assert case.replays()
    armed = Case(_triggered("piA"))
    hour = NOW + dt.timedelta(hours=1)
    armed.log.extend(execute(armed.definition, armed.state, commands.CompleteItem(item="A"), hour))
    assert _due(armed) == ["2026-03-02T12:00:00Z"]
    _migrate(armed, _triggered(None, "PT3H"), NOW + dt.timedelta(hours=2))
    assert _due(armed) == ["2026-03-02T12:00:00Z"]  # three hours from the stage's start
    assert armed.replays()


def test_a_cycle_a_migration_cut_short_goes_on_when_a_later_migration_makes_it_a_cycle_again() -> None:
    case = Case(_timed("R3/PT1H"))
    _fire(case, NOW + dt.timedelta(hours=1))
    assert _reminders(case) == [(1, "completed"), (2, "available")]
    _migrate(case, _timed("PT1H"), NOW + dt.timedelta(minutes=90))  # a one-shot has no second firing
    assert _reminders(case) == [(1, "completed"), (2, "terminated")]
    events = _migrate(case, _timed("R3/PT1H"), NOW + dt.timedelta(minutes=100))
    # The firing the migration ended never fired: the cycle's second firing comes a period after its first.
    assert [e.payload for e in events if e.type == "timer_scheduled"] == [{"id": "i5", "due": "2026-03-02T11:00:00Z"}]
    assert _reminders(case) == [(1, "completed"), (2, "terminated"), (2, "available")]
    assert case.replays()
    _fire(case, NOW + dt.timedelta(hours=2))
    _fire(case, NOW + dt.timedelta(hours=3))
    assert [s for _, s in _reminders(case)] == ["completed", "terminated", "completed", "completed"]
    assert _due(case) == []
    assert case.replays()


def test_a_timer_a_worker_terminated_does_not_go_on_as_a_cycle() -> None:
    case = Case(_timed("R3/PT1H"))
    _fire(case, NOW + dt.timedelta(hours=1))
    case.do(commands.TerminateItem(item="Reminder"))
    events = _migrate(case, _timed("R4/PT1H"), NOW + dt.timedelta(minutes=90))
    assert "timer_scheduled" not in [e.type for e in events]
    assert _reminders(case) == [(1, "completed"), (2, "terminated")]
    assert case.replays()


def test_a_new_start_trigger_that_completed_while_a_worker_held_the_timer_is_not_heard() -> None:
    case = Case(_triggered("piA"))
    case.do(commands.SuspendItem(item="Reminder"))
    hour = NOW + dt.timedelta(hours=1)
    case.log.extend(execute(case.definition, case.state, commands.CompleteItem(item="B"), hour))
    later = NOW + dt.timedelta(minutes=90)
    case.log.extend(execute(case.definition, case.state, commands.ResumeItem(item="Reminder"), later))
    _migrate(case, _triggered("piB"), NOW + dt.timedelta(hours=2))
    assert _due(case) == []  # deaf while on hold, as a live timer is: it waits for B's next completion
    assert case.replays()


def _staged(source: str, stage_entry: str = "") -> CaseDefinition:
    """Reminder in stage S (with K, which keeps it open); A starts S when ``stage_entry`` says so."""
    entry = (
        '<entryCriterion id="enS" sentryRef="sS"/></planItem>'
        f'<sentry id="sS"><planItemOnPart sourceRef="{stage_entry}">'
        "<standardEvent>complete</standardEvent></planItemOnPart></sentry>"
        if stage_entry else "</planItem>"
    )
    return _model(
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planItem id="piB" name="B" definitionRef="b"/><humanTask id="b" name="B"/>'
        '<planItem id="piC" name="C" definitionRef="c"/><humanTask id="c" name="C"/>'
        f'<planItem id="piS" name="S" definitionRef="s">{entry}'
        '<stage id="s" name="S"><planItem id="piT" name="Reminder" definitionRef="t"/>'
        '<timerEventListener id="t" name="Reminder"><timerExpression>PT2H</timerExpression>'
        f'<planItemStartTrigger sourceRef="{source}"><standardEvent>complete</standardEvent></planItemStartTrigger>'
        '</timerEventListener><planItem id="piK" name="K" definitionRef="k"/><humanTask id="k" name="K"/></stage>'
    )


def test_a_new_start_trigger_that_completed_while_the_timers_stage_was_suspended_counts_from_its_resumption() -> None:
    case = Case(_staged("piA"))
    at = NOW
    for minutes, command in (
        (0, commands.SuspendItem(item="S")),
        (60, commands.CompleteItem(item="B")),  # heard on hold, as a live timer would
        (90, commands.ResumeItem(item="S")),
    ):
        at = NOW + dt.timedelta(minutes=minutes)
        case.log.extend(execute(case.definition, case.state, command, at))
    _migrate(case, _staged("piB"), NOW + dt.timedelta(hours=2))
    assert _due(case) == ["2026-03-02T12:30:00Z"]  # two hours after S resumed, not after B completed
    assert case.replays()
    held = Case(_staged("piA"))
    held.do(commands.SuspendItem(item="S"))
    held.log.extend(execute(held.definition, held.state, commands.CompleteItem(item="B"), NOW + dt.timedelta(hours=1)))
    _migrate(held, _staged("piB"), NOW + dt.timedelta(hours=2))  # still on hold: it arms when S resumes
    assert _due(held) == []
    assert held.replays()
    held.log.extend(execute(held.definition, held.state, commands.ResumeItem(item="S"), NOW + dt.timedelta(hours=3)))
    assert _due(held) == ["2026-03-02T14:00:00Z"]
    assert held.replays()


def test_a_new_start_trigger_whose_completion_started_the_timers_stage_was_never_heard() -> None:
    case = Case(_staged("piB", stage_entry="piA"))
    case.log.extend(execute(case.definition, case.state, commands.CompleteItem(item="A"), NOW + dt.timedelta(hours=1)))
    assert case.item("S") == "active" and _due(case) == []  # waits for B
    _migrate(case, _staged("piA", stage_entry="piA"), NOW + dt.timedelta(hours=2))
    assert _due(case) == []  # A completed before the timer existed: a live timer waits for A's next completion
    assert case.replays()


def test_a_new_start_trigger_inside_the_timers_stage_that_completed_as_the_stage_started_is_heard() -> None:
    # N, a non-blocking task of the stage, completes in the command that starts S, after S created its timer.
    def model(source: str) -> CaseDefinition:
        return _model(
            '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
            '<planItem id="piS" name="S" definitionRef="s"/>'
            '<stage id="s" name="S"><planItem id="piN" name="N" definitionRef="n"/>'
            '<humanTask id="n" name="N" isBlocking="false"/>'
            '<planItem id="piM" name="M" definitionRef="m"/><humanTask id="m" name="M"/>'
            '<planItem id="piT" name="Reminder" definitionRef="t"/>'
            '<timerEventListener id="t" name="Reminder"><timerExpression>PT2H</timerExpression>'
            f'<planItemStartTrigger sourceRef="{source}"><standardEvent>complete</standardEvent>'
            "</planItemStartTrigger></timerEventListener></stage>"
        )

    case = Case(model("piM"))
    assert case.item("N") == "completed" and _due(case) == []
    _migrate(case, model("piN"), NOW + dt.timedelta(hours=1))
    assert _due(case) == ["2026-03-02T11:00:00Z"]
    assert case.replays()


def _filed(file_id: str, trigger: bool = True) -> CaseDefinition:
    """A timer started by the case file item ``claim`` (its id ``file_id``), and task D waiting for claim and A."""
    timer_start = (
        f'<caseFileItemStartTrigger sourceRef="{file_id}"><standardEvent>create</standardEvent>'
        "</caseFileItemStartTrigger>" if trigger else ""
    )
    return load_definition(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">'
        f'<case id="adapt" name="Adapt"><caseFileModel><caseFileItem id="{file_id}" name="claim"/></caseFileModel>'
        '<casePlanModel id="plan" name="Adapt">'
        '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
        '<planItem id="piC" name="C" definitionRef="c"/><humanTask id="c" name="C"/>'
        '<planItem id="piD" name="D" definitionRef="d"><entryCriterion id="enD" sentryRef="sD"/></planItem>'
        '<sentry id="sD"><caseFileItemOnPart sourceRef="' + file_id + '"><standardEvent>create</standardEvent>'
        '</caseFileItemOnPart><planItemOnPart sourceRef="piA"><standardEvent>complete</standardEvent>'
        '</planItemOnPart></sentry><humanTask id="d" name="D"/>'
        '<planItem id="piT" name="Reminder" definitionRef="t"/>'
        f'<timerEventListener id="t" name="Reminder"><timerExpression>PT2H</timerExpression>{timer_start}'
        "</timerEventListener></casePlanModel></case></definitions>"
    )


def test_a_case_file_item_that_a_new_model_gives_another_id_is_the_same_trigger_and_the_same_on_part() -> None:
    case = Case(_filed("cfClaim"))
    case.do(commands.SetVariables(variables={"claim": {"amount": 3}}))
    assert _due(case) == ["2026-03-02T11:00:00Z"]
    events = _migrate(case, _filed("cfClaim2"), NOW + dt.timedelta(hours=1))
    # The same data by another id: the armed timer keeps its due time, and D remembers that claim was created.
    assert [e.type for e in events] == ["migrate"]
    assert _due(case) == ["2026-03-02T11:00:00Z"]
    case.do(commands.CompleteItem(item="A"))
    assert case.item("D") == "active"
    assert case.replays()


def test_a_new_start_trigger_that_completed_twice_at_one_moment_counts_from_that_moment() -> None:
    def model(source: str) -> CaseDefinition:
        return _model(
            '<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'
            '<planItem id="piB" name="B" definitionRef="b"><itemControl><repetitionRule/></itemControl></planItem>'
            '<humanTask id="b" name="B"/>'
            '<planItem id="piT" name="Reminder" definitionRef="t"/>'
            '<timerEventListener id="t" name="Reminder"><timerExpression>PT2H</timerExpression>'
            f'<planItemStartTrigger sourceRef="{source}"><standardEvent>complete</standardEvent>'
            "</planItemStartTrigger></timerEventListener>"
        )

    case = Case(model("piA"))
    hour = NOW + dt.timedelta(hours=1)
    for _ in range(2):
        case.log.extend(execute(case.definition, case.state, commands.CompleteItem(item="B"), hour))
    _migrate(case, model("piB"), NOW + dt.timedelta(hours=2))
    assert _due(case) == ["2026-03-02T12:00:00Z"]
    assert case.replays()


def test_a_started_item_whose_new_version_is_of_another_kind_is_reported_as_such_not_as_absent() -> None:
    case = Case(_model('<planItem id="piA" name="A" definitionRef="a"/><humanTask id="a" name="A"/>'))
    before = case.state.to_dict()
    milestone = _model('<planItem id="piA" name="A" definitionRef="a"/><milestone id="a" name="A"/>')
    with pytest.raises(
        CommandRejected,
        match="A: active here and a milestone in the new model, not a humanTask; complete or terminate it first",
    ):
        case.do(commands.Migrate(definition=milestone, actor="admin"))
    assert case.state.to_dict() == before


def test_an_item_done_in_its_stage_that_the_new_model_moves_out_of_it_is_not_created_again() -> None:
    # The plan maps C to C (same id): "moved" only matters for open instances. The migration created a second C at
    # the case level and started it, so work done before had to be done again, while the dry run listed nothing new.
    task = '<planItem id="piC" name="C" definitionRef="c"/><humanTask id="c" name="C"/>'
    stage = ('<planItem id="piS" name="S" definitionRef="s"/><stage id="s" name="S">'
             '<planItem id="piB" name="B" definitionRef="b"/>{inner}<humanTask id="b" name="B"/></stage>')
    case = Case(_model(stage.format(inner=task)))
    case.do(commands.CompleteItem(item="C"))
    events = case.do(commands.Migrate(definition=_model(stage.format(inner="") + task), actor="admin"))
    (migrate,) = [e for e in events if e.type == "migrate"]
    assert {e["outcome"] for e in migrate.payload["plan"]["entries"] if e["name"] == "C"} == {"maps"}
    assert [i.state for i in case.state.items.values() if i.name == "C"] == ["completed"]
    assert case.item("B") == "active"
    assert case.replays()
