from __future__ import annotations

from pathlib import Path

import pytest
from insight_synth import timing_log, write_log

from casework.insight import evaluate
from casework.insight.eventlog import chronological_split, read_log
from casework.insight.nba import NBAParams, NextActionModel, topk_hits, train_next_action


def test_the_test_part_is_scored_in_parts_with_the_same_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # All at once, a test part of 70,000 prefixes and 2,001 classes held several 1.1 GB copies of its probabilities.
    train, test = chronological_split(read_log(write_log(tmp_path / "claims.csv", timing_log(300))))
    model = train_next_action(train, NBAParams(resource_ngram=False))
    assert model.choices["noeoc"].weight > 0  # the trees take part, and their rows are split too
    whole, y = model.predict_cases(test, "noeoc")
    expected = [float(topk_hits(whole, y, k).mean()) for k in (1, 3)]

    rows_asked: list[int] = []
    predict = NextActionModel.predict_cases

    def counted(self: NextActionModel, *args: object, **kwargs: object) -> tuple[object, object]:
        p, targets = predict(self, *args, **kwargs)  # type: ignore[arg-type]
        rows_asked.append(len(targets))
        return p, targets

    monkeypatch.setattr(NextActionModel, "predict_cases", counted)
    # 20 prefixes at a time (raising=False: the name is new, and without it all were scored at once)
    monkeypatch.setattr(evaluate, "SCORE_CELLS", 20 * model.encoding.n_classes, raising=False)
    scores = evaluate.score(model, test, "noeoc")
    assert [scores.top1, scores.top3] == expected and scores.prefixes == len(y) > 100
    # whole cases (of at most 4 scored prefixes here) up to 20 prefixes a part
    assert sum(rows_asked) == len(y) and len(rows_asked) > len(y) / 20 and max(rows_asked) <= 20
