from __future__ import annotations

import datetime as dt

import pytest

from casework.insight.casetype import bundled_case_type, parse_case_type
from casework.insight.gaps import check_type, find_gaps, is_empty
from casework.insight.rules import Action, Flag

COMPLETE = {"policyNumber": "AB-123456", "claimant": "Ann Smith", "amount": 1500, "incidentDate": "2025-02-14"}


def ids(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.id for f in findings]


def test_complete_small_claim_has_no_gaps() -> None:
    ct = bundled_case_type("insurance_claim")
    assert find_gaps(ct, COMPLETE, [("claim_form", "form.pdf")]) == []


def test_missing_fields_and_documents_are_flagged_with_actions() -> None:
    ct = bundled_case_type("insurance_claim")
    variables = {**COMPLETE, "policyNumber": "  ", "amount": 25000}
    del variables["claimant"]
    found = find_gaps(ct, variables, [])
    assert ids(found) == [
        "missing-field:policyNumber",
        "missing-field:claimant",
        "missing-document:claim_form",
        "missing-document:police_report",
        "missing-document:repair_estimate",
    ]
    policy, claimant, _, police, estimate = found
    assert isinstance(policy, Flag) and policy.message == "Missing information: policy number"
    assert policy.action == Action("fill_in", "policyNumber", "fill in: policy number")
    assert "is empty" in policy.reason and "is absent" in claimant.reason
    assert police.message == "Missing document: police report"
    assert police.action is not None and police.action.label == "request document: police report"
    assert police.action.task == "Request police report"
    # The reason says which condition made the document required, with the value it read.
    assert "when amount > 10000 (amount = 25000)" in police.reason
    assert estimate.severity == "info" and police.severity == "warning"


def test_conditional_document_not_required_below_threshold_or_when_unknown() -> None:
    ct = bundled_case_type("insurance_claim")
    assert "missing-document:police_report" not in ids(find_gaps(ct, {**COMPLETE, "amount": 9000}, []))
    # Amount unknown: the document requirement cannot be judged, but the amount itself is reported.
    no_amount = {k: v for k, v in COMPLETE.items() if k != "amount"}
    found = ids(find_gaps(ct, no_amount, [("claim_form", "f")]))
    assert found == ["missing-field:amount"]


def test_a_requirement_whose_condition_fails_says_so_instead_of_vanishing() -> None:
    # It was taken as "not required": the police report below went unasked for, and nothing said why.
    ct = parse_case_type("""
[case_type]
key = "t"
definition = "d"
[[fields]]
name = "amount"
type = "number"
[[fields]]
name = "policyNumber"
when = "amount / parts > 1000"
[[documents]]
kind = "police_report"
label = "police report"
when = "damage > 10000"
""")
    found = find_gaps(ct, {"amount": 5000, "parts": 0, "policyNumber": "", "damage": "high"}, [])
    assert ids(found) == ["requirement-error:field:policyNumber", "requirement-error:document:police_report"]
    policy, police = found
    assert policy.message.startswith("Whether policyNumber is required could not be judged: cannot evaluate "
                                     "'amount / parts > 1000': division by zero")
    assert police.message.startswith("Whether a police report is required could not be judged: ")
    assert police.reason == "case type 't': the condition damage > 10000 failed; fix the case data or the case type"
    assert (police.severity, police.kind, police.source, police.action) == ("warning", "flag", "gap", None)
    # what a condition reads that is missing, or flagged as of the wrong type, is reported already: nothing more
    assert ids(find_gaps(ct, {"amount": "a lot", "parts": 2, "policyNumber": ""}, [])) == ["invalid-field:amount"]
    assert ids(find_gaps(ct, {"parts": 2, "policyNumber": ""}, [])) == ["missing-field:amount"]


def test_attached_document_closes_the_gap() -> None:
    ct = bundled_case_type("insurance_claim")
    variables = {**COMPLETE, "amount": 25000}
    docs = [("claim_form", "f.pdf"), ("police_report", "pr.pdf"), ("repair_estimate", "e.txt")]
    assert find_gaps(ct, variables, docs) == []


def test_wrong_types_are_flagged() -> None:
    ct = bundled_case_type("insurance_claim")
    variables = {**COMPLETE, "amount": "a lot", "incidentDate": "14/02/2025"}
    found = {f.id: f for f in find_gaps(ct, variables, [("claim_form", "f")])}
    assert set(found) == {"invalid-field:amount", "invalid-field:incidentDate"}
    assert found["invalid-field:amount"].message == "Claimed amount is not a valid number"
    assert "expected a number, got str" in found["invalid-field:amount"].reason
    assert "YYYY-MM-DD" in found["invalid-field:incidentDate"].reason


def test_optional_and_conditional_fields() -> None:
    ct = parse_case_type(
        """
[case_type]
key = "t"
definition = "d"
[[fields]]
name = "note"
required = false
[[fields]]
name = "witness"
label = "witness name"
when = "injured"
"""
    )
    assert find_gaps(ct, {"injured": False}, []) == []
    assert ids(find_gaps(ct, {"injured": True}, [])) == ["missing-field:witness"]
    assert ids(find_gaps(ct, {"injured": True, "witness": "Bo", "note": 3}, [])) == ["invalid-field:note"]


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("string", "x", True),
        ("string", 3, False),
        ("number", 3, True),
        ("number", 2.5, True),
        ("number", True, False),
        ("number", "3", False),
        ("bool", False, True),
        ("bool", "yes", False),
        ("date", "2025-01-31", True),
        ("date", "2025-01-31T10:00:00Z", True),
        ("date", dt.date(2025, 1, 31), True),
        ("date", "2025-02-30", False),
        ("date", "31.01.2025", False),
    ],
)
def test_check_type(kind: str, value: object, ok: bool) -> None:
    assert (check_type(kind, value) is None) is ok


def test_is_empty() -> None:
    assert is_empty(None) and is_empty("  ") and is_empty([]) and is_empty({})
    assert not is_empty(0) and not is_empty(False) and not is_empty("x")
