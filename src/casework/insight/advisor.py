"""Next-best actions for a live case: the learned model's suggestions mapped onto what the case can do now.

The model predicts activity names from the case's path so far; each is turned into an action on this case (start an
enabled item, go to one already under way, raise a user event, plan a discretionary item, or add it as an ad hoc
task; see `rules.resolve_action`) with its probability, the model's plain-language reason and the model version, so
that a person's accept or dismiss can be recorded against the version that made the suggestion. A step the case
cannot take now (an item waiting for its entry criterion, a name that reads as an item id, anything while the case
is suspended) is still shown, as what is likely next, with why not (`Action.blocked`); accepting it is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from casework.engine import CaseState, commands
from casework.insight.casetype import ActionSpec
from casework.insight.flags import RecordedEvent, case_path, case_performers
from casework.insight.nba import NextActionModel
from casework.insight.remaining import RemainingTimeModel
from casework.insight.rules import Action, check_actionable, resolve_action, together
from casework.logfile import clock_in
from casework.model.definition import CaseDefinition


@dataclass(frozen=True)
class NextAction:
    activity: str
    probability: float
    reason: str
    action: Action
    note: str  # how the activity was mapped onto the case, when not literally
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "activity": self.activity,
            "probability": round(self.probability, 4),
            "reason": self.reason,
            "action": self.action.to_dict(),
            "note": self.note,
            "model_version": self.model_version,
        }

    def command(self, *, actor: str, reason: str | None = None) -> commands.Command | None:
        """The engine command that follows the suggestion (None: the person goes to an existing task)."""
        return self.action.command(actor=actor, reason=reason or f"suggested: {self.reason}")

    def feedback(self, *, accepted: bool, actor: str, reason: str | None = None) -> commands.RecordFeedback:
        return commands.RecordFeedback(
            suggestion=self.to_dict(), accepted=accepted, model_version=self.model_version, actor=actor, reason=reason
        )

    def accept(self, *, actor: str, reason: str | None = None) -> commands.Command:
        """Accepting the suggestion: its action and the record of the acceptance as one command (`Together`: both
        are stored or neither, see `rules.accept_command`); only the record where the person goes to a task already
        under way. ValueError for one that cannot be taken now (`rules.check_actionable`)."""
        check_actionable(self.action)
        record = self.feedback(accepted=True, actor=actor, reason=reason)
        action = self.command(actor=actor, reason=reason)
        return together(action, record, actor=actor)


MIN_PROBABILITY = 0.01  # a step less likely than this is not a suggestion


def next_best_actions(
    model: NextActionModel,
    definition: CaseDefinition,
    state: CaseState,
    *,
    k: int = 3,
    model_version: str = "",
    events: Iterable[RecordedEvent] | None = None,
    zone: tzinfo = UTC,
    min_probability: float = MIN_PROBABILITY,
) -> list[NextAction]:
    """The k most likely next steps of an open case, best first, each mapped onto the case.

    Steps the model gives less than `min_probability` are not offered: after Register claim, "add task: Pay, <1%,
    none of 300 similar cases did Pay next" filled the panel with noise whenever fewer than k steps are likely.

    `events`: the case's event history, for who performed each step; a model that learned from performers uses
    them (without them it falls back to the activities alone). `zone`: the organisation's (`CASEWORK_TIMEZONE`),
    whose clock the hour, weekday and date of the case's steps are read in, as the model learned them from a log.
    """
    if state.ended:
        return []
    activities, timestamps = case_path(state)
    resources = case_performers(state, events) if events is not None else None
    result: list[NextAction] = []
    for suggestion in model.suggest(activities, timestamps, resources, k=k, clock=clock_in(zone, timestamps)):
        if suggestion.probability < min_probability:
            break  # best first: the rest are less likely still
        action, note = resolve_action(ActionSpec("start", suggestion.activity), None, definition, state)
        result.append(
            NextAction(
                suggestion.activity,
                suggestion.probability,
                suggestion.reason,
                action,
                note,
                model_version or model.version,
            )
        )
    return result


class PathProbability:
    """``flags.NextActionModel`` over the n-gram part of a trained model: how likely a step was after the path
    before it. Timing is left out on purpose: an unusual-path flag is about the order of work."""

    def __init__(self, model: NextActionModel, version: str = "") -> None:
        self.model = model
        self.version = version or model.version  # put on its flags, so a decision on one names the model

    def probability(self, prefix_activities: Sequence[str], next_activity: str) -> float:
        if prefix_activities:
            choice = self.model.choices.get("noeoc") or next(iter(self.model.choices.values()))
            p = self.model.ngram.predict(self.model.encoding.encode_ids(prefix_activities), choice.order, choice.alpha)
        else:
            p = self.model.start_proba()  # a first step: how cases began, not what follows steps in general
        names = self.model.encoding.activities
        if next_activity not in names:
            return 0.0
        return float(p[list(names).index(next_activity)] / max(float(p[: len(names)].sum()), 1e-12))


class RemainingSeconds:
    """``flags.RemainingTimeModel`` over a trained remaining-time model; `zone` as for `next_best_actions`."""

    def __init__(self, model: RemainingTimeModel, zone: tzinfo = UTC, version: str = "") -> None:
        self.model = model
        self.zone = zone
        self.version = version  # of the model file it came from (`InsightModel.version`), put on its flags

    def predict_remaining_seconds(self, activities: Sequence[str], timestamps: Sequence[float]) -> float:
        if not activities:
            return 0.0
        return self.model.predict_days(activities, timestamps, clock=clock_in(self.zone, timestamps)) * 86_400.0
