"""Waits that can never end, found at import: items that wait for each other, or a stage for what is inside it."""

from __future__ import annotations

import pytest

from casework.model import ModelError, load_definition

NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _model(body: str) -> str:
    return f'<definitions {NS}><case id="c"><casePlanModel id="plan">{body}</casePlanModel></case></definitions>'


def _waits(sentry: str, source: str, event: str) -> str:
    return (
        f'<sentry id="{sentry}"><planItemOnPart id="{sentry}_op" sourceRef="{source}">'
        f"<standardEvent>{event}</standardEvent></planItemOnPart></sentry>"
    )


MILESTONE_WAITS_FOR_ITSELF = (
    '<planItem id="m" name="Approved" definitionRef="md"><entryCriterion id="e" sentryRef="s"/></planItem>'
    + _waits("s", "m", "occur")
    + '<milestone id="md"/>'
)
STAGE_WAITS_FOR_ITS_CHILD = (
    '<planItem id="st" name="Review" definitionRef="sd"><entryCriterion id="e" sentryRef="s"/></planItem>'
    + _waits("s", "c1", "complete")
    + '<stage id="sd"><planItem id="c1" name="Check" definitionRef="t1"/><humanTask id="t1"/></stage>'
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (MILESTONE_WAITS_FOR_ITSELF, "m: entry criteria form a cycle that can never fire: Approved -> Approved"),
        (
            '<planItem id="t" name="Reminder" definitionRef="td"/><timerEventListener id="td">'
            '<timerExpression>PT1H</timerExpression><planItemStartTrigger id="tr" sourceRef="t">'
            "<standardEvent>occur</standardEvent></planItemStartTrigger></timerEventListener>",
            "t: entry criteria form a cycle that can never fire: Reminder -> Reminder",
        ),
        (
            '<planItem id="a" name="A" definitionRef="md"><entryCriterion id="e1" sentryRef="s1"/></planItem>'
            '<planItem id="b" name="B" definitionRef="md"><entryCriterion id="e2" sentryRef="s2"/></planItem>'
            + _waits("s1", "b", "occur")
            + _waits("s2", "a", "occur")
            + '<milestone id="md"/>',
            "a: entry criteria form a cycle that can never fire: A -> B -> A",
        ),
        (
            STAGE_WAITS_FOR_ITS_CHILD,
            "c1: entry criteria form a cycle that can never fire: Check -> Review -> Check (Check is inside Review, "
            "so it exists only once that has started)",
        ),
    ],
)
def test_a_wait_that_can_never_end_is_refused(body: str, expected: str) -> None:
    with pytest.raises(ModelError) as info:
        load_definition(_model(body))
    assert [str(p) for p in info.value.problems] == [expected]


@pytest.mark.parametrize("body", [MILESTONE_WAITS_FOR_ITSELF, STAGE_WAITS_FOR_ITS_CHILD])
def test_a_definition_deployed_before_this_check_still_loads(body: str) -> None:
    assert load_definition(_model(body), deployed=True).items


def test_a_stage_that_also_waits_for_something_outside_it_loads() -> None:
    either = '<entryCriterion id="e" sentryRef="s"/><entryCriterion id="e2" sentryRef="s2"/>'
    body = STAGE_WAITS_FOR_ITS_CHILD.replace('<entryCriterion id="e" sentryRef="s"/>', either)
    body += '<planItem id="o" name="Other" definitionRef="t2"/><humanTask id="t2"/>' + _waits("s2", "o", "complete")
    assert "st" in load_definition(_model(body)).items
