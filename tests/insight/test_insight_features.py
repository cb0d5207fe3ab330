from __future__ import annotations

import random
from collections import Counter

import numpy as np

from casework.insight.eventlog import Case
from casework.insight.features import (
    MAX_COUNTED,
    Encoding,
    burst_activities,
    burst_share,
    canonical_positions,
    canonical_windows,
    run_starts,
)


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


def test_burst_columns_count_the_events_sharing_the_last_timestamp() -> None:
    # B and C are recorded at the same second (t=5) as a second B; A comes alone before and after
    case = Case("c", ("A", "B", "C", "B", "A"), (0.0, 5.0, 5.0, 5.0, 9.0))
    enc = Encoding(activities=["A", "B", "C"], last_activities=1, burst=True)
    assert enc.n_plain == 1 + 3 + 6 + 3 + 2
    rows = enc.encode_case(case)
    start = 1 + 3 + 6  # after the last activity, the counts and the six time columns (no resource here)
    counts = rows[:, start : start + 3]
    assert counts.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 2, 1], [1, 0, 0]]
    assert rows[:, start + 3].tolist() == [1, 1, 2, 3, 1]  # burst size
    gap = rows[:, start + 4]  # time between the burst and the event before it
    assert np.isnan(gap[0]) and gap[1:].tolist() == [5.0, 5.0, 5.0, 4.0]
    # the rest of the row is as without bursts, calendar time still last
    plain = Encoding(activities=["A", "B", "C"], last_activities=1).encode_case(case)
    assert np.array_equal(rows[:, :start], plain[:, :start]) and np.array_equal(rows[:, -1], plain[:, -1])
    again = Encoding.from_json(enc.to_json())
    assert again.burst and again.n_features == enc.n_features
    assert not Encoding.from_json({k: v for k, v in enc.to_json().items() if k != "burst"}).burst


def test_run_starts_and_canonical_positions_order_each_burst_by_activity() -> None:
    times = [0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0]
    ids = [2, 1, 0, 2, 1, 1, 0]
    assert run_starts(times).tolist() == [0, 1, 1, 1, 4, 5, 5]
    # whole prefix: the burst at t=1 (ids 1, 0, 2) becomes 0, 1, 2 -> positions 2, 1, 3
    assert canonical_positions(times, ids, 7, 10) == [0, 2, 1, 3, 4, 6, 5]
    # a prefix that ends inside a burst orders only the part it has seen
    assert canonical_positions(times, ids, 2, 10) == [0, 1]
    assert canonical_positions(times, ids, 3, 10) == [0, 2, 1]
    # the window is cut after ordering, so which burst events it keeps does not depend on the recorded order
    assert canonical_positions(times, ids, 4, 2) == [1, 3]
    assert canonical_positions(times, ids, 7, 3) == [4, 6, 5]
    assert canonical_positions(times, ids, 7, 0) == []


def test_burst_share_counts_ties_with_the_previous_event() -> None:
    cases = [Case("a", ("A", "B", "C"), (0.0, 0.0, 1.0)), Case("b", ("A", "B"), (5.0, 6.0)), Case("c", ("A",), (7.0,))]
    assert burst_share(cases) == 1 / 3
    assert burst_share([]) == 0.0


def test_only_activities_seen_in_bursts_get_burst_columns() -> None:
    # X and Y share a timestamp in every case, A never shares one
    cases = [Case(f"c{i}", ("A", "X", "Y", "A"), (0.0, 10.0, 10.0, 20.0)) for i in range(3)]
    assert burst_activities(cases, min_events=3) == ["X", "Y"]
    assert burst_activities(cases, min_events=4) == []
    enc = Encoding.fit(cases, burst=True)  # the default minimum (20 events) leaves only size and gap
    assert enc.burst_activities == [] and enc.n_plain == Encoding.fit(cases).n_plain + 2
    enc = Encoding(activities=["A", "X", "Y"], last_activities=1, burst=True, burst_activities=["Y"])
    rows = enc.encode_case(cases[0])
    start = 1 + 3 + 6
    assert rows[:, start].tolist() == [0, 0, 1, 0]  # Y in the current burst
    assert rows[:, start + 1].tolist() == [1, 1, 2, 1]  # burst size
    again = Encoding.from_json(enc.to_json())
    assert again.burst_activities == ["Y"] and np.array_equal(again.encode_case(cases[0]), rows, equal_nan=True)


def test_a_log_with_many_activities_counts_only_the_most_frequent() -> None:
    rng = np.random.default_rng(4)
    names = [f"a{i:02d}" for i in range(MAX_COUNTED + 20)]
    # a skewed log: low numbers are frequent; every case has bursts (three events share each timestamp)
    cases = []
    for c in range(40):
        picks = [names[min(int(rng.exponential(15)), len(names) - 1)] for _ in range(30)]
        cases.append(Case(f"c{c}", tuple(picks), tuple(float(i // 3) for i in range(30))))
    frequency = Counter(a for case in cases for a in case.activities)
    enc = Encoding.fit(cases, burst=True)
    top = sorted(frequency, key=lambda a: (-frequency[a], a))[:MAX_COUNTED]
    assert enc.counted == sorted(top) and enc.burst_activities is not None
    assert len(enc.burst_activities) <= MAX_COUNTED and set(enc.burst_activities) <= set(frequency)
    assert enc.n_plain == enc.last_activities + MAX_COUNTED + 6 + len(enc.burst_activities) + 2
    again = Encoding.from_json(enc.to_json())
    assert again.counted == enc.counted and again.n_plain == enc.n_plain
    # every row's count and burst columns, against counting by hand
    case = cases[0]
    rows = enc.encode_case(case)
    start = enc.last_activities
    burst = start + MAX_COUNTED + 6
    for k in range(1, len(case) + 1):
        seen = Counter(case.activities[:k])
        assert rows[k - 1, start : start + MAX_COUNTED].tolist() == [seen[a] for a in enc.counted]
        moment = case.timestamps[k - 1]
        now = Counter(a for a, t in zip(case.activities[:k], case.timestamps[:k], strict=True) if t == moment)
        in_burst = [now[a] for a in enc.burst_activities]
        assert rows[k - 1, burst : burst + len(enc.burst_activities)].tolist() == in_burst
    assert np.array_equal(again.encode_case(case), rows, equal_nan=True)


def _random_case(rng: np.random.Generator, n: int, activities: list[str], performers: list[str] | None) -> Case:
    # ties (bursts) often, unknown activities sometimes, performers or none
    gaps = rng.choice([0.0, 0.0, 1.5, 60.0, 86_400.0], size=n)
    times = tuple(float(t) for t in 1.3e9 + np.cumsum(gaps))
    acts = tuple(str(a) for a in rng.choice([*activities, "never seen"], size=n))
    res = tuple(str(r) for r in rng.choice(performers, size=n)) if performers else None
    return Case("c", acts, times, res)


def test_the_last_row_alone_is_the_last_row_of_every_prefix() -> None:
    rng = np.random.default_rng(17)
    for width in (1, 3, 60):  # 60: more activities than get count columns
        activities = [f"a{i}" for i in range(width)]
        for performers in (None, ["ann", "bob"]):
            cases = [_random_case(rng, int(rng.integers(1, 40)), activities, performers) for _ in range(300)]
            for burst in (False, True):
                enc = Encoding.fit(cases, burst=burst)
                assert not burst or enc.burst_activities  # the burst block is really there
                for case in cases[:20]:
                    rows = enc.encode_case(case)
                    for k in range(1, len(case) + 1):
                        res = case.resources[:k] if case.resources is not None else None
                        last = enc.encode_last(case.activities[:k], case.timestamps[:k], res)
                        assert np.array_equal(last, rows[k - 1 : k], equal_nan=True), (width, burst, k)



def test_canonical_windows_are_canonical_positions_for_every_prefix() -> None:
    rng = random.Random(1)
    for _ in range(1500):
        n, tail = rng.randint(0, 30), rng.choice([0, 1, 2, 3, 6])
        same = rng.choice([0.0, 0.5, 0.9, 1.0])  # how often an event shares the instant of the one before
        times, t = [], 0.0
        for _ in range(n):
            t += 0.0 if rng.random() < same else rng.choice([60.0, -60.0])  # out of order too: runs are by equality
            times.append(t)
        ids = [rng.randrange(rng.choice([1, 3, 10])) for _ in range(n)]
        expected = [canonical_positions(times, ids, k, tail) for k in range(1, n + 1)]
        assert list(canonical_windows(times, ids, tail)) == expected
