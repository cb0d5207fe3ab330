"""The evaluation protocol of shared/logs/README.md: chronological 2/3 split, every scored prefix of every test case
predicts the next event; top-1/top-3 per variant, beside the last-activity and n-gram baselines, plus the remaining
time model's mean absolute error beside its baseline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from casework.insight.eventlog import (
    VARIANTS,
    Case,
    chronological_split,
    iter_prefixes,
    prefix_lengths,
    read_log,
    repeated_events,
)
from casework.insight.nba import Choice, NBAParams, NextActionModel, topk_hits, train_next_action
from casework.insight.remaining import RemainingParams, train_remaining_time
from casework.logfile import duplicates_note

LATENCY_SAMPLE = 1000
LAST_ACTIVITY = Choice(order=1, alpha=1e-9, weight=0.0)


@dataclass
class Scores:
    top1: float
    top3: float
    prefixes: int


@dataclass
class LogResult:
    name: str
    cases: int
    train_cases: int
    test_cases: int
    model: dict[str, Scores] = field(default_factory=dict)
    last_activity: dict[str, Scores] = field(default_factory=dict)
    ngram: dict[str, Scores] = field(default_factory=dict)
    train_s: float = 0.0
    predict_ms_p50: float = 0.0
    remaining_mae_days: float | None = None
    remaining_baseline_mae_days: float | None = None
    remaining_median_baseline_mae_days: float | None = None
    remaining_train_s: float | None = None


class NothingToScore(ValueError):
    """The log is too small for the protocol: no case to learn from, or no prefix of a variant to score."""


# Test prefixes x classes scored at a time. All at once, a log of 2,000 activities (20,000 cases, 70,000 test
# prefixes) held 1.1 GB per copy of the test part's probabilities, and several copies at once: a 6.6 GB peak. Hits
# are counted row by row, so the figures are the same in parts.
SCORE_CELLS = 4_000_000


def _parts(cases: Sequence[Case], variant: str, prefixes: int) -> Iterator[Sequence[Case]]:
    """`cases` in runs of whole cases with at most `prefixes` scored prefixes each (a longer case alone)."""
    start = held = 0
    for i, case in enumerate(cases):
        scored = len(prefix_lengths(len(case), variant))
        if held and held + scored > prefixes:
            yield cases[start:i]
            start, held = i, 0
        held += scored
    if start < len(cases):
        yield cases[start:]


def score(model: NextActionModel, cases: Sequence[Case], variant: str, choice: Choice | None = None) -> Scores:
    top1 = top3 = rows = 0
    for part in _parts(cases, variant, max(1, SCORE_CELLS // model.encoding.n_classes)):
        p, y = model.predict_cases(part, variant, choice)
        top1 += int(np.count_nonzero(topk_hits(p, y, 1)))
        top3 += int(np.count_nonzero(topk_hits(p, y, 3)))
        rows += len(y)
    return Scores(top1 / rows if rows else 0.0, top3 / rows if rows else 0.0, rows)


def _unseen_next_steps(model: NextActionModel, cases: Sequence[Case], variant: str) -> int:
    """How many scored prefixes go on to an activity the model never saw (no model can rank it)."""
    known = set(model.encoding.activities)
    return sum(1 for case, k in iter_prefixes(cases, variant) if k < len(case) and case.activities[k] not in known)


def median_predict_ms(model: NextActionModel, cases: Sequence[Case], variant: str) -> float:
    """Median wall time of one suggestion for one prefix (not batched), over an even sample of test prefixes."""
    prefixes = list(iter_prefixes(cases, variant))
    if not prefixes:
        return 0.0
    step = max(1, len(prefixes) // LATENCY_SAMPLE)
    timings = []
    for case, k in prefixes[::step]:
        acts, times = case.activities[:k], case.timestamps[:k]
        res = case.resources[:k] if case.resources is not None else None
        clock = case.clock[:k] if case.clock is not None else None
        started = time.perf_counter()
        model.predict_proba(acts, times, res, variant, clock)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings) * 1000.0)


def evaluate_log(
    path: str | Path,
    variants: Sequence[str] = VARIANTS,
    latency_variant: str | None = None,
    baselines: bool = True,
    remaining: bool = True,
    log: Callable[[str], None] | None = None,
    nba_params: NBAParams | None = None,
) -> LogResult:
    say = log or (lambda _msg: None)
    path = Path(path)
    name = path.name.split(".")[0]
    cases = read_log(path)
    train, test = chronological_split(cases)
    say(f"{name}: {len(cases)} cases, {len(train)} train, {len(test)} test")
    repeated = repeated_events(cases)
    if repeated:
        say(f"{name}: {duplicates_note(repeated)}")
    if not train:
        raise NothingToScore(
            f"{path}: too few cases to train on: {len(cases)} in all, none in the first 2/3 (by first event)"
        )
    for variant in variants:
        if not any(True for _ in iter_prefixes(test, variant)):
            raise NothingToScore(
                f"{path}: the test part ({len(test)} of {len(cases)} cases, the last 1/3) has no prefix to score in "
                f"variant {variant} (prefixes of 1 to n-1 events for noeoc, 1 to n for eoc, 2 to n-1 for tax)"
            )
    result = LogResult(name, len(cases), len(train), len(test))
    # calendar trees must not learn from training events that happen inside the test period
    cutoff = test[0].timestamps[0] if test else None
    model = train_next_action(train, nba_params, log=say, cutoff=cutoff)
    result.train_s = model.train_seconds
    for variant in variants:
        result.model[variant] = score(model, test, variant)
        unseen = _unseen_next_steps(model, test, variant)
        if unseen:
            # a low score is then the log's drift, not the model failing: say so beside the figure
            scored = result.model[variant].prefixes
            say(
                f"{name}: {unseen} of {scored} test prefixes ({100 * unseen / scored:.1f}%) in {variant} go on to an "
                "activity the training part never had: each is a miss whatever the model"
            )
        if baselines:
            result.last_activity[variant] = score(model, test, variant, LAST_ACTIVITY)
            result.ngram[variant] = score(model, test, variant, model.ngram_choices[variant])
    result.predict_ms_p50 = median_predict_ms(model, test, latency_variant or variants[0])
    if remaining:
        rt = train_remaining_time(train, RemainingParams(), encoding=model.encoding, log=say)
        days = rt.predict_cases(test)
        if len(days.truth):
            result.remaining_mae_days = float(np.mean(np.abs(days.model - days.truth)))
            result.remaining_baseline_mae_days = float(np.mean(np.abs(days.mean_baseline - days.truth)))
            result.remaining_median_baseline_mae_days = float(np.mean(np.abs(days.median_baseline - days.truth)))
        result.remaining_train_s = rt.train_seconds
    return result
