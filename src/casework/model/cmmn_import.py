"""CMMN 1.1 XML import.

The XML is parsed with defusedxml (no DTDs, entities or external references) under limits on size, depth and element
count, because models are uploaded by users. Every problem found is collected with the id of the element it concerns,
so a modeller sees all of them at once rather than one per upload.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from types import MappingProxyType

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden

from casework.expr import Expression, ExpressionError, compile_expression
from casework.expr.juel import is_juel
from casework.model.definition import (
    ANY_EVENT,
    CASE_FILE_EVENTS,
    CASE_PLAN,
    EVENT_LISTENER_KINDS,
    HUMAN_TASK,
    MILESTONE,
    PLAN_ITEM_EVENTS,
    STAGE,
    TASK,
    TIMER_EVENT,
    TIMER_START,
    USER_EVENT,
    CaseDefinition,
    CaseFileItemDef,
    CaseRole,
    Criterion,
    OnPart,
    PlanItemDef,
    Rule,
    Sentry,
)
from casework.model.errors import ModelError, Problem
from casework.model.extensions import check_unsupported, vendor_attr
from casework.model.timers import REFERENCE, TimerError, TimerSpec, check_time_part, due_from, parse_timer
from casework.model.validation import check_entry_cycles

CMMN_NS = "http://www.omg.org/spec/CMMN/20151109/MODEL"
FLOWABLE_NS = "http://flowable.org/cmmn"
# Names of the expression languages casework reads, as tools write them in `language` / `expressionLanguage`.
KNOWN_LANGUAGES = frozenset({"juel", "el", "uel", "http://java.sun.com/products/jsp/", "cel"})

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_ELEMENTS = 50_000

PLAN_ITEM_DEFINITION_TAGS = {
    "humanTask": HUMAN_TASK,
    "task": TASK,
    "processTask": TASK,
    "caseTask": TASK,
    "decisionTask": TASK,
    "stage": STAGE,
    "milestone": MILESTONE,
    "userEventListener": USER_EVENT,
    "timerEventListener": TIMER_EVENT,
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _is_cmmn(el: ET.Element) -> bool:
    # Some exporters write CMMN elements without a namespace; anything in another namespace is a vendor extension.
    return _ns(el.tag) in (CMMN_NS, "")


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _is_cmmn(c) and _local(c.tag) == name]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _flowable(el: ET.Element, name: str) -> str | None:
    return el.get(f"{{{FLOWABLE_NS}}}{name}")


def _assignee(def_el: ET.Element, pi_id: str, ctx: _Context) -> str | None:
    """flowable:assignee (or camunda:assignee): a user id, or an expression (`${initiator}`) evaluated when the task
    is created."""
    found = vendor_attr(def_el, "assignee")
    if found is None:
        return None
    attr, value = found[0], found[1].strip()
    if "${" in value:
        ctx.expression(pi_id, value, attr)
    return value or None


def _due_date(def_el: ET.Element, ref: str, ctx: _Context) -> str | None:
    """flowable:dueDate (or camunda:dueDate) of a human task. A literal must give a time now (a duration from any
    start), or every instance would start without the deadline the modeller gave it; an expression must parse."""
    found = vendor_attr(def_el, "dueDate")
    if found is None or not found[1].strip():
        return None
    attr, value = found[0], found[1].strip()
    if is_juel(value):
        ctx.expression(ref, value, attr)
    else:
        try:
            due_from(value, REFERENCE)
        except TimerError as exc:
            ctx.problem(ref, f"{attr} {value!r} is not an ISO-8601 duration, date-time or date ({exc})")
        else:
            _check_time_part(ctx, ref, value if value.startswith("P") else None, attr)
    return value


def _check_time_part(ctx: _Context, ref: str, duration: str | None, what: str) -> None:
    """A duration such as "PT" (read as zero) is refused at deployment; deployed before, it runs as it did."""
    if duration is None:
        return
    try:
        check_time_part(duration)
    except TimerError as exc:
        ctx.unsupported(ref, f"{what}: {exc}")


def _candidates(def_el: ET.Element, name: str, pi_id: str, ctx: _Context) -> tuple[str, ...]:
    """flowable:candidateGroups / candidateUsers (or camunda:...): a comma-separated list of names. Expressions are
    refused: the task would otherwise be offered to a group or user literally named `${...}`."""
    attr, value = vendor_attr(def_el, name) or ("", "")
    if "${" in value or "#{" in value:
        ctx.problem(pi_id, f"{attr} {value!r}: expressions are not supported here; list the names")
        return ()
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))


def _bool_attr(el: ET.Element, name: str, default: bool, ctx: _Context) -> bool:
    """An xsd:boolean attribute: true, false, 1 or 0. Anything else is a problem, not false: isBlocking="yes" read
    as false would make the task complete at once."""
    value = el.get(name)
    if value is None:
        return default
    text = value.strip().lower()
    if ctx.deployed:  # read as it was read when deployed, so that running cases keep their behaviour
        return text == "true"
    if text not in ("true", "false", "1", "0"):
        ctx.unsupported(el.get("id", ""), f"{name}={value!r} is not a boolean (true, false, 1 or 0)")
    return text in ("true", "1")


@dataclass
class _Context:
    problems: list[Problem] = field(default_factory=list)
    definitions: dict[str, ET.Element] = field(default_factory=dict)
    sentries: dict[str, ET.Element] = field(default_factory=dict)
    items: dict[str, PlanItemDef] = field(default_factory=dict)
    pending_on_parts: list[tuple[str, OnPart]] = field(default_factory=list)
    applicability_rules: dict[str, ET.Element] = field(default_factory=dict)
    roles: dict[str, CaseRole] = field(default_factory=dict)
    case_file_items: dict[str, CaseFileItemDef] = field(default_factory=dict)
    used_stage_definitions: set[str] = field(default_factory=set)
    deployed: bool = False
    expression_language: str = ""  # the document's default (definitions@expressionLanguage)

    def problem(self, element_id: str, message: str) -> None:
        self.problems.append(Problem(element_id, message))

    def pointless(self, element_id: str, message: str) -> None:
        """A problem with a part of the model that would import and never take effect (see `load_definition`)."""
        if not self.deployed:
            self.problem(element_id, message)

    def unsupported(self, element_id: str, message: str) -> None:
        """A part of the model whose meaning casework does not reproduce, refused at deployment only: as for
        `pointless`, a definition deployed before the check was added must still load for its running cases."""
        if not self.deployed:
            self.problem(element_id, message)

    def condition(self, owner_id: str, cond_el: ET.Element | None, what: str) -> Expression | None:
        """A <condition>, in the language it names (or the document's expressionLanguage): JUEL or CEL."""
        if cond_el is None:
            return None
        text = cond_el.text or ""
        language = (cond_el.get("language") or "").strip()
        declared = language or self.expression_language
        # `${...}` under a document-wide default is JUEL as Flowable and Camunda read it; a language named on the
        # condition itself is what its author meant, and another language's text must not run as CEL.
        foreign = bool(declared) and declared.lower() not in KNOWN_LANGUAGES and bool(text.strip())
        if foreign and (language or not text.strip().startswith(("${", "#{"))):
            self.unsupported(cond_el.get("id") or owner_id,
                             f"{what} is in language {declared!r}, which casework does not read; "
                             "write it as JUEL ${...} or CEL")
            return None
        return self.expression(owner_id, text, what)

    def expression(self, owner_id: str, text: str | None, what: str) -> Expression | None:
        if text is None or not text.strip():
            return None
        try:
            return compile_expression(text.strip())
        except ExpressionError as exc:
            self.problem(owner_id, f"{what} does not parse: {exc}")
            return None


def parse_xml(source: str | bytes) -> ET.Element:
    data = source.encode("utf-8") if isinstance(source, str) else source
    if len(data) > MAX_BYTES:
        raise ModelError([Problem("", f"model is {len(data)} bytes; the limit is {MAX_BYTES}")])
    if isinstance(source, str) and source.lstrip().startswith("<?xml"):
        # A str already decoded; drop the declaration so its encoding attribute cannot contradict it.
        data = source.split("?>", 1)[1].encode("utf-8")
    try:
        root: ET.Element = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        message = (f"forbidden XML construct: a DOCTYPE declaration (<!DOCTYPE {exc.name}>); CMMN files have none, "
                   "and its entities and external files are not read")
        raise ModelError([Problem("", message)]) from exc
    except DefusedXmlException as exc:  # entities or external references, had a DOCTYPE got through
        raise ModelError([Problem("", f"forbidden XML construct: {type(exc).__name__}")]) from exc
    except ET.ParseError as exc:
        raise ModelError([Problem("", f"not well-formed XML: {exc}")]) from exc
    except (ValueError, LookupError) as exc:
        # expat refuses a declared encoding it cannot read ("UTF-7", an unknown name) with these, not ParseError.
        raise ModelError([Problem("", f"not well-formed XML: {exc}")]) from exc
    count = 0
    stack: list[tuple[ET.Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise ModelError([Problem(el.get("id", ""), f"XML nested deeper than {MAX_DEPTH} levels")])
        if count > MAX_ELEMENTS:
            raise ModelError([Problem("", f"more than {MAX_ELEMENTS} XML elements")])
        stack.extend((c, depth + 1) for c in el)
    return root


def case_ids(source: str | bytes) -> list[str]:
    """The ids of the document's `<case>` elements, in order (ModelError if it is not a CMMN document)."""
    root = parse_xml(source)
    if _local(root.tag) != "definitions":
        raise ModelError([Problem("", f"root element is <{_local(root.tag)}>, expected CMMN <definitions>")])
    return [c.get("id", "") for c in _children(root, "case")]


def load_definition(source: str | bytes, case_id: str | None = None, *, deployed: bool = False) -> CaseDefinition:
    """Import one case of a CMMN 1.1 document. Raises ModelError listing every problem found.

    ``deployed``: the document was accepted when it was deployed, and is read again from the store. Checks that only
    refuse what would import and never fire (`_Context.pointless`) are then not made: one added in a later version
    of casework would otherwise leave every case of a definition deployed before it unloadable after an upgrade."""
    root = parse_xml(source)
    if _local(root.tag) != "definitions":
        raise ModelError([Problem("", f"root element is <{_local(root.tag)}>, expected CMMN <definitions>")])
    cases = _children(root, "case")
    if not cases:
        raise ModelError([Problem(root.get("id", ""), "no <case> in the document")])
    if case_id is not None:
        cases = [c for c in cases if c.get("id") == case_id]
        if not cases:
            raise ModelError([Problem(case_id, "no <case> with this id in the document")])
    case_el = cases[0]
    ctx = _Context(deployed=deployed, expression_language=(root.get("expressionLanguage") or "").strip())
    _check_duplicate_ids(root, ctx)
    check_unsupported(case_el, ctx.unsupported)
    for el in root.iter():
        if not _is_cmmn(el):
            continue
        name = _local(el.tag)
        el_id = el.get("id")
        if el_id is None:
            continue
        if name in PLAN_ITEM_DEFINITION_TAGS:
            ctx.definitions[el_id] = el
        elif name == "sentry":
            ctx.sentries[el_id] = el
        elif name == "applicabilityRule":
            ctx.applicability_rules[el_id] = el
    _read_roles(case_el, ctx)
    types = {el.get("id", "") for el in root.iter() if _is_cmmn(el) and _local(el.tag) == "caseFileItemDefinition"}
    _read_case_file(case_el, types, ctx)
    plan_el = _child(case_el, "casePlanModel")
    if plan_el is None:
        raise ModelError([Problem(case_el.get("id", ""), "case has no <casePlanModel>")])
    plan_id = plan_el.get("id") or "casePlanModel"
    children, table = _read_stage_body(plan_el, plan_id, ctx)
    ctx.items[plan_id] = PlanItemDef(
        id=plan_id,
        name=plan_el.get("name") or case_el.get("name") or plan_id,
        kind=CASE_PLAN,
        definition_id=plan_id,
        parent=None,
        exit=_criteria(plan_el, "exitCriterion", plan_id, ctx),
        auto_complete=_bool_attr(plan_el, "autoComplete", False, ctx),
        children=children,
        planning_table=table,
    )
    _resolve_on_parts(ctx)
    ctx.problems.extend(check_entry_cycles(ctx.items, deployed=deployed))
    if ctx.problems:
        raise ModelError(ctx.problems)
    return CaseDefinition(
        key=case_el.get("id") or plan_id,
        name=case_el.get("name") or plan_el.get("name") or case_el.get("id") or plan_id,
        root=plan_id,
        items=MappingProxyType(dict(ctx.items)),
        case_file_items=MappingProxyType(dict(ctx.case_file_items)),
        roles=MappingProxyType(dict(ctx.roles)),
        initiator_variable=_flowable(case_el, "initiatorVariableName"),
        target_namespace=root.get("targetNamespace", ""),
    )


def _check_duplicate_ids(root: ET.Element, ctx: _Context) -> None:
    seen: set[str] = set()
    for el in root.iter():
        el_id = el.get("id")
        if el_id is None or not _is_cmmn(el):
            continue
        if el_id in seen:
            ctx.problem(el_id, f"duplicate id (on <{_local(el.tag)}>)")
        seen.add(el_id)


def _read_roles(case_el: ET.Element, ctx: _Context) -> None:
    for roles_el in _children(case_el, "caseRoles"):
        # CMMN 1.1 nests <role> elements; CMMN 1.0 files list each role as a <caseRoles> element.
        role_els = _children(roles_el, "role") or [roles_el]
        for role_el in role_els:
            role_id = role_el.get("id")
            if role_id is None:
                continue
            ctx.roles[role_id] = CaseRole(role_id, role_el.get("name") or role_id)


def _read_case_file(case_el: ET.Element, known_types: set[str], ctx: _Context) -> None:
    model = _child(case_el, "caseFileModel")
    if model is None:
        return
    parents = {child: el for el in model.iter() for child in el}
    for item_el in model.iter():
        if not _is_cmmn(item_el) or _local(item_el.tag) != "caseFileItem":
            continue
        item_id = item_el.get("id", "")
        holder = parents.get(item_el)
        while holder is not None and holder is not model and _local(holder.tag) != "caseFileItem":
            holder = parents.get(holder)
        name = item_el.get("name") or item_id
        # The item is the case variable of its name (docs/semantics.md): a name no variable can have, or one two
        # items share, would import and then never raise its events.
        if not name.isidentifier():
            ctx.pointless(item_id, f"case file item name {name!r} is not an identifier, so no case variable can be it")
        elif any(other.name == name for other in ctx.case_file_items.values()):
            ctx.pointless(item_id, f"another case file item is named {name!r}: each is the case variable of its name")
        ref = item_el.get("definitionRef", "")
        if ref and ref.rsplit(":", 1)[-1] not in known_types:  # a QName: the prefix names the document
            ctx.unsupported(item_id, f"definitionRef {ref!r} does not name a caseFileItemDefinition")
        ctx.case_file_items[item_id] = CaseFileItemDef(
            id=item_id,
            name=name,
            multiplicity=item_el.get("multiplicity", "Unspecified"),
            definition_ref=item_el.get("definitionRef", ""),
            parent=holder.get("id", "") if holder is not None and holder is not model else "",
        )


def _read_stage_body(
    stage_el: ET.Element, stage_item_id: str, ctx: _Context
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    children: list[str] = []
    table: list[str] = []
    for pi in _children(stage_el, "planItem"):
        item = _read_plan_item(pi, stage_item_id, ctx, table, discretionary=False)
        if item is not None:
            children.append(item)
    for table_el in _children(stage_el, "planningTable"):
        _read_planning_table(table_el, stage_item_id, ctx, table)
    return tuple(children), tuple(table)


def _read_planning_table(table_el: ET.Element, stage_item_id: str, ctx: _Context, table: list[str]) -> None:
    for di in _children(table_el, "discretionaryItem"):
        item = _read_plan_item(di, stage_item_id, ctx, table, discretionary=True)
        if item is not None:
            table.append(item)
    for nested in _children(table_el, "planningTable"):
        _read_planning_table(nested, stage_item_id, ctx, table)


def _rule(control: ET.Element | None, name: str, owner_id: str, ctx: _Context) -> Rule | None:
    if control is None:
        return None
    rule_el = _child(control, name)
    if rule_el is None:
        return None
    condition = ctx.condition(owner_id, _child(rule_el, "condition"), name)
    return Rule(id=rule_el.get("id", ""), condition=condition)


def _read_plan_item(
    pi: ET.Element, parent: str, ctx: _Context, parent_table: list[str], *, discretionary: bool
) -> str | None:
    pi_id = pi.get("id")
    if not pi_id:
        ctx.problem(parent, f"<{_local(pi.tag)}> without an id")
        return None
    ref = pi.get("definitionRef", "")
    def_el = ctx.definitions.get(ref)
    if def_el is None:
        ctx.problem(pi_id, f"definitionRef {ref!r} does not name a plan item definition")
        return None
    kind = PLAN_ITEM_DEFINITION_TAGS[_local(def_el.tag)]
    name = pi.get("name") or def_el.get("name") or pi_id
    if discretionary and kind not in (HUMAN_TASK, TASK, STAGE):
        # CMMN 1.1 §5.4.9.2: only tasks and stages are planned; a milestone or listener would be offered as work.
        ctx.unsupported(pi_id, f"a discretionary item is a task or a stage; definitionRef {ref!r} is a {kind}")
    performer = (def_el.get("performerRef") or "").strip()
    if performer and performer not in ctx.roles:
        ctx.unsupported(ref, f"performerRef {performer!r} does not name a case role")
    item_control = _child(pi, "itemControl")
    default_control = _child(def_el, "defaultControl")

    def rule(rule_name: str) -> Rule | None:
        # A plan item's itemControl wins over its definition's defaultControl, rule by rule.
        return _rule(item_control, rule_name, pi_id, ctx) or _rule(default_control, rule_name, pi_id, ctx)

    repetition_counter = "repetitionCounter"
    for control in (item_control, default_control):
        if control is not None:
            rep = _child(control, "repetitionRule")
            if rep is not None and _flowable(rep, "counterVariable"):
                repetition_counter = _flowable(rep, "counterVariable") or repetition_counter
                break

    timer: TimerSpec | None = None
    timer_start: OnPart | None = None
    if kind == TIMER_EVENT:
        timer_start = _timer_start(def_el, pi_id, ctx)
        expr_el = _child(def_el, "timerExpression")
        text = (expr_el.text or "").strip() if expr_el is not None else ""
        if not text:
            ctx.problem(ref, "timer event listener without a timerExpression")
        else:
            try:
                timer = parse_timer(text)
            except TimerError as exc:
                ctx.problem(ref, f"bad timer expression: {exc}")
            else:
                _check_time_part(ctx, ref, timer.duration, "timer expression")

    blocking_expr = _flowable(def_el, "isBlockingExpression")
    blocking_expression = ctx.expression(ref, blocking_expr, "isBlockingExpression") if blocking_expr else None

    children: tuple[str, ...] = ()
    table: tuple[str, ...] = ()
    if kind == STAGE:
        if ref in ctx.used_stage_definitions:
            ctx.problem(pi_id, f"stage definition {ref!r} is used by more than one plan item")
            return None
        ctx.used_stage_definitions.add(ref)
        children, table = _read_stage_body(def_el, pi_id, ctx)
    elif kind == HUMAN_TASK:
        # Items of a human task's planning table are planned into the stage that holds the task, while it is active.
        own: list[str] = []
        for table_el in _children(def_el, "planningTable"):
            _read_planning_table(table_el, parent, ctx, own)
        parent_table.extend(own)
        table = tuple(own)

    applicability: list[Expression] = []
    for rule_id in (pi.get("applicabilityRuleRefs") or "").split():
        rule_el = ctx.applicability_rules.get(rule_id)
        if rule_el is None:
            ctx.problem(pi_id, f"applicabilityRuleRefs names unknown rule {rule_id!r}")
            continue
        expr = ctx.condition(rule_id, _child(rule_el, "condition"), "applicability rule")
        if expr is not None:
            applicability.append(expr)
    roles: list[str] = []
    role_refs = (pi.get("authorizedRoleRefs") or "").split()
    if kind == USER_EVENT:
        role_refs += (def_el.get("authorizedRoleRefs") or "").split()
    for role_id in role_refs:
        if role_id not in ctx.roles:
            ctx.problem(pi_id, f"authorizedRoleRefs names unknown role {role_id!r}")
        else:
            roles.append(role_id)

    entry = _criteria(pi, "entryCriterion", pi_id, ctx)
    if entry and kind in EVENT_LISTENER_KINDS:
        # CMMN 1.1 gives event listeners no entry criteria, and the engine makes a listener available with its
        # stage whatever they say: a user event raised, or a timer started, before what the model waited for.
        ctx.unsupported(pi_id, "an event listener cannot have an entry criterion (CMMN 1.1): it would be available "
                               "at once all the same; put the condition on what the listener's occurrence starts, "
                               "or give a timer a start trigger (timerStart)")
    if timer_start is not None:
        # The timer waits for its trigger as an item waits for its entry criterion (the engine then schedules it).
        start_id = f"{pi_id}:{TIMER_START}"
        entry = (*entry, Criterion(start_id, Sentry(start_id, (timer_start,))))
    ctx.items[pi_id] = PlanItemDef(
        id=pi_id,
        name=name,
        kind=kind,
        definition_id=ref,
        parent=parent,
        entry=entry,
        exit=_criteria(pi, "exitCriterion", pi_id, ctx),
        manual=rule("manualActivationRule") if kind not in EVENT_LISTENER_KINDS | {MILESTONE} else None,
        required=rule("requiredRule") if kind not in EVENT_LISTENER_KINDS else None,
        repetition=rule("repetitionRule") if kind not in EVENT_LISTENER_KINDS else None,
        counter_variable=repetition_counter,
        blocking=_bool_attr(def_el, "isBlocking", True, ctx),
        blocking_expression=blocking_expression,
        auto_complete=_bool_attr(def_el, "autoComplete", False, ctx),
        timer=timer,
        timer_start=timer_start,
        children=children,
        discretionary=discretionary,
        applicability=tuple(applicability),
        authorized_roles=tuple(roles),
        planning_table=table,
        assignee=_assignee(def_el, pi_id, ctx),
        candidate_groups=_candidates(def_el, "candidateGroups", pi_id, ctx),
        candidate_users=_candidates(def_el, "candidateUsers", pi_id, ctx),
        description=_documentation(def_el),
        due_date=_due_date(def_el, ref, ctx) if kind == HUMAN_TASK else None,
    )
    return pi_id


def _timer_start(def_el: ET.Element, pi_id: str, ctx: _Context) -> OnPart | None:
    """A timer event listener's start trigger (CMMN 1.1 timerStart), as an on-part; None without one."""
    for tag, kind, allowed in (
        ("planItemStartTrigger", "planItem", PLAN_ITEM_EVENTS),
        ("caseFileItemStartTrigger", "caseFileItem", CASE_FILE_EVENTS),
    ):
        trigger = _child(def_el, tag)
        if trigger is None:
            continue
        trigger_id = trigger.get("id") or f"{pi_id}:{TIMER_START}"
        event_el = _child(trigger, "standardEvent")
        event = (event_el.text or "").strip() if event_el is not None else ""
        if not event and kind == "caseFileItem":
            event = ANY_EVENT
        elif event not in allowed:
            ctx.problem(trigger_id, f"{tag} has unknown standard event {event!r}")
            return None
        part = OnPart(source=trigger.get("sourceRef", ""), event=event, kind=kind, id=trigger.get("id", ""))
        ctx.pending_on_parts.append((trigger_id, part))
        return part
    return None


def _check_file_event(op_id: str, item: CaseFileItemDef, event: str, ctx: _Context) -> None:
    """A case file item raises only the events its data can undergo (docs/semantics.md, Case file items): an on-part
    waiting for another would import and never fire."""
    if event in ("addReference", "removeReference"):
        ctx.pointless(op_id, f"case file item {item.name!r} never raises {event!r}: case file items hold data, and "
                           "casework keeps no references between them")
    elif event in ("addChild", "removeChild") and not any(c.parent == item.id for c in ctx.case_file_items.values()):
        ctx.pointless(op_id, f"case file item {item.name!r} never raises {event!r}: it has no child case file items "
                           "in the model")


def _documentation(el: ET.Element) -> str:
    doc = _child(el, "documentation")
    return (doc.text or "").strip() if doc is not None else ""


def _criteria(owner: ET.Element, tag: str, owner_id: str, ctx: _Context) -> tuple[Criterion, ...]:
    result: list[Criterion] = []
    refs = [
        (c.get("id") or f"{owner_id}:{tag}:{i}", c.get("sentryRef", "")) for i, c in enumerate(_children(owner, tag))
    ]
    # CMMN 1.0 referenced sentries from attributes.
    legacy = "entryCriteriaRefs" if tag == "entryCriterion" else "exitCriteriaRefs"
    refs += [(f"{owner_id}:{ref}", ref) for ref in (owner.get(legacy) or "").split()]
    for crit_id, sentry_ref in refs:
        sentry_el = ctx.sentries.get(sentry_ref)
        if sentry_el is None:
            ctx.problem(crit_id, f"sentryRef {sentry_ref!r} does not name a sentry")
            continue
        result.append(Criterion(crit_id, _read_sentry(sentry_el, ctx)))
    return tuple(result)


def _read_sentry(el: ET.Element, ctx: _Context) -> Sentry:
    sentry_id = el.get("id", "")
    on_parts: list[OnPart] = []
    for op in el:
        if not _is_cmmn(op):
            continue
        tag = _local(op.tag)
        if tag not in ("planItemOnPart", "caseFileItemOnPart"):
            continue
        kind = "planItem" if tag == "planItemOnPart" else "caseFileItem"
        event_el = _child(op, "standardEvent")
        event = (event_el.text or "").strip() if event_el is not None else ""
        allowed = PLAN_ITEM_EVENTS if kind == "planItem" else CASE_FILE_EVENTS
        op_id = op.get("id") or sentry_id
        if not event and kind == "caseFileItem":
            # CMMN 1.1 makes the event optional here; without one, any change to the case file item counts.
            event = ANY_EVENT
        elif event not in allowed:
            ctx.problem(op_id, f"on-part has unknown standard event {event!r}")
            continue
        exit_ref = (op.get("exitCriterionRef") or op.get("sentryRef") or "").strip() if kind == "planItem" else ""
        part = OnPart(
            source=op.get("sourceRef", ""), event=event, kind=kind, id=op.get("id", ""), exit_criterion=exit_ref
        )
        ctx.pending_on_parts.append((op_id, part))
        on_parts.append(part)
    if_el = _child(el, "ifPart")
    if_part: Expression | None = None
    if if_el is not None:
        if_part = ctx.condition(if_el.get("id") or sentry_id, _child(if_el, "condition"), "ifPart")
    if not on_parts and if_el is None:
        ctx.problem(sentry_id, "sentry has neither on-parts nor an if-part")
    return Sentry(sentry_id, tuple(on_parts), if_part)


def _resolve_on_parts(ctx: _Context) -> None:
    seen: set[tuple[str, str, str]] = set()
    for op_id, part in ctx.pending_on_parts:
        key = (op_id, part.source, part.event)  # a sentry shared by several criteria is checked once
        if key in seen:
            continue
        seen.add(key)
        if part.kind == "planItem" and part.source not in ctx.items:
            ctx.problem(op_id, f"on-part sourceRef {part.source!r} does not name a plan item")
        elif part.kind == "caseFileItem" and part.source not in ctx.case_file_items:
            ctx.problem(op_id, f"on-part sourceRef {part.source!r} does not name a case file item")
        elif part.kind == "caseFileItem":
            _check_file_event(op_id, ctx.case_file_items[part.source], part.event, ctx)
        elif part.kind == "planItem":
            source = ctx.items[part.source]
            if part.exit_criterion:
                if part.event != "exit":
                    ctx.problem(op_id, f"exitCriterionRef is for the event exit, not {part.event!r}")
                elif not any(part.exit_criterion in (c.id, c.sentry.id) for c in source.exit):
                    ctx.problem(
                        op_id, f"exitCriterionRef {part.exit_criterion!r} is not an exit criterion of {source.name!r}"
                    )
            if source.kind in EVENT_LISTENER_KINDS | {MILESTONE} and part.event not in (
                "occur",
                "create",
                "terminate",
                "suspend",
                "resume",
                "exit",
                "parentTerminate",
            ):
                ctx.pointless(op_id, f"{source.kind} {source.name!r} never raises {part.event!r}")
