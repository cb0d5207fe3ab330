"""A decision on a finding that offers a document's value covers the values the person saw, the case's and the
document's: a later document, or a later value of the case, is a new question, offered again and answerable again,
while the id stays `document-differs:FIELD` and acceptance rates count under it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_definition
from casework.engine import CaseState, commands, execute
from casework.insight.acceptance import acceptance
from casework.insight.casetype import bundled_case_type
from casework.insight.extraction import DocumentText, extract_fields
from casework.insight.flags import assess
from casework.insight.rules import Finding, accept_command, dismissed_findings, feedback_command

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
CLAIM = bundled_case_type("insurance_claim")
HELD = {"policyNumber": "AB-123456", "claimant": "Jane Doe", "amount": 12500, "incidentDate": "2026-11-20"}
runner = CliRunner()


def _letter(amount: str) -> DocumentText:
    return DocumentText("claim_form.txt", "claim_form", (f"Claimant: Jane Doe\nClaimed amount: {amount}\n",))


class Case:
    """A claim on the engine alone, with the events its commands wrote (what the decisions are read from)."""

    def __init__(self, variables: dict[str, Any]) -> None:
        self.state = CaseState.create("c1", demo_definition())
        self.events: list[Any] = []
        self.run(commands.StartCase(variables=variables, actor="ann"))

    def run(self, command: commands.Command) -> None:
        self.events.extend(execute(demo_definition(), self.state, command, T0))

    def findings(self, doc: DocumentText) -> dict[str, Finding]:
        found = assess(CLAIM, demo_definition(), self.state, [(doc.kind, doc.name)], T0,
                       extracted=extract_fields(CLAIM, [doc]), dismissed=dismissed_findings(self.events))
        return {f.id: f for f in found}


def test_a_dismissal_covers_the_values_seen_and_a_later_document_or_case_value_is_offered_again() -> None:
    case = Case(dict(HELD))
    seen = case.findings(_letter("13,000"))["document-differs:amount"]
    case.run(feedback_command(seen, accepted=False, actor="bob", reason="the letter has a typo"))
    assert "document-differs:amount" not in case.findings(_letter("13,000"))
    assert "document-differs:amount" not in case.findings(_letter("13,000.00"))  # the same number
    # another letter says another amount: the person never saw it
    later = case.findings(_letter("90,000"))["document-differs:amount"]
    assert later.action is not None and later.action.fill is not None and later.action.fill.value == 90000
    # the case's value changed since: the letter's 13,000 is now weighed against something else
    case.run(commands.SetVariables(variables={"amount": 12000}, actor="ann"))
    assert "document-differs:amount" in case.findings(_letter("13,000"))
    # and back to what was dismissed: the same question, still answered
    case.run(commands.SetVariables(variables={"amount": 12500}, actor="ann"))
    assert "document-differs:amount" not in case.findings(_letter("13,000"))


def test_a_finding_accepted_about_some_values_can_be_accepted_again_about_others() -> None:
    case = Case(dict(HELD))
    first = case.findings(_letter("13,000"))["document-differs:amount"]
    case.run(accept_command(first, actor="bob"))
    assert case.state.variables["amount"] == 13000
    second = case.findings(_letter("90,000"))["document-differs:amount"]
    case.run(accept_command(second, actor="bob", reason="the corrected letter"))
    assert case.state.variables["amount"] == 90000
    # each counted, under the finding's id: two decisions on the one case
    rows = acceptance(("c1", e) for e in case.events)
    assert [(r.subject, r.accepted, r.dismissed, len(r.cases)) for r in rows] == [
        ("document-differs:amount", 2, 0, 1)]
    # the same values again are the same question: answered
    from casework.engine import CommandRejected

    with pytest.raises(CommandRejected, match="already accepted at severity warning about the same values"):
        case.run(feedback_command(second, accepted=False, actor="cy", reason="no"))


def test_a_gap_dismissed_without_a_value_is_offered_once_a_document_gives_one() -> None:
    case = Case({})
    empty = DocumentText("claim_form.txt", "claim_form", ("nothing here\n",))
    gap = case.findings(empty)["missing-field:amount"]
    case.run(feedback_command(gap, accepted=False, actor="bob", reason="asked the claimant"))
    assert "missing-field:amount" not in case.findings(empty)
    offered = case.findings(_letter("13,000"))["missing-field:amount"]
    case.run(commands.SetVariables(variables={"amount": " "}, actor="ann"))  # blank: still not filled in
    assert case.findings(_letter("13,000"))["missing-field:amount"].seen == offered.seen
    assert offered.action is not None and offered.action.kind == "fill_from_document"
    # dismissed with its value, it stays dismissed when a later version of the form gives none
    case.run(feedback_command(offered, accepted=False, actor="bob", reason="not the claimant's form"))
    assert "missing-field:amount" not in case.findings(empty)
    assert "missing-field:amount" not in case.findings(_letter("13,000"))


# -- through the commands ---------------------------------------------------------------------------------------
def _ok(env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def _attach(env: dict[str, str], tmp_path: Path, case_id: str, amount: str) -> None:
    form = tmp_path / "claim_form.txt"
    form.write_text(f"Policy number: AB-123456\nClaimant: Jane Doe\nClaimed amount: {amount}\n")
    _ok(env, "case", "attach", case_id, str(form), "--as", "ann")


def _lettered(env: dict[str, str], tmp_path: Path, data: str) -> str:
    """A claim holding `data`, with a letter saying 13,000 attached."""
    case_id = str(_ok(env, "case", "start", "insuranceClaim", "--as", "ann", "--data", data).stdout.split()[0])
    _attach(env, tmp_path, case_id, "13,000")
    return case_id


def _flagged(env: dict[str, str], case_id: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(_ok(env, "suggest", "flags", "--case", case_id, "--json").stdout)
    return {r["finding_id"]: r for r in rows}


def test_a_later_letter_is_flagged_after_a_dismissal_and_both_decisions_count_under_the_id(
    configured_env: dict[str, str], tmp_path: Path
) -> None:
    env = configured_env
    case_id = _lettered(env, tmp_path, '{"amount": 12500, "claimant": "Jane Doe", "policyNumber": "AB-123456"}')
    _ok(env, "suggest", "dismiss", case_id, "--finding", "document-differs:amount", "--as", "bob",
        "--reason", "a typo")
    assert "document-differs:amount" not in _flagged(env, case_id)
    _attach(env, tmp_path, case_id, "90,000")
    flagged = _flagged(env, case_id)["document-differs:amount"]
    assert flagged["action"]["fill"]["value"] == 90000 and flagged["answer"] is None
    accepted = _ok(env, "suggest", "accept", case_id, "--finding", "document-differs:amount", "--as", "bob")
    assert "replace with claimed amount: 90000" in accepted.stdout
    assert "document-differs:amount" not in _flagged(env, case_id)
    # someone puts the old amount back: the question bob answered, and the listing says so
    _ok(env, "case", "set-data", case_id, "--data", '{"amount": 12500}', "--as", "ann", "--reason", "undo")
    answer = _flagged(env, case_id)["document-differs:amount"]["answer"]
    assert answer is not None and answer["accepted"] and answer["by"] == "bob"
    rows = json.loads(_ok(env, "suggest", "feedback", "--json").stdout)
    assert [(r["subject"], r["accepted"], r["dismissed"]) for r in rows] == [("document-differs:amount", 1, 1)]


def test_a_finding_about_a_later_letter_is_raised_when_the_letter_came(
    configured_env: dict[str, str], tmp_path: Path
) -> None:
    # `suggest flags` lists the longest-standing first, and says since when: the later letter's 90,000 was listed
    # as standing since the first letter's 13,000
    env = configured_env
    case_id = _lettered(env, tmp_path, '{"amount": 12500}')
    first = _flagged(env, case_id)["document-differs:amount"]["raised_at"]
    _ok(env, "case", "set-data", case_id, "--data", '{"claimant": "Jane Doe"}', "--as", "ann", "--reason", "r")
    assert _flagged(env, case_id)["document-differs:amount"]["raised_at"] == first  # the same question stands
    _attach(env, tmp_path, case_id, "90,000")
    later = _flagged(env, case_id)["document-differs:amount"]["raised_at"]
    assert dt.datetime.fromisoformat(later) > dt.datetime.fromisoformat(first)


def test_an_acceptance_lifts_the_dismissals_that_covered_what_was_accepted() -> None:
    def decided(kind: str, seen: str) -> Any:
        fill = {"fill": {"value": 1, "seen": seen}} if seen else {}
        suggestion = {"kind": "flag", "id": "missing-field:amount", "severity": "warning", "action": fill or None}
        return type("Event", (), {"type": f"suggestion_{kind}", "payload": {"suggestion": suggestion}})()

    both = [decided("dismissed", "a"), decided("dismissed", "b")]
    assert dismissed_findings([*both, decided("accepted", "a")]) == {"missing-field:amount": {"b": "warning"}}
    # a finding offering no value was hidden by either dismissal: accepting one lifts both
    assert dismissed_findings([*both, decided("accepted", "")]) == {}
