"""Similar cases by path alone: an imported log's closed cases against an open case's path so far."""

from __future__ import annotations

import pytest

from casework.insight.embeddings import EmbeddingSimilarCases
from casework.insight.similar import ClosedCase, OpenCase, SimilarCases
from casework.insight.similar_path import ImportedCase, PathSimilarCases, imported_case, merged
from casework.store.records import ImportedStep

PLAN = {"Register claim", "Assess damage", "Collect documents", "Fraud check", "Decide claim", "Pay claimant"}


def _case(case_id: str, *steps: str, by: tuple[str | None, ...] = ()) -> ImportedCase:
    return ImportedCase(case_id, steps, by or (None,) * len(steps), f"completed after {steps[-1]}", 1.0)


LOG = [
    _case("fraud", "Register claim", "Assess damage", "Fraud check", "Decide claim", "Pay claimant"),
    _case("docs-first", "Register claim", "Collect documents", "Assess damage", "Decide claim"),
    _case("assess-docs", "Register claim", "Assess damage", "Collect documents", "Decide claim", "Pay claimant"),
    _case("withdrawn", "Register claim", "Claimant withdraws"),
]


def test_an_imported_case_is_compared_by_as_many_first_steps_as_the_open_case_has_taken() -> None:
    index = PathSimilarCases(PLAN).fit(LOG)
    result = index.query(OpenCase("open", "", ("Register claim", "Assess damage", "Fraud check")))
    assert result.steps == 3
    # the same first three steps: the same vector, whatever the case did after
    assert [m.case_id for m in result.matches][:2] == ["fraud", "assess-docs"]
    assert result.matches[0].score == pytest.approx(1.0)
    assert all(m.path_alone for m in result.matches)
    assert "path: Assess damage → Fraud check" in result.matches[0].why
    # the case that only shares the step every case starts with is no match
    assert "withdrawn" not in {m.case_id for m in result.matches}


def test_the_step_every_case_starts_with_finds_no_match_rather_than_all_of_them() -> None:
    result = PathSimilarCases(PLAN).fit(LOG).query(OpenCase("open", "", ("Register claim",)))
    assert result.steps == 1 and result.matches == []


def test_steps_the_plan_and_the_log_do_not_share_are_left_out_of_both_paths() -> None:
    # the log records letters the plan has no item for, and the plan has a site visit the log never names: the
    # prefixes are taken over the shared steps, so "fraud" is still compared by Register, Assess, Fraud
    log = [_case("fraud", "Register claim", "Send letter", "Assess damage", "Send letter", "Fraud check"),
           _case("other", "Register claim", "Collect documents", "Decide claim")]
    index = PathSimilarCases({*PLAN, "Site visit"}).fit(log)
    assert index.shared == {"Register claim", "Assess damage", "Fraud check", "Collect documents", "Decide claim"}
    result = index.query(OpenCase("open", "", ("Register claim", "Site visit", "Assess damage", "Fraud check")))
    assert result.steps == 3
    assert [m.case_id for m in result.matches] == ["fraud"] and result.matches[0].score == pytest.approx(1.0)


def test_a_log_naming_no_step_of_the_plan_is_not_matched() -> None:
    index = PathSimilarCases(PLAN).fit([_case("a", "A_SUBMITTED", "A_PREACCEPTED")])
    assert not index.matched and index.activities == {"A_SUBMITTED", "A_PREACCEPTED"}
    assert PathSimilarCases(PLAN).fit([]).matched  # nothing fitted: nothing unmatched


def test_who_performed_the_steps_tells_equal_paths_apart() -> None:
    path = ("Register claim", "Assess damage", "Decide claim")
    log = [_case("bob's", *path, by=("bob", "bob", "bob")), _case("ann's", *path, by=("ann", "ann", "bob")),
           _case("short", "Register claim", "Collect documents", by=("eve", "eve"))]
    result = PathSimilarCases(PLAN).fit(log).query(OpenCase("open", "", path[:2]), ["ann", "ann"])
    assert [m.case_id for m in result.matches][:2] == ["ann's", "bob's"]
    assert "Assess damage by ann" in result.matches[0].why


def test_an_imported_case_ends_as_its_log_says() -> None:
    steps = [ImportedStep("Register claim", "2026-01-01T09:00:00+00:00", "ann"),
             ImportedStep("Send letter", "2026-01-03T21:00:00+00:00", None)]
    case = imported_case("c1", "completed", steps)
    assert (case.outcome, case.duration_days) == ("completed after Send letter", 2.5)
    assert case.performers == ("ann", None)


CONTENT = [ClosedCase("hail", "hail storm dented the bonnet", ("Register claim",), "terminated", 4.0),
           ClosedCase("pipe", "burst pipe flooded the kitchen", ("Register claim",), "terminated", 20.0)]


def test_a_path_alone_match_scores_as_a_case_holding_that_path_and_nothing_else() -> None:
    path = ("Register claim", "Assess damage", "Fraud check")
    by_path = PathSimilarCases(PLAN).fit(LOG)
    # an open case with no words any content case has: its path is all there is to compare
    bare = OpenCase("open", "", path)
    content = SimilarCases()
    found = merged(content, bare, content.fit(CONTENT).query(bare), by_path.query(bare), 5)
    assert found[0].case_id == "fraud" and found[0].score == pytest.approx(1.0)
    # with words a content case shares, the same path is a smaller share of what the open case has
    worded = OpenCase("open", "hail dented the bonnet", path)
    found = merged(content, worded, content.query(worded), by_path.query(worded), 5)
    assert found[0].case_id == "hail" and not found[0].path_alone
    fraud = next(m for m in found if m.case_id == "fraud")
    assert fraud.path_alone and 0 < fraud.score < 1


def test_under_embeddings_a_path_alone_match_counts_with_the_blends_path_weight() -> None:
    from test_embeddings import BagOfTopics

    searcher = EmbeddingSimilarCases(BagOfTopics(), path_weight=0.25)
    path = ("Register claim", "Assess damage", "Fraud check")
    case = OpenCase("open", "hail storm", path)
    found = merged(searcher, case, searcher.fit(CONTENT).query(case), PathSimilarCases(PLAN).fit(LOG).query(case), 5)
    assert found[0].case_id == "hail"
    fraud = next(m for m in found if m.case_id == "fraud")
    assert fraud.path_alone and fraud.score == pytest.approx(0.25)
