"""CMMN 1.1 XML export of a case definition (a round trip through import keeps the semantics)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from casework.model.definition import (
    ANY_EVENT,
    CASE_PLAN,
    HUMAN_TASK,
    STAGE,
    TIMER_EVENT,
    TIMER_START,
    USER_EVENT,
    CaseDefinition,
    Criterion,
    PlanItemDef,
    Rule,
)

CMMN_NS = "http://www.omg.org/spec/CMMN/20151109/MODEL"
FLOWABLE_NS = "http://flowable.org/cmmn"


def _q(tag: str) -> str:
    return f"{{{CMMN_NS}}}{tag}"


def _write_file_items(definition: CaseDefinition, parent: str, container: ET.Element) -> None:
    """The case file items whose parent is ``parent`` ("" for the top), each with its children nested (CMMN 1.1)."""
    for cfi in definition.case_file_children(parent):
        attrs = {"id": cfi.id, "name": cfi.name, "multiplicity": cfi.multiplicity}
        if cfi.definition_ref:
            attrs["definitionRef"] = cfi.definition_ref
        item_el = ET.SubElement(container, _q("caseFileItem"), attrs)
        if definition.case_file_children(cfi.id):
            _write_file_items(definition, cfi.id, ET.SubElement(item_el, _q("children")))


def to_xml(definition: CaseDefinition) -> str:
    ET.register_namespace("", CMMN_NS)
    ET.register_namespace("flowable", FLOWABLE_NS)
    root = ET.Element(_q("definitions"), {"targetNamespace": definition.target_namespace or "urn:casework"})
    # The types that case file items name: casework reads nothing of them, but a reference to nothing is refused.
    refs = [cfi.definition_ref.rsplit(":", 1)[-1] for cfi in definition.case_file_items.values()]
    for ref in dict.fromkeys(r for r in refs if r):
        ET.SubElement(root, _q("caseFileItemDefinition"), {"id": ref})
    case_attrs = {"id": definition.key, "name": definition.name}
    if definition.initiator_variable:
        case_attrs[f"{{{FLOWABLE_NS}}}initiatorVariableName"] = definition.initiator_variable
    case_el = ET.SubElement(root, _q("case"), case_attrs)
    if definition.case_file_items:
        model = ET.SubElement(case_el, _q("caseFileModel"), {"id": f"{definition.key}_caseFile"})
        _write_file_items(definition, "", model)
    plan = definition.plan
    plan_el = ET.SubElement(
        case_el,
        _q("casePlanModel"),
        {"id": plan.id, "name": plan.name, "autoComplete": str(plan.auto_complete).lower()},
    )
    written_sentries: set[str] = set()
    _write_stage_body(definition, plan, plan_el, written_sentries, _default_rules(definition))
    for criterion in plan.exit:
        ET.SubElement(plan_el, _q("exitCriterion"), {"id": criterion.id, "sentryRef": criterion.sentry.id})
    if definition.roles:
        roles_el = ET.SubElement(case_el, _q("caseRoles"), {"id": f"{definition.key}_roles"})
        for role in definition.roles.values():
            ET.SubElement(roles_el, _q("role"), {"id": role.id, "name": role.name})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _default_rules(definition: CaseDefinition) -> dict[str, dict[str, Rule]]:
    """Rules of a plan item definition's defaultControl, by definition id and rule name: a rule (with an id) that
    several plan items of one definition share came from there. Written in each itemControl, its id would be in the
    document twice, and the export refused on import."""
    seen: dict[tuple[str, str, str], int] = {}
    rules: dict[tuple[str, str, str], Rule] = {}
    for item in definition.items.values():
        for name, rule in _rules(item):
            if rule is not None and rule.id:
                key = (item.definition_id, name, rule.id)
                seen[key] = seen.get(key, 0) + 1
                rules[key] = rule
    defaults: dict[str, dict[str, Rule]] = {}
    for (def_id, name, _), count in seen.items():
        if count > 1:
            defaults.setdefault(def_id, {})[name] = rules[(def_id, name, _)]
    return defaults


def _rules(item: PlanItemDef) -> list[tuple[str, Rule | None]]:
    return [("repetitionRule", item.repetition), ("requiredRule", item.required),
            ("manualActivationRule", item.manual)]


def _write_stage_body(
    definition: CaseDefinition, stage: PlanItemDef, stage_el: ET.Element, written: set[str],
    defaults: dict[str, dict[str, Rule]],
) -> None:
    members = [definition.items[i] for i in stage.children]
    discretionary = [definition.items[i] for i in stage.planning_table]
    # Items of a human task's own table are written in the task's definition (see `_write_definition`).
    owned = {i for member in members if member.kind == HUMAN_TASK for i in member.planning_table}
    for item in members:
        pi = ET.SubElement(
            stage_el, _q("planItem"), {"id": item.id, "name": item.name, "definitionRef": item.definition_id}
        )
        _write_control_and_criteria(item, pi, defaults)
    sentry_owners = [*members, *discretionary] + ([stage] if stage.kind == CASE_PLAN else [])
    for item in sentry_owners:
        for criterion in (*_modelled_entry(item), *item.exit):
            _write_sentry(criterion, stage_el, written)
    _write_planning_table([d for d in discretionary if d.id not in owned], stage_el, f"{stage.id}_table", defaults)
    for item in [*members, *discretionary]:
        if item.definition_id not in written:  # several plan items may share one definition
            written.add(item.definition_id)
            _write_definition(definition, item, stage_el, written, defaults)


def _write_planning_table(
    items: list[PlanItemDef], parent: ET.Element, table_id: str, defaults: dict[str, dict[str, Rule]]
) -> None:
    if not items:
        return
    table = ET.SubElement(parent, _q("planningTable"), {"id": table_id})
    rules: list[tuple[str, str]] = []
    for item in items:
        attrs = {"id": item.id, "name": item.name, "definitionRef": item.definition_id}
        if item.applicability:
            refs = [f"{item.id}_applicability{n}" for n in range(len(item.applicability))]
            attrs["applicabilityRuleRefs"] = " ".join(refs)
            rules.extend(zip(refs, (e.source for e in item.applicability), strict=True))
        if item.authorized_roles:
            attrs["authorizedRoleRefs"] = " ".join(item.authorized_roles)
        di = ET.SubElement(table, _q("discretionaryItem"), attrs)
        _write_control_and_criteria(item, di, defaults)
    for rule_id, source in rules:
        rule_el = ET.SubElement(table, _q("applicabilityRule"), {"id": rule_id})
        ET.SubElement(rule_el, _q("condition")).text = source


def _modelled_entry(item: PlanItemDef) -> tuple[Criterion, ...]:
    """The entry criteria written as such: a timer's start trigger is written in its definition instead."""
    if item.timer_start is None:
        return item.entry
    return tuple(c for c in item.entry if c.id != f"{item.id}:{TIMER_START}")


def _write_control_and_criteria(item: PlanItemDef, el: ET.Element, defaults: dict[str, dict[str, Rule]]) -> None:
    shared = defaults.get(item.definition_id, {})
    present = [(name, rule) for name, rule in _rules(item) if rule is not None and shared.get(name) != rule]
    if present:
        control = ET.SubElement(el, _q("itemControl"))
        for name, rule in present:
            _write_rule(control, name, rule, item)
    for criterion in _modelled_entry(item):
        ET.SubElement(el, _q("entryCriterion"), {"id": criterion.id, "sentryRef": criterion.sentry.id})
    for criterion in item.exit:
        ET.SubElement(el, _q("exitCriterion"), {"id": criterion.id, "sentryRef": criterion.sentry.id})


def _write_rule(control: ET.Element, name: str, rule: Rule | None, item: PlanItemDef) -> None:
    assert rule is not None
    attrs = {"id": rule.id} if rule.id else {}
    if name == "repetitionRule" and item.counter_variable != "repetitionCounter":
        attrs[f"{{{FLOWABLE_NS}}}counterVariable"] = item.counter_variable
    rule_el = ET.SubElement(control, _q(name), attrs)
    if rule.condition is not None:
        ET.SubElement(rule_el, _q("condition")).text = rule.condition.source


def _write_sentry(criterion: Criterion, parent: ET.Element, written: set[str]) -> None:
    sentry = criterion.sentry
    if sentry.id in written:
        return
    written.add(sentry.id)
    el = ET.SubElement(parent, _q("sentry"), {"id": sentry.id})
    for n, part in enumerate(sentry.on_parts):
        tag = "planItemOnPart" if part.kind == "planItem" else "caseFileItemOnPart"
        attrs = {"id": part.id or f"{sentry.id}_on{n}", "sourceRef": part.source}
        if part.exit_criterion:
            attrs["exitCriterionRef"] = part.exit_criterion
        op = ET.SubElement(el, _q(tag), attrs)
        if part.event != ANY_EVENT:  # "any event" is written as CMMN writes it: no standardEvent
            ET.SubElement(op, _q("standardEvent")).text = part.event
    if sentry.if_part is not None:
        if_el = ET.SubElement(el, _q("ifPart"), {"id": f"{sentry.id}_if"})
        ET.SubElement(if_el, _q("condition")).text = sentry.if_part.source


def _write_definition(
    definition: CaseDefinition, item: PlanItemDef, parent: ET.Element, written: set[str],
    defaults: dict[str, dict[str, Rule]],
) -> None:
    attrs = {"id": item.definition_id, "name": item.name}
    if item.kind in (HUMAN_TASK, "task") and not item.blocking:
        attrs["isBlocking"] = "false"
    if item.blocking_expression is not None:
        attrs[f"{{{FLOWABLE_NS}}}isBlockingExpression"] = item.blocking_expression.source
    if item.kind == STAGE:
        attrs["autoComplete"] = str(item.auto_complete).lower()
    if item.assignee:
        attrs[f"{{{FLOWABLE_NS}}}assignee"] = item.assignee
    if item.candidate_groups:
        attrs[f"{{{FLOWABLE_NS}}}candidateGroups"] = ",".join(item.candidate_groups)
    if item.candidate_users:
        attrs[f"{{{FLOWABLE_NS}}}candidateUsers"] = ",".join(item.candidate_users)
    if item.due_date:
        attrs[f"{{{FLOWABLE_NS}}}dueDate"] = item.due_date
    if item.kind == USER_EVENT and item.authorized_roles:
        # Who may raise the listener (a discretionary item's roles are written in its planning table instead).
        attrs["authorizedRoleRefs"] = " ".join(item.authorized_roles)
    el = ET.SubElement(parent, _q(item.kind), attrs)
    if item.description:
        ET.SubElement(el, _q("documentation")).text = item.description
    if item.definition_id in defaults:
        control = ET.SubElement(el, _q("defaultControl"))
        for name, rule in defaults[item.definition_id].items():
            _write_rule(control, name, rule, item)
    if item.kind == TIMER_EVENT and item.timer is not None:
        ET.SubElement(el, _q("timerExpression")).text = item.timer.source
    start = item.timer_start
    if item.kind == TIMER_EVENT and start is not None:
        tag = "planItemStartTrigger" if start.kind == "planItem" else "caseFileItemStartTrigger"
        attrs = {"id": start.id, "sourceRef": start.source} if start.id else {"sourceRef": start.source}
        trigger = ET.SubElement(el, _q(tag), attrs)
        if start.event != ANY_EVENT:
            ET.SubElement(trigger, _q("standardEvent")).text = start.event
    if item.kind == STAGE:
        _write_stage_body(definition, item, el, written, defaults)
    elif item.kind == HUMAN_TASK:
        _write_planning_table([definition.items[i] for i in item.planning_table], el, f"{item.id}_table", defaults)
