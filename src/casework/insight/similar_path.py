"""Similar cases by path alone: the closed cases an imported log stored (`casework import-log`), which have no data,
notes or documents, compared with an open case by the steps it has taken so far and who took them.

Where the two meet. A log's activities are mapped onto the case's plan as the advisor maps what it learned from a log:
an activity is the item that bears its name (`flags.plan_step_names`). Both paths are read over the steps the two
share, the plan's item names that are also activities of the log: a log step the plan has no item for can never be on
the open case's path, and a plan step the log never names can never be on an imported case's, so either would only
make every pair less alike. A log that shares no name with the plan is not compared (`PathSimilarCases.matched`):
ranking its cases would be ranking noise.

How. The open case has taken n of the shared steps so far; each imported case is compared by its first n of them,
as it stood at the same point: its later steps are what the open case has not reached yet, and would count against
every case that went on. The comparison is the lexical method's own (`similar.SimilarCases`): TF-IDF over the steps
and pairs of consecutive steps of those prefixes, and who performed each step (the step and the performer together)
where the log names performers, by cosine similarity. Not an edit distance over the step sequences: IDF weighs a
rare shared step (a fraud check) above the step every case starts with, which an edit distance counts alike; a case
sharing only what every imported case has at that point is no match (the lexical method's rule), so the first step
alone finds nothing instead of thousands of equal matches; the pairs keep the order of the steps; the shared terms
say why; and one sparse product scores 5,000 cases.

Ranking with the others. A content case keeps its method's score. A path-alone case gets what the same method gives a
case holding that path and nothing else (`CaseSimilarity.path_alone_share`): for the lexical method, the cosine of
the open case's whole vector (its words and its path) with that path. Where the open case has words some closed case
shares, a match on words and path can go before a match on path alone; where it has none, the path is all there is,
and a path-alone score is the paths' cosine. For embeddings, the blend's path weight (a case without text has no
meaning). The two lists are merged by that score (`merged`), content first on a tie.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from casework.insight.similar import CaseSimilarity, ClosedCase, Match, OpenCase, SimilarCases, path_tokens
from casework.store.records import ImportedStep

__all__ = ["BY", "ImportedCase", "PathResult", "PathSimilarCases", "imported_case", "merged"]

BY: Final = " by "  # a performer's term is the step, this and the performer ("Fraud check by bob" in "why")


@dataclass(frozen=True)
class ImportedCase:
    case_id: str
    path: tuple[str, ...]  # the log's activities, in time order
    performers: tuple[str | None, ...]  # who performed each step (None: the log names nobody)
    outcome: str
    duration_days: float


def imported_case(case_id: str, status: str, steps: Sequence[ImportedStep]) -> ImportedCase:
    """An imported case from its stored rows: its outcome is its status after its last activity, as for a case run
    here, and its duration runs from its first row to its last. Those are the case row's start and last change too
    (`importlog`), but casework before that stamped both with the time of the import: the rows keep the log's times."""
    path = tuple(s.activity for s in steps)
    # the import stores a case's rows in time order (`importlog.by_time`), each time as its UTC `isoformat()`
    days = ((datetime.fromisoformat(steps[-1].at) - datetime.fromisoformat(steps[0].at)).total_seconds() / 86400.0
            if steps else 0.0)
    outcome = f"{status} after {path[-1]}" if path else status
    return ImportedCase(case_id, path, tuple(s.resource for s in steps), outcome, days)


@dataclass(frozen=True)
class PathResult:
    matches: list[Match]  # scored by the paths' cosine alone (`merged` scales them)
    weight: float  # the norm of the open case's path terms as weighted here (0: nothing to compare)
    steps: int  # how many shared steps the open case has taken: each imported case is compared by as many


class _Prefixes(SimilarCases):
    """The lexical method over paths and who performed them: a case's text holds its performers, one a line, one a
    step. A performer is a term with the step: the same person on the same step says the two went alike, where the
    same person anywhere (one who registers every claim) would make a case that shares nothing else look alike."""

    def _counts(self, text: str, path: Sequence[str]) -> Counter[str]:
        by = text.split("\n")
        return Counter(path_tokens(path)) + Counter(f"{step}{BY}{who}" for step, who in zip(path, by, strict=False)
                                                    if who)


class PathSimilarCases:
    """Imported closed cases most like an open case by its path so far; see the module's doc."""

    def __init__(self, plan_steps: Iterable[str], *, why_terms: int = 5) -> None:
        self.plan_steps = frozenset(plan_steps)
        self.why_terms = why_terms
        self._cases: list[ImportedCase] = []
        self._shared_steps: list[tuple[tuple[str, ...], tuple[str | None, ...]]] = []  # per case, `_shared`
        self.activities: frozenset[str] = frozenset()  # every activity the fitted cases name
        self.shared: frozenset[str] = frozenset()  # those the plan has an item of that name for

    def fit(self, cases: Iterable[ImportedCase]) -> PathSimilarCases:
        self._cases = list(cases)
        self.activities = frozenset(a for case in self._cases for a in case.path)
        self.shared = self.plan_steps & self.activities
        self._shared_steps = [self._shared(c.path, c.performers) for c in self._cases]
        return self

    @property
    def matched(self) -> bool:
        """Whether the log and the plan name any step alike (with no case fitted, nothing is unmatched)."""
        return bool(self.shared) or not self._cases

    def query(self, case: OpenCase, performers: Sequence[str | None] = (), k: int = 5) -> PathResult:
        """Up to ``k`` fitted cases whose first steps are most like ``case``'s path, best first, ties newest first
        (in the order fitted); ``performers``: who performed each step of ``case.path``, where known."""
        path, by = self._shared(case.path, performers)
        if not path or k <= 0:
            return PathResult([], 0.0, len(path))
        index = _Prefixes(why_terms=self.why_terms).fit(
            ClosedCase(c.case_id, _lines(by_c[: len(path)]), path_c[: len(path)], c.outcome, c.duration_days)
            for c, (path_c, by_c) in zip(self._cases, self._shared_steps, strict=True)
        )
        query = OpenCase(case.case_id, _lines(by), path)
        matches = [replace(m, path_alone=True) for m in index.query(query, k)]
        return PathResult(matches, index.weight(query), len(path))

    def _shared(
        self, path: Sequence[str], performers: Sequence[str | None]
    ) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
        """The steps of ``path`` the plan and the log share, with who performed each."""
        by = list(performers) + [None] * (len(path) - len(performers))
        kept = [(step, who) for step, who in zip(path, by, strict=False) if step in self.shared]
        return tuple(step for step, _ in kept), tuple(who for _, who in kept)


def _lines(performers: Sequence[str | None]) -> str:
    return "\n".join(who or "" for who in performers)


def merged(searcher: CaseSimilarity, case: OpenCase, content: list[Match], by_path: PathResult, k: int
           ) -> list[Match]:
    """The best ``k`` of the content matches (scored by ``searcher``) and the path-alone ones, each of these scored
    as ``searcher`` would score a case holding that path and nothing else; content first on a tie."""
    share = searcher.path_alone_share(case, by_path.weight)
    scaled = [replace(m, score=round(m.score * share, 6)) for m in by_path.matches]
    return sorted([*content, *(m for m in scaled if m.score > 0)], key=lambda m: -m.score)[:k]
