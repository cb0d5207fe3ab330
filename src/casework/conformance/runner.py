"""Runs conformance scenarios (the format of the shared CMMN corpus, plus casework's adaptive steps) on the engine.

Each scenario drives one case through its steps with a test clock that starts at a fixed moment and moves only when a
step says so. After the last step the case is rebuilt from its events and must equal the live state.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casework.engine import CaseState, CommandRejected, Event, commands, execute, plan_migration, plannable, replay
from casework.engine.core import plan_for
from casework.engine.runner import Run
from casework.model import CaseDefinition, ModelError, load_definition
from casework.model.definition import HUMAN_TASK, MILESTONE, STAGE_KINDS, USER_EVENT
from casework.model.timers import TimerError, add_duration, parse_datetime

START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
STATE_KEYS = ("active", "enabled", "available", "disabled", "suspended", "completed", "terminated")


class ScenarioFailed(Exception):
    pass


class EngineError(Exception):
    """The engine raised something other than `CommandRejected`: a defect in casework, not in the scenario."""


@dataclass
class Outcome:
    name: str
    passed: bool
    reason: str = ""
    seconds: float = 0.0


@dataclass
class CaseUnderTest:
    definition: CaseDefinition
    by_id: bool
    base_dir: Path = Path(".")
    now: dt.datetime = START
    state: CaseState = field(init=False)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = CaseState.create("scenario", self.definition)

    # While a `together` step builds its parts: where they go instead of running.
    collecting: list[commands.Command] | None = None

    def run(self, command: commands.Command) -> None:
        if self.collecting is not None:
            self.collecting.append(command)
            return
        try:
            self.events.extend(execute(self.definition, self.state, command, self.now))
        except CommandRejected:
            raise
        except Exception as exc:  # told apart from a malformed step, whose errors look alike
            raise EngineError(f"{type(exc).__name__}: {exc}") from exc

    def label(self, item: Any) -> str:
        return str(item.def_id if self.by_id else item.name)

    def items(self) -> list[Any]:
        return [i for i in self.state.items.values() if i.id != self.state.root]


def load_scenario(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def run_scenario(path: Path) -> Outcome:
    import time

    started = time.perf_counter()
    try:
        scenario = load_scenario(path)
    except (OSError, ValueError, RecursionError) as exc:  # also not UTF-8, a huge integer, nesting past the stack
        return Outcome(path.stem, False, f"cannot read scenario: {type(exc).__name__}: {str(exc)[:200]}")
    if not _is_scenario(scenario):
        return Outcome(path.stem, False, 'not a scenario: an object with "model" and a list of step objects')
    name = str(scenario.get("name", path.stem))
    try:
        _run(scenario, path)
    except ScenarioFailed as exc:
        return Outcome(name, False, str(exc), time.perf_counter() - started)
    except EngineError as exc:
        return Outcome(name, False, f"engine error: {exc}", time.perf_counter() - started)
    except Exception as exc:  # a crash in one scenario must not stop the others
        return Outcome(name, False, f"engine error: {type(exc).__name__}: {exc}", time.perf_counter() - started)
    return Outcome(name, True, "", time.perf_counter() - started)


def _is_scenario(scenario: Any) -> bool:
    if not isinstance(scenario, dict) or not isinstance(scenario.get("model"), str):
        return False
    steps = scenario.get("steps", [])
    return isinstance(steps, list) and all(isinstance(step, dict) for step in steps)


def _run(scenario: dict[str, Any], path: Path) -> None:
    model_path = path.resolve().parent.parent / scenario["model"]
    try:
        definition = load_definition(model_path.read_bytes(), scenario.get("case"))
    except (OSError, ModelError) as exc:
        raise ScenarioFailed(f"model {scenario['model']}: {exc}") from exc
    case = CaseUnderTest(definition, by_id=bool(scenario.get("item_ref")), base_dir=path.resolve().parent.parent)
    for number, step in enumerate(scenario.get("steps", []), start=1):
        try:
            _step(case, step)
        except ScenarioFailed as exc:
            raise ScenarioFailed(f"step {number} {json.dumps(step)}: {exc}") from exc
        except EngineError as exc:
            raise EngineError(f"step {number} {json.dumps(step)}: {exc}") from exc
        except (KeyError, TypeError, AttributeError, ValueError) as exc:  # the step itself, read before the engine
            problem = f"malformed step: {type(exc).__name__}: {exc}"
            raise ScenarioFailed(f"step {number} {json.dumps(step)}: {problem}") from exc
    rebuilt = replay(definition, case.state.case_id, case.events)
    if rebuilt.to_dict() != case.state.to_dict():
        raise ScenarioFailed("replaying the events does not rebuild the case state")


def _step(case: CaseUnderTest, step: dict[str, Any]) -> None:
    if "expect" in step:
        # An action beside an expectation would be skipped without a word, and the scenario pass checking less.
        if len(step) != 1:
            raise ScenarioFailed(f"a step is an action or an expectation, not both: {sorted(step)}")
        if not isinstance(step["expect"], dict):
            raise ScenarioFailed("expect must be an object")
        _expect(case, step["expect"])
        return
    actor = step.get("as", "system")
    reason = step.get("reason")
    action_keys = [k for k in step if k not in ("as", "reason", "expect_error", "variables", "force")]
    if len(action_keys) != 1:
        raise ScenarioFailed(f"a step needs exactly one action, got {action_keys}")
    action = action_keys[0]
    builder = _ACTIONS.get(action)
    if builder is None:
        raise ScenarioFailed(f"unsupported step: {action}") from None
    # A copy: `to_dict` shares the state's lists and dicts, which a step changes in place before it is refused (a
    # `together` whose first part ran) and the engine then puts back as copies, so a shared `before` would differ.
    before = copy.deepcopy(case.state.to_dict())
    try:
        builder(case, step, actor, reason)
    except CommandRejected as exc:
        if not step.get("expect_error"):
            raise ScenarioFailed(f"rejected: {exc}") from exc
        if case.state.to_dict() != before:
            raise ScenarioFailed("a rejected step changed the case") from exc
        return
    if step.get("expect_error"):
        raise ScenarioFailed("expected the step to be rejected, but it was accepted")


def _reason(value: Any, reason: str | None) -> str | None:
    if isinstance(value, dict) and value.get("reason"):
        return str(value["reason"])
    return reason


def _start(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    if "variables" in step:
        raise ScenarioFailed('a start step takes its variables inside it: {"start": {"variables": {...}}}')
    variables = (step["start"] or {}).get("variables", {})
    case.run(commands.StartCase(variables=variables, actor=actor, reason=reason))


def _complete(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    key = "complete" if "complete" in step else "complete_active"
    case.run(commands.CompleteItem(item=step[key], variables=step.get("variables", {}), actor=actor, reason=reason))


def _complete_all(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    targets = [i.id for i in case.items() if i.state == "active" and i.kind not in STAGE_KINDS]
    for item_id in targets:
        if case.state.items[item_id].state == "active":
            case.run(commands.CompleteItem(item=item_id, actor=actor, reason=reason))


def _simple(
    make: Callable[..., commands.Command], key: str
) -> Callable[[CaseUnderTest, dict[str, Any], str, str | None], None]:
    def build(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
        case.run(make(item=step[key], actor=actor, reason=reason))

    return build


def _set_variables(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(commands.SetVariables(variables=dict(step["set_variables"]), actor=actor, reason=reason))


def _advance(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    try:
        case.now = add_duration(case.now, step["advance_time"])
    except TimerError as exc:
        raise ScenarioFailed(str(exc)) from exc
    case.run(commands.FireDueTimers(actor=actor, reason=reason))


def _terminate_case(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(commands.TerminateCase(actor=actor, reason=reason))


def _suspend_case(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(commands.SuspendCase(actor=actor, reason=reason))


def _resume_case(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(commands.ResumeCase(actor=actor, reason=reason))


def _complete_stage(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(
        commands.CompleteStage(item=step["complete_stage"], force=bool(step.get("force")), actor=actor, reason=reason)
    )


def _complete_case(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    case.run(commands.CompleteCase(force=bool(step.get("force")), actor=actor, reason=reason))


def _add(kind: str) -> Callable[[CaseUnderTest, dict[str, Any], str, str | None], None]:
    key = {HUMAN_TASK: "add_task", "stage": "add_stage", MILESTONE: "add_milestone"}[kind]

    def build(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
        spec = step[key]
        case.run(
            commands.AddItem(
                kind=kind,
                name=spec["name"],
                stage=spec.get("stage"),
                after=tuple(spec.get("after", ())),
                manual=bool(spec.get("manual", False)),
                required=bool(spec.get("required", False)),
                repeat=bool(spec.get("repeat", False)),
                auto_complete=bool(spec.get("auto_complete", True)),
                assignee=spec.get("assignee"),
                due=spec.get("due"),
                actor=actor,
                reason=_reason(spec, reason),
            )
        )

    return build


def _add_dependency(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["add_dependency"]
    case.run(
        commands.AddDependency(item=spec["item"], after=tuple(spec["after"]), actor=actor, reason=_reason(spec, reason))
    )


def _skip_or_remove(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    key = "skip" if "skip" in step else "remove"
    value = step[key]
    item = value["item"] if isinstance(value, dict) else value
    make = commands.SkipItem if key == "skip" else commands.RemoveItem
    case.run(make(item=item, actor=actor, reason=_reason(value, reason)))


def _reassign(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["reassign"]
    case.run(commands.Reassign(item=spec["item"], to=spec["to"], actor=actor, reason=_reason(spec, reason)))


def _add_participant(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["add_participant"]
    case.run(commands.AddParticipant(user=spec["user"], role=spec["role"], actor=actor, reason=_reason(spec, reason)))


def _set_due(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["set_due"]
    case.run(commands.SetDue(item=spec.get("item"), due=spec["due"], actor=actor, reason=_reason(spec, reason)))


def _load_other(case: CaseUnderTest, spec: dict[str, Any]) -> CaseDefinition:
    try:
        return load_definition((case.base_dir / spec["model"]).read_bytes())
    except (OSError, ModelError) as exc:
        raise ScenarioFailed(f"model {spec['model']}: {exc}") from exc


def _migrate(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["migrate"]
    target = _load_other(case, spec)
    case.run(
        commands.Migrate(definition=target, version=spec.get("version"), actor=actor, reason=_reason(spec, reason))
    )
    case.definition = target


def _plan(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["plan"]
    item = spec["item"] if isinstance(spec, dict) else spec
    case.run(commands.PlanItem(item=item, actor=actor, reason=_reason(spec, reason)))


def _attach(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    """A document, as the case service records one: `{"attach": "report.pdf"}` or `{"attach": {"name": ...,
    "content": "its text", "media_type": ...}}`. The bytes are not stored (the engine keeps only their digest); its
    id counts the documents the scenario attached, so that a run is the same every time."""
    spec = step["attach"]
    spec = {"name": spec} if isinstance(spec, str) else spec
    content = str(spec.get("content", "")).encode()
    number = sum(1 for e in case.events if e.type == "document_attached") + 1
    case.run(commands.AttachDocument(name=spec["name"], sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                                     media_type=spec.get("media_type", "application/octet-stream"),
                                     document_id=f"document-{number}", actor=actor, reason=_reason(spec, reason)))


def _feedback(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    spec = step["feedback"]
    case.run(commands.RecordFeedback(suggestion=spec["suggestion"], accepted=spec.get("accepted", True),
                                     model_version=spec.get("model_version", ""), actor=actor,
                                     reason=_reason(spec, reason)))


# Steps a `together` step cannot hold: they move the clock, start the case, change its model, or nest.
_NOT_TOGETHER = frozenset({"advance_time", "start", "migrate", "together"})


def _together(case: CaseUnderTest, step: dict[str, Any], actor: str, reason: str | None) -> None:
    """Its steps as one `Together` command: all done, or (one rejected) none. Each part has its own `as` and
    `reason`, else the step's."""
    parts = step["together"]
    if not isinstance(parts, list) or not all(isinstance(part, dict) for part in parts):
        raise ScenarioFailed("together must be a list of steps")
    collected: list[commands.Command] = []
    case.collecting = collected
    try:
        for part in parts:
            keys = [k for k in part if k not in ("as", "reason", "variables", "force")]
            if len(keys) != 1 or keys[0] in _NOT_TOGETHER or keys[0] not in _ACTIONS:
                raise ScenarioFailed(f"a part of together is one action, not {', '.join(keys) or 'none'} "
                                     f"(not {', '.join(sorted(_NOT_TOGETHER))})")
            _ACTIONS[keys[0]](case, part, part.get("as", actor), part.get("reason", reason))
    finally:
        case.collecting = None
    case.run(commands.Together(commands=tuple(collected), actor=actor))


_ACTIONS: dict[str, Callable[[CaseUnderTest, dict[str, Any], str, str | None], None]] = {
    "start": _start,
    "complete": _complete,
    "complete_active": _complete,
    "complete_all_active": _complete_all,
    "start_manual": _simple(commands.StartItem, "start_manual"),
    "disable": _simple(commands.DisableItem, "disable"),
    "enable": _simple(commands.EnableItem, "enable"),
    "terminate": _simple(commands.TerminateItem, "terminate"),
    "occur": _simple(commands.OccurEvent, "occur"),
    "set_variables": _set_variables,
    "advance_time": _advance,
    "terminate_case": _terminate_case,
    "suspend_case": _suspend_case,
    "resume_case": _resume_case,
    "complete_stage": _complete_stage,
    "complete_case": _complete_case,
    "add_task": _add(HUMAN_TASK),
    "add_stage": _add("stage"),
    "add_milestone": _add(MILESTONE),
    "add_dependency": _add_dependency,
    "skip": _skip_or_remove,
    "remove": _skip_or_remove,
    "reassign": _reassign,
    "add_participant": _add_participant,
    "set_due": _set_due,
    "plan": _plan,
    "migrate": _migrate,
    "feedback": _feedback,
    "attach": _attach,
    "together": _together,
}


# -- expectations --------------------------------------------------------------------------------------------------
def _compare_set(key: str, actual: set[str], expected: list[str], exact: bool) -> None:
    if not isinstance(expected, list) or not all(isinstance(name, str) for name in expected):
        raise ScenarioFailed(f"{key}: expected a list of names, got {json.dumps(expected)}")
    wanted = set(expected)
    if exact and actual != wanted:
        raise ScenarioFailed(f"{key}: expected {sorted(wanted)}, got {sorted(actual)}")
    if not exact and not wanted <= actual:
        raise ScenarioFailed(f"{key}: expected at least {sorted(wanted)}, got {sorted(actual)}")


def _counts(case: CaseUnderTest, states: set[str] | None, open_only: bool = False) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in case.items():
        if states is not None and item.state not in states:
            continue
        if open_only and not item.open:
            continue
        counts[case.label(item)] = counts.get(case.label(item), 0) + 1
    return counts


_EXPECT_KEYS = frozenset({
    "exact", "tasks", "milestones_reached", "user_event_listeners", "required", "total_plan_items",
    "active_count_total", "stage_count", "timers_pending", "active_count", "available_count", "total_count", "case",
    "plannable", "owner", "participants", "overdue", "audit", "migration", "documents",
})


def _expect(case: CaseUnderTest, expect: dict[str, Any]) -> None:
    unknown = sorted(set(expect) - _EXPECT_KEYS - set(STATE_KEYS))
    if unknown:  # a misspelt expectation checks nothing, and the scenario would pass
        raise ScenarioFailed(f"unknown expectation {', '.join(map(repr, unknown))}")
    exact = expect.get("exact", True)
    if not isinstance(exact, bool):
        raise ScenarioFailed(f"exact must be true or false, not {exact!r}")
    items = case.items()
    for key in STATE_KEYS:
        if key in expect:
            _compare_set(key, {case.label(i) for i in items if i.state == key}, expect[key], exact)
    if "tasks" in expect:
        tasks = {case.label(i) for i in items if i.kind == HUMAN_TASK and i.state == "active"}
        _compare_set("tasks", tasks, expect["tasks"], exact)
    if "milestones_reached" in expect:
        reached = {case.label(i) for i in items if i.kind == MILESTONE and i.state == "completed"}
        _compare_set("milestones_reached", reached, expect["milestones_reached"], exact)
    if "user_event_listeners" in expect:
        listeners = {case.label(i) for i in items if i.kind == USER_EVENT and i.open}
        _compare_set("user_event_listeners", listeners, expect["user_event_listeners"], exact)
    if "required" in expect:
        run = Run(case.definition, plan_for(case.definition, case.state), case.state, case.now, "system", None)
        required = {case.label(i) for i in items if i.open and run.is_required(i)}
        _compare_set("required", required, expect["required"], exact)
    numbers = {
        "total_plan_items": sum(1 for i in items if i.open),
        "active_count_total": sum(1 for i in items if i.state == "active"),
        "stage_count": sum(1 for i in items if i.open and i.kind in STAGE_KINDS),
        "timers_pending": len(case.state.timers),
    }
    for key, actual in numbers.items():
        if key in expect and expect[key] != actual:
            raise ScenarioFailed(f"{key}: expected {expect[key]}, got {actual}")
    for key, states in (("active_count", {"active"}), ("available_count", {"available"})):
        if key in expect:
            counts = _counts(case, states)
            for name, n in expect[key].items():
                if counts.get(name, 0) != n:
                    raise ScenarioFailed(f"{key}[{name}]: expected {n}, got {counts.get(name, 0)}")
    if "total_count" in expect:
        counts = _counts(case, None, open_only=True)
        for name, n in expect["total_count"].items():
            if counts.get(name, 0) != n:
                raise ScenarioFailed(f"total_count[{name}]: expected {n}, got {counts.get(name, 0)}")
    if "case" in expect:
        wanted, status = expect["case"], case.state.status
        ok = status in ("completed", "terminated") if wanted == "ended" else status == wanted
        if not ok:
            raise ScenarioFailed(f"case: expected {wanted}, got {status}")
    if "plannable" in expect:
        _compare_set("plannable", set(plannable(case.definition, case.state)), expect["plannable"], True)
    if "owner" in expect:
        for name, owner in expect["owner"].items():
            found = [i for i in items if case.label(i) == name]
            current = next((i for i in reversed(found) if i.open), found[-1] if found else None)
            if current is None or current.owner != owner:
                raise ScenarioFailed(f"owner[{name}]: expected {owner}, got {current.owner if current else 'no item'}")
    if "participants" in expect:
        for user, role in expect["participants"].items():
            roles = case.state.participants.get(user, [])
            if role not in roles:
                raise ScenarioFailed(f"participants[{user}]: expected {role}, got {roles}")
    if "overdue" in expect:
        overdue = {case.label(i) for i in items if i.open and i.due and parse_datetime(i.due) < case.now}
        _compare_set("overdue", overdue, expect["overdue"], True)
    # The exact documents of the case, each at its latest version.
    if "documents" in expect and case.state.documents != expect["documents"]:
        raise ScenarioFailed(f"documents: expected {expect['documents']}, got {case.state.documents}")
    if "audit" in expect:
        _expect_audit(case.events, expect["audit"])
    if "migration" in expect:
        _expect_migration(case, expect["migration"])


def _expect_migration(case: CaseUnderTest, spec: dict[str, Any]) -> None:
    plan = plan_migration(case.definition, case.state, _load_other(case, spec))
    for outcome in ("maps", "new", "disappears", "cannot"):
        if outcome in spec:
            actual = {e.name for e in plan.entries if e.outcome == outcome}
            _compare_set(f"migration {outcome}", actual, spec[outcome], True)


def _expect_audit(events: list[Event], wanted: list[dict[str, Any]]) -> None:
    position = 0
    for entry in wanted:
        while position < len(events):
            event = events[position]
            position += 1
            if all(getattr(event, key) == value for key, value in entry.items()):
                break
        else:
            raise ScenarioFailed(f"audit: no event {entry} in order in the trail")


def find_scenarios(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.glob("*.json")))
        else:
            found.append(path)
    return found
