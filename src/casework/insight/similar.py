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
from scipy import sparse

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
    # compared by path alone: a case an imported log stored, which has no data, notes or documents (`similar_path`)
    path_alone: bool = False


class CaseSimilarity(Protocol):
    """What both the lexical and the embedding method offer."""

    def fit(self, closed: Iterable[ClosedCase]) -> CaseSimilarity: ...

    def query(self, case: OpenCase, k: int = 5) -> list[Match]: ...

    def path_alone_share(self, case: OpenCase, path_norm: float) -> float:
        """What a closed case with a path and no content scores against ``case`` under this method, as a share of
        its path similarity (`similar_path.merged`); ``path_norm``: the weight of the case's path in the path-alone
        comparison."""
        ...


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
    # ">" joins the two steps of a pair token: escaped in a name, so "Check A>B" stays one step
    return "_".join(activity.lower().split()).replace("%", "%25").replace(">", "%3E")


def readable(term: str, names: Mapping[str, str]) -> str:
    """A term as a person reads it: path tokens with the activity names restored."""
    if not term.startswith(PATH_PREFIX):
        return term
    body = term.removeprefix(PATH_PREFIX)
    return "path: " + " → ".join(names.get(part, part) for part in body.split(">"))


class SimilarCases:
    """Lexical similar-case search: TF-IDF (sublinear tf, smoothed idf, L2-normalised) with cosine similarity.

    The case-term matrix is sparse (scipy CSR): a case uses a few hundred of the corpus's terms, and the dense matrix
    it replaced took 4.9 GB for 10,000 cases over 30,000 terms.
    """

    def __init__(self, *, path_weight: float = 1.0, why_terms: int = 5) -> None:
        self.path_weight = path_weight  # weight of path tokens relative to words
        self.why_terms = why_terms
        self._cases: list[ClosedCase] = []
        self._positions: dict[str, list[int]] = {}  # case id -> where it was fitted
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._idf = np.zeros(0)
        self._weights = np.zeros(0)  # idf x (path_weight for path terms, else 1), per term
        self._matrix = sparse.csr_matrix((0, 0))
        self._names: dict[str, str] = {}
        self._everywhere = np.zeros(0, dtype=bool)  # per term: every fitted case has it

    def fit(self, closed: Iterable[ClosedCase]) -> SimilarCases:
        self._cases = list(closed)
        self._positions = {}
        for i, case in enumerate(self._cases):
            self._positions.setdefault(case.case_id, []).append(i)
        # Cases alike are counted and weighed once: an imported log's cases, compared by their first steps alone
        # (`similar_path`), repeat each other (5,000 bpic12 cases by 5 steps and who took them: 1,708 distinct).
        distinct: dict[tuple[str, tuple[str, ...]], Counter[str]] = {}
        for case in self._cases:
            if (case.text, case.path) not in distinct:
                distinct[case.text, case.path] = self._counts(case.text, case.path)
                self._names.update({_step(a): a for a in case.path})
        counts = [distinct[c.text, c.path] for c in self._cases]
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
        # A term every case has (a data field's name, the step every case starts with) tells none of them apart:
        # it still counts in the score as TF-IDF has it, but is no reason why one case is like another.
        self._everywhere = np.array([n > 1 and df[term] == n for term in self._terms], dtype=bool)
        path_term = np.array([term.startswith(PATH_PREFIX) for term in self._terms], dtype=bool)
        self._weights = idf * np.where(path_term, self.path_weight, 1.0)
        weighed = {id(c): self._row(c) for c in distinct.values()}
        rows = [weighed[id(c)] for c in counts]
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(cols) for cols, _ in rows])
        cols = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
        vals = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
        self._matrix = sparse.csr_matrix((vals, cols, indptr), shape=(n, len(self._vocab)))
        return self

    def query(self, case: OpenCase, k: int = 5) -> list[Match]:
        """Up to ``k`` closed cases with a positive similarity, best first (ties in the order fitted), each sharing
        something with the case that not every closed case has (a case type's field names are in every case's data:
        alone they made a case with next to no data look a third like every other, "because" of them)."""
        if not self._cases or k <= 0:
            return []
        cols, vals = self._row(self._counts(case.text, case.path))
        # A case that shares only what every case has is no more like this one than any other: the score is summed
        # from the two parts, so that which cases share a telling term costs no second pass over the matrix.
        common = self._everywhere[cols]
        telling = self._scores(cols[~common], vals[~common])
        scores = telling + self._scores(cols[common], vals[common]) if common.any() else telling
        positive = np.flatnonzero((scores > 1e-12) & (telling > 0))
        # A case asked about among the fitted ones (a closed case: which are like it?) is not its own best match.
        own = self._positions.get(case.case_id)
        if own:
            positive = positive[~np.isin(positive, own)]
        if len(positive) > k:  # only the best k need sorting
            cut = -np.partition(-scores[positive], k - 1)[k - 1]
            positive = positive[scores[positive] >= cut]
        order = sorted(positive.tolist(), key=lambda i: (-scores[i], i))
        names = {**self._names, **{_step(a): a for a in case.path}}
        out = []
        for i in order[:k]:
            c = self._cases[i]
            why = self._why(i, cols, vals, names)
            out.append(Match(c.case_id, round(float(scores[i]), 6), c.outcome, c.duration_days, why))
        return out

    def similarities(self, case: OpenCase) -> np.ndarray:
        """Cosine similarity of ``case`` to every fitted case, in the order they were fitted."""
        if not self._cases:
            return np.zeros(0)
        return self._scores(*self._row(self._counts(case.text, case.path)))

    def why(self, case: OpenCase, index: int) -> tuple[str, ...]:
        """The weightiest terms ``case`` shares with the fitted case at ``index``."""
        names = {**self._names, **{_step(a): a for a in case.path}}
        return self._why(index, *self._row(self._counts(case.text, case.path)), names)

    def path_alone_share(self, case: OpenCase, path_norm: float) -> float:
        """The cosine of ``case`` with a case holding nothing but a path, as a share of the two paths' cosine: the
        weight of its path over the weight of all of it (its words as weighted here, its path as ``path_norm``
        gives it). A case with no words any fitted case has gets 1: its path is all there is to compare."""
        _, vals = self._weighted(self._counts(case.text, ()))
        words = float(np.linalg.norm(vals))
        return path_norm / math.hypot(path_norm, words) if path_norm > 0 else 0.0

    def weight(self, case: OpenCase) -> float:
        """The norm of ``case``'s term weights before normalising, over the terms the fitted cases know."""
        return float(np.linalg.norm(self._weighted(self._counts(case.text, case.path))[1]))

    @property
    def cases(self) -> list[ClosedCase]:
        return list(self._cases)

    # -- internals ----------------------------------------------------------------------------------------------
    def _counts(self, text: str, path: Sequence[str]) -> Counter[str]:
        return Counter(text_tokens(text)) + Counter(path_tokens(path))

    def _row(self, counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        """(term indices ascending, L2-normalised weights) of a case's terms; terms no closed case has are left out:
        they cannot make two cases similar."""
        cols, vals = self._weighted(counts)
        norm = float(np.linalg.norm(vals))
        return cols, (vals / norm if norm > 0 else vals)

    def _weighted(self, counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        known = sorted((i, count) for term, count in counts.items() if (i := self._vocab.get(term)) is not None)
        cols = np.array([i for i, _ in known], dtype=np.int64)
        vals = (1.0 + np.log(np.array([c for _, c in known], dtype=float))) * self._weights[cols]
        return cols, vals

    def _scores(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        query = sparse.csr_matrix((vals, cols, [0, len(cols)]), shape=(1, len(self._vocab)))
        return np.asarray((self._matrix @ query.T).toarray()).ravel()

    def _why(self, index: int, cols: np.ndarray, vals: np.ndarray, names: Mapping[str, str]) -> tuple[str, ...]:
        lo, hi = self._matrix.indptr[index], self._matrix.indptr[index + 1]
        row_cols, row_vals = self._matrix.indices[lo:hi], self._matrix.data[lo:hi]
        shared, in_row, in_query = np.intersect1d(row_cols, cols, assume_unique=True, return_indices=True)
        contribution = row_vals[in_row] * vals[in_query]
        top = sorted((j for j in range(len(shared)) if contribution[j] > 0 and not self._everywhere[shared[j]]),
                     key=lambda j: (-contribution[j], int(shared[j])))
        return tuple(readable(self._terms[int(shared[j])], names) for j in top[: self.why_terms])
