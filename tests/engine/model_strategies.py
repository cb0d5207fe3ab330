"""A hypothesis strategy for CMMN 1.1 models of bounded size that casework must import: valid by construction.

The plan is drawn as a tree of plan items numbered in pre-order (a stage before what it holds). An entry criterion
(and a timer's start trigger) listens only to items numbered before its own, so entry criteria never wait for each
other in a cycle, nor a stage for an item inside it (both refused by `load_definition`); exit criteria listen to any
item. Everything else the importer checks is kept to what it accepts: on-parts name events their source raises, case
file on-parts events their item raises (addChild only on one with children), case file item names are identifiers,
discretionary items are tasks or stages, ids are unique in the document. processTask and caseTask are not drawn:
casework refuses them (nothing runs them; model/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from hypothesis import strategies as st

# The case variables the models' expressions read, beside the case file items (each the variable of its name).
VARIABLES = ("amount", "flag", "order", "line", "doc", "due")
CASE_FILE = (("order", ("line",)), ("doc", ()))  # names, with the names of their children
ROLE_ID, ROLE_NAME = "rSpec", "specialist"
TASK_EVENTS = ("complete", "start", "manualStart", "terminate", "exit", "create", "enable", "disable", "reenable",
               "suspend", "resume", "parentSuspend", "parentResume", "fault", "reactivate", "close")
LISTENER_EVENTS = ("occur", "create", "terminate", "suspend", "resume", "exit")
FILE_EVENTS = ("create", "update", "replace", "delete", "")  # "": no standardEvent, any change
CONDITIONS = (
    "${amount > 100}",
    "${amount <= 100}",
    "${flag == true}",
    "${flag != true}",
    "amount > 1000",  # CEL
    "${order != null}",
)
REPEAT_CONDITIONS = (*CONDITIONS, "${repetitionCounter < 3}", "${repetitionCounter < 2 && amount > 0}", "true")
TIMERS = ("PT1H", "PT30M", "P1D", "R2/PT1H", "R3/PT45M", "2026-01-01T05:00:00Z")
BLOCKING_EXPRESSION = 'flowable:isBlockingExpression="${flag != true}"'
DUE_DATES = ("PT4H", "P2D", "2026-03-01", "${due}")
KINDS = ("humanTask", "humanTask", "task", "stage", "milestone", "userEventListener", "timerEventListener")
LISTENERS = ("milestone", "userEventListener", "timerEventListener")


@dataclass
class Node:
    """One plan item or discretionary item, with its definition, as drawn."""

    n: int
    kind: str
    stage: Node | None  # the stage it is planned into (None: the case plan)
    discretionary: bool = False
    owner: Node | None = None  # the human task whose planning table holds it
    children: list[Node] = field(default_factory=list)
    table: list[Node] = field(default_factory=list)  # discretionary items of its own table (stage or human task)
    control: str = ""
    criteria: str = ""
    attrs: str = ""  # on the plan item / discretionary item
    def_attrs: str = ""  # on the definition
    def_body: str = ""
    rule: str = ""  # an applicability rule, written in the planning table
    exit_ids: list[str] = field(default_factory=list)
    shared: Node | None = None  # the earlier plan item whose definition it uses too
    default_control: bool = False  # its rules written in its definition's defaultControl

    @property
    def pid(self) -> str:
        return f"pi{self.n}"

    @property
    def did(self) -> str:
        return self.shared.did if self.shared is not None else f"d{self.n}"


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"


def _opt_id(draw: st.DrawFn, ids: _Ids, prefix: str) -> str:
    """An id attribute, now and then none: CMMN makes it optional on rules, on-parts, if-parts, triggers and criteria,
    and casework names them itself then."""
    return "" if draw(st.integers(0, 4)) == 0 else f' id="{ids(prefix)}"'


def _rule(draw: st.DrawFn, name: str, ids: _Ids, conditions: tuple[str, ...]) -> str:
    condition = draw(st.none() | st.sampled_from(conditions))
    inner = "" if condition is None else f"<condition>{escape(condition)}</condition>"
    # Now and then the counter under another name (flowable:counterVariable), which the conditions then read.
    counter = ""
    if name == "repetitionRule" and condition is not None and "repetitionCounter" in condition and draw(st.booleans()):
        counter, condition = ' flowable:counterVariable="round"', condition.replace("repetitionCounter", "round")
        inner = f"<condition>{escape(condition)}</condition>"
    return f'<{name}{_opt_id(draw, ids, name[:3])}{counter}>{inner}</{name}>'


def _control(draw: st.DrawFn, node: Node, ids: _Ids) -> str:
    rules = []
    if node.kind not in ("userEventListener", "timerEventListener"):
        if draw(st.integers(0, 3)) == 0:
            rules.append(_rule(draw, "repetitionRule", ids, REPEAT_CONDITIONS))
        if draw(st.integers(0, 3)) == 0:
            rules.append(_rule(draw, "requiredRule", ids, CONDITIONS))
    if node.kind not in LISTENERS and draw(st.integers(0, 2)) == 0:
        rules.append(_rule(draw, "manualActivationRule", ids, CONDITIONS))
    return f"<itemControl>{''.join(rules)}</itemControl>" if rules else ""


def _on_part(draw: st.DrawFn, sources: list[Node], files: list[tuple[str, bool]], ids: _Ids) -> str:
    """A plan item or case file item on-part on one of ``sources`` or ``files`` (id, has children)."""
    if files and (not sources or draw(st.integers(0, 3)) == 0):
        file_id, has_children = draw(st.sampled_from(files))
        event = draw(st.sampled_from(FILE_EVENTS + (("addChild", "removeChild") if has_children else ())))
        std = f"<standardEvent>{event}</standardEvent>" if event else ""
        return f'<caseFileItemOnPart{_opt_id(draw, ids, "op")} sourceRef="{file_id}">{std}</caseFileItemOnPart>'
    source = draw(st.sampled_from(sources))
    listener = source.kind in LISTENERS
    # Mostly the events that usually matter, now and then any the source raises.
    common = ("occur",) if listener else ("complete", "complete", "start", "terminate", "exit")
    event = draw(st.sampled_from(common) | st.sampled_from(LISTENER_EVENTS if listener else TASK_EVENTS))
    # An exit by one particular exit criterion of the source (CMMN 1.1 exitCriterionRef).
    by = ""
    if event == "exit" and source.exit_ids and draw(st.booleans()):
        by = f' exitCriterionRef="{draw(st.sampled_from(source.exit_ids))}"'
    return (f'<planItemOnPart{_opt_id(draw, ids, "op")} sourceRef="{source.pid}"{by}>'
            f"<standardEvent>{event}</standardEvent></planItemOnPart>")


def _sentry(draw: st.DrawFn, sources: list[Node], files: list[tuple[str, bool]], ids: _Ids) -> tuple[str, str]:
    """(id, XML) of a sentry with up to two on-parts and, now and then (always without on-parts), an if-part."""
    count = draw(st.integers(0, 2)) if sources or files else 0
    parts = [_on_part(draw, sources, files, ids) for _ in range(count)]
    if_part = ""
    if not parts or draw(st.integers(0, 3)) == 0:
        condition = escape(draw(st.sampled_from(CONDITIONS)))
        if_part = f'<ifPart{_opt_id(draw, ids, "if")}><condition>{condition}</condition></ifPart>'
    sentry_id = ids("s")
    return sentry_id, f'<sentry id="{sentry_id}">{"".join(parts)}{if_part}</sentry>'


def _start_trigger(draw: st.DrawFn, sources: list[Node], files: list[tuple[str, bool]], ids: _Ids) -> str:
    if files and (not sources or draw(st.booleans())):
        file_id, _ = draw(st.sampled_from(files))
        event = draw(st.sampled_from(("create", "update")))
        return (f'<caseFileItemStartTrigger{_opt_id(draw, ids, "tr")} sourceRef="{file_id}"><standardEvent>{event}'
                "</standardEvent></caseFileItemStartTrigger>")
    source = draw(st.sampled_from(sources))
    event = "occur" if source.kind in LISTENERS else draw(st.sampled_from(("complete", "start")))
    return (f'<planItemStartTrigger{_opt_id(draw, ids, "tr")} sourceRef="{source.pid}"><standardEvent>{event}'
            "</standardEvent></planItemStartTrigger>")


@st.composite
def cmmn_models(draw: st.DrawFn, max_items: int = 10, max_depth: int = 3) -> str:
    """The XML of one case: a case plan model of at most ``max_items`` plan items (and a few discretionary items),
    stages nested up to ``max_depth`` deep."""
    ids = _Ids()
    files: list[tuple[str, bool]] = []
    file_xml = []
    for name, kids in CASE_FILE:
        if draw(st.booleans()):
            inner = "".join(f'<caseFileItem id="cf_{kid}" name="{kid}"/>' for kid in kids)
            file_xml.append(f'<caseFileItem id="cf_{name}" name="{name}"'
                            + (f"><children>{inner}</children></caseFileItem>" if inner else "/>"))
            files.append((f"cf_{name}", bool(kids)))
            files.extend((f"cf_{kid}", False) for kid in kids)

    order: list[Node] = []  # pre-order: a stage before what it holds

    def grow(stage: Node | None, depth: int) -> list[Node]:
        made: list[Node] = []
        for _ in range(draw(st.integers(0 if stage else 1, 4))):
            if len(order) >= max_items:
                break
            kinds = KINDS if depth < max_depth else tuple(k for k in KINDS if k != "stage")
            node = Node(len(order) + 1, draw(st.sampled_from(kinds)), stage)
            order.append(node)
            made.append(node)
            if node.kind == "stage":
                node.children = grow(node, depth + 1)
        return made

    top = grow(None, 1)
    plan_table: list[Node] = []
    # Discretionary items: a few tasks (now and then a stage holding a task) in the table of a stage, of the case
    # plan or of a human task (planned into the task's stage).
    holders = [n for n in order if n.kind in ("stage", "humanTask")]
    for _ in range(draw(st.integers(0, 3))):
        holder = draw(st.sampled_from(holders)) if holders and draw(st.booleans()) else None
        kind = draw(st.sampled_from(("humanTask", "humanTask", "task", "stage")))
        if holder is None:
            node = Node(len(order) + 1, kind, None, discretionary=True)
            plan_table.append(node)
        elif holder.kind == "stage":
            node = Node(len(order) + 1, kind, holder, discretionary=True)
            holder.table.append(node)
        else:
            node = Node(len(order) + 1, kind, holder.stage, discretionary=True, owner=holder)
            holder.table.append(node)
        order.append(node)
        if kind == "stage":
            inner = Node(len(order) + 1, "humanTask", node)
            order.append(inner)
            node.children = [inner]

    # Now and then a plan item uses the definition of an earlier one of its kind (not a stage: CMMN gives each stage
    # definition one plan item).
    for node in order:
        alike = [m for m in order[: node.n - 1] if m.kind == node.kind and not m.discretionary and m.shared is None
                 and not m.table]
        own = node.kind != "stage" and not node.discretionary and not node.table
        if alike and own and draw(st.integers(0, 4)) == 0:
            node.shared = draw(st.sampled_from(alike))
    roles_used = False
    entry_sentries: list[str] = []  # each listens only to items before the one it was drawn for
    exit_sentries: list[str] = []
    sentries: dict[int, list[str]] = {}  # sentry XML by the stage it is written in (0: the case plan)
    for node in order:
        earlier = order[: node.n - 1]
        home = node.stage.n if node.stage else 0
        node.control = _control(draw, node, ids)
        node.default_control = bool(node.control) and node.shared is None and draw(st.integers(0, 3)) == 0
        criteria = []
        # Not on an event listener: casework would import and ignore them (it occurs, or its timer runs, whatever
        # they say); a timer waits for an event by its start trigger instead.
        if (earlier or files) and node.kind not in ("userEventListener", "timerEventListener"):
            for _ in range(draw(st.integers(0, 2))):
                if entry_sentries and draw(st.integers(0, 4)) == 0:  # one sentry, several criteria
                    sentry_id = draw(st.sampled_from(entry_sentries))
                else:
                    sentry_id, sentry = _sentry(draw, earlier, files, ids)
                    sentries.setdefault(home, []).append(sentry)
                    entry_sentries.append(sentry_id)
                criteria.append(f'<entryCriterion{_opt_id(draw, ids, "en")} sentryRef="{sentry_id}"/>')
        others = [m for m in order if m is not node]
        if (others or files) and draw(st.integers(0, 3)) == 0:
            if exit_sentries and draw(st.integers(0, 4)) == 0:
                sentry_id = draw(st.sampled_from(exit_sentries))
            else:
                sentry_id, sentry = _sentry(draw, others, files, ids)
                sentries.setdefault(home, []).append(sentry)
                exit_sentries.append(sentry_id)
            node.exit_ids.append(ids("ex"))
            criteria.append(f'<exitCriterion id="{node.exit_ids[-1]}" sentryRef="{sentry_id}"/>')
        node.criteria = "".join(criteria)
        def_attrs = []
        if node.kind in ("humanTask", "task"):
            blocking = draw(st.sampled_from(("", "", "", 'isBlocking="false"', BLOCKING_EXPRESSION)))
            if blocking:
                def_attrs.append(blocking)
        if node.kind == "humanTask" and draw(st.integers(0, 3)) == 0:
            def_attrs.append(f'flowable:dueDate="{draw(st.sampled_from(DUE_DATES))}"')
        if node.kind == "stage":
            def_attrs.append(f'autoComplete="{str(draw(st.booleans())).lower()}"')
        if node.kind == "userEventListener" and draw(st.integers(0, 3)) == 0:
            def_attrs.append(f'authorizedRoleRefs="{ROLE_ID}"')
            roles_used = True
        node.def_attrs = " ".join(def_attrs)
        if node.kind == "timerEventListener":
            node.def_body = f"<timerExpression>{draw(st.sampled_from(TIMERS))}</timerExpression>"
            if (earlier or files) and draw(st.booleans()):
                node.def_body += _start_trigger(draw, earlier, files, ids)
        if node.discretionary:
            attrs = []
            if draw(st.integers(0, 2)) == 0:
                attrs.append(f'authorizedRoleRefs="{ROLE_ID}"')
                roles_used = True
            if draw(st.integers(0, 2)) == 0:
                rule_id = ids("ar")
                attrs.append(f'applicabilityRuleRefs="{rule_id}"')
                condition = escape(draw(st.sampled_from(CONDITIONS)))
                node.rule = f'<applicabilityRule id="{rule_id}"><condition>{condition}</condition></applicabilityRule>'
            node.attrs = " ".join(attrs)
    plan_sentries = sentries.setdefault(0, [])
    plan_exit = ""
    if order and draw(st.integers(0, 4)) == 0:
        sentry_id, sentry = _sentry(draw, order, files, ids)
        plan_sentries.append(sentry)
        plan_exit = f'<exitCriterion id="{ids("ex")}" sentryRef="{sentry_id}"/>'
    auto = str(draw(st.booleans())).lower()
    body = _stage_body(top, plan_table, sentries[0], sentries, "pt_plan")
    roles = f'<caseRoles id="roles"><role id="{ROLE_ID}" name="{ROLE_NAME}"/></caseRoles>' if roles_used else ""
    case_file = f'<caseFileModel id="cfm">{"".join(file_xml)}</caseFileModel>' if file_xml else ""
    return (
        '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn" '
        'targetNamespace="urn:generated">'
        f'<case id="generated" name="Generated">{case_file}'
        f'<casePlanModel id="plan" name="Generated" autoComplete="{auto}">{body}{plan_exit}</casePlanModel>'
        f"{roles}</case></definitions>"
    )


def _table(items: list[Node], table_id: str) -> str:
    if not items:
        return ""
    entries = "".join(
        f'<discretionaryItem id="{d.pid}" name="Item {d.n}" definitionRef="{d.did}" {d.attrs}>'
        f"{'' if d.default_control else d.control}{d.criteria}</discretionaryItem>"
        for d in items
    )
    rules = "".join(d.rule for d in items)
    return f'<planningTable id="{table_id}">{entries}{rules}</planningTable>'


def _definition(node: Node, sentries: dict[int, list[str]]) -> str:
    name = f'name="Item {node.n}"'
    default = node.control.replace("itemControl", "defaultControl") if node.default_control else ""
    if node.kind == "stage":
        body = _stage_body(node.children, node.table, sentries.get(node.n, []), sentries, f"pt{node.n}")
        return f'<stage id="{node.did}" {name} {node.def_attrs}>{default}{body}</stage>'
    if node.kind == "humanTask":
        table = _table(node.table, f"pt{node.n}")
        return f'<humanTask id="{node.did}" {name} {node.def_attrs}>{default}{table}</humanTask>'
    return f'<{node.kind} id="{node.did}" {name} {node.def_attrs}>{default}{node.def_body}</{node.kind}>'


def _stage_body(
    members: list[Node], table: list[Node], own_sentries: list[str], sentries: dict[int, list[str]], table_id: str
) -> str:
    items = "".join(
        f'<planItem id="{m.pid}" name="Item {m.n}" definitionRef="{m.did}">'
        f"{'' if m.default_control else m.control}{m.criteria}</planItem>"
        for m in members
    )
    # A human task's discretionary items are defined beside it, in its stage, as a stage's own are.
    owned = [d for m in members for d in m.table if m.kind == "humanTask"]
    definitions = "".join(_definition(n, sentries) for n in [*members, *table, *owned] if n.shared is None)
    return f"{items}{''.join(own_sentries)}{_table(table, table_id)}{definitions}"
