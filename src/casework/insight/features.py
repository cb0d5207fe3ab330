"""Prefix features shared by the next-activity and remaining-time models.

A prefix of length k is encoded as one row: the last few activities (categorical ids), how often each activity
occurred so far (the `MAX_COUNTED` most frequent ones, in a log with more), the prefix length, time since the case
started and since the previous event, hour and weekday of the last event, and the last event's resource
(categorical, the most frequent ones only, so that rare names do not become leaves that memorise single cases).

Optional blocks, each switched on in the encoding (so that a stored model keeps the layout it was trained with):
- recency: seconds since each activity last happened (periodic work such as repeated lab tests);
- burst: many logs record several events at the very same timestamp, in an order that carries no meaning (lab
  results entered together, a submission and its automatic checks). Per activity that takes part in bursts, how
  often it occurred among the events sharing the last event's timestamp; the burst's size; and the time between the
  burst and the event before it. "This activity already happened at this instant" rules it out as the next one.

Hour, weekday and calendar date are read from the clock time the event was recorded at (`Case.clock`, where a log
gives UTC offsets), durations from the instants: a working day is the one the work was done in, not UTC's.

The last column is calendar time (days since 1970 of the last event). It lets trees find regimes of a log that
drifts, but it also lets them learn from calendar coincidences: in a chronological evaluation, training cases run on
into the test period, so a model using this column must not see training events after the test period starts (see
`nba.train_next_action`'s `cutoff`). Models that do not use it take the first `n_plain` columns.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from casework.insight.eventlog import Case

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LAST_ACTIVITIES = 5
MAX_RESOURCES = 60
# an activity gets a burst column when training saw it in at least this many bursts (fewer cannot fill a leaf)
MIN_BURST_EVENTS = 20
# Activities with a count column (and a burst column), at most: the most frequent ones. A tree's cost grows with its
# columns, and a log with hundreds of activities (permit and hospital logs have 300-600) had one count column per
# activity: 300 activities made each boosting round 40 times as costly as on bpic12 (36). The shared logs have at
# most 36 activities, so none of them is cut.
MAX_COUNTED = 40
END = "[end]"


def run_starts(timestamps: Sequence[float] | FloatArray) -> IntArray:
    """For each event, the index of the first event of its burst (the run of events sharing its timestamp)."""
    times = np.asarray(timestamps, dtype=np.float64)
    n = len(times)
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = times[1:] != times[:-1]
    return np.maximum.accumulate(np.where(new_run, np.arange(n), 0)).astype(np.int64)


def canonical_positions(timestamps: Sequence[float], ids: Sequence[int], k: int, tail: int) -> list[int]:
    """Positions of the last `tail` events of the prefix of length k, the events of each burst (as far as the
    prefix goes) put in activity-id order: events recorded at one instant often carry no meaningful order.

    The window is widened to the start of the burst it begins in before cutting, so that the result does not
    depend on where the window happens to cut a burst.
    """
    if tail <= 0 or k <= 0:
        return []
    start = max(0, k - tail)
    while start > 0 and timestamps[start - 1] == timestamps[start]:
        start -= 1
    run, keys = 0, []
    for i in range(start, k):
        if i > start and timestamps[i] != timestamps[i - 1]:
            run += 1
        keys.append((run, ids[i], i))
    return [i for _, _, i in sorted(keys)][-tail:]


def canonical_windows(timestamps: Sequence[float], ids: Sequence[int], tail: int) -> Iterator[list[int]]:
    """`canonical_positions(timestamps, ids, k, tail)` for k = 1..n in turn, at a cost that does not grow with the
    bursts: calling it for every k widened each window to the start of its burst and sorted that, which made a case
    recorded at one instant (an export with dates only, say) quadratic in its length (12 cases of 3,000 such events
    took 50 s to fit and score the n-grams, one of 20,000 would have taken hours).

    The widened window holds whole bursts (the last one as far as the prefix goes) and at least `tail` events, so its
    last `tail` positions are those of all the bursts so far, each in activity-id order: here the last `tail` of the
    bursts before the current one, and the `tail` greatest (id, position) of the current one, kept as they come."""
    earlier: list[int] = []  # the last `tail` positions of the finished bursts, in context order
    current: list[tuple[int, int]] = []  # the current burst's greatest (id, position) pairs, ascending
    for k in range(1, len(ids) + 1):
        i = k - 1
        if tail <= 0:
            yield []
            continue
        if i > 0 and timestamps[i] != timestamps[i - 1]:
            earlier = (earlier + [position for _, position in current])[-tail:]
            current = []
        bisect.insort(current, (ids[i], i))
        if len(current) > tail:
            del current[0]
        yield (earlier + [position for _, position in current])[-tail:]


def burst_activities(cases: Sequence[Case], min_events: int = MIN_BURST_EVENTS, limit: int | None = None) -> list[str]:
    """Activities recorded at the same instant as the event before or after them at least `min_events` times (the
    `limit` most often, if more)."""
    counts: Counter[str] = Counter()
    for case in cases:
        t = case.timestamps
        for i, activity in enumerate(case.activities):
            if (i > 0 and t[i] == t[i - 1]) or (i + 1 < len(t) and t[i + 1] == t[i]):
                counts[activity] += 1
    frequent = Counter({a: n for a, n in counts.items() if n >= min_events})
    return _most_frequent(frequent, limit if limit is not None else len(frequent))


def burst_share(cases: Sequence[Case]) -> float:
    """Share of the events (after each case's first) recorded at the same instant as the event before them."""
    ties = total = 0
    for case in cases:
        t = case.timestamps
        ties += sum(1 for i in range(1, len(t)) if t[i] == t[i - 1])
        total += max(0, len(t) - 1)
    return ties / total if total else 0.0


@dataclass
class Encoding:
    """Vocabulary and layout of the feature rows; everything here is plain data so it serialises as JSON."""

    activities: list[str]
    resources: list[str] = field(default_factory=list)
    has_resource: bool = False
    last_activities: int = LAST_ACTIVITIES
    # seconds since each activity last happened (missing if never): periodic work such as repeated lab tests
    recency: bool = False
    burst: bool = False
    # the activities counted in the burst block (None: all of them)
    burst_activities: list[str] | None = None
    # the activities with a count column (None: all of them)
    counted: list[str] | None = None

    def __post_init__(self) -> None:
        self._act_index = {a: i for i, a in enumerate(self.activities)}
        self._res_index = {r: i for i, r in enumerate(self.resources)}
        self._count_index = self._ids(self.counted)
        self._burst_index = self._ids(self.burst_activities)
        # the activities whose running counts a row needs, as columns of one compact matrix: counting all of them
        # cost O(prefix length x activities) per suggestion (10 ms for 1,000 events of 500 activities)
        tracked = np.union1d(self._count_index, self._burst_index if self.burst else self._count_index[:0])
        self._column = np.full(len(self.activities) + 2, -1, dtype=np.int64)
        self._column[tracked] = np.arange(len(tracked))
        self._n_tracked = len(tracked)

    def _ids(self, activities: list[str] | None) -> npt.NDArray[np.int64]:
        chosen = self.activities if activities is None else activities
        return np.asarray([self._act_index[a] for a in chosen if a in self._act_index], dtype=np.int64)

    @classmethod
    def fit(
        cls,
        cases: Sequence[Case],
        recency: bool = False,
        burst: bool = False,
    ) -> Encoding:
        frequency = Counter(a for c in cases for a in c.activities)
        activities = sorted(frequency)
        counted = _most_frequent(frequency, MAX_COUNTED) if len(frequency) > MAX_COUNTED else None
        has_resource = any(c.resources is not None for c in cases)
        resources: list[str] = []
        if has_resource:
            counts = Counter(r for c in cases for r in (c.resources or ()))
            resources = sorted(r for r, _ in counts.most_common(MAX_RESOURCES))
        return cls(
            activities=activities,
            resources=resources,
            has_resource=has_resource,
            recency=recency,
            burst=burst,
            burst_activities=burst_activities(cases, limit=MAX_COUNTED) if burst else None,
            counted=counted,
        )

    # Class ids: 0..V-1 the activities, V the end of the case. Unknown activities map to V+1 (never a class).
    @property
    def n_classes(self) -> int:
        return len(self.activities) + 1

    @property
    def end_class(self) -> int:
        return len(self.activities)

    @property
    def unknown(self) -> int:
        return len(self.activities) + 1

    def class_name(self, index: int) -> str:
        return END if index == self.end_class else self.activities[index]

    def activity_id(self, activity: str) -> int:
        return self._act_index.get(activity, self.unknown)

    def resource_id(self, resource: str | None) -> int:
        if resource is None:
            return len(self.resources)
        return self._res_index.get(resource, len(self.resources))

    @property
    def n_plain(self) -> int:
        """Columns without calendar time."""
        n_act = len(self.activities)
        n = self.last_activities + len(self._count_index) + (n_act if self.recency else 0) + 6
        n += 1 if self.has_resource else 0
        n += (len(self._burst_index) + 2) if self.burst else 0
        return n

    @property
    def n_features(self) -> int:
        return self.n_plain + 1

    @property
    def categorical(self) -> list[int]:
        cols = list(range(self.last_activities))
        if self.has_resource:
            cols.append(self.last_activities + len(self._count_index) + 6)
        return cols

    def to_json(self) -> dict[str, object]:
        return {
            "activities": self.activities,
            "resources": self.resources,
            "has_resource": self.has_resource,
            "last_activities": self.last_activities,
            "recency": self.recency,
            "burst": self.burst,
            "burst_activities": self.burst_activities,
            "counted": self.counted,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Encoding:
        burst_list = data.get("burst_activities")
        counted = data.get("counted")
        return cls(
            activities=[str(a) for a in data["activities"]],  # type: ignore[attr-defined]
            resources=[str(r) for r in data["resources"]],  # type: ignore[attr-defined]
            has_resource=bool(data["has_resource"]),
            last_activities=int(data["last_activities"]),  # type: ignore[call-overload]
            recency=bool(data.get("recency", False)),
            burst=bool(data.get("burst", False)),
            burst_activities=None if burst_list is None else [str(a) for a in burst_list],  # type: ignore[attr-defined]
            counted=None if counted is None else [str(a) for a in counted],  # type: ignore[attr-defined]
        )

    def encode_ids(self, activities: Sequence[str]) -> list[int]:
        get, unknown = self._act_index.get, self.unknown
        return [get(a, unknown) for a in activities]

    def encode_last(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
        ids: Sequence[int] | None = None,
        clock: Sequence[float] | None = None,
    ) -> FloatArray:
        """The row of the whole prefix (`encode_sequence(...)[-1:]`, one row), at a cost that hardly grows with the
        prefix: a suggestion needs only that row, and encoding every earlier prefix too made a case of 1,000 events
        cost 1 ms and one of 5,000 over 10 ms.

        Only the activity counts, the prefix length and the time since the start need the whole prefix; the rest
        is read from a tail long enough for the last activities, the previous event and the current burst with the
        event before it. `ids`: `encode_ids(activities)`, if the caller has them; `clock`: as in `encode_sequence`."""
        n = len(activities)
        start = max(0, n - max(self.last_activities, 2))
        if self.burst:
            # the burst of the last event (the run of events at its instant), and the event before it (the gap
            # before the burst)
            first = n - 1
            while first > 0 and timestamps[first - 1] == timestamps[n - 1]:
                first -= 1
            start = min(start, max(0, first - 1))
        if self.recency or start == 0:  # the time since each activity last happened needs the whole prefix
            return self.encode_sequence(activities, timestamps, resources, clock)[-1:]
        row = self.encode_sequence(
            activities[start:],
            timestamps[start:],
            resources[start:] if resources is not None else None,
            clock[start:] if clock is not None else None,
        )[-1:]
        every = np.asarray(self.encode_ids(activities) if ids is None else ids, dtype=np.int64)
        column = self._column[every]
        counts = np.bincount(column[column >= 0], minlength=self._n_tracked).astype(np.float64)
        steps, n_counted = self.last_activities, len(self._count_index)
        row[0, steps : steps + n_counted] = counts[self._column[self._count_index]]
        row[0, steps + n_counted] = n
        row[0, steps + n_counted + 1] = timestamps[n - 1] - timestamps[0]
        return row

    def encode_sequence(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
        clock: Sequence[float] | None = None,
    ) -> FloatArray:
        """Rows for every prefix length 1..n of one event sequence (row k-1 describes the prefix of length k).

        `clock`: the clock time of each event as recorded, where it differs from the instant in `timestamps` (see
        `Case.clock`); hour, weekday and date are read from it."""
        n = len(activities)
        n_act = len(self.activities)
        ids = np.fromiter((self._act_index.get(a, self.unknown) for a in activities), dtype=np.int64, count=n)
        times = np.asarray(timestamps, dtype=np.float64)
        rows = np.zeros((n, self.n_features), dtype=np.float64)
        steps = self.last_activities
        pad = float(n_act)  # "before the case started"; unknown activities get n_act + 1
        for lag in range(steps):
            lagged = np.full(n, pad)
            if lag < n:
                lagged[lag:] = ids[: n - lag]
            rows[:, lag] = lagged
        column = self._column[ids]
        tracked = np.nonzero(column >= 0)[0]
        counts = np.zeros((n, self._n_tracked), dtype=np.float64)
        counts[tracked, column[tracked]] = 1.0
        counts = np.cumsum(counts, axis=0)
        n_counted = len(self._count_index)
        rows[:, steps : steps + n_counted] = counts[:, self._column[self._count_index]]
        base = steps + n_counted
        rows[:, base] = np.arange(1, n + 1)
        rows[:, base + 1] = times - times[0]
        gaps = np.zeros(n)
        gaps[1:] = np.diff(times)
        rows[:, base + 2] = gaps
        wall = times if clock is None else np.asarray(clock, dtype=np.float64)
        rows[:, base + 3] = np.floor(wall / 3600.0) % 24
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        rows[:, base + 4] = (np.floor(wall / 86400.0) + 3) % 7
        rows[:, base + 5] = (np.floor(wall / 86400.0) + 3) % 7 >= 5
        if self.has_resource:
            res = resources if resources is not None else [None] * n
            rows[:, base + 6] = [self.resource_id(r) for r in res]
        col = base + 6 + (1 if self.has_resource else 0)
        if self.recency:
            known = ids < n_act
            onehot = np.zeros((n, n_act), dtype=np.float64)
            onehot[np.nonzero(known)[0], ids[known]] = 1.0
            # index of each activity's latest occurrence up to each row (-1: not yet)
            seen = np.where(onehot > 0, np.arange(n)[:, None], -1)
            latest = np.maximum.accumulate(seen, axis=0)
            recency = np.where(latest >= 0, times[:, None] - times[np.maximum(latest, 0)], np.nan)
            rows[:, col : col + n_act] = recency
            col += n_act
        if self.burst:
            first = run_starts(times)
            # events are in time order, so a burst (equal timestamps) is a run; `first` is where each row's run starts
            counted = counts[:, self._column[self._burst_index]]
            before = np.zeros_like(counted)
            before[first > 0] = counted[first[first > 0] - 1]
            width = len(self._burst_index)
            rows[:, col : col + width] = counted - before
            rows[:, col + width] = np.arange(n) - first + 1
            rows[:, col + width + 1] = np.where(first > 0, times - times[np.maximum(first - 1, 0)], np.nan)
            col += width + 2
        rows[:, -1] = wall / 86400.0
        return rows

    def encode_case(self, case: Case) -> FloatArray:
        return self.encode_sequence(case.activities, case.timestamps, case.resources, case.clock)


def _most_frequent(frequency: Counter[str], limit: int) -> list[str]:
    """The `limit` most frequent names (ties to the earlier name), sorted by name."""
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    return sorted(name for name, _ in ranked[:limit])
