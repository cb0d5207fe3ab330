from __future__ import annotations

import re
from pathlib import Path

import pytest

from casework.model import ModelError, load_definition
from casework.model.cmmn_import import MAX_BYTES, MAX_DEPTH
from casework.paths import shared_dir

SHARED = shared_dir()
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _model(body: str, extra_case: str = "") -> str:
    return (
        f'<definitions {NS} xmlns:flowable="http://flowable.org/cmmn" targetNamespace="t">'
        f'<case id="c" name="Case">{extra_case}<casePlanModel id="plan" name="Plan">{body}</casePlanModel></case>'
        "</definitions>"
    )


def _problems(xml: str) -> list[str]:
    with pytest.raises(ModelError) as info:
        load_definition(xml)
    return [str(p) for p in info.value.problems]


def _corpus_models() -> list[Path]:
    if SHARED is None:
        return []
    return sorted((SHARED / "cmmn" / "models").glob("*/*.cmmn"))


@pytest.mark.skipif(SHARED is None, reason="the shared corpus (../shared) is not beside this checkout")
def test_corpus_has_all_models() -> None:
    assert len(_corpus_models()) >= 66


@pytest.mark.parametrize("path", _corpus_models(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_model_imports(path: Path) -> None:
    definition = load_definition(path.read_bytes())
    assert definition.plan.kind == "casePlanModel"
    for item in definition.items.values():
        assert item.parent is None or item.parent in definition.items


def test_names_fall_back_to_definition_name_then_id() -> None:
    definition = load_definition(
        _model(
            '<planItem id="p1" name="Own name" definitionRef="t1"/><planItem id="p2" definitionRef="t2"/>'
            '<planItem id="p3" definitionRef="t3"/>'
            '<humanTask id="t1" name="Def name"/><humanTask id="t2" name="Second"/><humanTask id="t3"/>'
        )
    )
    assert [definition.items[i].name for i in ("p1", "p2", "p3")] == ["Own name", "Second", "p3"]


def test_item_control_wins_over_default_control_rule_by_rule() -> None:
    definition = load_definition(
        _model(
            '<planItem id="p1" definitionRef="t1"><itemControl>'
            "<manualActivationRule><condition>${false}</condition></manualActivationRule></itemControl></planItem>"
            '<humanTask id="t1"><defaultControl>'
            "<manualActivationRule><condition>${true}</condition></manualActivationRule>"
            "<requiredRule/></defaultControl></humanTask>"
        )
    )
    item = definition.items["p1"]
    assert item.manual is not None and item.manual.condition is not None
    assert item.manual.condition.source == "${false}"
    assert item.required is not None and item.required.condition is None


def test_flowable_counter_variable_is_honoured() -> None:
    definition = load_definition(
        _model(
            '<planItem id="p1" definitionRef="t1"><itemControl>'
            '<repetitionRule flowable:counterVariable="round"><condition>${round &lt; 3}</condition>'
            '</repetitionRule></itemControl></planItem><humanTask id="t1"/>'
        )
    )
    assert definition.items["p1"].counter_variable == "round"


def test_roles_case_file_planning_table_and_timer() -> None:
    definition = load_definition(
        _model(
            '<planItem id="p1" definitionRef="t1"/><planItem id="pt" definitionRef="timer"/>'
            '<planningTable id="tbl"><discretionaryItem id="d1" definitionRef="t2" applicabilityRuleRefs="r1" '
            'authorizedRoleRefs="role1"/><applicabilityRule id="r1"><condition>amount &gt; 5</condition>'
            "</applicabilityRule></planningTable>"
            '<humanTask id="t1"/><humanTask id="t2" name="Extra"/>'
            '<timerEventListener id="timer"><timerExpression>R3/PT1H</timerExpression></timerEventListener>',
            extra_case='<caseFileModel><caseFileItem id="f1" name="report"/></caseFileModel>'
            '<caseRoles id="roles"><role id="role1" name="Investigator"/></caseRoles>',
        )
    )
    assert definition.plan.planning_table == ("d1",)
    extra = definition.items["d1"]
    assert extra.discretionary and extra.authorized_roles == ("role1",)
    assert extra.applicability[0].language == "cel"
    assert definition.roles["role1"].name == "Investigator"
    assert definition.case_file_item_by_name("report") is not None
    timer = definition.items["pt"].timer
    assert timer is not None and (timer.kind, timer.repeat, timer.duration) == ("cycle", 3, "PT1H")


def test_vendor_extensions_are_ignored() -> None:
    definition = load_definition(
        _model(
            '<planItem id="p1" definitionRef="t1"/>'
            '<humanTask id="t1" flowable:formKey="x"><extensionElements><flowable:whatever a="1"/>'
            "</extensionElements></humanTask>"
        )
    )
    assert "p1" in definition.items


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<planItem id="p1" definitionRef="missing"/>', "p1: definitionRef 'missing' does not name"),
        (
            '<planItem id="p1" definitionRef="t1"><entryCriterion id="e1" sentryRef="nope"/></planItem>'
            '<humanTask id="t1"/>',
            "e1: sentryRef 'nope' does not name a sentry",
        ),
        (
            '<planItem id="p1" definitionRef="t1"><entryCriterion id="e1" sentryRef="s1"/></planItem>'
            '<sentry id="s1"><planItemOnPart id="op" sourceRef="ghost"><standardEvent>complete</standardEvent>'
            '</planItemOnPart></sentry><humanTask id="t1"/>',
            "op: on-part sourceRef 'ghost' does not name a plan item",
        ),
        ('<planItem id="p1" definitionRef="t1"/><humanTask id="t1"/><humanTask id="t1"/>', "t1: duplicate id"),
        (
            '<planItem id="p1" definitionRef="tl"/><timerEventListener id="tl">'
            "<timerExpression>every tuesday</timerExpression></timerEventListener>",
            "tl: bad timer expression",
        ),
        (
            '<planItem id="p1" definitionRef="t1"><itemControl><requiredRule><condition>${a &amp;&amp;}'
            '</condition></requiredRule></itemControl></planItem><humanTask id="t1"/>',
            "p1: requiredRule does not parse",
        ),
        (
            '<planItem id="p1" definitionRef="t1"><entryCriterion id="e1" sentryRef="s1"/></planItem>'
            '<sentry id="s1"><planItemOnPart id="op" sourceRef="p1"><standardEvent>explode</standardEvent>'
            '</planItemOnPart></sentry><humanTask id="t1"/>',
            "op: on-part has unknown standard event 'explode'",
        ),
        (
            '<planItem id="p1" definitionRef="t1"><exitCriterion id="x1" sentryRef="s0"/></planItem>'
            '<planItem id="p2" definitionRef="t1"><entryCriterion id="e2" sentryRef="s2"/></planItem>'
            '<sentry id="s0"><ifPart><condition>${stop}</condition></ifPart></sentry>'
            '<sentry id="s2"><planItemOnPart id="op" sourceRef="p1" exitCriterionRef="x9">'
            '<standardEvent>exit</standardEvent></planItemOnPart></sentry><humanTask id="t1"/>',
            "op: exitCriterionRef 'x9' is not an exit criterion of 'p1'",
        ),
        (
            '<planItem id="p1" definitionRef="t1"><exitCriterion id="x1" sentryRef="s0"/></planItem>'
            '<planItem id="p2" definitionRef="t1"><entryCriterion id="e2" sentryRef="s2"/></planItem>'
            '<sentry id="s0"><ifPart><condition>${stop}</condition></ifPart></sentry>'
            '<sentry id="s2"><planItemOnPart id="op" sourceRef="p1" exitCriterionRef="x1">'
            '<standardEvent>complete</standardEvent></planItemOnPart></sentry><humanTask id="t1"/>',
            "op: exitCriterionRef is for the event exit, not 'complete'",
        ),
        (
            '<planItem id="p1" definitionRef="tl"/><timerEventListener id="tl"><timerExpression>PT1H</timerExpression>'
            '<planItemStartTrigger id="trig" sourceRef="ghost"><standardEvent>complete</standardEvent>'
            "</planItemStartTrigger></timerEventListener>",
            "trig: on-part sourceRef 'ghost' does not name a plan item",
        ),
        (
            '<planItem id="p1" definitionRef="tl"/><timerEventListener id="tl"><timerExpression>PT1H</timerExpression>'
            '<planItemStartTrigger id="trig" sourceRef="p1"><standardEvent>finish</standardEvent>'
            "</planItemStartTrigger></timerEventListener>",
            "trig: planItemStartTrigger has unknown standard event 'finish'",
        ),
    ],
)
def test_readable_errors_name_the_element(body: str, expected: str) -> None:
    problems = _problems(_model(body))
    assert any(p.startswith(expected) for p in problems), problems


def test_entry_cycle_that_can_never_fire_is_rejected() -> None:
    body = (
        '<planItem id="a" name="A" definitionRef="t1"><entryCriterion id="ea" sentryRef="sa"/></planItem>'
        '<planItem id="b" name="B" definitionRef="t2"><entryCriterion id="eb" sentryRef="sb"/></planItem>'
        '<sentry id="sa"><planItemOnPart id="o1" sourceRef="b"><standardEvent>complete</standardEvent>'
        "</planItemOnPart></sentry>"
        '<sentry id="sb"><planItemOnPart id="o2" sourceRef="a"><standardEvent>complete</standardEvent>'
        "</planItemOnPart></sentry>"
        '<humanTask id="t1"/><humanTask id="t2"/>'
    )
    problems = _problems(_model(body))
    assert any("cycle that can never fire" in p and ("A -> B -> A" in p or "B -> A -> B" in p) for p in problems)


def test_an_alternative_entry_criterion_breaks_the_cycle() -> None:
    body = (
        '<planItem id="a" name="A" definitionRef="t1"><entryCriterion id="ea" sentryRef="sa"/>'
        '<entryCriterion id="ea2" sentryRef="sif"/></planItem>'
        '<planItem id="b" name="B" definitionRef="t2"><entryCriterion id="eb" sentryRef="sb"/></planItem>'
        '<sentry id="sa"><planItemOnPart id="o1" sourceRef="b"><standardEvent>complete</standardEvent>'
        "</planItemOnPart></sentry>"
        '<sentry id="sb"><planItemOnPart id="o2" sourceRef="a"><standardEvent>complete</standardEvent>'
        "</planItemOnPart></sentry>"
        '<sentry id="sif"><ifPart><condition>${go}</condition></ifPart></sentry>'
        '<humanTask id="t1"/><humanTask id="t2"/>'
    )
    assert set(load_definition(_model(body)).items) == {"plan", "a", "b"}


def test_dtd_and_entities_are_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><definitions>&a;</definitions>'
    assert any("forbidden XML" in p for p in _problems(bomb))


def test_external_entity_is_refused() -> None:
    xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions>&x;</definitions>'
    assert any("forbidden XML" in p for p in _problems(xxe))


def test_size_and_depth_limits() -> None:
    assert any("limit" in p for p in _problems(" " * (MAX_BYTES + 1)))
    deep = "<definitions>" + "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1) + "</definitions>"
    assert any("nested deeper" in p for p in _problems(deep))


@pytest.mark.parametrize("encoding", ["UTF-7", "no-such-encoding"])
def test_an_encoding_the_parser_cannot_read_is_a_model_problem(encoding: str) -> None:
    document = f'<?xml version="1.0" encoding="{encoding}"?><definitions {NS}/>'.encode("ascii")
    with pytest.raises(ModelError) as info:
        load_definition(document)
    assert "not well-formed XML" in str(info.value.problems[0])


def test_not_xml_and_not_cmmn() -> None:
    assert any("not well-formed" in p for p in _problems("<definitions>"))
    assert any("expected CMMN <definitions>" in p for p in _problems("<bpmn/>"))
    assert any("no <case>" in p for p in _problems(f"<definitions {NS}/>"))


def test_an_assignee_expression_that_does_not_parse_is_a_model_problem() -> None:
    body = '<planItem id="pi" definitionRef="t"/><humanTask id="t" name="T" flowable:assignee="${initiator +}"/>'
    (problem,) = _problems(_model(body))
    assert "flowable:assignee does not parse" in problem
    ok = load_definition(_model('<planItem id="pi" definitionRef="t"/><humanTask id="t" flowable:assignee=" ann "/>'))
    assert ok.items["pi"].assignee == "ann"


def test_candidate_users_and_groups_are_read_as_lists_of_names() -> None:
    body = ('<planItem id="pi" definitionRef="t"/>'
            '<humanTask id="t" name="T" flowable:candidateUsers="test, test2,,test" flowable:candidateGroups=" a,b "/>')
    item = load_definition(_model(body)).items["pi"]
    assert (item.candidate_users, item.candidate_groups) == (("test", "test2"), ("a", "b"))


@pytest.mark.parametrize("attr", ["candidateUsers", "candidateGroups"])
def test_a_candidate_expression_is_a_model_problem_not_a_name(attr: str) -> None:
    # Taken literally, the task would be offered to a user or group named "${...}".
    body = f'<planItem id="pi" definitionRef="t"/><humanTask id="t" name="T" flowable:{attr}="ann, ${{reviewer}}"/>'
    (problem,) = _problems(_model(body))
    assert f"flowable:{attr}" in problem and "expressions are not supported" in problem


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ('<caseFileItem id="cf0" name="police report"/>', "cf0: case file item name 'police report' is not an"),
        ('<caseFileItem id="cf0" name="2x"/>', "cf0: case file item name '2x' is not an identifier"),
        ('<caseFileItem id="cf0" name="dup"/><caseFileItem id="cf1" name="dup"/>',
         "cf1: another case file item is named 'dup'"),
    ],
)
def test_a_case_file_item_that_no_variable_could_be_is_a_model_error(items: str, problem: str) -> None:
    xml = (f'<definitions {NS}><case id="c"><caseFileModel id="cfm">{items}</caseFileModel>'
           '<casePlanModel id="p"><planItem id="a" name="A" definitionRef="t"/><humanTask id="t"/></casePlanModel>'
           "</case></definitions>")
    with pytest.raises(ModelError, match=re.escape(problem)):
        load_definition(xml)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("addReference", "case file item 'claim' never raises 'addReference': case file items hold data"),
        ("removeReference", "case file item 'claim' never raises 'removeReference'"),
        ("addChild", "case file item 'claim' never raises 'addChild': it has no child case file items in the model"),
    ],
)
def test_an_on_part_for_a_case_file_event_that_can_never_happen_is_a_model_error(event: str, problem: str) -> None:
    xml = (f'<definitions {NS}><case id="c"><caseFileModel id="cfm"><caseFileItem id="cf" name="claim"/>'
           '</caseFileModel><casePlanModel id="p"><planItem id="a" name="A" definitionRef="t">'
           '<entryCriterion sentryRef="s"/></planItem><sentry id="s"><caseFileItemOnPart id="on" sourceRef="cf">'
           f"<standardEvent>{event}</standardEvent></caseFileItemOnPart></sentry><humanTask id=\"t\"/>"
           "</casePlanModel></case></definitions>")
    with pytest.raises(ModelError, match=re.escape(f"on: {problem}")):
        load_definition(xml)


def test_a_deployed_definition_loads_again_though_a_later_check_finds_an_on_part_that_never_fires() -> None:
    # Read back from the store after an upgrade that added the check: its cases must stay loadable.
    xml = (f'<definitions {NS}><case id="c"><caseFileModel id="cfm"><caseFileItem id="cf" name="claim"/>'
           '</caseFileModel><casePlanModel id="p"><planItem id="a" name="A" definitionRef="t">'
           '<entryCriterion sentryRef="s"/></planItem><sentry id="s"><caseFileItemOnPart id="on" sourceRef="cf">'
           '<standardEvent>addReference</standardEvent></caseFileItemOnPart></sentry><humanTask id="t"/>'
           "</casePlanModel></case></definitions>")
    with pytest.raises(ModelError, match="never raises 'addReference'"):
        load_definition(xml)
    definition = load_definition(xml, deployed=True)
    assert definition.items["a"].entry[0].sentry.on_parts[0].event == "addReference"
    # what leaves the model broken is refused however it is read
    broken = xml.replace('sourceRef="cf"', 'sourceRef="nowhere"')
    with pytest.raises(ModelError, match="does not name a case file item"):
        load_definition(broken, deployed=True)


@pytest.mark.parametrize(("value", "blocking"), [("1", True), ("0", False), (" TRUE ", True), ("false", False)])
def test_boolean_attributes_are_read_as_xsd_booleans(value: str, blocking: bool) -> None:
    definition = load_definition(_model(f'<planItem id="p1" definitionRef="t1"/><task id="t1" isBlocking="{value}"/>'))
    assert definition.items["p1"].blocking is blocking


def test_a_boolean_attribute_that_is_not_a_boolean_is_a_model_problem_not_false() -> None:
    body = (
        '<planItem id="p1" definitionRef="st"/><stage id="st" autoComplete="yes">'
        '<planItem id="p2" definitionRef="t1"/></stage><task id="t1" isBlocking="no"/>'
    )
    assert _problems(_model(body)) == [
        "t1: isBlocking='no' is not a boolean (true, false, 1 or 0)",
        "st: autoComplete='yes' is not a boolean (true, false, 1 or 0)",
    ]
    # as it was read when it was deployed, for the cases that run on it
    assert not load_definition(_model(body), deployed=True).items["p2"].blocking


@pytest.mark.parametrize(
    ("doctype", "name"),
    [
        ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>', "lolz"),
        ('<!DOCTYPE definitions SYSTEM "http://example.com/evil.dtd">', "definitions"),
        ('<!DOCTYPE d [<!ENTITY % x SYSTEM "http://example.com/x.dtd"> %x;]>', "d"),
    ],
)
def test_a_doctype_is_refused_with_one_readable_line(doctype: str, name: str) -> None:
    xml = f'<?xml version="1.0"?>{doctype}<definitions {NS}><case id="c"><casePlanModel id="p"/></case></definitions>'
    assert _problems(xml) == [
        f"forbidden XML construct: a DOCTYPE declaration (<!DOCTYPE {name}>); CMMN files have none, and its "
        "entities and external files are not read"
    ]


@pytest.mark.parametrize(
    ("body", "extra_case", "expected"),
    [
        (
            '<planningTable id="pt"><discretionaryItem id="d1" definitionRef="m1"/></planningTable>'
            '<milestone id="m1" name="M"/>',
            "",
            "d1: a discretionary item is a task or a stage; definitionRef 'm1' is a milestone",
        ),
        (
            '<planItem id="p1" definitionRef="t1"/><humanTask id="t1" performerRef="nobody"/>',
            '<caseRoles id="rs"><role id="clerk" name="Clerk"/></caseRoles>',
            "t1: performerRef 'nobody' does not name a case role",
        ),
        (
            '<planItem id="p1" definitionRef="t1"/><humanTask id="t1"/>',
            '<caseFileModel id="cfm"><caseFileItem id="cfi1" name="doc" definitionRef="tns:nodef"/></caseFileModel>',
            "cfi1: definitionRef 'tns:nodef' does not name a caseFileItemDefinition",
        ),
    ],
)
def test_a_reference_to_nothing_or_to_the_wrong_kind_is_refused(body: str, extra_case: str, expected: str) -> None:
    assert _problems(_model(body, extra_case)) == [expected]


def test_references_that_resolve_load() -> None:
    xml = _model(
        '<planItem id="p1" definitionRef="t1"/><humanTask id="t1" performerRef="clerk"/>',
        '<caseFileModel id="cfm"><caseFileItem id="cfi1" name="doc" definitionRef="tns:def1"/></caseFileModel>'
        '<caseRoles id="rs"><role id="clerk" name="Clerk"/></caseRoles>',
    ).replace("</definitions>", '<caseFileItemDefinition id="def1" name="Doc"/></definitions>')
    assert load_definition(xml).case_file_items["cfi1"].definition_ref == "tns:def1"


@pytest.mark.parametrize("listener", ['<userEventListener id="l"/>',
                                      '<timerEventListener id="l"><timerExpression>PT1H</timerExpression>'
                                      "</timerEventListener>"])
def test_an_event_listener_with_an_entry_criterion_is_refused_at_deployment(listener: str) -> None:
    # The engine makes a listener available with its stage: a user event could be raised (a timer started) before
    # task A completed, whatever the criterion said.
    body = ('<planItem id="a" definitionRef="t"/><planItem id="pl" definitionRef="l"><entryCriterion id="ec" '
            'sentryRef="s"/></planItem><sentry id="s"><planItemOnPart id="on" sourceRef="a"><standardEvent>complete'
            f'</standardEvent></planItemOnPart></sentry><humanTask id="t"/>{listener}')
    problems = _problems(_model(body))
    assert len(problems) == 1 and problems[0].startswith("pl: an event listener cannot have an entry criterion")
    # deployed before the check: its cases still load
    assert load_definition(_model(body), deployed=True).items["pl"].entry


@pytest.mark.parametrize(("body", "where"), [
    ('<planItem id="pt" definitionRef="t"/><timerEventListener id="t"><timerExpression>R3/PT</timerExpression>'
     "</timerEventListener>", "t: timer expression"),
    ('<planItem id="ph" definitionRef="h"/><humanTask id="h" flowable:dueDate="P1DT"/>', "h: flowable:dueDate"),
])
def test_a_duration_with_nothing_after_its_t_is_refused_at_deployment(body: str, where: str) -> None:
    # isodate reads "PT" as zero and "P1DT" as "P1D"; deployed before the check, the definition still loads
    problems = _problems(_model(body))
    assert len(problems) == 1 and problems[0].startswith(where) and "followed by no hours" in problems[0]
    assert load_definition(_model(body), deployed=True)
