"""Similar cases: the closed cases closest to an open one, with their outcomes and durations.

The default method is lexical: TF-IDF over the words of the case's data, notes and documents, plus its path so far
as activity tokens (each step and each pair of consecutive steps), compared by cosine similarity. It needs nothing
beyond numpy, is deterministic, and can say *why* two cases are close: the terms that weigh most in both.
``casework.insight.embeddings`` offers the same interface on sentence embeddings as an optional extra.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np

from casework.engine import CaseState
from casework.insight.flags import case_path
from casework.model.timers import TimerError, parse_datetime

__all__ = [
    "PATH_PREFIX",
    "CaseSimilarity",
    "ClosedCase",
    "Match",
    "OpenCase",
    "SimilarCases",
    "case_text",
    "from_state",
    "open_case",
    "path_tokens",
    "text_tokens",
]

PATH_PREFIX: Final = "path:"
_WORD_RE: Final = re.compile(r"[^\W_]+", re.UNICODE)
# Words that carry no meaning about a case; a short list on purpose, IDF discounts the other common words.
_STOPWORDS: Final = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has", "have", "he",
        "her", "his", "i", "in", "is", "it", "its", "of", "on", "or", "our", "she", "that", "the", "their", "them",
        "there", "they", "this", "to", "was", "we", "were", "which", "who", "will", "with", "you", "your", "not",
        "no", "yes", "none", "null", "true", "false",
    }
)


@dataclass(frozen=True)
class ClosedCase:
    case_id: str
    text: str  # its data, notes and documents as text (see case_text)
    path: tuple[str, ...]  # the activities it went through, in order
    outcome: str
    duration_days: float


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    text: str
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    case_id: str
    score: float  # cosine similarity in [0, 1]
    outcome: str
    duration_days: float
    why: tuple[str, ...]  # what the two cases share that weighs most, readable ("path: A → B", "whiplash")


class CaseSimilarity(Protocol):
    """What both the lexical and the embedding method offer."""

    def fit(self, closed: Iterable[ClosedCase]) -> CaseSimilarity: ...

    def query(self, case: OpenCase, k: int = 5) -> list[Match]: ...


def from_state(
    state: CaseState,
    *,
    notes: Iterable[str] = (),
    documents: Iterable[str] = (),
    outcome: str | None = None,
    exclude: Iterable[str] = (),
) -> ClosedCase:
    """A closed case from an engine state; ``outcome`` defaults to the case status (completed, terminated)."""
    activities, _ = case_path(state)
    start, end = _moment(state.created_at), _moment(state.ended_at)
    days = (end - start).total_seconds() / 86400.0 if start and end else 0.0
    text = case_text(state.variables, notes, documents, exclude=exclude)
    return ClosedCase(state.case_id, text, tuple(activities), outcome or state.status, days)


def open_case(state: CaseState, *, notes: Iterable[str] = (), documents: Iterable[str] = ()) -> OpenCase:
    activities, _ = case_path(state)
    return OpenCase(state.case_id, case_text(state.variables, notes, documents), tuple(activities))


def _moment(text: str | None) -> dt.datetime | None:
    try:
        return parse_datetime(text) if text else None
    except (TimerError, ValueError):
        return None


def case_text(
    variables: Mapping[str, Any],
    notes: Iterable[str] = (),
    documents: Iterable[str] = (),
    *,
    exclude: Iterable[str] = (),
) -> str:
    """One text for a case: its data as "name: value" lines (nested values flattened), then notes and documents."""
    skip = set(exclude)
    lines = [f"{name}: {_flat(value)}" for name, value in sorted(variables.items()) if name not in skip]
    return "\n".join([*lines, *notes, *documents])


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(f"{k} {_flat(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    if isinstance(value, list | tuple):
        return " ".join(_flat(v) for v in value)
    return str(value)


def text_tokens(text: str) -> list[str]:
    """Lower-case words, without stop words, one-letter words and short numbers (amounts rarely match exactly)."""
    out = []
    for word in _WORD_RE.findall(text.lower()):
        if len(word) < 2 or word in _STOPWORDS or (word.isdigit() and len(word) < 5):
            continue
        out.append(word)
    return out


def path_tokens(path: Sequence[str]) -> list[str]:
    """Each step and each pair of consecutive steps, so both what happened and in which order count."""
    steps = [_step(a) for a in path]
    tokens = [f"{PATH_PREFIX}{s}" for s in steps]
    tokens += [f"{PATH_PREFIX}{a}>{b}" for a, b in itertools.pairwise(steps)]
    return tokens


def _step(activity: str) -> str:
    return "_".join(activity.lower().split())


def readable(term: str, names: Mapping[str, str]) -> str:
    """A term as a person reads it: path tokens with the activity names restored."""
    if not term.startswith(PATH_PREFIX):
        return term
    body = term.removeprefix(PATH_PREFIX)
    return "path: " + " → ".join(names.get(part, part) for part in body.split(">"))


class SimilarCases:
    """Lexical similar-case search: TF-IDF (sublinear tf, smoothed idf, L2-normalised) with cosine similarity."""

    def __init__(self, *, path_weight: float = 1.0, why_terms: int = 5) -> None:
        self.path_weight = path_weight  # weight of path tokens relative to words
        self.why_terms = why_terms
        self._cases: list[ClosedCase] = []
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._idf = np.zeros(0)
        self._matrix = np.zeros((0, 0))
        self._names: dict[str, str] = {}

    def fit(self, closed: Iterable[ClosedCase]) -> SimilarCases:
        self._cases = list(closed)
        counts = [self._counts(c.text, c.path) for c in self._cases]
        for case in self._cases:
            self._names.update({_step(a): a for a in case.path})
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        self._terms = sorted(df)
        self._vocab = {term: i for i, term in enumerate(self._terms)}
        n = len(self._cases)
        idf = np.zeros(len(self._vocab))
        for term, i in self._vocab.items():
            idf[i] = math.log((1 + n) / (1 + df[term])) + 1.0
        self._idf = idf
        self._matrix = np.vstack([self._vector(c) for c in counts]) if counts else np.zeros((0, len(self._vocab)))
        return self

    def query(self, case: OpenCase, k: int = 5) -> list[Match]:
        """Up to ``k`` closed cases with a positive similarity, best first (ties broken by case id)."""
        if not self._cases or k <= 0:
            return []
        vector = self._vector(self._counts(case.text, case.path))
        scores = self._matrix @ vector
        order = sorted((i for i in range(len(self._cases)) if scores[i] > 1e-12), key=lambda i: (-scores[i], i))
        names = {**self._names, **{_step(a): a for a in case.path}}
        out = []
        for i in order[:k]:
            c = self._cases[i]
            why = self._why(self._matrix[i], vector, names)
            out.append(Match(c.case_id, round(float(scores[i]), 6), c.outcome, c.duration_days, why))
        return out

    def similarities(self, case: OpenCase) -> np.ndarray:
        """Cosine similarity of ``case`` to every fitted case, in the order they were fitted."""
        if not self._cases:
            return np.zeros(0)
        return np.asarray(self._matrix @ self._vector(self._counts(case.text, case.path)))

    def why(self, case: OpenCase, index: int) -> tuple[str, ...]:
        """The weightiest terms ``case`` shares with the fitted case at ``index``."""
        names = {**self._names, **{_step(a): a for a in case.path}}
        return self._why(self._matrix[index], self._vector(self._counts(case.text, case.path)), names)

    @property
    def cases(self) -> list[ClosedCase]:
        return list(self._cases)

    # -- internals ----------------------------------------------------------------------------------------------
    def _counts(self, text: str, path: Sequence[str]) -> Counter[str]:
        return Counter(text_tokens(text)) + Counter(path_tokens(path))

    def _vector(self, counts: Counter[str]) -> np.ndarray:
        v = np.zeros(len(self._vocab))
        for term, count in counts.items():
            i = self._vocab.get(term)
            if i is None:
                continue  # a term no closed case has cannot make two cases similar
            weight = self.path_weight if term.startswith(PATH_PREFIX) else 1.0
            v[i] = (1.0 + math.log(count)) * self._idf[i] * weight
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v

    def _why(self, a: np.ndarray, b: np.ndarray, names: Mapping[str, str]) -> tuple[str, ...]:
        contribution = a * b
        top = sorted(np.flatnonzero(contribution > 0), key=lambda i: (-contribution[i], i))
        return tuple(readable(self._terms[i], names) for i in top[: self.why_terms])
