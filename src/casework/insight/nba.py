"""Next-best-action model: a back-off n-gram blended with gradient-boosted trees on prefix features.

Training follows one procedure for every log: the last `val_fraction` of the training cases (chronologically)
is held out, both models are fitted on the rest, and for each evaluation variant the n-gram order, its smoothing
and the blend weight are chosen by top-1 accuracy on the held-out slice (the pure last-activity model is among the
candidates, so the choice never prefers something that did worse there). Then both models are refitted on all the
training cases with the chosen settings and the early-stopped number of boosting rounds.

Two kinds of trees compete in that choice: "plain" trees see the prefix features only; "calendar" trees also see
the calendar date, which lets them follow a log's drift (a process that changed in 2012 is told apart from its
2010 self) but could equally learn calendar coincidences from training cases that run on into the period being
predicted. So calendar trees never learn from a prefix that ends at or after a cutoff: the start of the validation
slice while choosing, and `cutoff` (the start of the test period in an evaluation; none when training for use) at
the end.

Logs that record several events at one instant ("bursts": lab results booked together, a submission and its
automatic checks) store them in an order that often means nothing. For such logs the n-gram is also fitted on
contexts that list each burst in a fixed order (`features.canonical_positions`), so that permutations of one burst
pool their counts. The trees get per-activity counts of the current burst (`Encoding.burst`).

Logs that record who performed each event also get a resource-aware n-gram (`ngram.ResourceNGram`): its most
specific contexts add the performer of the last one or two events, backing off to the plain contexts. Every n-gram
kind the log has (plain, burst-ordered, resource-aware with one or two performers) is blended with every tree kind,
and validation chooses among all of them as among orders and weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from casework.display import percent_text
from casework.insight.eventlog import VARIANTS, Case, most_recent, prefix_lengths
from casework.insight.features import END, Encoding, burst_share, canonical_positions, canonical_windows
from casework.insight.gbt import THREADS, booster_from_string, sample_rows, train_booster
from casework.insight.ngram import Batch, NGramCounts, ResourceNGram
from casework.insight.tree_classes import MAX_TREE_CLASSES, TreeClasses

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NBAParams:
    max_order: int = 6
    alphas: tuple[float, ...] = (0.1, 1.0, 4.0)
    weights: tuple[float, ...] = tuple(i / 10 for i in range(11))
    val_fraction: float = 0.2
    # rows (prefixes) the trees learn from: fewer while choosing, so that both kinds fit in the time budget. More
    # rows kept paying on validation where a log has them (blend with plain trees, bpic12: 25k -> 60k -> 150k rows,
    # top-1 0.8606 -> 0.8659 -> 0.8666; bpic12_wc 25k -> 48k: 0.8507 -> 0.8547), while other settings (leaves,
    # leaf size, L2, bins, learning rate, seeds, bagging) moved it by no more than the noise between them. So the
    # final trees learn from every training prefix up to a cap that only keeps a much larger log inside the budget.
    choice_rows: int = 60_000
    max_train_rows: int = 200_000
    # Bounds that keep a much larger log than the shared ones (the largest, bpic12, has 177k training prefixes and
    # 37 classes) inside the time budget; none of the shared logs reaches them. A copy of bpic12 four times over (700k
    # training prefixes) trained in 109 s without them. Training prefixes, at most: a larger log keeps its most
    # recent cases (logs drift, so the oldest are the ones to lose). The final trees' rows x boosting rounds x
    # classes, at most (bpic12: 177k x 44 x 37 = 288M): more rows than this are sampled.
    max_train_prefixes: int = 500_000
    refit_work: int = 320_000_000
    # The choosing trees' rows x boosting rounds x classes, at most: fewer rounds than `max_rounds` when that many
    # would pass it. Of the shared logs bpic12 needs the most, 60k x 44 x 37 = 98M. Helpdesk copied 22 times over
    # in time (100,000 cases, 15 classes) still improved on validation at 300 rounds, 270M: training took 2.6 times
    # as long as bpic12's, back to back (137.5 s against 53.8 s on a busy machine), 1.6 times with this bound
    # (177 rounds; top-1 0.8851 -> 0.8743, last-activity 0.7938). The rounds chosen here are also the refit's.
    choice_work: int = 160_000_000
    # The trees learn at most `tree_classes` classes, or `tree_cells` over the choosing trees' rows if that is more
    # (`tree_classes.TreeClasses`: in a log with more activities, the most frequent next steps and the rest pooled).
    # A tree's cost grows with rows x classes: this keeps the choosing trees near bpic12's 60k rows x 37 classes,
    # and lets a small log with many activities keep more of them (a 1,200-case log with 284 activities keeps 81:
    # top-1 0.6864 in 20 s of training, against 0.6876 in 66 s with a tree for every class).
    tree_classes: int = MAX_TREE_CLASSES
    tree_cells: int = 2_400_000
    # validation prefixes x classes that choosing scores, at most: a larger slice is thinned to every k-th case. Every
    # n-gram candidate's distributions over the slice are kept while choosing (84 of them on bpic12: 35k prefixes
    # x 37 classes, about 1.3M cells each), so a log 4 times bpic12's size, or one with 300 activities, took 3-6 GB
    # and most of a training time twice the budget. The shared logs' slices are all within it.
    choice_cells: int = 3_000_000
    max_bin: int = 63
    max_rounds: int = 300
    # rounds without a better validation loss before the choosing trees stop. The curves fall smoothly to their
    # minimum and rise after it: on the six shared logs any patience from 5 to 20 stops all twelve choosing fits at
    # the same best round (3 would not, on bpic13_inc), and each round past the best is paid for and thrown away.
    early_stopping: int = 10
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    metric: str = "multi_logloss"
    recency: bool = False
    # burst features and the burst-ordered n-gram, for logs where at least this share of events ties with the
    # event before it
    burst: bool = True
    canonical: bool = True
    min_burst_share: float = 0.01
    # the resource-aware n-gram (for logs with a resource column naming at least two performers): activity context
    # length in its resource contexts, and up to how many last performers they include
    resource_ngram: bool = True
    resource_order: int = 2
    resource_depth: int = 2
    # what the chosen model must gain over the last-activity model on validation to be kept (`_clear_gain`): z of
    # the prefixes only one of them gets right. The six shared logs gain 5.9 (helpdesk) to 80 (bpic12) in every variant.
    min_gain_z: float = 3.0
    use_gbt: bool = True
    calendar: bool = True
    seed: int = 7

    def lgb_params(self, n_classes: int) -> dict[str, Any]:
        return {
            "objective": "multiclass",
            "num_class": n_classes,
            "metric": self.metric,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "max_cat_to_onehot": 8,
            "cat_smooth": 10.0,
            "max_bin": self.max_bin,
        }


@dataclass(frozen=True)
class Choice:
    """What the validation slice chose for one variant: n-gram order and smoothing, and the trees' blend weight."""

    order: int
    alpha: float
    weight: float
    trees: str = "plain"  # which trees the weight goes to: "plain", "calendar" or "both" (their mean)
    val_top1: float = 0.0
    val_top1_last_activity: float = 0.0
    canonical: bool = False  # the n-gram over burst-ordered contexts (`NextActionModel.ngram_canonical`)
    # > 0: the resource-aware n-gram (`NextActionModel.ngram_resource`), with this many last performers in context
    resource: int = 0


@dataclass(frozen=True)
class Suggestion:
    activity: str
    probability: float
    reason: str


@dataclass
class NextActionModel:
    encoding: Encoding
    ngram: NGramCounts
    boosters: dict[str, lgb.Booster]  # by tree kind
    choices: dict[str, Choice]
    params: NBAParams = field(default_factory=NBAParams)
    version: str = ""
    train_seconds: float = 0.0
    # the n-gram alone, as chosen on validation: kept to report it beside the blend
    ngram_choices: dict[str, Choice] = field(default_factory=dict)
    # the n-gram over contexts with each burst in activity order (None: the log has no bursts to speak of)
    ngram_canonical: NGramCounts | None = None
    # the n-gram whose most specific contexts include performers (None: the log names no performers)
    ngram_resource: ResourceNGram | None = None
    # which classes the trees learned (None: all of them, as in model files written before it existed)
    tree_classes: TreeClasses | None = None
    # how many training cases began with each class: what a case with no step yet does first (None: a model file
    # written before it existed; such a case then gets the n-gram's distribution over all steps)
    starts: FloatArray | None = None

    # -- n-gram contexts --------------------------------------------------------------------------------------------
    def _ngram(self, choice: Choice) -> NGramCounts:
        if choice.canonical and self.ngram_canonical is not None:
            return self.ngram_canonical
        return self.ngram

    def _positions(self, choice: Choice, ids: Sequence[int], timestamps: Sequence[float], k: int) -> list[int]:
        """Which events of the prefix of length k form the n-gram's context, in context order."""
        if choice.canonical and self.ngram_canonical is not None:
            return canonical_positions(timestamps, ids, k, self.ngram_canonical.max_order)
        return list(range(k))

    def _resource_choice(self, choice: Choice) -> ResourceNGram | None:
        return self.ngram_resource if choice.resource > 0 else None

    def _ngram_predict(
        self,
        choice: Choice,
        ids: Sequence[int],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None,
        k: int,
        positions: list[int] | None = None,
    ) -> FloatArray:
        """The chosen n-gram's distribution after the first k events. `positions`: `_positions(choice, ...)`, if the
        caller has them."""
        by_resource = self._resource_choice(choice)
        if by_resource is not None:
            rids = by_resource.tail_ids(resources, k)
            return by_resource.predict(ids[:k], rids, choice.order, choice.alpha, choice.resource)
        if positions is None:
            positions = self._positions(choice, ids, timestamps, k)
        context = [ids[i] for i in positions]
        return self._ngram(choice).predict(context, choice.order, choice.alpha)

    # -- prediction -------------------------------------------------------------------------------------------
    def start_proba(self) -> FloatArray:
        """The distribution of first steps (no class is ruled out: a case may start in a way never seen)."""
        choice = self._reason_choice()
        unseen = self.ngram.predict([], choice.order, choice.alpha)
        if self.starts is None:
            return unseen
        # Dirichlet smoothing toward the n-gram's base distribution, as the n-gram smooths a context
        smoothed: FloatArray = (self.starts + choice.alpha * unseen) / (self.starts.sum() + choice.alpha)
        return smoothed

    def _gbt_rows(self, rows: FloatArray, kind: str, contexts: Sequence[Sequence[int]]) -> FloatArray:
        """The trees' distributions over all classes for feature `rows`, whose prefixes' activity ids are
        `contexts` (they share out the pooled classes, if any)."""
        out = self._tree_output(rows, kind)
        if self.tree_classes is None or not self.tree_classes.pooled:
            return out
        order, alpha = self.params.max_order, _pool_alpha(self.params)
        # one suggestion looks its context up directly: the batch's set-up cost a 600-activity log's median
        # suggestion a third more (0.84 -> 1.15 ms); the two give the same numbers
        if len(contexts) == 1:
            shares = self.ngram.predict(contexts[0], order, alpha)[None, :]
        else:
            shares = self.ngram.predict_many(contexts, order, alpha)
        return self.tree_classes.expand(out, shares)

    def _tree_output(self, rows: FloatArray, kind: str) -> FloatArray:
        """What the trees of `kind` output (per tree class); "both" is the mean of the two kinds."""
        if kind == "both":
            return 0.5 * (self._tree_output(rows, "plain") + self._tree_output(rows, "calendar"))
        booster = self.boosters.get(kind)
        if booster is None:
            n_tree = self.encoding.n_classes if self.tree_classes is None else self.tree_classes.n_tree
            return np.full((len(rows), n_tree), 1.0 / n_tree)
        x = rows if kind == "calendar" else rows[:, : self.encoding.n_plain]
        return np.asarray(booster.predict(x, num_threads=THREADS), dtype=np.float64)

    def predict_proba(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
        variant: str = "noeoc",
        clock: Sequence[float] | None = None,
    ) -> FloatArray:
        """Probability of each class (activities in `encoding.activities` order, then the end of the case).
        `clock`: the clock times as recorded, where they differ from the instants (`Case.clock`)."""
        if not activities:  # the trees and the n-gram learned from prefixes of at least one step
            return _finish(self.start_proba(), variant, self.encoding.end_class)
        choice = self.choices[variant]
        ids = self.encoding.encode_ids(activities)
        p = self._ngram_predict(choice, ids, timestamps, resources, len(ids))
        if choice.weight > 0:
            row = self.encoding.encode_last(activities, timestamps, resources, ids, clock)
            p = choice.weight * self._gbt_rows(row, choice.trees, [ids])[0] + (1 - choice.weight) * p
        return _finish(p, variant, self.encoding.end_class)

    def predict_cases(
        self, cases: Sequence[Case], variant: str, choice: Choice | None = None
    ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Batch form of predict_proba over every scored prefix of `cases`: (probabilities, true next class).

        `choice` overrides the chosen settings, e.g. to score the n-gram alone or the last-activity baseline.
        """
        choice = choice or self.choices[variant]
        rows: list[FloatArray] = []
        contexts: list[list[int]] = []
        # each prefix's n-gram context (and performers, for the resource-aware one), scored together at the end:
        # one `predict` per prefix spent most of the n-gram's share of a large test part in Python
        ngram_contexts: list[list[int]] = []
        performers: list[list[int]] = []
        by_resource = self._resource_choice(choice)
        canonical = choice.canonical and self.ngram_canonical is not None and by_resource is None
        targets: list[int] = []
        for case in cases:
            ks = prefix_lengths(len(case), variant)
            if not len(ks):
                continue
            ids = self.encoding.encode_ids(case.activities)
            if choice.weight > 0:
                rows.append(self.encoding.encode_case(case)[ks.start - 1 : ks.stop - 1])
            # every prefix's burst-ordered context in one pass (one at a time is quadratic in a long burst)
            ordered = (
                list(canonical_windows(case.timestamps, ids, self._ngram(choice).max_order)) if canonical else None
            )
            rids = by_resource.resource_ids(case.resources, len(ids)) if by_resource is not None else None
            for k in ks:
                # as much of the prefix as an n-gram reads (as in `_ngram_val`): its contexts are the same
                tail = ids[max(0, k - self.params.max_order - 1) : k]
                if choice.weight > 0:
                    contexts.append(tail)
                if ordered is not None:
                    ngram_contexts.append([ids[i] for i in ordered[k - 1]])
                else:
                    ngram_contexts.append(tail)
                if rids is not None and by_resource is not None:
                    performers.append(rids[max(0, k - by_resource.depth) : k])
                targets.append(ids[k] if k < len(ids) else self.encoding.end_class)
        if not targets:
            return np.zeros((0, self.encoding.n_classes)), np.zeros(0, dtype=np.int64)
        if by_resource is not None:
            p = by_resource.predict_many(ngram_contexts, performers, choice.order, choice.alpha, choice.resource)
        else:
            p = self._ngram(choice).predict_many(ngram_contexts, choice.order, choice.alpha)
        if choice.weight > 0:
            p = choice.weight * self._gbt_rows(np.vstack(rows), choice.trees, contexts) + (1 - choice.weight) * p
        return _finish(p, variant, self.encoding.end_class), np.asarray(targets, dtype=np.int64)

    def suggest(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
        k: int = 3,
        include_end: bool = False,
        clock: Sequence[float] | None = None,
    ) -> list[Suggestion]:
        """The k most likely next activities, each with its probability and a plain-language reason."""
        variant = "eoc" if include_end else "noeoc"
        p = self.predict_proba(activities, timestamps, resources, variant, clock)
        order = rank(p)[:k]
        ids = self.encoding.encode_ids(activities)
        # the reason quotes the noeoc n-gram's evidence, along its own context (bursts in its order, if it has them)
        positions = self._positions(self._reason_choice(), ids, timestamps, len(ids))
        shown, context = [activities[i] for i in positions], [ids[i] for i in positions]
        # a burst-ordered context reorders events, so performers go with the resource-aware n-gram only (which
        # keeps the recorded order)
        performers = resources if self._resource_choice(self._reason_choice()) is not None else None
        return [
            Suggestion(
                self.encoding.class_name(int(c)),
                float(p[c]),
                self.reason(shown, context, int(c), float(p[c]), performers),
            )
            for c in order
            if p[c] > 0
        ]

    def _reason_choice(self) -> Choice:
        return self.choices.get("noeoc") or next(iter(self.choices.values()))

    def reason(
        self,
        activities: Sequence[str],
        ids: Sequence[int],
        target: int,
        probability: float | None = None,
        resources: Sequence[str | None] | None = None,
    ) -> str:
        """Why a class is suggested, quoted from the n-gram's support counts (with the performers, when the
        resource-aware n-gram is the chosen one and its evidence names them).

        When the trees moved the probability well away from that share, the reason says so: the counts alone
        would then mislead the reader.
        """
        choice = self._reason_choice()
        name = self.encoding.class_name(target)
        if not ids and self.starts is not None:
            started, cases = int(self.starts[target]), int(self.starts.sum())
            if started == 0:
                return f"none of {cases} past cases started with {name}"
            if cases == 1:
                return f"the 1 past case started with {name}"
            return f"{percent_text(started, cases)} of {cases} past cases started with {name}"
        doing = "ended" if name == END else f"did {name} next"
        by_resource = self._resource_choice(choice)
        performers = 0
        if by_resource is not None:
            rids = by_resource.tail_ids(resources, len(ids))
            j, count, total, performers = by_resource.evidence(ids, rids, target, max(choice.order, 1), choice.resource)
        else:
            j, count, total = self._ngram(choice).evidence(ids, target, max(choice.order, 1))
        if j == 0:
            if total == 0:
                return "no similar history; suggested from case features"
            # The path may well be known, only never followed by this step: saying "no close match" would hide
            # that every similar case did something else.
            plain = by_resource.base if by_resource is not None else self._ngram(choice)
            seen, cases = plain.support(ids, max(choice.order, 1))
            if seen == 0:
                text = (f"{percent_text(count, total)} of all steps in past cases were {name}; no close match for "
                        "this path")
                # A path seen in fewer cases than a reason quotes still moves the probability (one past case that
                # went Q -> Z makes Z likely after Q): the share of all steps alone would then mislead the reader.
                # (Only then: an unknown path gets the share of all steps, renormalised without the case's end.)
                if plain.support(ids, max(choice.order, 1), min_support=1)[0] == 0:
                    return text
                return text + _moved(probability, count / total,
                                     "rare path, timing and data" if choice.weight > 0 else "rare path")
            path = " → ".join(activities[max(0, len(activities) - seen) :]) or "the case start"
            where = f"after {path}" if seen <= len(activities) else f"when a case starts with {path}"
            done = "ended" if name == END else f"did {name} next"
            return f"{where}, none of {cases} similar cases {done}"
        steps = list(activities[max(0, len(activities) - j) :])
        if performers and resources is not None:
            steps = _with_performers(steps, list(resources), performers)
        path = " → ".join(steps) if steps else "the case start"
        where = f"after {path}" if j <= len(activities) else f"when a case starts with {path}"
        text = f"{where}, {percent_text(count, total)} of {total} similar cases {doing}"
        # the resource-aware n-gram moves probabilities by who handled the case, not only the trees
        return text + _moved(probability, count / total,
                             "performers, timing and data" if by_resource is not None else "timing and data")

    # -- serialisation --------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "train_seconds": self.train_seconds,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.params).items()},
            "encoding": self.encoding.to_json(),
            "ngram": self.ngram.to_json(),
            "choices": {v: asdict(c) for v, c in self.choices.items()},
            "ngram_choices": {v: asdict(c) for v, c in self.ngram_choices.items()},
            "boosters": {kind: b.model_to_string() for kind, b in self.boosters.items()},
            "ngram_canonical": None if self.ngram_canonical is None else self.ngram_canonical.to_json(),
            "ngram_resource": None if self.ngram_resource is None else self.ngram_resource.to_json(),
            "tree_classes": None if self.tree_classes is None else self.tree_classes.to_json(),
            "starts": None if self.starts is None else [int(n) for n in self.starts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NextActionModel:
        raw = dict(data["params"])
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        params = NBAParams(**fields)
        ngram = NGramCounts.from_json(data["ngram"])
        by_resource = data.get("ngram_resource")
        tree_classes = data.get("tree_classes")
        return cls(
            encoding=Encoding.from_json(data["encoding"]),
            ngram=ngram,
            boosters={kind: booster_from_string(text) for kind, text in data["boosters"].items()},
            choices={v: Choice(**c) for v, c in data["choices"].items()},
            params=params,
            version=str(data["version"]),
            train_seconds=float(data["train_seconds"]),
            ngram_choices={v: Choice(**c) for v, c in data.get("ngram_choices", {}).items()},
            ngram_canonical=NGramCounts.from_json(data["ngram_canonical"]) if data.get("ngram_canonical") else None,
            ngram_resource=ResourceNGram.from_json(by_resource, ngram) if by_resource else None,
            tree_classes=TreeClasses.from_json(tree_classes) if tree_classes else None,
            starts=_starts_from_json(data.get("starts"), len(ngram.unigram)),
        )


def probability_text(probability: float) -> str:
    """A probability as a person reads it: `display.percent_text`'s rules (a small chance is "<1%", not "0%")."""
    return percent_text(probability, 1.0)


def _moved(probability: float | None, share: float, drivers: str) -> str:
    """What a reason adds when the probability is well away from the share it quotes: the counts alone would mislead."""
    if probability is None or abs(probability - share) <= 0.15:
        return ""
    direction = "more" if probability > share else "less"
    verb = "make" if " and " in drivers else "makes"
    return f"; this case's {drivers} {verb} it {direction} likely ({percent_text(probability, 1)})"


def _starts_from_json(counts: Any, n_classes: int) -> FloatArray | None:
    if counts is None:
        return None
    starts = np.asarray(counts, dtype=np.float64)
    if starts.shape != (n_classes,) or (starts < 0).any():
        raise ValueError(f"starts: {n_classes} counts expected")
    return starts


def _first_steps(encoding: Encoding, cases: Sequence[Case]) -> FloatArray:
    firsts = [encoding.encode_ids(c.activities[:1])[0] for c in cases if len(c)]
    return np.bincount(np.asarray(firsts, dtype=np.int64), minlength=encoding.n_classes).astype(np.float64)


def _with_performers(steps: list[str], resources: list[str | None], performers: int) -> list[str]:
    """The last steps of a reason's path, each of the last `performers` with who did it ("X handled by R")."""
    shown = list(steps)
    for back in range(1, min(performers, len(shown), len(resources)) + 1):
        who = resources[-back]
        if who:
            shown[-back] = f"{shown[-back]} handled by {who}"
    return shown


def rank(p: FloatArray) -> npt.NDArray[np.int64]:
    """Classes by falling probability; ties go to the lower class id so rankings are reproducible."""
    return np.lexsort((np.arange(len(p)), -p)).astype(np.int64)


def _finish(p: FloatArray, variant: str, end_class: int) -> FloatArray:
    """Without end-of-case as a candidate, drop it and renormalise: P(next = a | the case goes on)."""
    if variant == "eoc":
        return p
    p = p.copy()
    p[..., end_class] = 0.0
    total = p.sum(axis=-1, keepdims=True)
    return np.asarray(p / np.where(total > 0, total, 1.0), dtype=np.float64)


def topk_hits(p: FloatArray, targets: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.bool_]:
    """Whether the true class is among the k highest (ties broken toward lower ids, as in `rank`)."""
    if len(targets) == 0:
        return np.zeros(0, dtype=bool)
    # An activity never seen in training cannot be predicted: always a miss.
    known = targets < p.shape[1]
    safe = np.where(known, targets, 0)
    # Count classes that outrank the target: higher probability, or equal with a lower id.
    pt = p[np.arange(len(safe)), safe][:, None]
    ids = np.arange(p.shape[1])[None, :]
    better = (p > pt) | ((p == pt) & (ids < safe[:, None]))
    return np.asarray((better.sum(axis=1) < k) & known)


# -- training ------------------------------------------------------------------------------------------------------

TREE_KINDS = ("plain", "calendar")
# The two tree kinds are fitted side by side: each fit is single-threaded LightGBM, which runs without the GIL, so on
# two cores they take about the time of the longer one (bpic12: 43 -> 34 s; README, "Both cores"). Unlike OpenMP
# threads inside one fit (see gbt.py), two separate fits never wait on each other.
TREE_WORKERS = 2


@dataclass
class _Prefixes:
    """Every prefix 1..n of some cases: feature rows, next class, and when the prefix's last event happened."""

    x: FloatArray
    y: npt.NDArray[np.int64]
    time: FloatArray

    def split(self, rows: int) -> tuple[_Prefixes, _Prefixes]:
        """The first `rows` rows and the rest (views, not copies)."""
        return (
            _Prefixes(self.x[:rows], self.y[:rows], self.time[:rows]),
            _Prefixes(self.x[rows:], self.y[rows:], self.time[rows:]),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> _Prefixes:
        return _Prefixes(self.x[rows], self.y[rows], self.time[rows])

    def tree_classes(self, encoding: Encoding, limit: int) -> TreeClasses:
        """Which classes trees learning from these prefixes learn."""
        return TreeClasses.fit(self.y, encoding.n_classes, limit)


def _prefixes(encoding: Encoding, cases: Sequence[Case]) -> _Prefixes:
    xs: list[FloatArray] = []
    ys: list[int] = []
    times: list[float] = []
    for case in cases:
        if len(case) == 0:
            continue
        xs.append(encoding.encode_case(case))
        ids = encoding.encode_ids(case.activities)
        ys.extend([*ids[1:], encoding.end_class])
        times.extend(case.timestamps)
    if not xs:
        return _Prefixes(np.zeros((0, encoding.n_features)), np.zeros(0, dtype=np.int64), np.zeros(0))
    return _Prefixes(np.vstack(xs), np.asarray(ys, dtype=np.int64), np.asarray(times, dtype=np.float64))


def _columns(encoding: Encoding, x: FloatArray, kind: str) -> FloatArray:
    return x if kind == "calendar" else x[:, : encoding.n_plain]


def _fit_ngram(encoding: Encoding, cases: Sequence[Case], max_order: int, canonical: bool = False) -> NGramCounts:
    return _add_cases(NGramCounts(encoding.n_classes, max_order), encoding, cases, canonical)


def _add_cases(counts: NGramCounts, encoding: Encoding, cases: Sequence[Case], canonical: bool) -> NGramCounts:
    """`counts` with the prefixes of `cases` added (plain or burst-ordered contexts, as it was fitted)."""
    if not canonical:
        return counts.fit((encoding.encode_ids(c.activities) for c in cases), encoding.end_class)

    def contexts() -> Iterator[tuple[list[int], int]]:
        for case in cases:
            ids = encoding.encode_ids(case.activities)
            for k, positions in enumerate(canonical_windows(case.timestamps, ids, counts.max_order), start=1):
                yield [ids[i] for i in positions], ids[k] if k < len(ids) else encoding.end_class

    return counts.fit_contexts(contexts())


def _fit_resource_ngram(
    params: NBAParams, encoding: Encoding, base: NGramCounts, cases: Sequence[Case]
) -> ResourceNGram | None:
    """The resource-aware n-gram over `base` (fitted on the same cases), or None when the cases name fewer than two
    performers: then a resource context is just the activity context again, and the log must behave as without."""
    performers = sorted({r for c in cases for r in (c.resources or ()) if r})
    if not params.resource_ngram or len(performers) < 2:
        return None
    model = ResourceNGram(base, performers, params.resource_order, params.resource_depth)
    sequences = ((encoding.encode_ids(c.activities), model.resource_ids(c.resources, len(c))) for c in cases)
    return model.fit(sequences, encoding.end_class)


def _fit_gbt(
    params: NBAParams,
    encoding: Encoding,
    classes: TreeClasses,
    kind: str,
    data: _Prefixes,
    rounds: int,
    cutoff: float | None,
    val: _Prefixes | None = None,
    max_rows: int | None = None,
) -> lgb.Booster | None:
    # Unknown activities (only possible in validation rows) cannot be learned as targets: leave them out.
    usable = data.y < encoding.n_classes
    if kind == "calendar" and cutoff is not None:
        # By when the prefix ended, not when its next event came: that kept, of the prefixes just before the cutoff,
        # only those followed soon and every end of a case (which comes at once), so the trees learnt that cases end
        # near the cutoff and predicted ends all through the period after it (BPIC 2012's offers, `eoc`: 0.789,
        # against 0.822 now and the n-gram's 0.806). The next event may come after the cutoff: it is the same
        # training case's, as the n-gram and the plain trees learn it.
        usable &= data.time < cutoff
    keep = np.nonzero(usable)[0]
    if len(keep) < 2 * params.min_data_in_leaf:
        return None
    rows = max_rows or params.max_train_rows
    idx = keep[sample_rows(len(keep), rows, params.seed)]
    x_val = y_val = None
    if val is not None:
        vkeep = np.nonzero(val.y < encoding.n_classes)[0]
        vkeep = vkeep[sample_rows(len(vkeep), rows // 2, params.seed + 1)]
        x_val, y_val = _columns(encoding, val.x[vkeep], kind), classes.to_tree(val.y[vkeep])
    return train_booster(
        params.lgb_params(classes.n_tree),
        _columns(encoding, data.x[idx], kind),
        classes.to_tree(data.y[idx]),
        encoding.categorical,
        rounds,
        x_val,
        y_val,
        early_stopping=params.early_stopping,
    )


def _pool_alpha(params: NBAParams) -> float:
    """Smoothing of the plain n-gram (of the highest order) that shares out the trees' pooled classes."""
    return params.alphas[len(params.alphas) // 2]


def _thinned(
    params: NBAParams, encoding: Encoding, cases: Sequence[Case], val: _Prefixes
) -> tuple[list[Case], _Prefixes]:
    """The validation cases that choosing scores, and their prefixes: all of them, or every k-th case (spread over
    the whole slice, as drift matters) when their prefixes x classes exceed `params.choice_cells`."""
    step = -(-len(val.y) * encoding.n_classes // params.choice_cells)
    if step <= 1:
        return list(cases), val
    starts = np.cumsum([0, *(len(c) for c in cases)])
    chosen = range(0, len(cases), step)
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in chosen])
    return [cases[i] for i in chosen], val.take(rows)


def _variant_mask(cases: Sequence[Case], variant: str) -> npt.NDArray[np.bool_]:
    """Which of the prefixes 1..n of each case (concatenated) a variant scores."""
    mask: list[bool] = []
    for case in cases:
        scored = prefix_lengths(len(case), variant)
        mask.extend(k in scored for k in range(1, len(case) + 1))
    return np.asarray(mask, dtype=bool)


def _unnormalised(p: Batch, variant: str, end_class: int) -> npt.NDArray[np.float32]:
    """The end-of-case column dropped but rows not renormalised: rankings stay the same, and float32 halves the
    cost of the many blends that selection tries."""
    q = p.astype(np.float32)
    if variant != "eoc":
        q[:, end_class] = 0.0
    return q


def _score(
    q: npt.NDArray[np.float32], y: npt.NDArray[np.int64], variant: str, end_class: int
) -> tuple[float, float, float]:
    """(top-1, top-3, mean log-likelihood) of candidate scores `q`.

    Ties on top-1 go to the better top-3, then to the better log-likelihood: the probabilities are shown to people
    as confidence, so among equally accurate blends the better calibrated one wins.
    """
    # argmax breaks ties toward the lower id, as `rank` does; unknown targets never match
    top1 = float((q.argmax(axis=1) == y).mean())
    p = _finish(q.astype(np.float64), variant, end_class)
    known = y < p.shape[1]
    likelihood = p[np.nonzero(known)[0], y[known]]
    loglik = float(np.mean(np.log(np.maximum(likelihood, 1e-12)))) if len(likelihood) else 0.0
    return top1, float(topk_hits(p, y, 3).mean()), loglik


# (burst-ordered contexts, performers in the most specific contexts): which n-gram a candidate comes from
NGramKind = tuple[bool, int]
PLAIN: NGramKind = (False, 0)


def _ngram_val(
    params: NBAParams,
    encoding: Encoding,
    ngrams: dict[bool, NGramCounts],
    by_resource: ResourceNGram | None,
    val_cases: Sequence[Case],
) -> dict[NGramKind, dict[float, list[Batch]]]:
    """Per n-gram kind, its distributions of every order, per alpha, for every validation prefix 1..n."""
    contexts: dict[bool, list[list[int]]] = {canonical: [] for canonical in ngrams}
    performers: list[list[int]] = []
    for case in val_cases:
        ids = encoding.encode_ids(case.activities)
        rids = by_resource.resource_ids(case.resources, len(ids)) if by_resource is not None else []
        windows = canonical_windows(case.timestamps, ids, params.max_order) if True in contexts else None
        for k in range(1, len(ids) + 1):
            window = max(0, k - params.max_order - 1)
            for canonical, listed in contexts.items():
                if canonical and windows is not None:
                    listed.append([ids[i] for i in next(windows)])
                else:
                    listed.append(ids[window:k])
            if by_resource is not None:
                performers.append(rids[window:k])
    alphas, top = list(params.alphas), params.max_order
    # float32: selection only ranks them (`_unnormalised`), and float64 batches of every kind, alpha and order took
    # most of a gigabyte on the largest log
    by_depth = (
        by_resource.predict_batch(contexts[False], performers, top, alphas, by_resource.depth, np.float32)
        if by_resource is not None
        else {0: ngrams[False].predict_batch(contexts[False], top, alphas, np.float32)}
    )
    # in this order: it decides ties (plain, burst-ordered, then by performers)
    out = {PLAIN: by_depth[0]}
    if True in ngrams:
        out[True, 0] = ngrams[True].predict_batch(contexts[True], top, alphas, np.float32)
    for depth in range(1, len(by_depth)):
        out[False, depth] = by_depth[depth]
    return out


# which variants score the same rankings: "eoc" keeps the end of the case as a candidate, the others drop it
VIEWS = {"eoc": ("eoc",), "noeoc": ("noeoc", "tax")}
# (n-gram kind, alpha, order): one n-gram candidate; with a tree kind in front, its blends
Candidate = tuple[NGramKind, float, int]


@dataclass
class _Hits:
    """Top-1 hits on the validation slice, per variant, of every candidate the selection can try."""

    ngram: dict[tuple[str, Candidate], int] = field(default_factory=dict)
    # per weight (in `NBAParams.weights` order): hits of the blend with that weight of the trees
    blend: dict[tuple[str, str, Candidate], npt.NDArray[np.int64]] = field(default_factory=dict)


def _ngram_scores(
    by_kind: dict[NGramKind, dict[float, list[Batch]]],
    candidate: Candidate,
    mask: npt.NDArray[np.bool_],
    variant: str,
    end: int,
) -> npt.NDArray[np.float32]:
    """An n-gram candidate's scores for the prefixes a variant scores."""
    (ngram_kind, alpha, order) = candidate
    return _unnormalised(by_kind[ngram_kind][alpha][order][mask], variant, end)


def _count_hits(
    params: NBAParams,
    by_kind: dict[NGramKind, dict[float, list[Batch]]],
    gbt_val: dict[str, FloatArray],
    val_y: npt.NDArray[np.int64],
    masks: dict[str, npt.NDArray[np.bool_]],
    end: int,
) -> _Hits:
    """Top-1 hits of every n-gram candidate and every blend, for all variants in one pass over the candidates.

    A row's ranking does not depend on the variant, only on whether the end of the case is a candidate: so each
    candidate is ranked once on all rows per view (`VIEWS`) and its hits are counted under each variant's mask.
    Where trees and n-gram rank the same class first, so does every blend of the two (on the lower id for ties, as
    argmax): blends are only ranked on the rows where they disagree (`_blend_hits`).
    """
    hits = _Hits()
    for view, variants in VIEWS.items():
        trees = {kind: _unnormalised(g, view, end) for kind, g in gbt_val.items()}
        tree_tops = {kind: g.argmax(axis=1) for kind, g in trees.items()}
        tree_others = {kind: _others_max(g, val_y) for kind, g in trees.items()}
        for ngram_kind, by_alpha in by_kind.items():
            for alpha, per_order in by_alpha.items():
                for order, p in enumerate(per_order):
                    candidate = (ngram_kind, alpha, order)
                    pn = _unnormalised(p, view, end)
                    n_top = pn.argmax(axis=1)
                    n_hit = n_top == val_y
                    for variant in variants:
                        hits.ngram[variant, candidate] = int(np.count_nonzero(n_hit & masks[variant]))
                    if order == 0:
                        continue  # never blended: selection tries orders 1..max_order
                    for kind, g in trees.items():
                        g_top = tree_tops[kind]
                        split = np.nonzero(g_top != n_top)[0]
                        agreed = (g_top == n_top) & n_hit
                        split_hit = _blend_hits(
                            params.weights,
                            (g[split], g_top[split], tree_others[kind][split]),
                            (pn[split], n_top[split]),
                            val_y[split],
                        )
                        for variant in variants:
                            inside = masks[variant][split]
                            hits.blend[variant, kind, candidate] = int(
                                np.count_nonzero(agreed & masks[variant])
                            ) + np.count_nonzero(split_hit[:, inside], axis=1)
    return hits


def _others_max(scores: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Per row, the highest score of a class other than `y` (rows whose `y` is unknown: of a class other than 0)."""
    rest = scores.copy()
    rest[np.arange(len(y)), np.where(y < scores.shape[1], y, 0)] = -np.inf
    return np.asarray(rest.max(axis=1), dtype=np.float32)


def _blend_hits(
    weights: Sequence[float],
    trees: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]],
    ngram: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]],
    y: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """(weights x rows): whether `argmax` of the blend w * trees + (1 - w) * n-gram, in float32, is `y`.

    `trees`: scores, top class and the best score of a class other than `y`; `ngram`: scores and top class.
    Most rows are decided without ranking every class: rounding is monotonic and the weights lie in [0, 1], so no
    other class can score above the blend of the best other tree score and the best other n-gram score (y wins if
    it is above that), and the trees' and the n-gram's top classes are real rivals (y loses if either beats it, or
    ties it with a lower id). Only the rows left open (about 6% on bpic12) are ranked in full: ranking every row
    took most of the selection time.
    """
    g, g_top, g_others = trees
    pn, n_top = ngram
    w = np.asarray(weights, dtype=np.float32)[:, None]
    rest = np.asarray([1 - x for x in weights], dtype=np.float32)[:, None]
    rows = np.arange(len(y))
    known = y < g.shape[1]
    safe = np.where(known, y, 0)

    def blend(c: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return np.asarray(w * g[rows, c] + rest * pn[rows, c], dtype=np.float32)

    target = blend(safe)
    hit = target > w * g_others + rest * _others_max(pn, y)
    miss = np.zeros_like(hit)
    for top in (g_top, n_top):
        rival = blend(top)
        miss |= (top != safe) & ((rival > target) | ((rival == target) & (top < safe)))
    undecided = np.nonzero((~hit & ~miss).any(axis=0))[0]
    if len(undecided):
        full = w[:, :, None] * g[undecided] + rest[:, :, None] * pn[undecided]
        hit[:, undecided] = full.argmax(axis=2) == y[undecided]
    return np.asarray(hit & known)


@dataclass
class _Key:
    """A candidate's rank in the selection: (top-1, top-3, mean log-likelihood), compared as that tuple. Top-3 and
    the log-likelihood only break ties on top-1, so they are computed (from `scores`) when a tie needs them: scoring
    every candidate that improved on top-1 was a quarter of the selection time."""

    top1: float
    scores: Callable[[], npt.NDArray[np.float32]]
    y: npt.NDArray[np.int64]
    variant: str
    end: int
    _full: tuple[float, float, float] | None = None

    def full(self) -> tuple[float, float, float]:
        if self._full is None:
            self._full = _score(self.scores(), self.y, self.variant, self.end)
        return self._full

    def beats(self, other: _Key) -> bool:
        if self.top1 != other.top1:
            return self.top1 > other.top1
        return self.full() > other.full()


def _blend_scores(
    weight: float, trees: npt.NDArray[np.float32], ngram: Callable[[], npt.NDArray[np.float32]]
) -> npt.NDArray[np.float32]:
    return np.asarray(np.float32(weight) * trees + np.float32(1 - weight) * ngram(), dtype=np.float32)


def _select(
    params: NBAParams,
    encoding: Encoding,
    by_kind: dict[NGramKind, dict[float, list[Batch]]],
    val_cases: Sequence[Case],
    gbt_val: dict[str, FloatArray],
    val_y: npt.NDArray[np.int64],
    log: Any,
) -> tuple[dict[str, Choice], dict[str, Choice]]:
    """Per variant, the blend with the best top-1 on the validation slice, and the best n-gram alone.

    `by_kind`: validation distributions of each n-gram kind the log has (`_ngram_val`). Every kind blends with every
    tree kind; the kind that did best alone goes first, so that on a tie it is the one kept. The top-1 of every
    candidate is counted first (`_count_hits`); top-3 and log-likelihood only when a tie needs them (`_Key`).
    """
    choices: dict[str, Choice] = {}
    ngram_only: dict[str, Choice] = {}
    smallest = min(params.alphas)
    end = encoding.end_class
    masks = {variant: _variant_mask(val_cases, variant) for variant in VARIANTS}
    hits = _count_hits(params, by_kind, gbt_val, val_y, masks, end)
    for variant in VARIANTS:
        mask = masks[variant]
        y = val_y[mask]
        if len(y) == 0:
            choices[variant] = ngram_only[variant] = Choice(1, smallest, 0.0)
            continue

        def key(hit_count: int, scores: Callable[[], npt.NDArray[np.float32]]) -> _Key:
            return _Key(hit_count / len(y), scores, y, variant, end)  # noqa: B023 (used within this iteration)

        def ngram(candidate: Candidate) -> Callable[[], npt.NDArray[np.float32]]:
            return partial(_ngram_scores, by_kind, candidate, mask, variant, end)  # noqa: B023 (as `key`)

        # the last-activity model (most frequent successor: order 1, almost no smoothing) is the first candidate
        last_activity = (PLAIN, smallest, 1)
        best_key = la_key = key(hits.ngram[variant, last_activity], ngram(last_activity))
        base_top1 = best_key.top1
        best = Choice(1, smallest, 0.0, "plain", base_top1, base_top1)
        for ngram_kind in by_kind:
            for alpha in params.alphas:
                for order in range(1, params.max_order + 1):
                    candidate = (ngram_kind, alpha, order)
                    challenger = key(hits.ngram[variant, candidate], ngram(candidate))
                    if challenger.beats(best_key):
                        best = Choice(order, alpha, 0.0, "plain", challenger.top1, base_top1, *ngram_kind)
                        best_key = challenger
        ngram_only[variant] = ng_best = best
        first: NGramKind = (ng_best.canonical, ng_best.resource)
        for kind, g_all in gbt_val.items():
            g = _unnormalised(g_all[mask], variant, end)
            trees_alone = False  # with w = 1 the n-gram does not count: one candidate stands for all of them
            for ngram_kind in sorted(by_kind, key=lambda k: k != first):
                for alpha in params.alphas:
                    for order in range(1, params.max_order + 1):
                        candidate = (ngram_kind, alpha, order)
                        blend_hits = hits.blend[variant, kind, candidate]
                        for i, w in enumerate(params.weights):
                            if w == 0 or (w == 1.0 and trees_alone):
                                continue
                            trees_alone = trees_alone or w == 1.0
                            challenger = key(int(blend_hits[i]), partial(_blend_scores, w, g, ngram(candidate)))
                            if challenger.beats(best_key):
                                best = Choice(order, alpha, w, kind, challenger.top1, base_top1, *ngram_kind)
                                best_key = challenger
        if best_key is not la_key and not _clear_gain(best_key, la_key, params.min_gain_z):
            log(f"  {variant}: no clear gain over the last-activity model on validation; keeping it")
            best = Choice(1, smallest, 0.0, "plain", base_top1, base_top1)
        log(
            f"  {variant}: order={best.order} alpha={best.alpha} w_gbt={best.weight:.1f} trees={best.trees} "
            f"canonical={best.canonical} resource={best.resource} val_top1={best.val_top1:.4f} "
            f"(n-gram {ng_best.val_top1:.4f}, last-activity {base_top1:.4f})"
        )
        choices[variant] = best
    return choices, ngram_only


def _clear_gain(best: _Key, last_activity: _Key, min_z: float) -> bool:
    """Whether `best` gets clearly more validation prefixes right than the last-activity model: counted on the
    prefixes where exactly one of them is right (b for `best`, c for the other), b - c >= min_z * sqrt(b + c).

    `best` is the winner of some hundreds of candidates scored on the same slice, so a small lead is as likely to
    be luck as skill: on logs where the last activity is all there is to know (synthetic first-order chains of 20
    to 1,000 cases), the winner led it by up to 2.5 of these units and then did worse on the test part in 50 of 75
    runs. A tie on top-1 (won on top-3 or likelihood) is no gain either."""
    y = best.y  # both are scored on the same prefixes
    ours = best.scores().argmax(axis=1) == y
    theirs = last_activity.scores().argmax(axis=1) == y
    b, c = int(np.count_nonzero(ours & ~theirs)), int(np.count_nonzero(theirs & ~ours))
    return b > c and b - c >= min_z * float(np.sqrt(b + c))


def train_next_action(
    train_cases: Sequence[Case],
    params: NBAParams | None = None,
    version: str = "",
    log: Any = None,
    cutoff: float | None = None,
) -> NextActionModel:
    """Fit on `train_cases` (in chronological order) with validation-based choices; see the module docstring.

    `cutoff`: calendar trees do not learn from prefixes that end at or after this time (epoch seconds); in an
    evaluation, pass the start of the test period.
    """
    params = params or NBAParams()
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    recent = most_recent(train_cases, params.max_train_prefixes)
    if len(recent) < len(train_cases):
        say(f"  learning from the {len(recent)} most recent of {len(train_cases)} training cases")
        train_cases = recent
    bursty = burst_share(train_cases) >= params.min_burst_share
    encoding = Encoding.fit(
        train_cases,
        recency=params.recency,
        burst=params.burst and bursty,
    )
    contexts = [False, True] if params.canonical and bursty else [False]
    cut = len(train_cases) - max(1, round(len(train_cases) * params.val_fraction))
    fit_cases, val_cases = list(train_cases[:cut]), list(train_cases[cut:])
    # one encoding pass: the fitting and validation rows are the two ends of all the training rows
    everything = _prefixes(encoding, train_cases)
    fit, val = everything.split(sum(len(c) for c in fit_cases))
    choice_cases, val = _thinned(params, encoding, val_cases, val)
    say(f"  {len(everything.y)} training prefixes, {encoding.n_classes} classes ({time.perf_counter() - started:.1f}s)")
    if len(choice_cases) < len(val_cases):
        say(f"  choosing on {len(choice_cases)} of {len(val_cases)} validation cases")
    gbt_val: dict[str, FloatArray] = {}
    rounds: dict[str, int] = {}
    kinds = [k for k in TREE_KINDS if params.calendar or k != "calendar"] if params.use_gbt else []
    class_limit = params.tree_classes
    with ThreadPoolExecutor(max_workers=TREE_WORKERS) as pool:
        fitting: dict[str, Future[lgb.Booster | None]] = {}
        if len(fit.y) and len(val.y) and val_cases:
            val_start = val_cases[0].timestamps[0]
            class_limit = max(params.tree_classes, params.tree_cells // max(1, min(len(fit.y), params.choice_rows)))
            fit_classes = fit.tree_classes(encoding, class_limit)
            per_round = min(len(fit.y), params.choice_rows) * fit_classes.n_tree
            max_rounds = min(params.max_rounds, max(1, params.choice_work // per_round))
            if max_rounds < params.max_rounds:
                say(f"  choosing trees: at most {max_rounds} rounds")
            fitting = {
                kind: pool.submit(_fit_gbt, params, encoding, fit_classes, kind, fit, max_rounds, val_start,
                                  val, params.choice_rows)
                for kind in kinds
            }
        # the n-grams are fitted, and their candidates scored, here while the trees grow in the pool's threads
        ngrams_fit = {c: _fit_ngram(encoding, fit_cases, params.max_order, c) for c in contexts}
        resource_fit = _fit_resource_ngram(params, encoding, ngrams_fit[False], fit_cases)
        by_kind = _ngram_val(params, encoding, ngrams_fit, resource_fit, choice_cases)
        say(f"  n-grams fitted and scored ({time.perf_counter() - started:.1f}s)")
        for kind, future in fitting.items():
            booster = future.result()
            if booster is None:
                continue
            rounds[kind] = max(1, booster.best_iteration or booster.current_iteration())
            scores = np.asarray(booster.predict(_columns(encoding, val.x, kind), num_iteration=rounds[kind]))
            shares = by_kind[PLAIN][_pool_alpha(params)][params.max_order] if fit_classes.pooled else None
            gbt_val[kind] = fit_classes.expand(scores.astype(np.float64), shares)
            say(f"  {kind} trees: {rounds[kind]} rounds ({time.perf_counter() - started:.1f}s)")
    if len(gbt_val) == 2:
        gbt_val["both"] = 0.5 * (gbt_val["plain"] + gbt_val["calendar"])
    choices, ngram_only = _select(params, encoding, by_kind, choice_cases, gbt_val, val.y, say)
    del by_kind
    say(f"  chosen ({time.perf_counter() - started:.1f}s)")
    boosters: dict[str, lgb.Booster] = {}
    needed = {k for c in choices.values() if c.weight > 0 for k in TREE_KINDS if c.trees in (k, "both")}
    classes = everything.tree_classes(encoding, class_limit)
    with ThreadPoolExecutor(max_workers=TREE_WORKERS) as pool:
        refitting = {}
        for kind in sorted(needed):
            work = params.refit_work // (rounds[kind] * classes.n_tree)
            rows = min(params.max_train_rows, max(params.choice_rows, work))
            refitting[kind] = pool.submit(
                _fit_gbt, params, encoding, classes, kind, everything, rounds[kind], cutoff, max_rows=rows
            )
        # While the trees are refitted: counts add up, so the final n-grams are the fitted ones plus the validation
        # cases (the same tables, in the same order, as fitting all the training cases afresh).
        ngram = _add_cases(ngrams_fit[False].copy(), encoding, val_cases, False)
        chosen = [*choices.values(), *ngram_only.values()]
        ngram_canonical = (
            _add_cases(ngrams_fit[True].copy(), encoding, val_cases, True) if any(c.canonical for c in chosen) else None
        )
        ngram_resource = (
            _fit_resource_ngram(params, encoding, ngram, train_cases) if any(c.resource for c in chosen) else None
        )
        for kind, future in refitting.items():
            booster = future.result()
            if booster is not None:
                boosters[kind] = booster

    # a tree kind that could not be refitted (too little data before the cutoff) falls back to the n-gram choice
    def refitted(c: Choice) -> bool:
        return c.weight == 0 or all(k in boosters for k in TREE_KINDS if c.trees in (k, "both"))

    choices = {v: c if refitted(c) else ngram_only[v] for v, c in choices.items()}
    model = NextActionModel(
        encoding,
        ngram,
        boosters,
        choices,
        params,
        version,
        ngram_choices=ngram_only,
        ngram_canonical=ngram_canonical,
        ngram_resource=ngram_resource,
        tree_classes=classes if classes.pooled else None,
        starts=_first_steps(encoding, train_cases),
    )
    model.train_seconds = time.perf_counter() - started
    say(f"  refitted ({model.train_seconds:.1f}s)")
    return model
