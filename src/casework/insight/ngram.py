"""Back-off n-gram over the last activities, with interpolated (Dirichlet) smoothing.

P_j(a | last j) = (count_j(a) + alpha * P_{j-1}(a)) / (total_j + alpha), starting from an add-one unigram.
A context never seen stops the recursion, so the longest observed context dominates and shorter ones fill the
gaps. Counts are kept per context so that suggestions can quote their evidence ("72% of 143 cases ...").

The counts are sparse (`Tables`): a context's table holds the classes that followed it, not one cell per class. A
dense table per context made the n-grams of a log with 326 activities take gigabytes, almost all of it zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# a batch of distributions: float64, or float32 where a caller only ranks them (see `NGramCounts.predict_batch`)
Batch = npt.NDArray[np.floating[Any]]
PAD = -1  # stands before the first event, so short prefixes have their own contexts


class NGramCounts:
    def __init__(self, n_classes: int, max_order: int) -> None:
        self.n_classes = n_classes
        self.max_order = max_order
        self.tables = Tables(n_classes)
        self.unigram = np.zeros(n_classes)

    def context(self, ids: Sequence[int], order: int) -> tuple[int, ...]:
        k = len(ids)
        if order <= k:
            return tuple(ids[k - order :])
        return (PAD,) * (order - k) + tuple(ids)

    def add(self, ids: Sequence[int], target: int, weight: float = 1.0) -> None:
        """One prefix and what followed it (`fit` counts many at a time: this rewrites the tables each call)."""
        self.unigram[target] += weight
        keys = []
        for order in range(1, self.max_order + 1):
            keys.append(self.context(ids, order))
            if order > len(ids):
                break  # longer contexts of a short prefix only add padding: same evidence
        self.tables.add_one(keys, target, weight)

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
        twin.tables = self.tables.copy()
        return twin

    def _key(self, ids: Sequence[int], order: int) -> tuple[int, ...]:
        # Past the prefix length a context is all padding plus the prefix: the same as order len(ids) + 1.
        return self.context(ids, min(order, len(ids) + 1))

    def predict_orders(self, ids: Sequence[int], max_order: int, alpha: float) -> list[FloatArray]:
        """Smoothed distributions for orders 0..max_order (repeats the last one once contexts run out)."""
        p = (self.unigram + 1.0) / (self.unigram.sum() + self.n_classes)
        out = [p]
        for order in range(1, max_order + 1):
            if order <= len(ids) + 1:
                p = self.tables.interpolate(self._key(ids, order), p, alpha)
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
        return [
            self.tables.gather([p[len(p) - order :] if order <= longest else None for p, longest in padded])
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

    def predict_many(self, contexts: Sequence[Sequence[int]], order: int, alpha: float) -> FloatArray:
        """`predict` for many contexts (one row each), the same numbers: scoring a test part of 450k prefixes one
        `predict` at a time spent most of its n-gram time in Python."""
        levels = self._levels(contexts, order)
        out = np.empty((len(contexts), self.n_classes))
        for part in _parts(len(contexts)):
            for p in self._chain(levels, part, alpha):
                out[part] = p
        return out

    def evidence(self, ids: Sequence[int], target: int, order: int, min_support: int = 3) -> tuple[int, int, int]:
        """(context length, count of target, total) from the longest context with enough support that saw target."""
        for j in range(min(order, len(ids) + 1), 0, -1):
            table = self.tables.get(self._key(ids, j))
            if table is None:
                continue
            total = round(float(table.sum()))
            count = round(float(table[target]))
            if total >= min_support and count > 0:
                return j, count, total
        return 0, round(float(self.unigram[target])), round(float(self.unigram.sum()))

    def support(self, ids: Sequence[int], order: int, min_support: int = 3) -> tuple[int, int]:
        """(context length, total) of the longest context with enough support, seen with any target; (0, 0) if
        none has: what `evidence` looks through, for a target that context never saw."""
        for j in range(min(order, len(ids) + 1), 0, -1):
            table = self.tables.get(self._key(ids, j))
            if table is not None and (total := round(float(table.sum()))) >= min_support:
                return j, total
        return 0, 0

    def to_json(self) -> dict[str, object]:
        return {
            "n_classes": self.n_classes,
            "max_order": self.max_order,
            "unigram": self.unigram.tolist(),
            "tables": self.tables.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> NGramCounts:
        model = cls(int(data["n_classes"]), int(data["max_order"]))  # type: ignore[call-overload]
        model.unigram = np.asarray(data["unigram"], dtype=np.float64)
        model.tables = Tables.from_json(data["tables"], model.n_classes)  # type: ignore[arg-type]
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

    def into(self, tables: Tables) -> None:
        """Adds the counts to `tables`; contexts new to them come after the others, in the order first counted
        (the order `add` would have created them in)."""
        targets = np.asarray(self._targets, dtype=np.int64)
        if len(targets) and not 0 <= targets.min() <= targets.max() < self.width:
            # a class id outside the tables would be counted in the next context's row
            raise IndexError(f"target {int(targets.max())} outside the {self.width} classes")
        # only the (context, class) cells that occur: a bincount over every context x class cell took as much
        # memory as dense tables
        cells, counts = np.unique(np.asarray(self._row_ids, dtype=np.int64) * self.width + targets, return_counts=True)
        tables.merge(self.rows, cells // self.width, cells % self.width, counts.astype(np.float64))


class Tables(Mapping[tuple[int, ...], FloatArray]):
    """Counts per context, sparse: each context a row of one compressed sparse row matrix (the classes that
    followed it, in class order, and their counts), found by its key. Read as a mapping, a context gives its dense
    table (a fresh array).

    Interpolating with a row (`interpolate`, `Level.interpolate`) gives exactly what the dense table gave: the
    counts are added to the same products, and a class that never followed the context adds nothing where the
    dense table added 0.0."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.index: dict[tuple[int, ...], int] = {}  # context -> its row, in the order first counted
        self.indptr: IntArray = np.zeros(1, dtype=np.int64)  # row i's entries are indptr[i]:indptr[i + 1]
        self.columns: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.counts: FloatArray = np.zeros(0, dtype=np.float64)
        self.totals: FloatArray = np.zeros(0, dtype=np.float64)  # per row, the sum of its counts

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return iter(self.index)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def __getitem__(self, key: tuple[int, ...]) -> FloatArray:
        return self._dense(self.index[key])

    def get(self, key: tuple[int, ...], default: None = None) -> FloatArray | None:  # type: ignore[override]
        row = self.index.get(key)
        return default if row is None else self._dense(row)

    @property
    def nbytes(self) -> int:
        """Bytes of the count arrays (the keys aside): proportional to the (context, class) pairs seen."""
        return sum(a.nbytes for a in (self.indptr, self.columns, self.counts, self.totals))

    def entries(self, row: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """(classes, counts) of one row, in class order."""
        lo, hi = self.indptr.item(row), self.indptr.item(row + 1)
        return self.columns[lo:hi], self.counts[lo:hi]

    def _dense(self, row: int) -> FloatArray:
        # a bincount spreads the entries faster than assigning them into zeros (a suggestion does this per order)
        return np.asarray(np.bincount(*self.entries(row), minlength=self.width), dtype=np.float64)

    def interpolate(self, key: tuple[int, ...], p: FloatArray, alpha: float) -> FloatArray:
        """(count + alpha * p) / (total + alpha) over the context's table; p itself if the context was never seen."""
        row = self.index.get(key)
        if row is None:
            return p
        smoothed: FloatArray = (self._dense(row) + alpha * p) / (self.totals.item(row) + alpha)
        return smoothed

    def gather(self, keys: Sequence[tuple[int, ...] | None]) -> Level:
        """The rows of many contexts (None: no context), for `Level.interpolate`."""
        get, missing = self.index.get, len(self.index)
        found = (missing if k is None else get(k, missing) for k in keys)
        return Level(self, np.fromiter(found, dtype=np.intp, count=len(keys)))

    def add_one(self, keys: Sequence[tuple[int, ...]], target: int, weight: float) -> None:
        """`weight` more of `target` after each of `keys` (distinct)."""
        n = len(keys)
        self.merge(
            {key: i for i, key in enumerate(keys)},
            np.arange(n, dtype=np.int64),
            np.full(n, target, dtype=np.int64),
            np.full(n, weight, dtype=np.float64),
        )

    def merge(self, keys: Mapping[tuple[int, ...], int], rows: IntArray, classes: IntArray, counts: FloatArray) -> None:
        """Adds counts[i] of classes[i] after the context numbered rows[i] in `keys` (context -> number); contexts
        new to the tables become rows after the others, in the order of `keys`."""
        index = self.index
        # `len(index)` is taken before each new key is put in: new keys are numbered on from the existing rows
        renumber = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
        old_rows = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int64), np.diff(self.indptr))
        all_rows = np.concatenate([old_rows, renumber[rows]])
        all_classes = np.concatenate([self.columns.astype(np.int64), classes])
        # the existing count first, as `table += new` added them
        cells, where = np.unique(all_rows * self.width + all_classes, return_inverse=True)
        summed = np.asarray(
            np.bincount(where, weights=np.concatenate([self.counts, counts]), minlength=len(cells)), dtype=np.float64
        )
        cell_rows = cells // self.width
        per_row = np.bincount(cell_rows, minlength=len(index))
        self.indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
        self.columns = (cells % self.width).astype(np.int32)
        self.counts = summed
        self.totals = np.asarray(np.bincount(cell_rows, weights=summed, minlength=len(index)), dtype=np.float64)

    def copy(self) -> Tables:
        twin = Tables(self.width)
        twin.index = dict(self.index)
        twin.indptr, twin.columns = self.indptr.copy(), self.columns.copy()
        twin.counts, twin.totals = self.counts.copy(), self.totals.copy()
        return twin

    def to_json(self) -> list[list[object]]:
        """A context's counts as {class: count}."""
        return [
            [list(key), {str(int(c)): float(v) for c, v in zip(*self.entries(row), strict=True) if v}]
            for key, row in self.index.items()
        ]

    @classmethod
    def from_json(cls, rows: Iterable[tuple[list[int], dict[str, float]]], width: int) -> Tables:
        tables = cls(width)
        keys: dict[tuple[int, ...], int] = {}
        row_ids: list[int] = []
        classes: list[int] = []
        counts: list[float] = []
        for key, entries in rows:
            row = keys.setdefault(tuple(int(c) for c in key), len(keys))
            for i, v in entries.items():
                row_ids.append(row)
                classes.append(int(i))
                counts.append(float(v))
        chosen = np.asarray(classes, dtype=np.int64)
        if len(chosen) and not 0 <= chosen.min() <= chosen.max() < width:
            raise ValueError(f"class {int(chosen.max())} outside the {width} classes")
        tables.merge(keys, np.asarray(row_ids, dtype=np.int64), chosen, np.asarray(counts, dtype=np.float64))
        return tables


@dataclass
class Level:
    """Which table (row of `tables`) each of many contexts of one kind has; `len(tables)` where it was never seen."""

    tables: Tables
    index: npt.NDArray[np.intp]

    def interpolate(self, p: FloatArray, alpha: float, part: slice) -> FloatArray:
        """For the contexts in `part`: P = (count + alpha * P) / (total + alpha) where the context was seen, P
        unchanged elsewhere."""
        tables = self.tables
        index = self.index[part]
        seen = np.nonzero(index < len(tables))[0]
        rows = index[seen]
        # every entry of the seen rows: which context of the part it belongs to, and where it is in the arrays
        # the rows' lengths from their bounds: a diff over every row of the tables cost a suggestion (one context)
        # as much as the tables are long
        starts = tables.indptr[rows]
        lengths = tables.indptr[rows + 1] - starts
        owner = np.repeat(seen, lengths)
        entry = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        # the part's tables, dense: a part is small, and adding them whole is what the dense tables did
        width = tables.width
        cells = owner * width + tables.columns[entry]
        counts = np.bincount(cells, weights=tables.counts[entry], minlength=len(index) * width)
        # in place, on a part of the batch at a time: temporaries of a whole batch were fresh memory to fault in
        smoothed = alpha * p
        smoothed += counts.reshape(len(index), width)
        totals = np.zeros(len(index))
        totals[seen] = tables.totals[rows]
        smoothed /= (totals + alpha)[:, None]
        np.copyto(smoothed, p, where=(index >= len(tables))[:, None])
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
        self.tables = Tables(base.n_classes)
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
        """One prefix and what followed it (as `NGramCounts.add`: `fit` counts many at a time)."""
        keys: list[tuple[int, ...]] = []
        for m in range(1, self.activity_order + 1):
            keys.extend(self._key(ids, rids, m, d) for d in range(1, self.depth + 1))
            if m > len(ids):
                break
        self.tables.add_one(keys, target, weight)

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
            p = self.tables.interpolate(self._key(ids, rids, m, d), p, alpha)
        return p

    def predict_many(
        self, contexts: Sequence[Sequence[int]], resource_contexts: Sequence[Sequence[int]], order: int, alpha: float,
        depth: int,
    ) -> FloatArray:
        """`predict` for many prefixes (activity ids and performer ids of each), the same numbers."""
        p = self.base.predict_many(contexts, order, alpha)
        deepest = min(depth, self.depth)
        if order == 0 or deepest == 0:
            return p
        m, top = min(order, self.activity_order), self.activity_order
        acts = [((PAD,) * top + tuple(ids), len(ids)) for ids in contexts]
        performers = [(PAD,) * deepest + tuple(rids) for rids in resource_contexts]
        for d in range(1, deepest + 1):
            # the key of `_key`, as `predict_batch` builds it
            level = self.tables.gather(
                [
                    (min(m, k + 1), d, *a[len(a) - min(m, k + 1) :], *r[len(r) - d :])
                    for (a, k), r in zip(acts, performers, strict=True)
                ]
            )
            for part in _parts(len(contexts)):
                p[part] = level.interpolate(p[part], alpha, part)
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
        rows = self.tables
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
            "tables": self.tables.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], base: NGramCounts) -> ResourceNGram:
        model = cls(
            base,
            [str(r) for r in data["resources"]],  # type: ignore[attr-defined]
            int(data["activity_order"]),  # type: ignore[call-overload]
            int(data["depth"]),  # type: ignore[call-overload]
        )
        model.tables = Tables.from_json(data["tables"], base.n_classes)  # type: ignore[arg-type]
        return model
