from __future__ import annotations

import numpy as np

from casework.insight.eventlog import Case
from casework.insight.features import Encoding


def test_prefix_rows_hold_history_counts_and_times() -> None:
    # 1970-01-05 is a Monday; events at 10:00, 10:30, then Saturday 1970-01-10 08:00
    t0 = 4 * 86400.0 + 10 * 3600.0
    case = Case("c", ("A", "B", "A"), (t0, t0 + 1800.0, 9 * 86400.0 + 8 * 3600.0), ("ann", "bob", "zed"))
    enc = Encoding(activities=["A", "B"], resources=["ann", "bob"], has_resource=True, last_activities=3)
    rows = enc.encode_case(case)
    assert rows.shape == (3, enc.n_features) and enc.n_features == enc.n_plain + 1
    pad = 2.0  # "before the start" is the id after the last activity
    assert rows[:, :3].tolist() == [[0, pad, pad], [1, 0, pad], [0, 1, 0]]
    assert rows[:, 3:5].tolist() == [[1, 0], [1, 1], [2, 1]]  # counts of A, B so far
    base = 5
    assert rows[:, base].tolist() == [1, 2, 3]
    assert rows[1, base + 1] == 1800.0 and rows[1, base + 2] == 1800.0
    assert rows[:, base + 3].tolist() == [10, 10, 8]  # hour
    assert rows[:, base + 4].tolist() == [0, 0, 5]  # weekday, Monday = 0
    assert rows[:, base + 5].tolist() == [0, 0, 1]  # weekend
    assert rows[:, base + 6].tolist() == [0, 1, 2]  # resource ids; unknown `zed` is "other"
    assert np.allclose(rows[:, -1], np.asarray(case.timestamps) / 86400.0)
    assert enc.categorical == [0, 1, 2, base + 6]


def test_encoding_survives_json() -> None:
    enc = Encoding.fit([Case("c", ("B", "A"), (0.0, 1.0), ("r", "r"))])
    again = Encoding.from_json(enc.to_json())
    assert again.activities == ["A", "B"] and again.resources == ["r"] and again.has_resource
    assert again.activity_id("nope") == again.unknown == 3 and again.end_class == 2


def test_recency_columns_give_seconds_since_each_activity_last_happened() -> None:
    case = Case("c", ("A", "B", "A", "C"), (0.0, 10.0, 25.0, 40.0))
    enc = Encoding(activities=["A", "B"], last_activities=1, recency=True)
    rows = enc.encode_case(case)
    start = enc.n_plain - 2  # recency columns close the plain block (no resource column here)
    rec = rows[:, start : start + 2]
    assert rec[:, 0].tolist() == [0.0, 10.0, 0.0, 15.0]
    assert np.isnan(rec[0, 1]) and rec[1:, 1].tolist() == [0.0, 15.0, 30.0]
