"""Export keeps the semantics: the exported model imports to the same definition and passes the same scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from casework.conformance.runner import run_scenario
from casework.model import CaseDefinition, load_definition, to_xml
from casework.paths import shared_dir

SHARED = shared_dir()
OWN = Path(__file__).resolve().parents[1] / "conformance"


def _normal_form(definition: CaseDefinition) -> dict[str, Any]:
    def expr(e: Any) -> str | None:
        return None if e is None else e.source

    def rule(r: Any) -> Any:
        return None if r is None else ("rule", expr(r.condition))

    def criteria(cs: Any) -> list[Any]:
        def parts(c: Any) -> list[Any]:
            return [(p.source, p.event, p.kind, p.exit_criterion) for p in c.sentry.on_parts]

        return [(c.id, parts(c), expr(c.sentry.if_part)) for c in cs]

    return {
        "key": definition.key,
        "roles": sorted((r.id, r.name) for r in definition.roles.values()),
        "files": sorted((f.id, f.name, f.parent) for f in definition.case_file_items.values()),
        "items": {
            i.id: (
                i.name,
                i.kind,
                i.parent,
                criteria(i.entry),
                criteria(i.exit),
                rule(i.manual),
                rule(i.required),
                rule(i.repetition),
                i.counter_variable,
                i.blocking,
                i.auto_complete,
                None if i.timer is None else i.timer.source,
                i.timer_start,
                i.children,
                i.discretionary,
                [expr(a) for a in i.applicability],
                i.authorized_roles,
                i.planning_table,
                i.assignee,
                i.candidate_groups,
                i.candidate_users,
            )
            for i in definition.items.values()
        },
    }


def _models() -> list[Path]:
    paths = sorted((OWN / "models").glob("*.cmmn"))
    if SHARED is not None:
        paths += sorted((SHARED / "cmmn" / "models").glob("*/*.cmmn"))
    return paths


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.name)
def test_round_trip_keeps_the_definition(path: Path) -> None:
    original = load_definition(path.read_bytes())
    again = load_definition(to_xml(original))
    assert _normal_form(again) == _normal_form(original)


def test_round_trip_keeps_an_on_part_waiting_for_one_exit_criterion() -> None:
    ns = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'
    original = load_definition(
        f'<definitions {ns}><case id="c"><casePlanModel id="plan" name="Plan">'
        '<planItem id="p1" definitionRef="t"><exitCriterion id="x1" sentryRef="s1"/></planItem>'
        '<planItem id="p2" definitionRef="t"><entryCriterion id="e2" sentryRef="s2"/></planItem>'
        '<sentry id="s1"><ifPart><condition>${stop}</condition></ifPart></sentry>'
        '<sentry id="s2"><planItemOnPart id="op" sourceRef="p1" exitCriterionRef="x1">'
        "<standardEvent>exit</standardEvent></planItemOnPart></sentry>"
        '<humanTask id="t"/></casePlanModel></case></definitions>'
    )
    assert original.items["p2"].entry[0].sentry.on_parts[0].exit_criterion == "x1"
    assert _normal_form(load_definition(to_xml(original))) == _normal_form(original)


def test_round_trip_keeps_a_human_tasks_own_planning_table() -> None:
    ns = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'
    original = load_definition(
        f'<definitions {ns}><case id="c"><casePlanModel id="plan" name="Plan">'
        '<planItem id="pAssess" definitionRef="assess"/>'
        '<humanTask id="assess" name="Assess"><planningTable id="t">'
        '<discretionaryItem id="dOpinion" definitionRef="opinion" applicabilityRuleRefs="r"/>'
        '<applicabilityRule id="r"><condition>${amount > 10}</condition></applicabilityRule></planningTable>'
        '</humanTask><humanTask id="opinion" name="Second opinion"/></casePlanModel></case></definitions>'
    )
    assert original.items["pAssess"].planning_table == ("dOpinion",) == original.plan.planning_table
    assert _normal_form(load_definition(to_xml(original))) == _normal_form(original)


def test_round_trip_keeps_a_timers_start_trigger() -> None:
    ns = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'
    original = load_definition(
        f'<definitions {ns}><case id="c"><casePlanModel id="plan" name="Plan">'
        '<planItem id="pSubmit" definitionRef="submit"/><planItem id="pTimer" definitionRef="timer"/>'
        '<humanTask id="submit" name="Submit"/><timerEventListener id="timer"><timerExpression>P1D</timerExpression>'
        '<planItemStartTrigger id="trig" sourceRef="pSubmit"><standardEvent>complete</standardEvent>'
        "</planItemStartTrigger></timerEventListener></casePlanModel></case></definitions>"
    )
    assert original.items["pTimer"].timer_start is not None
    assert _normal_form(load_definition(to_xml(original))) == _normal_form(original)


def _scenarios() -> list[Path]:
    paths = sorted((OWN / "scenarios").glob("*.json"))
    if SHARED is not None:
        paths += sorted((SHARED / "cmmn" / "scenarios").glob("*.json"))
    return paths


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda p: p.stem)
def test_scenarios_pass_on_the_exported_models(scenario: Path, tmp_path: Path) -> None:
    root = scenario.parent.parent
    data = json.loads(scenario.read_text(encoding="utf-8"))
    models = [data["model"]] + [
        step["migrate"]["model"] for step in data["steps"] if isinstance(step.get("migrate"), dict)
    ]
    models += [s["expect"]["migration"]["model"] for s in data["steps"] if "migration" in s.get("expect", {})]
    for model in models:
        target = tmp_path / model
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_xml(load_definition((root / model).read_bytes())), encoding="utf-8")
    (tmp_path / "scenarios").mkdir()
    copy = tmp_path / "scenarios" / scenario.name
    shutil.copyfile(scenario, copy)
    outcome = run_scenario(copy)
    assert outcome.passed, outcome.reason


def test_round_trip_keeps_nested_case_file_items() -> None:
    original = load_definition(
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="c"><caseFileModel id="cfm">'
        '<caseFileItem id="cfClaim" name="claim">'
        '<children><caseFileItem id="cfPhoto" name="photo"/></children></caseFileItem></caseFileModel>'
        '<casePlanModel id="p"><planItem id="a" name="A" definitionRef="t"/><humanTask id="t"/></casePlanModel>'
        "</case></definitions>"
    )
    assert original.case_file_items["cfPhoto"].parent == "cfClaim"
    assert _normal_form(load_definition(to_xml(original))) == _normal_form(original)


def test_round_trip_keeps_a_blocking_expression() -> None:
    original = load_definition(
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn">'
        '<case id="c"><casePlanModel id="p"><planItem id="a" name="A" definitionRef="t"/>'
        '<humanTask id="t" flowable:isBlockingExpression="${wait}"/></casePlanModel></case></definitions>'
    )
    again = load_definition(to_xml(original))
    expression = again.items["a"].blocking_expression
    assert expression is not None and expression.source == "${wait}"


def test_round_trip_keeps_who_may_raise_a_user_event_listener() -> None:
    # Found by the generated models (tests/engine/test_engine_generated_models.py): the export dropped the roles,
    # so the listener imported again could be raised by anyone.
    original = load_definition(
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="c">'
        '<casePlanModel id="p"><planItem id="a" name="A" definitionRef="ev"/>'
        '<userEventListener id="ev" authorizedRoleRefs="rSpec"/></casePlanModel>'
        '<caseRoles id="roles"><role id="rSpec" name="specialist"/></caseRoles></case></definitions>'
    )
    assert original.items["a"].authorized_roles == ("rSpec",)
    assert load_definition(to_xml(original)).items["a"].authorized_roles == ("rSpec",)


def test_round_trip_keeps_the_default_control_of_a_definition_two_plan_items_share() -> None:
    # Found by the generated models: each plan item's itemControl got the definition's rules with their ids, so the
    # export held each id twice and its import was refused ("duplicate id").
    original = load_definition(
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:t"><case id="c">'
        '<casePlanModel id="p"><planItem id="a" name="A" definitionRef="t"/>'
        '<planItem id="b" name="B" definitionRef="t"><itemControl><requiredRule id="own"/></itemControl></planItem>'
        '<planItem id="d" name="D" definitionRef="t"/>'
        '<humanTask id="t"><defaultControl><requiredRule id="req"><condition>${amount > 5}</condition></requiredRule>'
        '<manualActivationRule id="man"/></defaultControl></humanTask></casePlanModel></case></definitions>'
    )
    again = load_definition(to_xml(original))
    assert again == original
    assert [again.items[i].required.id for i in "abd"] == ["req", "own", "req"]  # type: ignore[union-attr]
