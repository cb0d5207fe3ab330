"""Which next steps the trees learn: all of them, or in a log with many, the most frequent ones and "another".

A multiclass booster grows one tree per class and round, so its cost grows with the number of classes: on a log of
bpic12's size with 300 activities (permit and hospital logs have 300-600) the choosing trees took a minute for 32
rounds. The shared logs have at most 37 classes (36 activities and the end of the case), so with `limit` above that
they are learned as before, unchanged. In a log with more, the trees learn the `limit - 1` most frequent next steps
and one pooled class for the rest; the pooled probability is shared out among the rest as they followed the prefix's
last activity in the training prefixes (smoothed toward how often each occurs at all). The rare steps are the
n-gram's to rank anyway: it is blended with the trees and sees every class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_TREE_CLASSES = 40
# pseudo-count of the spread of the rest by overall frequency, added to the counts after each last activity
REST_PRIOR = 1.0


@dataclass
class TreeClasses:
    n_classes: int
    # the classes the trees learn as themselves, in their output order; the trees' last output is the rest (if any)
    kept: list[int]
    # (last activity id, class): how the rest's probability is shared out; None when every class is kept
    rest: FloatArray | None = None

    def __post_init__(self) -> None:
        to_tree = np.full(self.n_classes, len(self.kept), dtype=np.int64)
        to_tree[np.asarray(self.kept, dtype=np.int64)] = np.arange(len(self.kept))
        self._to_tree = to_tree

    @classmethod
    def fit(
        cls, y: IntArray, last: IntArray, n_classes: int, n_last: int, limit: int = MAX_TREE_CLASSES
    ) -> TreeClasses:
        """From training prefixes: `y` their next classes (>= n_classes: unknown, ignored), `last` their last
        activity ids (0..n_last-1)."""
        known = y < n_classes
        y, last = y[known], last[known]
        if n_classes <= limit:
            return cls(n_classes, list(range(n_classes)))
        frequency = np.bincount(y, minlength=n_classes)
        # most frequent first, ties to the lower id; then in id order, so that the layout reads like the classes'
        kept = sorted(int(c) for c in np.lexsort((np.arange(n_classes), -frequency))[: limit - 1])
        others = np.ones(n_classes, dtype=bool)
        others[kept] = False
        overall = np.where(others, frequency, 0).astype(np.float64) + others  # every other class gets some share
        overall /= overall.sum()
        counts = np.zeros((n_last, n_classes), dtype=np.float64)
        np.add.at(counts, (last, y), 1.0)
        counts[:, ~others] = 0.0
        rest = counts + REST_PRIOR * overall
        rest /= rest.sum(axis=1, keepdims=True)
        return cls(n_classes, kept, rest)

    @property
    def n_tree(self) -> int:
        """Classes the trees output."""
        return len(self.kept) + (0 if self.rest is None else 1)

    def to_tree(self, y: IntArray) -> IntArray:
        """Tree labels of known classes `y`."""
        return y if self.rest is None else self._to_tree[y]

    def expand(self, p: FloatArray, last: FloatArray | IntArray) -> FloatArray:
        """Probabilities over all classes from the trees' output `p` and each row's last activity id."""
        if self.rest is None:
            return p
        rows = np.clip(np.asarray(last, dtype=np.int64), 0, len(self.rest) - 1)
        out = p[:, -1:] * self.rest[rows]
        out[:, self.kept] = p[:, :-1]
        return np.asarray(out, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "n_classes": self.n_classes,
            "kept": self.kept,
            "rest": None if self.rest is None else np.round(self.rest, 9).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeClasses:
        rest = data.get("rest")
        return cls(
            int(data["n_classes"]),
            [int(c) for c in data["kept"]],
            None if rest is None else np.asarray(rest, dtype=np.float64),
        )
