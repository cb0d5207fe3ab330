from __future__ import annotations

import numpy as np
import pytest

from casework.insight.tree_classes import TreeClasses


def test_a_log_with_few_classes_is_learned_as_it_is() -> None:
    y = np.array([0, 1, 2, 1, 3])
    classes = TreeClasses.fit(y, np.array([0, 0, 1, 2, 1]), n_classes=4, n_last=6, limit=4)
    assert classes.rest is None and classes.n_tree == 4 and classes.kept == [0, 1, 2, 3]
    assert classes.to_tree(y) is y
    p = np.full((2, 4), 0.25)
    assert classes.expand(p, np.array([0, 1])) is p


def test_rare_classes_are_pooled_and_shared_out_after_the_last_activity() -> None:
    # classes 0 and 1 are frequent; 2, 3 and 4 rare: after activity 0 came 2 twice and 3 once, after activity 1 came 4
    y = np.array([0] * 10 + [1] * 8 + [2, 2, 3, 4])
    last = np.array([1] * 18 + [0, 0, 0, 1])
    classes = TreeClasses.fit(y, last, n_classes=5, n_last=3, limit=3)
    assert classes.kept == [0, 1] and classes.n_tree == 3
    assert classes.to_tree(np.array([0, 1, 2, 3, 4])).tolist() == [0, 1, 2, 2, 2]
    p = np.array([[0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    full = classes.expand(p, np.array([0.0, 2.0]))
    assert full.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert full[:, :2] == pytest.approx(p[:, :2])
    # after activity 0: counts 2, 1, 0 plus one pseudo-count spread by overall frequency, each rare class counted
    # once more so that none gets nothing: (2 + 1) : (1 + 1) : (1 + 1)
    prior = np.array([3.0, 2.0, 2.0]) / 7.0
    assert full[0, 2:] == pytest.approx(0.4 * (np.array([2.0, 1.0, 0.0]) + prior) / 4.0)
    # a last activity never seen before a rare class (id 2): the prior alone
    assert full[1, 2:] == pytest.approx(0.6 * prior)
    again = TreeClasses.from_json(classes.to_json())
    assert again.kept == classes.kept and again.expand(p, np.array([0, 2])) == pytest.approx(full)


def test_unknown_targets_are_left_out_of_the_counts() -> None:
    y = np.array([0, 0, 0, 1, 1, 2, 9, 9])  # 9: an activity the encoding does not know
    classes = TreeClasses.fit(y, np.zeros(8, dtype=np.int64), n_classes=3, n_last=2, limit=2)
    assert classes.kept == [0] and classes.rest is not None
    # counts 2 and 1, plus the prior spread as (2 + 1) : (1 + 1)
    assert classes.rest[0] == pytest.approx([0.0, (2 + 0.6) / 4, (1 + 0.4) / 4])
