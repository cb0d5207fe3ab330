from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from insight_synth import timing_log, write_log

from casework.insight.eventlog import Case, chronological_split, read_log
from casework.insight.features import Encoding
from casework.insight.remaining import LastActivityBaseline, RemainingParams, remaining_xy, train_remaining_time


def test_targets_cover_prefixes_one_to_n_minus_one_in_days() -> None:
    case = Case("c", ("A", "B", "C"), (0.0, 86400.0, 3 * 86400.0))
    x, y, last = remaining_xy(Encoding.fit([case]), [case])
    assert x.shape[0] == 2
    assert y.tolist() == [3.0, 2.0]
    assert last == [0, 1]


def test_baselines_are_the_mean_and_median_after_the_last_activity() -> None:
    last, days = [0, 0, 0, 1], np.array([1.0, 2.0, 9.0, 10.0])
    mean = LastActivityBaseline.fit(last, days)
    assert mean.predict([0, 1, 5]).tolist() == [4.0, 10.0, 5.5]
    median = LastActivityBaseline.fit(last, days, "median")
    assert median.predict([0, 1, 5]).tolist() == [2.0, 10.0, 5.5]
    assert LastActivityBaseline.from_json(median.to_json()) == median


def test_model_beats_the_baseline_when_timing_tells(tmp_path: Path) -> None:
    # slow claims wait ten more days; after `Register claim` and `Assess damage` alone the baseline cannot know,
    # but the resource (bob handles the slow ones) and the gap before the third event do
    train, test = chronological_split(read_log(write_log(tmp_path / "claims.csv", timing_log())))
    model = train_remaining_time(train)
    assert model.weight > 0
    days = model.predict_cases(test)
    pred, truth = days.model, days.truth
    assert len(pred) == len(truth) == sum(len(c) - 1 for c in test)
    assert (pred >= 0).all()
    assert np.mean(np.abs(pred - truth)) < 0.7 * np.mean(np.abs(days.mean_baseline - truth))
    assert np.mean(np.abs(pred - truth)) < 0.7 * np.mean(np.abs(days.median_baseline - truth))
    case = test[0]
    assert model.predict_days(case.activities[:2], case.timestamps[:2], case.resources[:2]) == pytest.approx(pred[1])


def test_a_log_over_the_prefix_limit_learns_remaining_time_from_its_most_recent_cases() -> None:
    # the older cases took ten days after A, the 20 most recent one day: only those fit in 62 prefixes
    def case(i: int) -> Case:
        start = 86400.0 * i
        after = 10 if i < 40 else 1
        return Case(f"c{i}", ("A", "B", "C"), (start, start + after * 86400.0, start + (after + 1) * 86400.0))

    cases = [case(i) for i in range(60)]
    lines: list[str] = []
    model = train_remaining_time(cases, RemainingParams(max_train_prefixes=62), log=lines.append)
    assert "  remaining: learning from the 20 most recent of 60 training cases" in lines
    encoding = model.encoding
    assert model.baseline.predict(encoding.encode_ids(["A"])).tolist() == [2.0]
    assert model.predict_days(["A"], [0.0]) == pytest.approx(2.0, abs=0.5)
    # below the limit every case counts, as before
    everything = train_remaining_time(cases, RemainingParams())
    assert everything.baseline.predict(encoding.encode_ids(["A"])).tolist() == [8.0]
