"""One entry point for decision support on a case: rules, missing information, what its documents say about its
data, SLA risk and unusual paths.

``assess`` is meant to run after every change of a case (it is pure and cheap: no I/O, time comes in as ``now``).
It returns findings, most severe first; each says why, and none changes the case: a person accepts or dismisses
them, and ``casework.insight.rules.feedback_command`` records that choice.

The two learned signals come from models that live elsewhere; this module only needs the small protocols below, so
any model (or a test fake) that offers these methods can be passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from casework.engine import CaseState
from casework.engine.lifecycle import COMPLETED
from casework.insight.casetype import ActionSpec, CaseType
from casework.insight.document_values import with_document_values
from casework.insight.extraction import ExtractionResult
from casework.insight.gaps import find_gaps
from casework.insight.rules import (
    Action,
    Document,
    Finding,
    Flag,
    Suggestion,
    evaluate_rules,
    facts,
    instance_number,
    not_dismissed,
    on_hold,
    parse_moment,
    resolve_action,
    sort_findings,
    with_action,
)
from casework.model.definition import CaseDefinition
from casework.model.timers import TimerError, add_duration
from casework.performed import performed_by

__all__ = [
    "UNUSUAL_THRESHOLD",
    "Flag",
    "NextActionModel",
    "RemainingTimeModel",
    "Suggestion",
    "assess",
    "case_path",
    "case_performers",
    "sla_deadline",
    "sla_findings",
    "unusual_path",
]

# A step that fewer than 1 in 20 cases with the same history take is worth a second look.
UNUSUAL_THRESHOLD = 0.05
# Kinds of plan items whose completion is a step on the case's path (what process-mining logs record).
PATH_KINDS = frozenset({"humanTask", "task", "milestone"})


@runtime_checkable
class NextActionModel(Protocol):
    def probability(self, prefix_activities: Sequence[str], next_activity: str) -> float:
        """P(next activity | the activities so far), in [0, 1]."""
        ...


@runtime_checkable
class RemainingTimeModel(Protocol):
    def predict_remaining_seconds(self, activities: Sequence[str], timestamps: Sequence[float]) -> float:
        """Predicted seconds from the last event until the case ends; timestamps are POSIX seconds."""
        ...


def assess(
    case_type: CaseType,
    definition: CaseDefinition,
    state: CaseState,
    documents: Iterable[Document],
    now: dt.datetime,
    *,
    next_action_model: NextActionModel | None = None,
    remaining_model: RemainingTimeModel | None = None,
    unusual_threshold: float = UNUSUAL_THRESHOLD,
    dismissed: Mapping[str, Mapping[str, str]] | None = None,
    extracted: ExtractionResult | None = None,
) -> list[Finding]:
    """Every finding for the case now, most severe first. Never raises for a rule or model that fails.

    `extracted`: what the case type's patterns found in the case's documents (`case_documents.stored_values`): a
    field to fill in that a document gives is offered with that value, and a document that disagrees with the case
    data is flagged (`document_values`).

    `dismissed`: what people dismissed on this case (`rules.dismissed_findings` of its events); those findings are
    left out unless they have become more severe since, or offer a document's value other than the one dismissed, so
    a dismissal is not undone by the next change of the case.

    An ended case has none: nobody can act on it, and the case refuses every command, a person's dismissal
    (`RecordFeedback`) included, so a finding on it could never be dealt with and would stay listed for good.
    """
    if state.ended:
        return []
    docs = list(documents)
    derived = facts(definition, state, docs, now)
    findings: list[Finding] = list(evaluate_rules(case_type, definition, state, docs, now))
    for gap in find_gaps(case_type, state.variables, docs, derived=derived):
        findings.append(_map_gap_action(gap, case_type, definition, state))
    if extracted is not None:
        findings = with_document_values(case_type, state.variables, extracted, findings)
    findings.extend(sla_findings(case_type, state, now, remaining_model))
    if next_action_model is not None:
        flag = unusual_path(state, next_action_model, unusual_threshold)
        if flag is not None:
            findings.append(flag)
    if dismissed:
        findings = not_dismissed(findings, dismissed)
    # Rule and document actions come blocked from `resolve_action`; the rest (fill in, review the plan) are refused
    # by a suspended case all the same.
    findings = [f if f.action is None else with_action(f, on_hold(f.action, state)) for f in findings]
    return sort_findings(findings)


def _map_gap_action(gap: Finding, case_type: CaseType, definition: CaseDefinition, state: CaseState) -> Finding:
    # A document request may already be under way as a task; point at it instead of suggesting a second one.
    if gap.action is None or gap.action.kind != "request_document":
        return gap
    action, _ = resolve_action(ActionSpec("request_document", gap.action.target), case_type, definition, state)
    return type(gap)(gap.id, gap.message, gap.severity, gap.reason, gap.source, action)


# -- the case's path ----------------------------------------------------------------------------------------------
def plan_step_names(definition: CaseDefinition) -> set[str]:
    """The names of the definition's items: what a log's activity is mapped onto. A learned activity is an item of
    the case when it bears the item's name (`rules.resolve_action` looks it up by name; a live case's path is its
    items' names, `case_path`), so a log that shares none of them names its steps otherwise."""
    return {item.name for item in definition.items.values()}


def _path_steps(state: CaseState) -> list[tuple[float, bool, int, str, str]]:
    """(completed at, is a milestone, instance number, name, item id) of each step of the path, in path order."""
    steps = []
    for item in state.items.values():
        if item.kind in PATH_KINDS and item.state == COMPLETED and item.ended_at:
            moment = parse_moment(item.ended_at)
            if moment is not None:
                # Items ending in one engine step share a timestamp: a milestone reached in that step is a
                # consequence of the work, so it goes after it; creation order settles the rest deterministically.
                steps.append(
                    (moment.timestamp(), item.kind == "milestone", instance_number(item.id), item.name, item.id)
                )
    steps.sort()
    return steps


def case_path(state: CaseState) -> tuple[list[str], list[float]]:
    """Completed tasks and milestones in the order they completed, with POSIX timestamps."""
    steps = _path_steps(state)
    return [s[3] for s in steps], [s[0] for s in steps]


class RecordedEvent(Protocol):
    """What `case_performers` reads of an event: engine events and stored events both have it."""

    @property
    def type(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def case_performers(state: CaseState, events: Iterable[RecordedEvent]) -> list[str | None]:
    """Who performed each step of `case_path(state)`: the actor of the event that completed it (None if the events
    do not say, or the engine completed it by itself: a milestone its sentry reached, a stage whose work was done).
    The state keeps no actors, the event history does."""
    completed_by: dict[str, str | None] = {}
    for event in events:
        if event.type == "item_transition" and event.payload.get("to") == COMPLETED:
            completed_by[str(event.payload.get("id"))] = performed_by(event.type, event.actor, event.payload)
    return [completed_by.get(s[4]) for s in _path_steps(state)]


def unusual_path(state: CaseState, model: NextActionModel, threshold: float = UNUSUAL_THRESHOLD) -> Finding | None:
    """A flag when the case's last step was improbable given the steps before it."""
    activities, _ = case_path(state)
    if not activities:
        return None
    prefix, last = activities[:-1], activities[-1]
    version = model_version(model)
    try:
        p = float(model.probability(prefix, last))
    except Exception as exc:  # a model bug must not take decision support down with it
        return Flag("path:error", f"unusual-path check failed: {exc}", "info", "the next-action model raised", "path",
                    model_version=version)
    if p >= threshold:
        return None
    after = " → ".join(prefix[-3:]) if prefix else "the start of the case"
    return Flag(
        "path:unusual",
        f"Unusual path: {last!r} after {after}",
        "info" if p >= threshold / 5 else "warning",
        f"in the history the model learned from, {last!r} follows this path with probability {_small(p)} "
        f"(below {threshold:.0%}); check it was intended",
        "path",
        model_version=version,
    )


def _small(p: float) -> str:
    """A small probability to one decimal of a percent, except that one that is not zero never reads "0.0%": the
    model's smoothing gives every step some chance, and "0.0%" read as "never happened" where it had, rarely."""
    return "<0.1%" if 0 < p < 0.0005 else f"{p:.1%}"


# -- SLA ----------------------------------------------------------------------------------------------------------
def sla_deadline(case_type: CaseType, state: CaseState) -> dt.datetime | None:
    """The case's deadline: one set on the case itself wins over the case type's SLA counted from the start."""
    if state.due:
        return parse_moment(state.due)
    start = parse_moment(state.created_at)
    if case_type.sla is None or start is None:
        return None
    try:
        return add_duration(start, case_type.sla)
    except (TimerError, ValueError):
        return None


def sla_findings(
    case_type: CaseType, state: CaseState, now: dt.datetime, model: RemainingTimeModel | None = None
) -> list[Finding]:
    """A critical flag once the deadline passed; a warning when the predicted end lies beyond it."""
    deadline = sla_deadline(case_type, state)
    if deadline is None:
        return []
    source = "the case's due date" if state.due else f"case type SLA {case_type.sla}"
    if now > deadline:
        late = _days(now - deadline)
        return [
            Flag(
                "sla:breached",
                f"SLA breached {late} ago",
                "critical",
                f"deadline {_iso(deadline)} ({source}) has passed; now is {_iso(now)}",
                "sla",
            )
        ]
    if model is None:
        return []
    activities, timestamps = case_path(state)
    try:
        remaining = float(model.predict_remaining_seconds(activities, timestamps))
    except Exception as exc:  # see unusual_path: a failing model is reported, not raised
        return [Flag("sla:error", f"SLA risk check failed: {exc}", "info", "the remaining-time model raised", "sla",
                     model_version=model_version(model))]
    # The model predicts from the last event; with no event yet, from now.
    base = dt.datetime.fromtimestamp(timestamps[-1], tz=dt.UTC) if timestamps else now
    predicted_end = max(base + dt.timedelta(seconds=max(0.0, remaining)), now)
    if predicted_end <= deadline:
        return []
    return [
        Flag(
            "sla:risk",
            f"SLA at risk: predicted to finish {_days(predicted_end - deadline)} late",
            "warning",
            f"predicted end {_iso(predicted_end)} (remaining-time model, {_days(dt.timedelta(seconds=remaining))} "
            f"after the last step) is after the deadline {_iso(deadline)} ({source})",
            "sla",
            Action("open", "case plan", "review the plan: reprioritise or add help"),
            model_version=model_version(model),
        )
    ]


# -- helpers ------------------------------------------------------------------------------------------------------
def model_version(model: object) -> str:
    """The version a model offers (`advisor.PathProbability` and `RemainingSeconds` do), else ""; the protocols
    above do not require one, so a test fake need not have it."""
    return str(getattr(model, "version", "") or "")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400.0
    if days >= 1:
        return f"{days:.1f} days"
    return f"{delta.total_seconds() / 3600.0:.1f} hours"
