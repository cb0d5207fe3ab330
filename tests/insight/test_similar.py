from __future__ import annotations

import collections
import datetime as dt
import math
import random

import numpy as np
import pytest

from casework.demo import demo_definition
from casework.engine import CaseState, commands, execute
from casework.insight.similar import (
    ClosedCase,
    OpenCase,
    SimilarCases,
    case_text,
    from_state,
    open_case,
    path_tokens,
    text_tokens,
)

CLOSED = [
    ClosedCase(
        "c-water",
        "Burst pipe flooded the kitchen; water damage to floor and cabinets. Plumber invoice attached.",
        ("Register claim", "Assess damage", "Decide claim", "Pay claimant"),
        "paid",
        12.0,
    ),
    ClosedCase(
        "c-whiplash",
        "Rear-end collision at traffic lights, driver reports whiplash injury; police report filed.",
        ("Register claim", "Fraud check", "Review police report", "Decide claim"),
        "rejected",
        41.5,
    ),
    ClosedCase(
        "c-theft",
        "Car stolen from driveway overnight, keys missing; police report filed for theft.",
        ("Register claim", "Review police report", "Decide claim", "Pay claimant"),
        "paid",
        20.0,
    ),
    ClosedCase(
        "c-hail",
        "Hail storm dented roof and bonnet of the car; garage estimate attached.",
        ("Register claim", "Assess damage", "Site visit", "Decide claim", "Pay claimant"),
        "paid",
        9.0,
    ),
]


def test_the_expected_neighbour_ranks_first_and_why_names_shared_terms() -> None:
    index = SimilarCases(why_terms=8).fit(CLOSED)
    query = OpenCase(
        "open-1",
        "Collision from behind at a junction, neck injury (whiplash) reported by the driver.",
        ("Register claim", "Fraud check"),
    )
    matches = index.query(query, k=3)
    assert matches[0].case_id == "c-whiplash"
    assert (matches[0].outcome, matches[0].duration_days) == ("rejected", 41.5)
    assert 0 < matches[0].score <= 1
    why = matches[0].why
    assert {"collision", "injury", "whiplash", "driver", "path: Register claim → Fraud check"} <= set(why)
    # A step every closed case took says little: it weighs least, after the words only these two cases share.
    assert "path: Register claim" not in why[:5]
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_path_alone_finds_cases_that_went_the_same_way() -> None:
    index = SimilarCases().fit(CLOSED)
    matches = index.query(OpenCase("o", "", ("Register claim", "Assess damage", "Site visit")), k=2)
    assert [m.case_id for m in matches][:1] == ["c-hail"]
    assert "path: Assess damage → Site visit" in matches[0].why


def test_path_weight_zero_ignores_the_path() -> None:
    index = SimilarCases(path_weight=0.0).fit(CLOSED)
    assert index.query(OpenCase("o", "", ("Register claim", "Assess damage", "Site visit"))) == []


def test_common_words_weigh_less_than_rare_ones() -> None:
    index = SimilarCases().fit(CLOSED)
    (top, *_) = index.query(OpenCase("o", "car stolen police report theft"), k=4)
    assert top.case_id == "c-theft"
    assert top.why[0] in ("stolen", "theft")  # unique to that case; "police"/"report" are shared by two


def test_no_overlap_no_match_and_edge_cases() -> None:
    index = SimilarCases().fit(CLOSED)
    assert index.query(OpenCase("o", "zebra xylophone"), k=5) == []
    assert index.query(OpenCase("o", "whiplash"), k=0) == []
    assert SimilarCases().fit([]).query(OpenCase("o", "whiplash")) == []


def test_ties_are_broken_by_input_order_deterministically() -> None:
    twins = [ClosedCase("b", "same words here", (), "x", 1.0), ClosedCase("a", "same words here", (), "y", 2.0),
             ClosedCase("c", "other text", (), "z", 3.0)]
    matches = SimilarCases().fit(twins).query(OpenCase("o", "same words"))
    assert [m.case_id for m in matches] == ["b", "a"]
    assert matches[0].score == pytest.approx(matches[1].score)


def test_a_fitted_case_asked_about_is_not_listed_as_similar_to_itself() -> None:
    # Which closed cases are like this closed one: it scored 1.0 against itself and took the first place.
    closed = [ClosedCase("a", "whiplash neck rear collision", ("Register claim", "Assess damage"), "paid", 3.0),
              ClosedCase("b", "whiplash neck injury", ("Register claim", "Assess damage"), "paid", 5.0),
              ClosedCase("c", "stolen bicycle", ("Register claim",), "rejected", 1.0)]
    index = SimilarCases().fit(closed)
    asked = closed[0]
    matches = index.query(OpenCase(asked.case_id, asked.text, asked.path), k=2)
    assert [m.case_id for m in matches] == ["b"]
    # the same text under another id is a different case, and matches it
    assert [m.case_id for m in index.query(OpenCase("new", asked.text, asked.path), k=2)] == ["a", "b"]


def test_scores_are_the_cosine_of_tf_idf_vectors_computed_plainly() -> None:
    # The index keeps a sparse matrix and ranks only the best k; a dense computation from the definition must agree.
    rng = random.Random(11)
    words = [f"term{i}" for i in range(300)]
    steps = ["Register", "Assess", "Decide", "Pay", "Close"]
    closed = [ClosedCase(f"c{n}", " ".join(rng.choices(words, k=rng.randint(0, 40))),
                         tuple(rng.choices(steps, k=rng.randint(0, 6))), "done", 1.0) for n in range(120)]
    query = OpenCase("q", " ".join(rng.choices(words, k=25)) + " unseen", ("Register", "Assess"))
    index = SimilarCases(path_weight=0.5).fit(closed)

    def counts(text: str, path: tuple[str, ...]) -> collections.Counter[str]:
        return collections.Counter(text_tokens(text)) + collections.Counter(path_tokens(path))

    docs = [counts(c.text, c.path) for c in closed]
    terms = sorted({t for d in docs for t in d})
    df = {t: sum(1 for d in docs if t in d) for t in terms}

    def vector(c: collections.Counter[str]) -> np.ndarray:
        v = np.array([(1 + math.log(c[t])) * (math.log(121 / (1 + df[t])) + 1) * (0.5 if t.startswith("path:") else 1)
                      if c[t] else 0.0 for t in terms])
        n = np.linalg.norm(v)
        return v / n if n else v

    q = vector(counts(query.text, query.path))
    expected = np.array([vector(d) @ q for d in docs])
    assert np.allclose(index.similarities(query), expected)
    best = sorted(range(len(closed)), key=lambda i: (-expected[i], i))[:7]
    assert [m.case_id for m in index.query(query, k=7)] == [closed[i].case_id for i in best]


def test_tokens() -> None:
    assert text_tokens("The driver's 2 cars: 1250 EUR, ref 1234567!") == ["driver", "cars", "eur", "ref", "1234567"]
    assert path_tokens(["Register claim", "Fraud check"]) == [
        "path:register_claim",
        "path:fraud_check",
        "path:register_claim>fraud_check",
    ]
    # a name holding the pair separator stays one step, and its reason shows it whole
    assert path_tokens(["Check A>B", "Pay"])[2] == "path:check_a%3Eb>pay"
    found = SimilarCases().fit([ClosedCase("d1", "", ("Check A>B", "Pay"), "completed", 1.0)])
    (match,) = found.query(OpenCase("o", "", ("Check A>B", "Pay")))
    assert "path: Check A>B → Pay" in match.why
    text = case_text({"b": {"y": 1, "x": "two"}, "a": ["p", "q"]}, ["a note"], ["doc text"], exclude=["zz"])
    assert text == "a: p q\nb: x two y 1\na note\ndoc text"


def test_cases_from_engine_states() -> None:
    definition = demo_definition()
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    state = CaseState.create("c9", definition)
    execute(definition, state, commands.StartCase(variables={"amount": 500, "cause": "hail"}, actor="a"), t0)
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="a"), t0 + dt.timedelta(days=1))
    live = open_case(state, notes=["hail on the roof"])
    assert live.path == ("Register claim",) and "hail" in live.text
    execute(definition, state, commands.TerminateCase(actor="a"), t0 + dt.timedelta(days=3))
    closed = from_state(state, outcome="withdrawn")
    assert (closed.case_id, closed.outcome, closed.duration_days) == ("c9", "withdrawn", 3.0)
    assert "cause: hail" in closed.text


def test_what_every_case_has_is_no_reason_and_makes_no_match() -> None:
    # The field names of a case type are in every case's data: they made a case with next to no data look a third
    # like every closed case, "because" of amount, claimant and policynumber.
    def claim(claimant: str, policy: str, amount: int, description: str) -> str:
        return case_text({"claimant": claimant, "policyNumber": policy, "amount": amount, "description": description})

    closed = [ClosedCase(f"c{i}", claim(*data), ("Register claim", "Assess damage"), "completed", 3.0) for i, data in
              enumerate([("Ann Smith", "AB-123456", 1200, "rear bumper dent"),
                         ("Bob Jones", "CD-654321", 56000, "total loss fire"),
                         ("Zoë Ünïcødé", "EF-111111", 800, "windscreen chip")])]
    index = SimilarCases().fit(closed)
    crack = index.query(OpenCase("o1", claim("Cy Long", "GH-222222", 900, "windscreen crack"), ("Register claim",)))
    assert [(m.case_id, m.why) for m in crack] == [("c2", ("windscreen",))]
    assert index.query(OpenCase("o2", case_text({"claimant": "X", "policyNumber": "", "amount": 1}))) == []
    # the score is TF-IDF's cosine as before: what every case has still counts in it
    assert crack[0].score == pytest.approx(float(index.similarities(OpenCase("o1", claim(
        "Cy Long", "GH-222222", 900, "windscreen crack"), ("Register claim",)))[2]), abs=1e-6)
