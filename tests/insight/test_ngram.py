from __future__ import annotations

import json

import numpy as np
import pytest

from casework.insight import ngram
from casework.insight.ngram import NGramCounts, ResourceNGram

# classes A=0 B=1 C=2 end=3. After A, ann's cases go on with B, bob's with C: only who did A tells them apart.
A, B, C, END = 0, 1, 2, 3
ANN, BOB = 0, 1


def _fitted(depth: int = 2) -> ResourceNGram:
    sequences = [([A, B], [ANN, ANN])] * 6 + [([A, C], [BOB, BOB])] * 4
    base = NGramCounts(n_classes=4, max_order=3).fit((ids for ids, _ in sequences), end_class=END)
    return ResourceNGram(base, ["ann", "bob"], activity_order=2, depth=depth).fit(sequences, end_class=END)


def test_the_performer_decides_where_the_plain_ngram_cannot() -> None:
    model = _fitted()
    plain = model.base.predict([A], order=2, alpha=1.0)
    assert plain.argmax() == B and plain[B] < 0.7  # the plain n-gram only knows that B is more common
    for who, expected in ((ANN, B), (BOB, C)):
        p = model.predict([A], [who], order=2, alpha=1.0, depth=1)
        assert p.argmax() == expected and p[expected] > 0.85
        assert p.sum() == pytest.approx(1.0)
    # exactly: the resource context (A by bob: C four times) over the plain order-2 distribution
    assert model.predict([A], [BOB], 2, 1.0, 1) == pytest.approx((np.array([0, 0, 4, 0]) + plain) / 5)


def test_an_unknown_performer_or_order_zero_is_the_plain_ngram() -> None:
    model = _fitted()
    (unknown,) = model.resource_ids(["carol"], 1)
    for order in (0, 1, 2, 3):
        assert model.predict([A], [unknown], order, 1.0, 2) == pytest.approx(model.base.predict([A], order, 1.0))
    assert model.resource_ids(None, 2) == [unknown, unknown]
    assert model.predict([A], [ANN], 0, 1.0, 2) == pytest.approx(model.base.predict([A], 0, 1.0))


def test_batch_is_one_by_one_for_every_order_alpha_and_depth() -> None:
    model = _fitted()
    contexts = [[A], [A, B], [A, C], [B], [A]]
    performers = [[ANN], [ANN, ANN], [BOB, BOB], [BOB], [model.resource_ids(["nobody"], 1)[0]]]
    for depth in (1, 2):
        batch = model.predict_batch(contexts, performers, 3, [0.5, 2.0], depth)[depth]
        for alpha in (0.5, 2.0):
            for order in range(4):
                for row, (ids, rids) in enumerate(zip(contexts, performers, strict=True)):
                    one = model.predict(ids, rids, order, alpha, depth)
                    assert batch[alpha][order][row] == pytest.approx(one)


def test_many_prefixes_at_once_are_one_by_one_exactly() -> None:
    # scoring a test part: every prefix's distribution of the chosen order and smoothing, plain and by performer
    model = _fitted()
    unknown = model.resource_ids(["nobody"], 1)[0]
    contexts = [[], [A], [A, B], [A, C], [B], [A], [C, A, B, A]]
    performers = [[], [ANN], [ANN, ANN], [BOB, BOB], [BOB], [unknown], [BOB, ANN]]
    for order in range(4):
        for alpha in (0.1, 2.0):
            plain = model.base.predict_many(contexts, order, alpha)
            assert plain.shape == (len(contexts), 4)
            for row, ids in enumerate(contexts):
                assert np.array_equal(plain[row], model.base.predict(ids, order, alpha))
            for depth in (1, 2, 3):  # 3: deeper than the model, as deep as it goes
                many = model.predict_many(contexts, performers, order, alpha, depth)
                for row, (ids, rids) in enumerate(zip(contexts, performers, strict=True)):
                    assert np.array_equal(many[row], model.predict(ids, rids, order, alpha, depth))


def test_many_prefixes_are_scored_in_parts_with_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fitted()
    contexts = [[A], [A, B], [A, C], [B], [C, A]] * 3
    performers = [[ANN], [ANN, BOB], [BOB, BOB], [BOB], [ANN, ANN]] * 3
    whole = model.predict_many(contexts, performers, 2, 1.0, 2)
    monkeypatch.setattr(ngram, "PART", 4)
    assert np.array_equal(model.predict_many(contexts, performers, 2, 1.0, 2), whole)


def test_evidence_names_the_performer_context_first_then_backs_off() -> None:
    model = _fitted()
    # (activity context length, count, total, performers in the context); length 2 for one event: "starts with A"
    assert model.evidence([A], [BOB], C, order=2, depth=2) == (2, 4, 4, 2)
    assert model.evidence([A], [BOB], C, order=2, depth=1) == (2, 4, 4, 1)
    # bob never went on with B: the plain context (cases starting with A) is the evidence
    assert model.evidence([A], [BOB], B, order=2, depth=2) == (2, 6, 10, 0)


def test_json_round_trip_keeps_every_count() -> None:
    model = _fitted()
    text = json.dumps(model.to_json())
    loaded = ResourceNGram.from_json(json.loads(text), model.base)
    assert loaded.resources == model.resources and loaded.depth == model.depth
    assert set(loaded.tables) == set(model.tables)
    for key, table in model.tables.items():
        assert loaded.tables[key] == pytest.approx(table)
    assert loaded.predict([A, C], [BOB, BOB], 3, 1.0, 2) == pytest.approx(model.predict([A, C], [BOB, BOB], 3, 1.0, 2))


def _random_cases(seed: int, n: int = 60) -> list[tuple[list[int], list[int]]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.integers(0, 3, size=length).tolist(), rng.integers(0, 2, size=length).tolist())
        for length in rng.integers(1, 9, size=n)
    ]


def _same_tables(a: dict[tuple[int, ...], np.ndarray], b: dict[tuple[int, ...], np.ndarray]) -> bool:
    return list(a) == list(b) and all(np.array_equal(a[key], b[key]) for key in a)


def test_fitting_counts_as_adding_each_prefix_and_adds_up_over_parts() -> None:
    cases = _random_cases(3)
    one_by_one = NGramCounts(n_classes=4, max_order=3)
    by_resource = ResourceNGram(one_by_one, ["ann", "bob"], activity_order=2, depth=2)
    for ids, rids in cases:
        for k in range(1, len(ids) + 1):
            one_by_one.add(ids[:k], ids[k] if k < len(ids) else END)
            by_resource.add(ids[:k], rids[:k], ids[k] if k < len(ids) else END)
    fitted = NGramCounts(n_classes=4, max_order=3).fit((ids for ids, _ in cases), end_class=END)
    assert _same_tables(fitted.tables, one_by_one.tables) and np.array_equal(fitted.unigram, one_by_one.unigram)
    # counts add up: the first part, copied, plus the rest is the whole (tables in the same order too)
    first = NGramCounts(n_classes=4, max_order=3).fit((ids for ids, _ in cases[:25]), end_class=END)
    whole = first.copy().fit((ids for ids, _ in cases[25:]), end_class=END)
    assert _same_tables(whole.tables, fitted.tables) and np.array_equal(whole.unigram, fitted.unigram)
    assert sum(t.sum() for t in first.tables.values()) < sum(t.sum() for t in whole.tables.values())
    resource = ResourceNGram(fitted, ["ann", "bob"], activity_order=2, depth=2).fit(cases, end_class=END)
    assert _same_tables(resource.tables, by_resource.tables)


def test_batches_in_parts_and_in_float32_are_the_float64_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ResourceNGram(
        NGramCounts(n_classes=4, max_order=3).fit((ids for ids, _ in _random_cases(4)), end_class=END),
        ["ann", "bob"],
    ).fit(_random_cases(4), end_class=END)
    probe = _random_cases(5, n=20)
    contexts, performers = [ids for ids, _ in probe], [rids for _, rids in probe]
    whole = model.predict_batch(contexts, performers, 3, [0.5, 2.0], 2)
    monkeypatch.setattr(ngram, "PART", 3)  # many parts, the last one short
    parts = model.predict_batch(contexts, performers, 3, [0.5, 2.0], 2)
    narrow = model.predict_batch(contexts, performers, 3, [0.5, 2.0], 2, np.float32)
    plain = model.base.predict_batch(contexts, 3, [0.5, 2.0])
    for depth in (0, 1, 2):
        for alpha in (0.5, 2.0):
            for order in range(4):
                assert np.array_equal(parts[depth][alpha][order], whole[depth][alpha][order])
                assert narrow[depth][alpha][order].dtype == np.float32
                assert np.array_equal(narrow[depth][alpha][order], whole[depth][alpha][order].astype(np.float32))
                if depth == 0:
                    assert np.array_equal(whole[0][alpha][order], plain[alpha][order])


def test_the_counts_are_the_same_whatever_the_number_of_classes() -> None:
    # The same 12,000 prefixes over 19 activities counted into tables of 20 and of 400 classes (a wide log's width:
    # the tables are built in one pass over all contexts, whatever their width); what it costs is measured by
    # `bench/insight_scaling.py`, not here.
    rng = np.random.default_rng(2)
    sequences = [list(rng.integers(0, 19, size=20)) for _ in range(600)]
    small, large = NGramCounts(20, 6).fit(sequences, 19), NGramCounts(400, 6).fit(sequences, 19)
    assert list(small.tables) == list(large.tables)
    assert all(np.array_equal(small.tables[k], large.tables[k][:20]) for k in small.tables)


def test_tables_hold_only_the_classes_that_followed_each_context() -> None:
    # The same prefixes counted into 20 and into 10,000 classes (a log with thousands of activities): the tables
    # hold one entry per (context, class) seen, so their arrays are as large in both; dense tables per context were
    # 500 times larger in the wide one.
    rng = np.random.default_rng(8)
    sequences = [list(rng.integers(0, 19, size=6)) for _ in range(20)]
    small, wide = NGramCounts(20, 6).fit(sequences, 19), NGramCounts(10_000, 6).fit(sequences, 19)
    pairs = {(key, int(c)) for key in small.tables for c in np.nonzero(small.tables[key])[0]}
    assert len(small.tables.counts) == len(pairs) == len(wide.tables.counts)
    assert wide.tables.nbytes == small.tables.nbytes
    for key in small.tables:
        assert np.array_equal(small.tables[key], wide.tables[key][:20]) and not wide.tables[key][20:].any()


def _dense_predict(model: NGramCounts, ids: list[int], order: int, alpha: float) -> np.ndarray:
    """The n-gram's formula over dense tables, as the counts were kept before."""
    p = (model.unigram + 1.0) / (model.unigram.sum() + model.n_classes)
    for j in range(1, min(order, len(ids) + 1) + 1):
        table = model.tables.get(model.context(ids, j))
        if table is not None:
            p = (table + alpha * p) / (table.sum() + alpha)
    return p


def test_sparse_tables_predict_exactly_what_dense_tables_did() -> None:
    model = NGramCounts(n_classes=4, max_order=3).fit((ids for ids, _ in _random_cases(6)), end_class=END)
    probe = [ids for ids, _ in _random_cases(7, n=30)] + [[]]
    batch = model.predict_batch(probe, 3, [0.1, 2.0])
    for alpha in (0.1, 2.0):
        for order in range(4):
            for row, ids in enumerate(probe):
                dense = _dense_predict(model, ids, order, alpha)
                assert np.array_equal(model.predict(ids, order, alpha), dense)
                assert np.array_equal(batch[alpha][order][row], dense)
