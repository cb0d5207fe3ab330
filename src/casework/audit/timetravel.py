"""Time travel: a case as it stood at a moment or after a given event, rebuilt by replaying its log."""

from __future__ import annotations

from datetime import UTC, datetime

from casework.engine import CaseState, Event, replay
from casework.model import load_definition
from casework.store import Store


class TimeTravelError(LookupError):
    """The case does not exist, or cannot be replayed (imported history has no engine state)."""


def state_at(store: Store, case_id: str, at: datetime | None = None, seq: int | None = None) -> CaseState:
    """Replay the case's events up to `seq` and/or up to time `at` (inclusive); neither: the current state.

    `at` selects a prefix of the log: the events before the first one stamped later than `at`. Event times need not
    rise with seq (a command may carry an earlier `now`, e.g. from a server whose clock lags), and keeping every
    event up to `at` instead would skip a later-stamped event yet apply the ones after it: a state the case never
    had, or one the engine cannot even apply. The log order is what happened."""
    row = store.case(case_id)
    if row is None:
        raise TimeTravelError(f"no case {case_id}")
    if row.source != "engine":
        raise TimeTravelError(f"case {case_id} was imported from a log and has no engine state to replay")
    definition_row = store.definition(row.definition_key, row.definition_version)
    if definition_row is None:
        raise TimeTravelError(f"definition {row.definition_key} v{row.definition_version} of case {case_id} is gone")
    if seq is not None and not 0 <= seq <= row.version:
        # Replaying "up to 999" of a 47-event case would show its current state as if it were that moment's.
        raise TimeTravelError(f"case {case_id} has events 1 to {row.version}; there is no event {seq}")
    events = store.events(case_id, upto_seq=seq)
    if at is not None:
        limit = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        cut = next((i for i, e in enumerate(events) if _parse(e.at) > limit), len(events))
        if cut == 0 and events:  # an empty replay would read as a case with nothing in it
            raise TimeTravelError(f"case {case_id} did not exist yet at {limit.isoformat()}: it was started at "
                                  f"{_parse(events[0].at).isoformat()}")
        events = events[:cut]
    definition = load_definition(definition_row.xml, deployed=True)
    return replay(definition, case_id, [Event.from_dict(e.engine_dict()) for e in events])


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
