"""Models as other tools write them: what casework reads of their extensions, what it ignores, what it refuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from casework.model import ModelError, load_definition
from casework.service import CaseService
from casework.store import Store

TOOL_MODELS = Path(__file__).parent / "tool_models"
NS = (
    'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn" '
    'xmlns:camunda="http://camunda.org/schema/1.0/cmmn"'
)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _model(body: str, extra_case: str = "", definitions: str = "") -> str:
    return (
        f'<definitions {NS} targetNamespace="t"{definitions}><case id="c" name="Case">{extra_case}'
        f'<casePlanModel id="plan" name="Plan">{body}</casePlanModel></case></definitions>'
    )


def _problems(xml: str) -> list[str]:
    with pytest.raises(ModelError) as info:
        load_definition(xml)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CaseService]:
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}", audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "b")
    svc = CaseService(store, clock=lambda: T0)
    yield svc
    svc.close()
    store.close()


def test_a_camunda_modeler_file_loads_and_its_assignee_and_candidates_are_honoured(service: CaseService) -> None:
    xml = (TOOL_MODELS / "camunda_modeler.cmmn").read_bytes()
    definition = load_definition(xml)
    review = definition.items["PlanItem_review"]
    assert review.assignee == "demo"
    assert review.candidate_groups == ("loan-officers", "management")
    assert definition.items["PlanItem_approve"].candidate_users == ("mary", "peter")
    key, _ = service.deploy(xml)
    case = service.start_case(key)
    open_tasks = service.store.tasks(case_id=case.case_id, states=("active",))
    assert [(t.name, t.owner) for t in open_tasks] == [("Review application", "demo")]
    queued = service.store.tasks(candidate_group="loan-officers", states=("active",))
    assert [t.name for t in queued] == ["Review application"]


def test_a_flowable_modeler_file_loads_with_its_forms_stencils_and_diagram_ignored(service: CaseService) -> None:
    xml = (TOOL_MODELS / "flowable_modeler.cmmn").read_bytes()
    definition = load_definition(xml)
    assert definition.initiator_variable == "initiator"
    assert definition.items["planItem2"].candidate_groups == ("permits",)
    key, _ = service.deploy(xml)
    case = service.start_case(key, actor="ann", variables={"initiator": "ann"})
    assert [(t.name, t.owner) for t in service.store.tasks(case_id=case.case_id, states=("active",))] == [
        ("Check documents", "ann")
    ]


def test_a_trisotech_file_with_prefixed_cmmn_elements_loads() -> None:
    definition = load_definition((TOOL_MODELS / "trisotech.cmmn").read_bytes())
    escalate = definition.items["_pi2"]
    if_part = escalate.entry[0].sentry.if_part
    assert if_part is not None and if_part.evaluate_bool({"amount": 1200}) and not if_part.evaluate_bool({"amount": 5})
    assert definition.case_file_item_by_name("amount") is not None


def test_a_feel_condition_is_refused_not_run_as_cel() -> None:
    # Trisotech's default language is FEEL; `amount > 1000` would also parse as CEL and run with CEL's rules.
    xml = (TOOL_MODELS / "trisotech.cmmn").read_text(encoding="utf-8")
    feel = xml.replace("${amount &gt; 1000}", "amount &gt; 1000")
    assert _problems(feel) == [
        "_c1: ifPart is in language 'http://www.omg.org/spec/FEEL/20140401', which casework does not read; "
        "write it as JUEL ${...} or CEL"
    ]


@pytest.mark.parametrize("language", ["http://www.w3.org/1999/XPath", "groovy", "javascript"])
def test_a_condition_in_a_language_casework_does_not_read_is_refused(language: str) -> None:
    body = (
        f'<planItem id="p1" definitionRef="t1"><itemControl><requiredRule id="r1"><condition id="cond" '
        f'language="{language}">${{x}}</condition></requiredRule></itemControl></planItem><humanTask id="t1"/>'
    )
    assert _problems(_model(body)) == [
        f"cond: requiredRule is in language {language!r}, which casework does not read; "
        "write it as JUEL ${...} or CEL"
    ]


def test_juel_and_cel_conditions_load_whatever_language_they_name() -> None:
    body = (
        '<planItem id="p1" definitionRef="t1"><itemControl><requiredRule><condition language="juel">${x}</condition>'
        '</requiredRule><manualActivationRule><condition language="cel">x == 1</condition></manualActivationRule>'
        '</itemControl></planItem><humanTask id="t1"/>'
    )
    item = load_definition(_model(body)).items["p1"]
    assert item.required is not None and item.required.condition is not None
    assert item.manual is not None and item.manual.condition is not None
    assert item.manual.condition.evaluate_bool({"x": 1})


def test_juel_under_a_document_default_of_another_language_is_read_as_juel() -> None:
    # Flowable and Camunda read `${...}` as JUEL whatever expressionLanguage the tool wrote.
    body = (
        '<planItem id="p1" definitionRef="t1"><itemControl><requiredRule><condition>${x}</condition>'
        '</requiredRule></itemControl></planItem><humanTask id="t1"/>'
    )
    xml = _model(body, definitions=' expressionLanguage="http://www.w3.org/1999/XPath"')
    required = load_definition(xml).items["p1"].required
    assert required is not None and required.condition is not None and required.condition.language == "juel"


UNSUPPORTED = [
    ('<planItem id="p1" definitionRef="pt"/><processTask id="pt" name="Run" processRef="proc"/>',
     "pt: <processTask> is not supported: casework runs no BPMN process"),
    ('<planItem id="p1" definitionRef="ct"/><caseTask id="ct" name="Sub" caseRef="other"/>',
     "ct: <caseTask> is not supported: casework starts no sub case"),
    ('<planItem id="p1" definitionRef="dt"/><decisionTask id="dt" name="Decide" decisionRef="d"/>',
     "dt: <decisionTask> is not supported: casework evaluates no DMN decision"),
    ('<planItem id="p1" definitionRef="t1"/><task id="t1" name="Call" flowable:type="http"/>',
     "t1: flowable:type='http' is not supported: an automated task"),
    ('<planItem id="p1" definitionRef="t1"/><humanTask id="t1"><extensionElements>'
     '<flowable:taskListener event="create" class="com.acme.L"/></extensionElements></humanTask>',
     "t1: flowable:taskListener is not supported: listener code"),
    ('<planItem id="p1" definitionRef="t1"/><humanTask id="t1"><extensionElements>'
     '<camunda:caseExecutionListener event="complete" class="com.acme.L"/></extensionElements></humanTask>',
     "t1: camunda:caseExecutionListener is not supported: listener code"),
    ('<planItem id="p1" definitionRef="t1"/><planItem id="p2" definitionRef="t1"><entryCriterion id="e" '
     'sentryRef="s"/></planItem><sentry id="s" flowable:triggerMode="onEvent"><planItemOnPart id="op" sourceRef="p1">'
     "<standardEvent>complete</standardEvent></planItemOnPart><ifPart><condition>${x}</condition></ifPart></sentry>"
     '<humanTask id="t1"/>',
     "s: flowable:triggerMode='onEvent' is not supported"),
    ('<planItem id="p1" definitionRef="t1"/><planItem id="p2" definitionRef="t1"><entryCriterion id="e" '
     'sentryRef="s"/></planItem><sentry id="s"><extensionElements><camunda:variableOnPart variableName="x">'
     "<camunda:variableEvent>create</camunda:variableEvent></camunda:variableOnPart></extensionElements>"
     '<ifPart><condition>${x}</condition></ifPart></sentry><humanTask id="t1"/>',
     "s: camunda:variableOnPart is not supported"),
    ('<planItem id="p1" definitionRef="t1"><itemControl><repetitionRule id="rep" camunda:repeatOnStandardEvent='
     '"disable"><condition>${true}</condition></repetitionRule></itemControl></planItem><humanTask id="t1"/>',
     "rep: camunda:repeatOnStandardEvent='disable' is not supported"),
    ('<planItem id="p1" definitionRef="u"/><userEventListener id="u" flowable:availableCondition="${x}"/>',
     "u: flowable:availableCondition='${x}' is not supported"),
    ('<planItem id="p1" definitionRef="m1"/><milestone id="m1" flowable:dueDate="P2D"/>',
     "m1: flowable:dueDate='P2D' is not supported: casework reads a due date on a human task only"),
    ('<planItem id="p1" definitionRef="t1"/><task id="t1" camunda:dueDate="P2D"/>',
     "t1: camunda:dueDate='P2D' is not supported: casework reads a due date on a human task only"),
]


@pytest.mark.parametrize(("body", "expected"), UNSUPPORTED, ids=[e.split(" ")[1] for _, e in UNSUPPORTED])
def test_what_casework_would_silently_drop_is_refused_naming_the_element(body: str, expected: str) -> None:
    problems = _problems(_model(body))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_refused_model_deploys_nothing(service: CaseService) -> None:
    body, _ = UNSUPPORTED[0]
    with pytest.raises(ModelError):
        service.deploy(_model(body))
    assert service.store.latest_definition_version("c") is None


def test_a_definition_deployed_before_these_checks_still_loads_for_its_cases() -> None:
    body, _ = UNSUPPORTED[0]
    assert load_definition(_model(body), deployed=True).items["p1"].kind == "task"


@pytest.mark.parametrize(
    "attrs",
    ['flowable:formKey="f" flowable:priority="50" flowable:category="c" flowable:async="false"',
     'camunda:formKey="embedded:app:f.html" camunda:priority="3"'],
)
def test_form_and_priority_attributes_are_ignored(attrs: str) -> None:
    definition = load_definition(_model(f'<planItem id="p1" definitionRef="t1"/><humanTask id="t1" {attrs}/>'))
    assert definition.items["p1"].blocking


def test_a_misspelt_cmmn_element_is_refused_rather_than_ignored() -> None:
    # Ignored, the misspelt criterion would let B start at once instead of after A.
    body = (
        '<planItem id="a" definitionRef="t1"/><planItem id="b" definitionRef="t1">'
        '<entryCritera id="e1" sentryRef="s1"/></planItem><sentry id="s1"><planItemOnPart id="op" sourceRef="a">'
        '<standardEvent>complete</standardEvent></planItemOnPart></sentry><humanTask id="t1"/>'
    )
    assert _problems(_model(body)) == [
        "e1: <entryCritera> is not a CMMN 1.1 element of <planItem>, and would be ignored"
    ]
