"""Due dates declared in a model (flowable:dueDate, camunda:dueDate): turned into the task's due time when it starts,
from the time of that command, as Flowable does when it creates the task."""

from __future__ import annotations

import datetime as dt

import pytest

from casework.engine import CaseState, Event, commands, execute, explain, replay
from casework.model import CaseDefinition, ModelError, load_definition, to_xml

NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn"'
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _model(due: str, *, manual: bool = False, repeat: bool = False, after_intake: bool = False) -> str:
    control = ""
    if manual or repeat:
        rules = ("<repetitionRule><condition>${true}</condition></repetitionRule>" if repeat else "") + (
            "<manualActivationRule/>" if manual else "")
        control = f"<itemControl>{rules}</itemControl>"
    entry = '<entryCriterion id="ec" sentryRef="s"/>' if after_intake else ""
    return (
        f'<definitions {NS} targetNamespace="t"><case id="c" name="Case"><casePlanModel id="plan" name="Plan">'
        '<planItem id="piIntake" name="Intake" definitionRef="intake"/>'
        f'<planItem id="piCall" name="Call" definitionRef="call">{control}{entry}</planItem>'
        '<sentry id="s"><planItemOnPart id="on" sourceRef="piIntake"><standardEvent>complete</standardEvent>'
        '</planItemOnPart></sentry>'
        '<humanTask id="intake" name="Intake"/>'
        f'<humanTask id="call" name="Call" flowable:dueDate="{due}"/>'
        "</casePlanModel></case></definitions>"
    )


def _run(definition: CaseDefinition, steps: list[tuple[dt.datetime, commands.Command]]) -> tuple[CaseState,
                                                                                                 list[Event]]:
    state = CaseState.create("c1", definition)
    log: list[Event] = []
    for at, command in steps:
        log.extend(execute(definition, state, command, at))
    # Deterministic on replay: the due time is in the events, not computed again from a clock.
    assert replay(definition, "c1", log).to_dict() == state.to_dict()
    return state, log


def _calls(state: CaseState) -> list[tuple[str, str | None]]:
    return [(i.state, i.due) for i in state.items.values() if i.name == "Call"]


def test_a_duration_counts_from_the_moment_the_task_starts_not_from_the_case_start() -> None:
    definition = load_definition(_model("PT4H", after_intake=True))
    state, _ = _run(definition, [
        (T0, commands.StartCase(actor="ann")),
        (T0 + dt.timedelta(days=1), commands.CompleteItem(item="Intake", actor="ann")),
    ])
    assert _calls(state) == [("active", "2026-03-03T13:00:00Z")]


def test_a_manually_activated_task_gets_its_due_when_started_by_hand_not_while_enabled() -> None:
    definition = load_definition(_model("P2D", manual=True))
    state, _ = _run(definition, [(T0, commands.StartCase(actor="ann"))])
    assert _calls(state) == [("enabled", None)]
    state, _ = _run(definition, [
        (T0, commands.StartCase(actor="ann")),
        (T0 + dt.timedelta(hours=5), commands.StartItem(item="Call", actor="ann")),
    ])
    assert _calls(state) == [("active", "2026-03-04T14:00:00Z")]


def test_each_new_instance_of_a_repeated_task_gets_its_own_due() -> None:
    definition = load_definition(_model("PT1H", repeat=True))
    state, _ = _run(definition, [
        (T0, commands.StartCase(actor="ann")),
        (T0 + dt.timedelta(hours=3), commands.CompleteItem(item="Call", actor="ann")),
    ])
    assert _calls(state) == [("completed", "2026-03-02T10:00:00Z"), ("active", "2026-03-02T13:00:00Z")]


@pytest.mark.parametrize(("value", "due"), [
    ("P1D", "2026-03-03T09:00:00Z"),
    ("2026-04-01T12:00:00+02:00", "2026-04-01T10:00:00Z"),
    ("2026-04-01", "2026-04-01T00:00:00Z"),
])
def test_an_expression_takes_its_due_from_case_data(value: str, due: str) -> None:
    definition = load_definition(_model("${callBy}"))
    state, _ = _run(definition, [(T0, commands.StartCase(actor="ann", variables={"callBy": value}))])
    assert _calls(state) == [("active", due)]


@pytest.mark.parametrize(("variables", "error"), [
    ({}, "callBy"),
    ({"callBy": "next week"}, "not an ISO-8601 date-time"),
    ({"callBy": 3}, "gave int 3"),
])
def test_an_expression_that_gives_no_time_leaves_the_task_without_a_due_and_explain_says_why(
    variables: dict[str, object], error: str
) -> None:
    definition = load_definition(_model("${callBy}"))
    state, log = _run(definition, [(T0, commands.StartCase(actor="ann", variables=variables))])
    # The case goes on: the task is work to do, only without a deadline.
    assert _calls(state) == [("active", None)]
    failed = [e.payload for e in log if e.type == "expression_failed"]
    assert len(failed) == 1 and failed[0]["where"] == "dueDate" and error in failed[0]["error"]
    why = explain(definition, state, "Call")
    assert len(why) == 2 and error in why[1]
    assert why[1].startswith("  it has no due time: its dueDate '${callBy}' failed")


def test_a_null_value_gives_no_due_and_records_no_failure() -> None:
    definition = load_definition(_model("${callBy}"))
    state, log = _run(definition, [(T0, commands.StartCase(actor="ann", variables={"callBy": None}))])
    assert _calls(state) == [("active", None)]
    assert not [e for e in log if e.type == "expression_failed"]


def test_a_due_set_by_a_worker_before_the_task_started_stands() -> None:
    definition = load_definition(_model("P2D", manual=True))
    state, _ = _run(definition, [
        (T0, commands.StartCase(actor="ann")),
        (T0, commands.SetDue(item="Call", due="PT1H", actor="ann")),
        (T0 + dt.timedelta(hours=2), commands.StartItem(item="Call", actor="ann")),
    ])
    assert _calls(state) == [("active", "2026-03-02T10:00:00Z")]


@pytest.mark.parametrize(("due", "message"), [
    ("P2X", "call: flowable:dueDate 'P2X' is not an ISO-8601 duration, date-time or date"),
    ("tomorrow", "call: flowable:dueDate 'tomorrow' is not an ISO-8601 duration, date-time or date"),
    ("P1.5M", "call: flowable:dueDate 'P1.5M' is not an ISO-8601 duration, date-time or date"),
    ("${callBy +}", "call: flowable:dueDate does not parse"),
])
def test_a_bad_due_date_is_refused_at_validate_naming_the_element(due: str, message: str) -> None:
    with pytest.raises(ModelError) as info:
        load_definition(_model(due))
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_a_due_date_survives_export_and_import() -> None:
    definition = load_definition(_model("${callBy}"))
    again = load_definition(to_xml(definition))
    assert again.items["piCall"].due_date == "${callBy}"


def test_set_due_reads_a_date_as_a_model_does() -> None:
    definition = load_definition(_model("P2D", manual=True))
    state, _ = _run(definition, [
        (T0, commands.StartCase(actor="ann")),
        (T0, commands.SetDue(item="Call", due="2026-04-01", actor="ann")),
    ])
    assert _calls(state) == [("enabled", "2026-04-01T00:00:00Z")]
