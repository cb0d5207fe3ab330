"""Acceptance rates of suggestions and flags, computed from the audit trail.

Every accept or dismiss is a `RecordFeedback` command, so the case's log holds a `suggestion_accepted` or
`suggestion_dismissed` event with the suggestion as it was shown, the model version that made it, who decided and
why. This module reads those events only: no other table is trusted for the figures, so they are exactly as
tamper-evident as the log.

A next-best action (from `advisor.NextAction.to_dict`) has no `kind`; it is counted under "next-best action" and its
model version. A flag or a rule's suggestion (from `rules.Finding.to_dict`) is counted under its id: `rule:<id>`
for a case type's rule, `missing-document:<kind>`, `missing-field:<name>`, `sla:risk`, `path:unusual`, ...
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casework.engine.answers import finding_key
from casework.insight.rules import parse_moment

if TYPE_CHECKING:
    from casework.store.writes import EventLike  # a stored event or the engine's: what is read of one

ACCEPTED = "suggestion_accepted"
DISMISSED = "suggestion_dismissed"
FEEDBACK_TYPES = (ACCEPTED, DISMISSED)
NEXT_BEST_ACTION = "next-best action"
REASONS_SHOWN = 3


@dataclass
class AcceptanceRow:
    """The decisions about one kind of suggestion (and one model version, and one activity if asked for)."""

    subject: str
    model_version: str
    activity: str | None
    accepted: int = 0
    dismissed: int = 0
    cases: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    first_at: str = ""
    last_at: str = ""
    dismiss_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def decisions(self) -> int:
        return self.accepted + self.dismissed

    @property
    def rate(self) -> float:
        return self.accepted / self.decisions if self.decisions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "model_version": self.model_version,
            "activity": self.activity,
            "decisions": self.decisions,
            "accepted": self.accepted,
            "dismissed": self.dismissed,
            "acceptance_rate": round(self.rate, 4),
            "cases": len(self.cases),
            "people": len(self.people),
            "first_at": self.first_at,
            "last_at": self.last_at,
            "dismiss_reasons": [
                {"reason": reason, "count": count} for reason, count in self.top_reasons(REASONS_SHOWN)
            ],
        }

    def top_reasons(self, n: int) -> list[tuple[str, int]]:
        # Ties in the order the reason is written, so the report is the same on every run.
        return sorted(self.dismiss_reasons.items(), key=lambda rc: (-rc[1], rc[0]))[:n]


def subject_of(suggestion: dict[str, Any]) -> str:
    """What a recorded suggestion is counted under (see the module docstring)."""
    if "kind" not in suggestion:
        return NEXT_BEST_ACTION
    ident = suggestion.get("id")
    return str(ident) if ident else str(suggestion["kind"])


def acceptance(
    events: Iterable[tuple[str, EventLike]],
    *,
    by_activity: bool = False,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[AcceptanceRow]:
    """Rows of accepted and dismissed counts from `(case id, event)` pairs; other event types are skipped.

    `since` / `until` keep the decisions made at or after / before those moments. Rows are sorted by subject, model
    version and activity. A finding is counted once per case at each severity (and, for one offering a document's
    value, each pair of values it was about), as the engine records it once (`engine.answers`): an answer repeated
    in a log written before that (the same finding accepted twice) is the first one's duplicate. Events must come in
    log order.
    """
    rows: dict[tuple[str, str, str | None], AcceptanceRow] = {}
    answered: set[tuple[str, str, str]] = set()
    for case_id, event in events:
        if event.type not in FEEDBACK_TYPES:
            continue
        suggestion = event.payload.get("suggestion")
        if isinstance(suggestion, dict) and "kind" in suggestion:
            once = (case_id, *finding_key(suggestion))
            if once in answered:
                continue
            answered.add(once)
        if since is not None or until is not None:
            moment = parse_moment(event.at)
            if moment is None or (since is not None and moment < since) or (until is not None and moment >= until):
                continue
        payload = event.payload
        if not isinstance(suggestion, dict):
            continue  # the engine refuses feedback without one; a report skips what it cannot count
        subject = subject_of(suggestion)
        version = str(payload.get("model_version") or "")
        activity = suggestion.get("activity") if by_activity else None
        key = (subject, version, None if activity is None else str(activity))
        row = rows.get(key)
        if row is None:
            row = rows[key] = AcceptanceRow(subject, version, key[2], first_at=event.at)
        if event.type == ACCEPTED:
            row.accepted += 1
        else:
            row.dismissed += 1
            row.dismiss_reasons[(event.reason or "").strip() or "(no reason given)"] += 1
        row.cases.add(case_id)
        row.people.add(event.actor)
        row.first_at = min(row.first_at, event.at, key=_moment_key)
        row.last_at = max(row.last_at, event.at, key=_moment_key)
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1], k[2] or ""))]


def _moment_key(at: str) -> tuple[float, str]:
    # Stored times are ISO text with an offset; compare them as moments (text order breaks across offsets).
    moment = parse_moment(at)
    return (moment.timestamp() if moment is not None else float("-inf"), at)
