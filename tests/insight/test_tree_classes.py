from __future__ import annotations

import numpy as np
import pytest

from casework.insight.tree_classes import TreeClasses


def test_a_log_with_few_classes_is_learned_as_it_is() -> None:
    y = np.array([0, 1, 2, 1, 3])
    classes = TreeClasses.fit(y, n_classes=4, limit=4)
    assert not classes.pooled and classes.n_tree == 4 and classes.kept == [0, 1, 2, 3]
    assert classes.to_tree(y) is y
    p = np.full((2, 4), 0.25)
    assert classes.expand(p) is p


def test_rare_classes_are_pooled_and_shared_out_as_the_shares_rank_them() -> None:
    # classes 1 and 3 are frequent; 0, 2 and 4 rare; 9 is an activity the encoding does not know (ignored)
    y = np.array([3] * 10 + [1] * 8 + [0, 2, 2, 4] + [9] * 30)
    classes = TreeClasses.fit(y, n_classes=5, limit=3)
    assert classes.kept == [1, 3] and classes.pooled and classes.n_tree == 3
    assert classes.to_tree(np.array([0, 1, 2, 3, 4])).tolist() == [2, 0, 2, 1, 2]
    p = np.array([[0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    shares = np.array([[0.1, 0.5, 0.2, 0.1, 0.1], [0.0, 0.3, 0.0, 0.7, 0.0]], dtype=np.float32)
    full = classes.expand(p, shares)
    assert full.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert full[:, [1, 3]] == pytest.approx(p[:, :2])
    # the pool's 0.4 goes to 0, 2 and 4 as 0.1 : 0.2 : 0.1; where the shares give the pool nothing, evenly
    assert full[0, [0, 2, 4]] == pytest.approx([0.1, 0.2, 0.1])
    assert full[1, [0, 2, 4]] == pytest.approx([0.2, 0.2, 0.2])
    again = TreeClasses.from_json(classes.to_json())
    assert again.kept == classes.kept and again.expand(p, shares) == pytest.approx(full)
    with pytest.raises(ValueError, match="shares"):
        classes.expand(p)
