"""Prefix features shared by the next-activity and remaining-time models.

A prefix of length k is encoded as one row: the last few activities (categorical ids), how often each activity
occurred so far, the prefix length, time since the case started and since the previous event, hour and weekday of
the last event, and the last event's resource (categorical, the most frequent ones only, so that rare names do not
become leaves that memorise single cases).

The last column is calendar time (days since 1970 of the last event). It lets trees find regimes of a log that
drifts, but it also lets them learn from calendar coincidences: in a chronological evaluation, training cases run on
into the test period, so a model using this column must not see training events after the test period starts (see
`nba.train_next_action`'s `cutoff`). Models that do not use it take the first `n_plain` columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from casework.insight.eventlog import Case

FloatArray = npt.NDArray[np.float64]

LAST_ACTIVITIES = 5
MAX_RESOURCES = 60
END = "[end]"


@dataclass
class Encoding:
    """Vocabulary and layout of the feature rows; everything here is plain data so it serialises as JSON."""

    activities: list[str]
    resources: list[str] = field(default_factory=list)
    has_resource: bool = False
    last_activities: int = LAST_ACTIVITIES
    # seconds since each activity last happened (missing if never): periodic work such as repeated lab tests
    recency: bool = False

    def __post_init__(self) -> None:
        self._act_index = {a: i for i, a in enumerate(self.activities)}
        self._res_index = {r: i for i, r in enumerate(self.resources)}

    @classmethod
    def fit(cls, cases: Sequence[Case], recency: bool = False) -> Encoding:
        activities = sorted({a for c in cases for a in c.activities})
        has_resource = any(c.resources is not None for c in cases)
        resources: list[str] = []
        if has_resource:
            counts = Counter(r for c in cases for r in (c.resources or ()))
            resources = sorted(r for r, _ in counts.most_common(MAX_RESOURCES))
        return cls(activities=activities, resources=resources, has_resource=has_resource, recency=recency)

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
        return self.last_activities + n_act * (2 if self.recency else 1) + 6 + (1 if self.has_resource else 0)

    @property
    def n_features(self) -> int:
        return self.n_plain + 1

    @property
    def categorical(self) -> list[int]:
        cols = list(range(self.last_activities))
        if self.has_resource:
            cols.append(self.last_activities + len(self.activities) + 6)
        return cols

    def to_json(self) -> dict[str, object]:
        return {
            "activities": self.activities,
            "resources": self.resources,
            "has_resource": self.has_resource,
            "last_activities": self.last_activities,
            "recency": self.recency,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Encoding:
        return cls(
            activities=[str(a) for a in data["activities"]],  # type: ignore[attr-defined]
            resources=[str(r) for r in data["resources"]],  # type: ignore[attr-defined]
            has_resource=bool(data["has_resource"]),
            last_activities=int(data["last_activities"]),  # type: ignore[call-overload]
            recency=bool(data.get("recency", False)),
        )

    def encode_ids(self, activities: Sequence[str]) -> list[int]:
        return [self._act_index.get(a, self.unknown) for a in activities]

    def encode_sequence(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
    ) -> FloatArray:
        """Rows for every prefix length 1..n of one event sequence (row k-1 describes the prefix of length k)."""
        n = len(activities)
        n_act = len(self.activities)
        ids = np.fromiter((self._act_index.get(a, self.unknown) for a in activities), dtype=np.int64, count=n)
        times = np.asarray(timestamps, dtype=np.float64)
        rows = np.zeros((n, self.n_features), dtype=np.float64)
        steps = self.last_activities
        pad = float(n_act)  # "before the case started"; unknown activities get n_act + 1
        for lag in range(steps):
            col = np.full(n, pad)
            if lag < n:
                col[lag:] = ids[: n - lag]
            rows[:, lag] = col
        known = ids < n_act
        onehot = np.zeros((n, n_act), dtype=np.float64)
        onehot[np.nonzero(known)[0], ids[known]] = 1.0
        rows[:, steps : steps + n_act] = np.cumsum(onehot, axis=0)
        base = steps + n_act
        rows[:, base] = np.arange(1, n + 1)
        rows[:, base + 1] = times - times[0]
        gaps = np.zeros(n)
        gaps[1:] = np.diff(times)
        rows[:, base + 2] = gaps
        rows[:, base + 3] = np.floor(times / 3600.0) % 24
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        rows[:, base + 4] = (np.floor(times / 86400.0) + 3) % 7
        rows[:, base + 5] = (np.floor(times / 86400.0) + 3) % 7 >= 5
        if self.has_resource:
            res = resources if resources is not None else [None] * n
            rows[:, base + 6] = [self.resource_id(r) for r in res]
        if self.recency:
            # index of each activity's latest occurrence up to each row (-1: not yet)
            seen = np.where(onehot > 0, np.arange(n)[:, None], -1)
            latest = np.maximum.accumulate(seen, axis=0)
            recency = np.where(latest >= 0, times[:, None] - times[np.maximum(latest, 0)], np.nan)
            start = base + 6 + (1 if self.has_resource else 0)
            rows[:, start : start + n_act] = recency
        rows[:, -1] = times / 86400.0
        return rows

    def encode_case(self, case: Case) -> FloatArray:
        return self.encode_sequence(case.activities, case.timestamps, case.resources)
