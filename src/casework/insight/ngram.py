"""Back-off n-gram over the last activities, with interpolated (Dirichlet) smoothing.

P_j(a | last j) = (count_j(a) + alpha * P_{j-1}(a)) / (total_j + alpha), starting from an add-one unigram.
A context never seen stops the recursion, so the longest observed context dominates and shorter ones fill the
gaps. Counts are kept per context so that suggestions can quote their evidence ("72% of 143 cases ...").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
# a batch of distributions: float64, or float32 where a caller only ranks them (see `NGramCounts.predict_batch`)
Batch = npt.NDArray[np.floating[Any]]
PAD = -1  # stands before the first event, so short prefixes have their own contexts


class NGramCounts:
    def __init__(self, n_classes: int, max_order: int) -> None:
        self.n_classes = n_classes
        self.max_order = max_order
        self.tables: dict[tuple[int, ...], FloatArray] = {}
        self.unigram = np.zeros(n_classes)

    def context(self, ids: Sequence[int], order: int) -> tuple[int, ...]:
        k = len(ids)
        if order <= k:
            return tuple(ids[k - order :])
        return (PAD,) * (order - k) + tuple(ids)

    def add(self, ids: Sequence[int], target: int, weight: float = 1.0) -> None:
        self.unigram[target] += weight
        for order in range(1, self.max_order + 1):
            ctx = self.context(ids, order)
            table = self.tables.get(ctx)
            if table is None:
                table = self.tables[ctx] = np.zeros(self.n_classes)
            table[target] += weight
            if order > len(ids):
                break  # longer contexts of a short prefix only add padding: same evidence

    def fit(self, sequences: Iterable[Sequence[int]], end_class: int) -> NGramCounts:
        """Counts every prefix 1..n of each sequence (adds to the counts already there)."""
        top, rows, targets = self.max_order, Tally(self.n_classes), [0] * self.n_classes
        pad = (PAD,) * top
        for ids in sequences:
            n = len(ids)
            # a context of order j is the last j entries of the padded case up to the prefix end, as `context` pads it
            padded = pad + tuple(ids)
            for k in range(1, n + 1):
                target = ids[k] if k < n else end_class
                targets[target] += 1
                rows.contexts(padded, top + k, min(top, k + 1), target)
        rows.into(self.tables)
        self.unigram += targets
        return self

    def fit_contexts(self, pairs: Iterable[tuple[Sequence[int], int]]) -> NGramCounts:
        """`add` for many (context, target) pairs, counted as `fit` counts."""
        top, rows, targets = self.max_order, Tally(self.n_classes), [0] * self.n_classes
        pad = (PAD,) * top
        for ids, target in pairs:
            padded = pad + tuple(ids)
            targets[target] += 1
            rows.contexts(padded, len(padded), min(top, len(ids) + 1), target)
        rows.into(self.tables)
        self.unigram += targets
        return self

    def copy(self) -> NGramCounts:
        """An independent copy: fitting more cases into it leaves this one as it is."""
        twin = NGramCounts(self.n_classes, self.max_order)
        twin.unigram = self.unigram.copy()
        twin.tables = {ctx: table.copy() for ctx, table in self.tables.items()}
        return twin

    def _table(self, ids: Sequence[int], order: int) -> FloatArray | None:
        # Past the prefix length a context is all padding plus the prefix: the same as order len(ids) + 1.
        return self.tables.get(self.context(ids, min(order, len(ids) + 1)))

    def predict_orders(self, ids: Sequence[int], max_order: int, alpha: float) -> list[FloatArray]:
        """Smoothed distributions for orders 0..max_order (repeats the last one once contexts run out)."""
        p = (self.unigram + 1.0) / (self.unigram.sum() + self.n_classes)
        out = [p]
        for order in range(1, max_order + 1):
            table = self._table(ids, order) if order <= len(ids) + 1 else None
            if table is not None and order <= len(ids) + 1:
                p = (table + alpha * p) / (table.sum() + alpha)
            out.append(p)
        return out

    def predict_batch(
        self,
        contexts: Sequence[Sequence[int]],
        max_order: int,
        alphas: Sequence[float],
        dtype: npt.DTypeLike = np.float64,
    ) -> dict[float, list[Batch]]:
        """`predict_orders` for many contexts and several alphas (the look-ups are shared): per alpha, one
        (contexts x classes) array per order 0..max_order. Validation scores every order and alpha on every prefix:
        row by row in Python that took a quarter of the training time on the largest log.

        Computed in float64 whatever `dtype` the arrays are handed out in (selection ranks float32 copies: storing
        those halves the memory of a batch)."""
        levels = self._levels(contexts, max_order)
        out = _empty_batch(len(contexts), self.n_classes, alphas, max_order, dtype)
        for part in _parts(len(contexts)):
            for alpha in alphas:
                for order, p in enumerate(self._chain(levels, part, alpha)):
                    out[alpha][order][part] = p
        return out

    def _levels(self, contexts: Sequence[Sequence[int]], max_order: int) -> list[Level]:
        """Per order 1..max_order, the tables of the contexts' contexts of that order."""
        # each context padded once; its context of order j is then the last j entries (as `context` gives them)
        pad = (PAD,) * max_order
        padded = [(pad + tuple(ids), len(ids) + 1) for ids in contexts]
        rows = TableRows(self.tables, self.n_classes)
        return [
            rows.gather([p[len(p) - order :] if order <= longest else None for p, longest in padded])
            for order in range(1, max_order + 1)
        ]

    def _chain(self, levels: Sequence[Level], part: slice, alpha: float) -> Iterator[FloatArray]:
        """For the contexts in `part`, the distributions of orders 0, 1, ... over the looked-up levels (as
        `predict_orders` computes them)."""
        p = np.tile((self.unigram + 1.0) / (self.unigram.sum() + self.n_classes), (part.stop - part.start, 1))
        yield p
        for level in levels:
            p = level.interpolate(p, alpha, part)
            yield p

    def predict(self, ids: Sequence[int], order: int, alpha: float) -> FloatArray:
        return self.predict_orders(ids, order, alpha)[-1]

    def evidence(self, ids: Sequence[int], target: int, order: int, min_support: int = 3) -> tuple[int, int, int]:
        """(context length, count of target, total) from the longest context with enough support that saw target."""
        for j in range(min(order, len(ids) + 1), 0, -1):
            table = self._table(ids, j)
            if table is None:
                continue
            total = round(float(table.sum()))
            count = round(float(table[target]))
            if total >= min_support and count > 0:
                return j, count, total
        return 0, round(float(self.unigram[target])), round(float(self.unigram.sum()))

    def to_json(self) -> dict[str, object]:
        return {
            "n_classes": self.n_classes,
            "max_order": self.max_order,
            "unigram": self.unigram.tolist(),
            "tables": _tables_to_json(self.tables),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> NGramCounts:
        model = cls(int(data["n_classes"]), int(data["max_order"]))  # type: ignore[call-overload]
        model.unigram = np.asarray(data["unigram"], dtype=np.float64)
        model.tables = _tables_from_json(data["tables"], model.n_classes)  # type: ignore[arg-type]
        return model


class Tally:
    """Counts per context, kept as (context row, target) pairs and turned into tables at the end with one
    `bincount`: a numpy increment per prefix and order (as `add` does) made fitting two to three times slower, and a
    list of counts per context converted row by row took a third of the training time on a log with 300 activities
    (each row as wide as the classes, most of it zeros)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: dict[tuple[int, ...], int] = {}  # context -> its row, in the order first counted
        self._row_ids: list[int] = []
        self._targets: list[int] = []

    def count(self, key: tuple[int, ...], target: int) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = len(self.rows)
        self._row_ids.append(row)
        self._targets.append(target)

    def contexts(self, padded: tuple[int, ...], end: int, orders: int, target: int) -> None:
        """One count for each context of order 1..orders ending before `end`."""
        for order in range(1, orders + 1):
            self.count(padded[end - order : end], target)

    def into(self, tables: dict[tuple[int, ...], FloatArray]) -> None:
        """Adds the counts to `tables`; contexts new to them come after the others, in the order first counted
        (the order `add` would have created them in)."""
        targets = np.asarray(self._targets, dtype=np.int64)
        if len(targets) and not 0 <= targets.min() <= targets.max() < self.width:
            # a class id outside the tables would be counted in the next context's row
            raise IndexError(f"target {int(targets.max())} outside the {self.width} classes")
        cells = np.asarray(self._row_ids, dtype=np.int64) * self.width + targets
        counts = np.bincount(cells, minlength=len(self.rows) * self.width).astype(np.float64)
        matrix = counts.reshape(len(self.rows), self.width)
        for key, row in self.rows.items():
            table = tables.get(key)
            if table is None:
                tables[key] = matrix[row]
            else:
                table += matrix[row]


class TableRows:
    """Tables as the rows of one array, a zero row last for contexts never seen: many contexts are then looked up
    with one gather instead of stacking a table per context."""

    def __init__(self, tables: dict[tuple[int, ...], FloatArray], width: int) -> None:
        self.index = {key: i for i, key in enumerate(tables)}
        self.missing = len(self.index)
        self.matrix = np.vstack([*tables.values(), np.zeros(width)])
        self.totals = self.matrix.sum(axis=1)

    def gather(self, keys: Sequence[tuple[int, ...] | None]) -> Level:
        get, missing = self.index.get, self.missing
        found = (missing if k is None else get(k, missing) for k in keys)
        return Level(self, np.fromiter(found, dtype=np.intp, count=len(keys)))


@dataclass
class Level:
    """Which table (row of `tables`) each of many contexts of one kind has; the zero row where it was never seen."""

    tables: TableRows
    index: npt.NDArray[np.intp]

    def interpolate(self, p: FloatArray, alpha: float, part: slice) -> FloatArray:
        """For the contexts in `part`: P = (count + alpha * P) / (total + alpha) where the context was seen, P
        unchanged elsewhere."""
        index = self.index[part]
        # in place, on a part of the batch at a time: temporaries of a whole batch were fresh memory to fault in
        smoothed = alpha * p
        smoothed += self.tables.matrix[index]
        smoothed /= (self.tables.totals[index] + alpha)[:, None]
        np.copyto(smoothed, p, where=(index == self.tables.missing)[:, None])
        return smoothed


# contexts per step of a batch: small enough for its arrays to stay in cache
PART = 2048


def _parts(n: int) -> Iterator[slice]:
    return (slice(start, min(n, start + PART)) for start in range(0, n, PART))


def _empty_batch(
    n: int, width: int, alphas: Sequence[float], max_order: int, dtype: npt.DTypeLike
) -> dict[float, list[Batch]]:
    return {alpha: [np.empty((n, width), dtype=dtype) for _ in range(max_order + 1)] for alpha in alphas}


UNKNOWN_RESOURCE = -2  # a performer training never saw: no resource context matches, so the plain n-gram decides


class ResourceNGram:
    """The plain n-gram with one more, most specific kind of context: the last activities together with who
    performed the last event(s).

    After the plain chain up to order j, P = (count(a | last m activities, last d resources) + alpha * P) / (total
    + alpha) for d = 1..depth, where m = min(j, activity_order). A resource context never seen leaves P as it was,
    so a performer unknown to training, or a sparse context, backs off to the plain activity contexts. The activity
    part is capped because a long activity context times hundreds of performers is mostly unseen, and interpolating
    a short resource context on top of a long plain one measured worse than the capped form (bpic13_inc, validation
    top-1 of the n-gram alone: 0.663 plain, 0.717 with m = min(j, 2), 0.705 with m = j).
    """

    def __init__(self, base: NGramCounts, resources: Sequence[str], activity_order: int = 2, depth: int = 2) -> None:
        self.base = base
        self.resources = list(resources)
        self.activity_order = activity_order
        self.depth = depth
        self.tables: dict[tuple[int, ...], FloatArray] = {}
        self._index = {r: i for i, r in enumerate(self.resources)}

    @property
    def n_classes(self) -> int:
        return self.base.n_classes

    def resource_ids(self, resources: Sequence[str | None] | None, n: int) -> list[int]:
        if resources is None:
            return [UNKNOWN_RESOURCE] * n
        return [self._index.get(r, UNKNOWN_RESOURCE) if r is not None else UNKNOWN_RESOURCE for r in resources]

    def tail_ids(self, resources: Sequence[str | None] | None, n: int) -> list[int]:
        """`resource_ids` of the last `depth` of the first n events: no context holds more performers, and looking
        up every one of a long case's made a suggestion's cost grow with the case."""
        tail = max(0, n - self.depth)
        return self.resource_ids(resources[tail:n] if resources is not None else None, n - tail)

    def _key(self, ids: Sequence[int], rids: Sequence[int], m: int, d: int) -> tuple[int, ...]:
        # Padding as in NGramCounts: past the prefix length every longer context is the same evidence.
        m = min(m, len(ids) + 1)
        last = tuple(rids[max(0, len(rids) - d) :])
        return (m, d, *self.base.context(ids, m), *((PAD,) * (d - len(last))), *last)

    def add(self, ids: Sequence[int], rids: Sequence[int], target: int, weight: float = 1.0) -> None:
        for m in range(1, self.activity_order + 1):
            for d in range(1, self.depth + 1):
                key = self._key(ids, rids, m, d)
                table = self.tables.get(key)
                if table is None:
                    table = self.tables[key] = np.zeros(self.n_classes)
                table[target] += weight
            if m > len(ids):
                break

    def fit(self, sequences: Iterable[tuple[Sequence[int], Sequence[int]]], end_class: int) -> ResourceNGram:
        """Counts from (activity ids, resource ids) per case; the base n-gram is fitted separately.

        The keys are those of `add`, built from padded copies of each case and counted as `NGramCounts.fit`
        counts."""
        top, depth, rows = self.activity_order, self.depth, Tally(self.n_classes)
        for ids, rids in sequences:
            n = len(ids)
            acts, performers = (PAD,) * top + tuple(ids), (PAD,) * depth + tuple(rids)
            for k in range(1, n + 1):
                target = ids[k] if k < n else end_class
                for m in range(1, min(top, k + 1) + 1):
                    context = acts[top + k - m : top + k]
                    for d in range(1, depth + 1):
                        rows.count((m, d, *context, *performers[depth + k - d : depth + k]), target)
        rows.into(self.tables)
        return self

    def predict(self, ids: Sequence[int], rids: Sequence[int], order: int, alpha: float, depth: int) -> FloatArray:
        p = self.base.predict(ids, order, alpha)
        if order == 0:
            return p
        m = min(order, self.activity_order)
        for d in range(1, min(depth, self.depth) + 1):
            table = self.tables.get(self._key(ids, rids, m, d))
            if table is not None:
                p = (table + alpha * p) / (table.sum() + alpha)
        return p

    def predict_batch(
        self,
        contexts: Sequence[Sequence[int]],
        resource_contexts: Sequence[Sequence[int]],
        max_order: int,
        alphas: Sequence[float],
        depth: int,
        dtype: npt.DTypeLike = np.float64,
    ) -> dict[int, dict[float, list[Batch]]]:
        """`predict` for many prefixes, every order 0..max_order, several alphas and every depth 0..depth (0: the
        base n-gram alone): per depth and alpha, one (contexts x classes) array per order. Computed in float64 and
        handed out as `dtype` (as `NGramCounts.predict_batch`). Depth d is depth d - 1 with one more resource
        level, so the base chain and each level are looked up and applied once."""
        top, deepest = self.activity_order, min(depth, self.depth)
        acts = [((PAD,) * top + tuple(ids), len(ids)) for ids in contexts]
        performers = [(PAD,) * deepest + tuple(rids) for rids in resource_contexts]
        rows = TableRows(self.tables, self.n_classes)
        # the resource levels only depend on m = min(order, activity_order): look each up once
        levels: dict[int, list[Level]] = {}
        for m in range(1, min(max_order, top) + 1):
            levels[m] = [
                # the key of `_key`: the activity context as `NGramCounts.context` pads it, then the last d performers
                rows.gather(
                    [
                        (min(m, k + 1), d, *a[len(a) - min(m, k + 1) :], *r[len(r) - d :])
                        for (a, k), r in zip(acts, performers, strict=True)
                    ]
                )
                for d in range(1, deepest + 1)
            ]
        plain = self.base._levels(contexts, max_order)
        out = {d: _empty_batch(len(contexts), self.n_classes, alphas, max_order, dtype) for d in range(depth + 1)}
        for part in _parts(len(contexts)):
            for alpha in alphas:
                for order, p in enumerate(self.base._chain(plain, part, alpha)):
                    out[0][alpha][order][part] = p
                    level = levels[min(order, top)] if order > 0 else []
                    for d in range(1, depth + 1):
                        if d <= len(level):
                            p = level[d - 1].interpolate(p, alpha, part)
                        out[d][alpha][order][part] = p
        return out

    def evidence(
        self, ids: Sequence[int], rids: Sequence[int], target: int, order: int, depth: int, min_support: int = 3
    ) -> tuple[int, int, int, int]:
        """(activity context length, count of target, total, resources in the context) from the most specific
        context with enough support that saw target: a resource context if one qualifies, else the plain n-gram's
        (resources 0)."""
        if order > 0:
            m = min(order, self.activity_order)
            for d in range(min(depth, self.depth), 0, -1):
                table = self.tables.get(self._key(ids, rids, m, d))
                if table is None:
                    continue
                total = round(float(table.sum()))
                count = round(float(table[target]))
                if total >= min_support and count > 0:
                    return min(m, len(ids) + 1), count, total, d
        return (*self.base.evidence(ids, target, order, min_support), 0)

    def to_json(self) -> dict[str, object]:
        """The resource contexts only: the base n-gram is stored once, beside it."""
        return {
            "resources": self.resources,
            "activity_order": self.activity_order,
            "depth": self.depth,
            "tables": _tables_to_json(self.tables),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], base: NGramCounts) -> ResourceNGram:
        model = cls(
            base,
            [str(r) for r in data["resources"]],  # type: ignore[attr-defined]
            int(data["activity_order"]),  # type: ignore[call-overload]
            int(data["depth"]),  # type: ignore[call-overload]
        )
        model.tables = _tables_from_json(data["tables"], base.n_classes)  # type: ignore[arg-type]
        return model


def _tables_to_json(tables: dict[tuple[int, ...], FloatArray]) -> list[list[object]]:
    """Sparse: a context's counts as {class: count}, most classes never follow a given context."""
    return [[list(key), {str(i): float(v) for i, v in enumerate(t) if v}] for key, t in tables.items()]


def _tables_from_json(
    rows: Iterable[tuple[list[int], dict[str, float]]], width: int
) -> dict[tuple[int, ...], FloatArray]:
    tables: dict[tuple[int, ...], FloatArray] = {}
    for key, entries in rows:
        table = np.zeros(width)
        for i, v in entries.items():
            table[int(i)] = v
        tables[tuple(int(c) for c in key)] = table
    return tables
