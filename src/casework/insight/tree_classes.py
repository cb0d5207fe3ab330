"""Which next steps the trees learn: all of them, or in a log with many, the most frequent ones and "another".

A multiclass booster grows one tree per class and round, so its cost grows with the number of classes: on a log of
bpic12's size with 300 activities (permit and hospital logs have 300-600) the choosing trees took a minute for 32
rounds. The shared logs have at most 37 classes (36 activities and the end of the case), so with a limit above that
they are learned as before, unchanged. In a log with more, the trees learn the `limit - 1` most frequent next steps
and one pooled class for the rest; the pooled probability is shared out among the rest as an n-gram of the same
prefix ranks them (the caller's distribution), so that the trees' part of a blend does not flatten the rare steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_TREE_CLASSES = 40


@dataclass
class TreeClasses:
    n_classes: int
    # the classes the trees learn as themselves, in their output order; if fewer than all, the trees' last output
    # is the pool of the others
    kept: list[int]

    def __post_init__(self) -> None:
        to_tree = np.full(self.n_classes, len(self.kept), dtype=np.int64)
        to_tree[np.asarray(self.kept, dtype=np.int64)] = np.arange(len(self.kept))
        self._to_tree = to_tree
        self._pool = np.ones(self.n_classes, dtype=bool)
        self._pool[self.kept] = False

    @classmethod
    def fit(cls, y: IntArray, n_classes: int, limit: int = MAX_TREE_CLASSES) -> TreeClasses:
        """From the next classes of training prefixes (>= n_classes: unknown, ignored)."""
        if n_classes <= limit:
            return cls(n_classes, list(range(n_classes)))
        frequency = np.bincount(y[y < n_classes], minlength=n_classes)
        # most frequent first, ties to the lower id; kept in id order, so that the layout reads like the classes'
        return cls(n_classes, sorted(int(c) for c in np.lexsort((np.arange(n_classes), -frequency))[: limit - 1]))

    @property
    def pooled(self) -> bool:
        return len(self.kept) < self.n_classes

    @property
    def n_tree(self) -> int:
        """Classes the trees output."""
        return len(self.kept) + (1 if self.pooled else 0)

    def to_tree(self, y: IntArray) -> IntArray:
        """Tree labels of known classes `y`."""
        return self._to_tree[y] if self.pooled else y

    def expand(self, p: FloatArray, shares: npt.NDArray[np.floating[Any]] | None = None) -> FloatArray:
        """Probabilities over all classes from the trees' output `p`, the pool shared out in proportion to `shares`
        (rows over all classes; needed when the classes are pooled)."""
        if not self.pooled:
            return p
        if shares is None:
            raise ValueError("pooled tree classes need the shares of the pooled classes")
        rest = np.where(self._pool, np.asarray(shares, dtype=np.float64), 0.0)
        total = rest.sum(axis=1, keepdims=True)
        rest = np.where(total > 0, rest / np.where(total > 0, total, 1.0), self._pool / self._pool.sum())
        out = p[:, -1:] * rest
        out[:, self.kept] = p[:, :-1]
        return np.asarray(out, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes, "kept": self.kept}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeClasses:
        return cls(int(data["n_classes"]), [int(c) for c in data["kept"]])
