from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pytest

from casework.insight.embeddings import (
    EmbeddingSimilarCases,
    chunks,
    embed_texts,
    embeddings_available,
    install_hint,
)
from casework.insight.similar import ClosedCase, OpenCase

# The real model is an optional extra. CI installs it and sets CASEWORK_REQUIRE_EMBEDDINGS=1, so that a missing
# install fails there instead of skipping silently.
REQUIRED = os.environ.get("CASEWORK_REQUIRE_EMBEDDINGS") == "1"
needs_model = pytest.mark.skipif(
    not embeddings_available() and not REQUIRED,
    reason=f"optional extra not installed: {install_hint()} (set CASEWORK_REQUIRE_EMBEDDINGS=1 to make this a failure)",
)


class BagOfTopics:
    """A fake encoder: one dimension per topic word, so meaning-level matches are predictable without a model."""

    TOPICS = ("water", "crash", "theft", "storm")
    SYNONYMS: ClassVar[dict[str, str]] = {
        "flood": "water", "pipe": "water", "collision": "crash", "stolen": "theft", "hail": "storm"
    }

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), len(self.TOPICS)))
        for r, text in enumerate(texts):
            for word in text.lower().split():
                topic = self.SYNONYMS.get(word, word)
                if topic in self.TOPICS:
                    rows[r, self.TOPICS.index(topic)] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        normalised: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        return normalised


CLOSED = [
    ClosedCase("water", "burst pipe water in the kitchen", ("Register claim", "Assess damage"), "paid", 10.0),
    ClosedCase("crash", "crash at the junction", ("Register claim", "Fraud check"), "rejected", 30.0),
    ClosedCase("theft", "car theft overnight", ("Register claim", "Review police report"), "paid", 20.0),
]


def test_meaning_finds_a_neighbour_that_shares_no_word() -> None:
    index = EmbeddingSimilarCases(BagOfTopics(), path_weight=0.0).fit(CLOSED)
    (top, *_) = index.query(OpenCase("o", "collision"), k=3)
    assert top.case_id == "crash" and top.score == pytest.approx(1.0)
    assert top.why[0] == "similar in meaning (1.00)"
    assert (top.outcome, top.duration_days) == ("rejected", 30.0)


def test_a_fitted_case_asked_about_is_not_its_own_match() -> None:
    index = EmbeddingSimilarCases(BagOfTopics(), path_weight=0.0).fit(CLOSED)
    water = CLOSED[0]
    assert "water" not in [m.case_id for m in index.query(OpenCase("water", water.text, water.path), k=3)]
    assert index.query(OpenCase("o", water.text, water.path), k=3)[0].case_id == "water"


def test_path_weight_blends_in_the_path() -> None:
    index = EmbeddingSimilarCases(BagOfTopics(), path_weight=0.5).fit(CLOSED)
    matches = index.query(OpenCase("o", "flood", ("Register claim", "Fraud check")), k=3)
    scores = {m.case_id: m.score for m in matches}
    # water: meaning 1, path shares one common step; crash: meaning 0, path identical.
    assert scores["water"] > scores["crash"] > scores["theft"] > 0
    assert "path: Register claim → Fraud check" in next(m for m in matches if m.case_id == "crash").why


def test_long_texts_are_chunked_and_averaged() -> None:
    encoder = BagOfTopics()
    text = " ".join(["water"] * 5 + ["crash"] * 5)
    vectors = embed_texts(encoder, [text, ""], chunk_words=5)
    assert encoder.calls == [["water water water water water", "crash crash crash crash crash"]]
    assert vectors[0] == pytest.approx(np.array([1, 1, 0, 0]) / np.sqrt(2))
    assert not vectors[1].any()
    assert chunks("a b c", 2) == ["a b", "c"] and chunks("", 2) == []


def test_invalid_weight_and_empty_index() -> None:
    with pytest.raises(ValueError, match="path_weight"):
        EmbeddingSimilarCases(BagOfTopics(), path_weight=2.0)
    assert EmbeddingSimilarCases(BagOfTopics()).fit([]).query(OpenCase("o", "water")) == []


@needs_model
def test_packaged_model_ranks_by_meaning() -> None:
    closed = [
        ClosedCase("water", "A burst pipe flooded the kitchen and soaked the floor.", (), "paid", 12.0),
        ClosedCase("crash", "Rear-end collision on the motorway; the driver hurt his neck.", (), "rejected", 40.0),
        ClosedCase("theft", "The car was stolen from the driveway during the night.", (), "paid", 20.0),
    ]
    index = EmbeddingSimilarCases(path_weight=0.0).fit(closed)
    # No content word in common with the crash case: only meaning can find it.
    matches = index.query(OpenCase("o", "Vehicle accident on the highway, whiplash injury."), k=3)
    assert matches[0].case_id == "crash"
    assert matches[0].score > matches[1].score
    vectors = embed_texts(index.encoder, ["hello world"])
    assert vectors.shape == (1, 384)
    assert float(np.linalg.norm(vectors[0])) == pytest.approx(1.0)
