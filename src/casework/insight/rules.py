"""Rules of a case type, evaluated against a case: each rule whose condition holds gives a suggestion or a flag.

Pure functions: the case state, its documents and ``now`` come in as arguments; nothing here reads the clock or
changes the case. A finding only *suggests*: its :class:`Action` can build the engine command a person would run to
accept it, ``feedback_command`` records the person's accept/dismiss in the audit trail, and ``accept_command`` is
both as one command (stored together or not at all).

What a rule condition can read (see :func:`facts`):

* every case variable by name (``amount``, ``approved``...), and the whole case file as ``case`` so that
  ``has(case.policeReport)`` tests for a variable that may be absent (CEL has no implicit null);
* ``open_tasks``: names of tasks that can be worked on now (enabled, active, suspended or failed);
* ``waiting``: names of tasks and stages that exist but wait for their entry criteria (available);
* ``completed``: names of completed plan items (tasks, stages, milestones), ``skipped``: those completed by a skip;
* ``plannable``: discretionary items that could be planned now; ``overdue``: open items past their due time;
* ``documents``: kinds of the attached documents, ``document_names``: their names;
* ``days_open``: days since the case started (a float), ``status``: the case status;
* ``participants``: user names, ``roles``: case role names held by someone.

These names win over case variables of the same name; such a variable stays reachable as ``case.NAME``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from casework.engine import CaseState, ItemInstance, commands, execute, explain, plan_for, plannable
from casework.engine.answers import values_seen
from casework.engine.lifecycle import ACTIVE, AVAILABLE, COMPLETED, DISABLED, ENABLED, FAILED, SUSPENDED, TERMINAL
from casework.engine.runner import Run
from casework.engine.state import has_instance_id_form
from casework.expr import EvaluationError
from casework.insight.casetype import ActionSpec, CaseType, RuleSpec
from casework.model.definition import STAGE, TASK_KINDS, USER_EVENT, CaseDefinition
from casework.model.timers import TimerError, parse_datetime
from casework.names import unreadable

__all__ = [
    "SEVERITY_ORDER",
    "Action",
    "Document",
    "Fill",
    "Finding",
    "Flag",
    "Suggestion",
    "accept_command",
    "check_actionable",
    "dismissed_findings",
    "evaluate_rules",
    "facts",
    "feedback_command",
    "not_dismissed",
    "request_document",
    "resolve_action",
    "sort_findings",
    "together",
]

SEVERITY_ORDER: Final = {"critical": 0, "warning": 1, "info": 2}
FEEDBACK_EVENTS: Final = ("suggestion_accepted", "suggestion_dismissed")
WORKABLE: Final = frozenset({ENABLED, ACTIVE, SUSPENDED, FAILED})
Document = tuple[str, str]  # (kind, name) of a document attached to the case


@dataclass(frozen=True)
class Fill:
    """A value a document gives for a case data field (`casework.insight.document_values`): what accepting a
    ``fill_from_document`` action writes, and where it was read."""

    value: Any
    held: Any  # what the field held when the case was judged: a value entered meanwhile refuses the fill
    document: str
    page: int
    source: str  # `extraction.Extracted.source`: the document, page and matched text, for the audit trail

    @property
    def seen(self) -> str:
        """The values a person deciding on it sees, the field's and the document's, as a digest: a decision covers
        those values only (`engine.answers.values_seen`), so a later document or case value is a new question."""
        from casework.insight.gaps import is_empty  # gaps builds on this module

        # An empty field is one thing to a person (it "is not filled in"), whether absent, null or blank.
        return values_digest(None if is_empty(self.held) else self.held, self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "document": self.document, "page": self.page, "source": self.source,
                "seen": self.seen}


def values_digest(held: Any, value: Any) -> str:
    # A digest, not the values: what the case holds may be long, and the recorded decision is bounded in size. A
    # whole number is one number however written (a letter's 13,000 and its next version's 13,000.00), as
    # `document_values` compares them.
    text = json.dumps([_whole(held), _whole(value)], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Action:
    """A suggested action mapped onto the case as it is now.

    ``kind``: ``start`` (an enabled item), ``open`` (an item already under way: go to it), ``plan`` (a discretionary
    item that can be planned now), ``add_task`` (an ad hoc task the model does not have), ``occur`` (a user event
    listener: `case occur`), ``request_document`` or ``fill_in`` (a case data field, entered by a person),
    ``fill_from_document`` (a case data field set to the value a document gives: ``fill``); ``wait`` (an item that
    exists but cannot be worked on: it waits for its entry criterion, its timer or a dependency, or is disabled,
    failed or on hold) and ``unmapped`` (a name the case cannot take as a task) are shown, never carried out.
    ``label`` is what a person reads; ``item`` the instance id when the action points at an existing item; ``task``
    the name of the ad hoc task a ``request_document`` action adds. ``blocked``: why it cannot be taken now ("" if
    it can): accepting it is refused, dismissing it is not (a person may still say "not this").
    """

    kind: str
    target: str
    label: str
    item: str | None = None
    task: str | None = None
    blocked: str = ""
    fill: Fill | None = None

    def shown(self) -> str:
        """The label, with why it cannot be taken now when it cannot: what the "do" columns show."""
        return f"{self.label} (not now: {self.blocked})" if self.blocked else self.label

    def command(self, *, actor: str, reason: str | None = None) -> commands.Command | None:
        """The engine command that carries the action out, or None where a person acts outside the engine."""
        if self.kind == "start" and self.item is not None:
            return commands.StartItem(item=self.item, actor=actor, reason=reason)
        if self.kind == "occur" and self.item is not None:
            return commands.OccurEvent(item=self.item, actor=actor, reason=reason)
        if self.kind == "plan":
            return commands.PlanItem(item=self.target, actor=actor, reason=reason)
        # The task is suggested because none was open when the case was judged: a second person accepting the same
        # suggestion meanwhile (or a stale screen) is refused instead of adding it twice.
        if self.kind == "add_task":
            return commands.AddItem(kind="humanTask", name=self.target, actor=actor, reason=reason, unless_open=True)
        if self.kind == "request_document":
            # Asking for a document is work someone does: an ad hoc task that can be assigned and tracked.
            name = self.task or request_task_name(self.target.replace("_", " "))
            return commands.AddItem(kind="humanTask", name=name, actor=actor, reason=reason, unless_open=True)
        if self.kind == "fill_from_document" and self.fill is not None:
            # The audit trail must say where the value came from, whatever reason the person gave: the source is kept
            # whole and the reason before it cut to fit (a person's is recorded whole with the acceptance).
            source = f"value from {self.fill.source}"
            why = f"{reason}; " if reason else ""
            if len(why) + len(source) > commands.MAX_TEXT:
                why = why[: max(0, commands.MAX_TEXT - len(source) - 3)] + "…; "
            return commands.SetVariables(variables={self.target: self.fill.value}, actor=actor,
                                         reason=f"{why}{source}", expected={self.target: self.fill.held})
        return None  # "open" and "fill_in": the person works in the existing task or the case data form

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "target": self.target, "label": self.label, "item": self.item,
                             "task": self.task, "blocked": self.blocked}
        if self.fill is not None:
            d["fill"] = self.fill.to_dict()
        return d


def check_actionable(action: Action | None) -> None:
    """Refuses (ValueError) to accept an action that cannot be taken now: its acceptance would be recorded (and
    counted) for work that did not and could not happen."""
    if action is not None and action.blocked:
        raise ValueError(f"{action.target!r} cannot be done now, so it cannot be accepted: {action.blocked}")


@dataclass(frozen=True)
class Finding:
    """A suggestion or a flag. ``reason`` always says why (which condition held, which data is missing)."""

    id: str
    message: str
    severity: str
    reason: str
    source: str  # "rule" | "gap" | "sla" | "path"
    action: Action | None = None
    kind: str = field(default="flag", init=False)
    # The version of the learned model that raised it (an SLA risk, an unusual path); "" for rules and gaps.
    model_version: str = ""

    @property
    def seen(self) -> str:
        """The values a decision on it covers (`Fill.seen`) when it offers a document's value, else ""."""
        return self.action.fill.seen if self.action is not None and self.action.fill is not None else ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "message": self.message,
            "severity": self.severity,
            "reason": self.reason,
            "source": self.source,
            "action": None if self.action is None else self.action.to_dict(),
        }
        # RecordFeedback readers group acceptance by "activity"; give them the action's target.
        d["activity"] = None if self.action is None else self.action.target
        if self.model_version:
            d["model_version"] = self.model_version
        return d


@dataclass(frozen=True)
class Suggestion(Finding):
    kind: str = field(default="suggestion", init=False)


@dataclass(frozen=True)
class Flag(Finding):
    kind: str = field(default="flag", init=False)


def feedback_command(
    finding: Finding, *, accepted: bool, actor: str, reason: str | None = None, model_version: str = ""
) -> commands.RecordFeedback:
    """The audit record of a person accepting or dismissing a finding; a finding a learned model raised is recorded
    under that model's version (acceptance rates are counted per version), unless another is given."""
    return commands.RecordFeedback(
        suggestion=finding.to_dict(), accepted=accepted, model_version=model_version or finding.model_version,
        actor=actor, reason=reason,
    )


def accept_command(
    finding: Finding, *, actor: str, reason: str | None = None, model_version: str = ""
) -> commands.Command:
    """What accepting a finding runs: its action (if it has one the engine carries out) and the record of the
    acceptance as one command (`Together`), so that neither is stored without the other: an action whose acceptance
    went unrecorded would undercount acceptance, a recorded acceptance whose action was refused (or lost a race)
    would count one that never happened. The action's reason is the person's, else the finding's."""
    check_actionable(finding.action)
    record = feedback_command(finding, accepted=True, actor=actor, reason=reason, model_version=model_version)
    action = finding.action.command(actor=actor, reason=reason or finding.reason) if finding.action else None
    return together(action, record, actor=actor)


def together(action: commands.Command | None, record: commands.RecordFeedback, *, actor: str) -> commands.Command:
    """The action and the record of its acceptance as one command; the record alone for an action the engine does
    not carry out. An occurrence goes after the record: it may end the case (a user event that triggers the case's
    exit criterion), which then takes no record, and it is the case as the person found it that they decided on."""
    if action is None:
        return record
    parts = (record, action) if isinstance(action, commands.OccurEvent) else (action, record)
    return commands.Together(commands=parts, actor=actor)


def dismissed_findings(events: Iterable[Any]) -> dict[str, dict[str, str]]:
    """Finding id -> the values it was dismissed about (`Finding.seen`, "" for a finding that offers no document's
    value) -> the severity it had when a person last dismissed it so, from a case's `suggestion_accepted` /
    `suggestion_dismissed` events in order (others are skipped); a later acceptance lifts the dismissals that cover
    what was accepted. Next-best actions (suggestions without a `kind`) are not findings and are left out."""
    out: dict[str, dict[str, str]] = {}
    for event in events:
        suggestion = event.payload.get("suggestion") if event.type in FEEDBACK_EVENTS else None
        if not isinstance(suggestion, dict) or "kind" not in suggestion or not suggestion.get("id"):
            continue
        ident, seen = str(suggestion["id"]), values_seen(suggestion)
        if event.type == "suggestion_dismissed":
            out.setdefault(ident, {})[seen] = str(suggestion.get("severity", ""))
        elif seen:
            out.get(ident, {}).pop(seen, None)
        else:
            out.pop(ident, None)  # every dismissal of it covered a finding offering no value (`not_dismissed`)
    return out


def not_dismissed(findings: Iterable[Finding], dismissed: Mapping[str, Mapping[str, str]]) -> list[Finding]:
    """The findings a person has not dismissed; one dismissed at a lower severity than it has now is offered again
    (it got worse: the person decided about something milder), and so is one offering a document's value that
    differs from every one it was dismissed about: "keep the case's 12,500, the letter's 13,000 is a typo" says
    nothing about a later letter's 90,000. A finding offering no value stays dismissed whatever value it offered
    then (the field is still empty: the person dismissed that)."""
    return [f for f in findings if not any(
        SEVERITY_ORDER.get(f.severity, 9) >= SEVERITY_ORDER.get(severity, 9)
        for seen, severity in dismissed.get(f.id, {}).items() if not f.seen or seen == f.seen)]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- facts --------------------------------------------------------------------------------------------------------
def facts(
    definition: CaseDefinition, state: CaseState, documents: Iterable[Document], now: dt.datetime
) -> dict[str, Any]:
    """The names a rule condition can read besides the case variables (see the module docstring)."""
    items = [i for i in state.items.values() if i.id != state.root]
    docs = list(documents)
    return {
        "case": dict(state.variables),
        "open_tasks": _names(i for i in items if i.kind in TASK_KINDS and _waits_as(i) in WORKABLE),
        "waiting": _names(i for i in items if i.kind in (*TASK_KINDS, STAGE) and _waits_as(i) == AVAILABLE),
        "completed": _names(i for i in items if i.state == COMPLETED),
        "skipped": _names(i for i in items if i.state == COMPLETED and i.skipped),
        "plannable": sorted(set(plannable(definition, state))) if not state.ended else [],
        "overdue": _names(i for i in items if i.state not in TERMINAL and _before(i.due, now)),
        "documents": sorted({kind for kind, _ in docs}),
        "document_names": sorted({name for _, name in docs}),
        "days_open": days_open(state, now),
        "status": state.status,
        "participants": sorted(state.participants),
        "roles": sorted({r for roles in state.participants.values() for r in roles}),
    }


def _waits_as(item: ItemInstance) -> str:
    """An item held with its suspended stage counts as what it was: a task that had not started is not work to do."""
    if item.state == SUSPENDED and item.suspended_from in (AVAILABLE, ENABLED, DISABLED):
        return item.suspended_from
    return item.state


def days_open(state: CaseState, now: dt.datetime) -> float:
    start = parse_moment(state.created_at)
    if start is None:
        return 0.0
    end = parse_moment(state.ended_at) or now
    return max(0.0, (end - start).total_seconds() / 86400.0)


def context(variables: Mapping[str, Any], derived: Mapping[str, Any]) -> dict[str, Any]:
    return {**variables, **derived}


# -- rules --------------------------------------------------------------------------------------------------------
def evaluate_rules(
    case_type: CaseType,
    definition: CaseDefinition,
    state: CaseState,
    documents: Iterable[Document],
    now: dt.datetime,
) -> list[Finding]:
    """Every rule of ``case_type`` whose condition holds, as a finding; a failing rule becomes a flag, never raises."""
    derived = facts(definition, state, documents, now)
    ctx = context(state.variables, derived)
    out: list[Finding] = []
    for rule in case_type.rules:
        out.extend(_evaluate(rule, case_type, definition, state, ctx))
    return out


def _evaluate(
    rule: RuleSpec, case_type: CaseType, definition: CaseDefinition, state: CaseState, ctx: Mapping[str, Any]
) -> list[Finding]:
    try:
        held = rule.condition.evaluate_bool(ctx)
    except EvaluationError as exc:
        return [_failed(rule, case_type, ctx, exc)]
    if not held:
        return []
    reason = f"rule {rule.id!r}: {rule.condition.source} holds ({_values(rule, ctx)})"
    action = None
    if rule.action is not None:
        action, note = resolve_action(rule.action, case_type, definition, state)
        if note:
            reason += f"; {note}"
    cls = Suggestion if rule.kind == "suggestion" else Flag
    return [cls(f"rule:{rule.id}", rule.message, rule.severity, reason, "rule", action)]


def _failed(rule: RuleSpec, case_type: CaseType, ctx: Mapping[str, Any], exc: EvaluationError) -> Finding:
    missing = sorted(n for n in rule.condition.variables if n != "*" and n not in ctx)
    if missing:
        # Missing case data is already flagged by gap detection; the rule simply cannot judge yet, so say what it
        # waits for at info level instead of raising an alarm of its own.
        labels = ", ".join(case_type.field_label(n) for n in missing)
        return Flag(
            f"rule-error:{rule.id}",
            f"rule {rule.id} could not be evaluated: {labels} not set",
            "info",
            f"{rule.condition.source} reads {', '.join(missing)}, which the case does not have yet",
            "rule",
        )
    return Flag(
        f"rule-error:{rule.id}",
        f"rule {rule.id} could not be evaluated: {exc}",
        "warning",
        f"evaluating {rule.condition.source} failed; the rule's advice is unavailable until this is fixed",
        "rule",
    )


def _values(rule: RuleSpec, ctx: Mapping[str, Any]) -> str:
    """The values the condition read, so the reason shows the facts it relied on, not only the formula."""
    shown = []
    for name in sorted(rule.condition.variables):
        if name in ctx and name != "case":
            shown.append(f"{name} = {_short(ctx[name])}")
    return ", ".join(shown) if shown else "no case data read"


def _short(value: Any, limit: int = 60) -> str:
    text = _number(value) if isinstance(value, float) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value: float) -> str:
    """A float as a person reads it: `days_open` is 12.000552840185184 a few seconds after twelve days. Three
    decimals at most, and "about" when they are not the whole value, so a reason never claims more than it shows."""
    if not math.isfinite(value):
        return repr(value)
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text if float(text) == value else f"about {text}"


# -- actions ------------------------------------------------------------------------------------------------------
def resolve_action(
    spec: ActionSpec, case_type: CaseType | None, definition: CaseDefinition, state: CaseState
) -> tuple[Action, str]:
    """Map a declared action onto what the case can do now; the note (may be empty) says how it was mapped.

    An item of that name that is enabled is started; one already under way is pointed at; a user event listener
    occurs; one that cannot be worked on (it waits for its entry criterion, say) is shown as a wait; a discretionary
    item that can be planned now is planned; anything else becomes an ad hoc task, since adding work is always
    possible while the case runs, unless its name reads as an item id (`unmapped`). On a suspended case each is
    mapped as the case would stand once resumed, and blocked until it is.
    """
    if state.status == SUSPENDED:
        action, note = resolve_action(spec, case_type, definition, resumed(definition, state))
        return on_hold(action, state), note
    if spec.kind in ("fill_in", "request_document") and case_type is None:
        raise ValueError(f"a {spec.kind} action needs the case type that declares its labels")
    if spec.kind == "fill_in":
        assert case_type is not None
        label = case_type.field_label(spec.target)
        return Action("fill_in", spec.target, f"fill in: {label}"), ""
    if spec.kind == "request_document":
        assert case_type is not None
        label = case_type.document_label(spec.target)
        existing = _open_item(state, request_task_name(label))
        if existing is not None:
            return _point_at(existing, definition, state), "a request task is already open"
        return request_document(spec.target, label), ""
    name = spec.target
    existing = _open_item(state, name)
    if existing is not None:
        note = "" if spec.kind == "start" else f"{name!r} is already in the case ({existing.state})"
        return _point_at(existing, definition, state), note
    if not state.ended and name in plannable(definition, state):
        note = "" if spec.kind == "plan" else f"{name!r} is a discretionary item that can be planned now"
        return Action("plan", name, f"plan: {name}"), note
    if has_instance_id_form(name):
        # The engine refuses a task so named (commands would read the name as an item id): offering it as one
        # would offer what can never be accepted.
        return Action("unmapped", name, f"no action for: {name}",
                      blocked=f"{name.strip()!r} names no item of the case and reads as an item id (i1, i2, ...), "
                              "so it cannot be added as a task"), ""
    unfit = unreadable(name, "a task name")
    if unfit is not None:
        # A log's activity may hold what a typed name may not (a control character, a bidi mark): the engine
        # refuses such a task, so it is shown, not offered.
        return Action("unmapped", name, f"no action for: {name}",
                      blocked=f"it cannot be added as a task: {unfit}"), ""
    note = "" if spec.kind == "add_task" else f"{name!r} cannot be {_verb(spec.kind)} now, so as an ad hoc task"
    return Action("add_task", name, f"add task: {name}"), note


# Dismissing needs no resume (the engine takes a dismissal from a suspended case): said where the action is shown, so
# that nobody resumes a case on hold only to answer "this does not apply".
CASE_SUSPENDED: Final = ("the case is suspended: resume it (`casework case resume`) to accept; dismissing needs no "
                          "resume")


def on_hold(action: Action, state: CaseState) -> Action:
    """The action, blocked while the case is suspended (the engine refuses every command then but resume, terminate,
    a document and a dismissal: an acceptance waits); one already blocked keeps its own reason."""
    if state.status != SUSPENDED or action.blocked:
        return action
    return replace(action, blocked=CASE_SUSPENDED)


def resumed(definition: CaseDefinition, state: CaseState) -> CaseState:
    """A copy of a suspended case as it would stand once resumed: what is likely next is mapped onto the work the
    case holds (its stages are suspended with it, so nothing could be planned, and no task started, as it is)."""
    probe = CaseState.from_dict(state.to_dict())
    # The moment only stamps the probe's events, which are dropped; the engine reads no clock.
    execute(definition, probe, commands.ResumeCase(actor="system"), _PROBE_MOMENT, restore=False)
    return probe


_PROBE_MOMENT: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# What makes an item that cannot be worked on workable again: the command that does it.
_UNHOLD: Final = {DISABLED: "`casework case enable` brings it back", SUSPENDED: "`casework case resume-item` it first"}


def _point_at(item: ItemInstance, definition: CaseDefinition, state: CaseState) -> Action:
    if item.state == ENABLED and not _unmet_dependencies(item, definition, state):
        return Action("start", item.name, f"start: {item.name}", item.id)
    if item.state == ACTIVE:
        return Action("open", item.name, f"open: {item.name}", item.id)
    if item.state == AVAILABLE and item.kind == USER_EVENT:
        # Raised by a person (`case occur`). A milestone is not: one waits for its entry criterion (one without
        # occurs as it is created), and declaring it reached by hand would skip what it stands for.
        return Action("occur", item.name, f"occur: {item.name}", item.id)
    return Action("wait", item.name, f"wait: {item.name}", item.id, blocked=_why_not_now(item, definition, state))


def _unmet_dependencies(item: ItemInstance, definition: CaseDefinition, state: CaseState) -> list[str]:
    """What a dependency added at run time makes an enabled item wait for: the engine refuses to start it until then."""
    return Run(definition, plan_for(definition, state), state, _PROBE_MOMENT, "system", None,
               restore=False).unmet_dependencies(item)


def _why_not_now(item: ItemInstance, definition: CaseDefinition, state: CaseState) -> str:
    """The engine's explanation (`casework case explain`) on one line, "it" for the item's name it starts with."""
    first, *rest = (" ".join(line.split()) for line in explain(definition, state, item.id))
    if first.startswith(f"{item.name!r} "):
        first = "it " + first.removeprefix(f"{item.name!r} ")
    text = " ".join([first, "; ".join(rest)]) if rest else first
    hint = _UNHOLD.get(item.state) if not item.held_by_parent else None
    return f"{text}; {hint}" if hint else text


def _open_item(state: CaseState, name: str) -> ItemInstance | None:
    # The most recent open instance: a repeated task's newest instance is the one a person works on.
    matches = [i for i in state.items.values() if i.name == name and i.state not in TERMINAL and i.id != state.root]
    return max(matches, key=lambda i: instance_number(i.id)) if matches else None


def _verb(kind: str) -> str:
    return {"plan": "planned", "start": "started"}.get(kind, "done")


def request_document(kind: str, label: str) -> Action:
    return Action("request_document", kind, f"request document: {label}", task=request_task_name(label))


def request_task_name(label: str) -> str:
    return f"Request {label}"


# -- helpers ------------------------------------------------------------------------------------------------------
def _names(items: Iterable[Any]) -> list[str]:
    return sorted({i.name for i in items})


def parse_moment(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return parse_datetime(text)
    except (TimerError, ValueError):
        return None


def _before(due: str | None, now: dt.datetime) -> bool:
    moment = parse_moment(due)
    return moment is not None and moment < now


def instance_number(item_id: str) -> int:
    digits = "".join(ch for ch in item_id if ch.isdigit())
    return int(digits) if digits else 0


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Most severe first; flags before suggestions at equal severity; then by id, so the order is stable."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.kind != "flag", f.id))


def with_action(finding: Finding, action: Action | None) -> Finding:
    return replace(finding, action=action)
