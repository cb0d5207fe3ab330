"""Remaining-time model (SLA risk): how long until the case closes, from a prefix of its history.

Gradient-boosted trees with an absolute-error objective (the score is mean absolute error) on the same prefix
features as the next-activity model, blended with the median remaining time after the same last activity; the blend
weight is chosen on the chronological validation slice of the training cases, as for next activities. The median,
not the mean, is the partner because it is what minimises absolute error; the mean after the last activity is kept
as the reported baseline. Times are in days.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from casework.insight.eventlog import Case, most_recent
from casework.insight.features import Encoding
from casework.insight.gbt import THREADS, booster_from_string, sample_rows, train_booster

FloatArray = npt.NDArray[np.float64]
DAY = 86400.0


@dataclass(frozen=True)
class RemainingParams:
    val_fraction: float = 0.2
    max_train_rows: int = 60_000
    # training prefixes encoded, at most (the most recent cases): the trees learn from `max_train_rows` of them, but
    # every prefix of every case was encoded, twice; a log of 250k cases and 1.4M events (BPIC 2019's shape) held
    # the rows of all of them at once. As `NBAParams.max_train_prefixes`: the shared logs are all below it.
    max_train_prefixes: int = 500_000
    max_rounds: int = 400
    early_stopping: int = 30
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    weights: tuple[float, ...] = tuple(i / 10 for i in range(11))
    seed: int = 11

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "l1",
            "metric": "l1",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.8,
            "max_cat_to_onehot": 8,
        }


def remaining_xy(encoding: Encoding, cases: Sequence[Case]) -> tuple[FloatArray, FloatArray, list[int]]:
    """Rows for prefixes 1..n-1 (a complete case has nothing left), remaining days, last activity ids."""
    xs: list[FloatArray] = []
    ys: list[float] = []
    last: list[int] = []
    for case in cases:
        n = len(case)
        if n < 2:
            continue
        # no calendar column: remaining time is what the log's end truncates most, so calendar time would learn that
        xs.append(encoding.encode_case(case)[: n - 1, : encoding.n_plain])
        end = case.timestamps[-1]
        ys.extend((end - t) / DAY for t in case.timestamps[: n - 1])
        last.extend(encoding.encode_ids(case.activities[: n - 1]))
    if not xs:
        return np.zeros((0, encoding.n_plain)), np.zeros(0), []
    return np.vstack(xs), np.asarray(ys, dtype=np.float64), last


@dataclass
class LastActivityBaseline:
    """Mean (or median) remaining days of the training prefixes that ended with the same activity."""

    values: dict[int, float]
    overall: float
    statistic: str = "mean"

    @classmethod
    def fit(cls, last: Sequence[int], y: FloatArray, statistic: str = "mean") -> LastActivityBaseline:
        stat = np.mean if statistic == "mean" else np.median
        groups: dict[int, list[float]] = {}
        for a, v in zip(last, y, strict=True):
            groups.setdefault(a, []).append(float(v))
        overall = float(stat(y)) if len(y) else 0.0
        return cls({a: float(stat(vs)) for a, vs in groups.items()}, overall, statistic)

    def predict(self, last: Sequence[int]) -> FloatArray:
        return np.asarray([self.values.get(a, self.overall) for a in last], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "values": {str(k): v for k, v in self.values.items()},
            "overall": self.overall,
            "statistic": self.statistic,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LastActivityBaseline:
        values = {int(k): float(v) for k, v in data["values"].items()}
        return cls(values, float(data["overall"]), str(data["statistic"]))


@dataclass
class RemainingPredictions:
    """Days left for each prefix 1..n-1 of some cases: the model, the two baselines, and the truth."""

    model: FloatArray
    mean_baseline: FloatArray
    median_baseline: FloatArray
    truth: FloatArray


@dataclass
class RemainingTimeModel:
    encoding: Encoding
    baseline: LastActivityBaseline  # mean after the last activity: reported beside the model
    partner: LastActivityBaseline  # median after the last activity: blended with the trees
    booster: lgb.Booster | None
    weight: float  # of the trees in the blend with the partner
    val_mae: float = 0.0
    val_mae_baseline: float = 0.0
    train_seconds: float = 0.0

    def _blend(self, rows: FloatArray, last: Sequence[int]) -> FloatArray:
        base = self.partner.predict(last)
        if self.booster is None or self.weight == 0:
            return base
        trees = np.asarray(self.booster.predict(rows, num_threads=THREADS), dtype=np.float64)
        return np.maximum(self.weight * trees + (1 - self.weight) * base, 0.0)

    def predict_days(
        self,
        activities: Sequence[str],
        timestamps: Sequence[float],
        resources: Sequence[str | None] | None = None,
        clock: Sequence[float] | None = None,
    ) -> float:
        row = self.encoding.encode_last(activities, timestamps, resources, clock=clock)[:, : self.encoding.n_plain]
        return float(self._blend(row, self.encoding.encode_ids(activities[-1:]))[0])

    def predict_cases(self, cases: Sequence[Case]) -> RemainingPredictions:
        """Predictions in days for every prefix 1..n-1 of `cases`, beside the baselines and the truth."""
        x, y, last = remaining_xy(self.encoding, cases)
        if not len(y):
            return RemainingPredictions(y, y, y, y)
        return RemainingPredictions(self._blend(x, last), self.baseline.predict(last), self.partner.predict(last), y)

    def to_json(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding.to_json(),
            "baseline": self.baseline.to_json(),
            "partner": self.partner.to_json(),
            "booster": self.booster.model_to_string() if self.booster is not None else None,
            "weight": self.weight,
            "val_mae": self.val_mae,
            "val_mae_baseline": self.val_mae_baseline,
            "train_seconds": self.train_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemainingTimeModel:
        return cls(
            encoding=Encoding.from_json(data["encoding"]),
            baseline=LastActivityBaseline.from_json(data["baseline"]),
            partner=LastActivityBaseline.from_json(data["partner"]),
            booster=booster_from_string(data["booster"]) if data["booster"] else None,
            weight=float(data["weight"]),
            val_mae=float(data["val_mae"]),
            val_mae_baseline=float(data["val_mae_baseline"]),
            train_seconds=float(data["train_seconds"]),
        )


def train_remaining_time(
    train_cases: Sequence[Case],
    params: RemainingParams | None = None,
    encoding: Encoding | None = None,
    log: Any = None,
) -> RemainingTimeModel:
    params = params or RemainingParams()
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    encoding = encoding or Encoding.fit(train_cases)
    recent = most_recent(train_cases, params.max_train_prefixes)
    if len(recent) < len(train_cases):
        say(f"  remaining: learning from the {len(recent)} most recent of {len(train_cases)} training cases")
        train_cases = recent
    cut = len(train_cases) - max(1, round(len(train_cases) * params.val_fraction))
    x_fit, y_fit, last_fit = remaining_xy(encoding, train_cases[:cut])
    x_val, y_val, last_val = remaining_xy(encoding, train_cases[cut:])
    weight, val_mae, base_mae, rounds = 0.0, 0.0, 0.0, 0
    if len(y_fit) and len(y_val):
        base_val = LastActivityBaseline.fit(last_fit, y_fit, "median").predict(last_val)
        mean_val = LastActivityBaseline.fit(last_fit, y_fit, "mean").predict(last_val)
        idx = sample_rows(len(y_fit), params.max_train_rows, params.seed)
        vidx = sample_rows(len(y_val), params.max_train_rows // 2, params.seed + 1)
        booster = train_booster(
            params.lgb_params(),
            x_fit[idx],
            y_fit[idx],
            encoding.categorical,
            params.max_rounds,
            x_val[vidx],
            y_val[vidx],
            early_stopping=params.early_stopping,
        )
        rounds = max(1, booster.best_iteration or booster.current_iteration())
        trees_val = np.asarray(booster.predict(x_val, num_iteration=rounds), dtype=np.float64)
        base_mae = float(np.mean(np.abs(mean_val - y_val)))
        val_mae = float(np.mean(np.abs(base_val - y_val)))
        for w in params.weights:
            mae = float(np.mean(np.abs(np.maximum(w * trees_val + (1 - w) * base_val, 0.0) - y_val)))
            if mae < val_mae:
                weight, val_mae = w, mae
        say(f"  remaining: {rounds} rounds, w_gbt={weight:.1f} val_mae={val_mae:.3f}d (mean baseline {base_mae:.3f}d)")
    # the rows of all the training cases are those of the fitting cases, then those of the validation cases: they
    # were encoded a second time (as long again, and a third copy of every row held at once), where the final trees
    # need only their sample
    y_all, last_all = np.concatenate([y_fit, y_val]), [*last_fit, *last_val]
    final = None
    if weight > 0:
        idx = sample_rows(len(y_all), params.max_train_rows, params.seed)
        inside = idx < len(y_fit)
        x_sample = np.vstack([x_fit[idx[inside]], x_val[idx[~inside] - len(y_fit)]])
        final = train_booster(params.lgb_params(), x_sample, y_all[idx], encoding.categorical, rounds)
    model = RemainingTimeModel(
        encoding,
        LastActivityBaseline.fit(last_all, y_all, "mean"),
        LastActivityBaseline.fit(last_all, y_all, "median"),
        final,
        weight,
        val_mae,
        base_mae,
    )
    model.train_seconds = time.perf_counter() - started
    return model
