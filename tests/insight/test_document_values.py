"""What a case's documents say about its data, offered as findings on every judgement of the case: a field to fill in
offers the document's value, an empty field a document gives is suggested, and a document that disagrees with the
case data is flagged; accepting fills the value in with its source on the audit trail (SQLite and PostgreSQL)."""

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
from casework.insight.casetype import bundled_case_type, parse_case_type
from casework.insight.extraction import DocumentText, extract_fields
from casework.insight.flags import assess
from casework.insight.rules import Finding, accept_command, dismissed_findings, feedback_command
from casework.service import CaseService
from casework.store import Store

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
CLAIM = bundled_case_type("insurance_claim")
FORM_TEXT = ("CLAIM FORM\nPolicy number: AB-123456\nClaimant: Jane Doe\nClaimed amount: EUR 12,500\n"
             "Date of the incident: 2026-11-20\n")
runner = CliRunner()


def _doc(name: str, text: str) -> DocumentText:
    return DocumentText(name, Path(name).stem, (text,))


def _claim(variables: dict[str, Any]) -> tuple[Any, CaseState]:
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables=variables, actor="ann"), T0)
    return definition, state


def _assess(variables: dict[str, Any], *docs: DocumentText, kind: Any = CLAIM, **more: Any) -> dict[str, Finding]:
    definition, state = _claim(variables)
    attached = [(d.kind, d.name) for d in docs]
    found = assess(kind, definition, state, attached, T0, extracted=extract_fields(kind, docs), **more)
    return {f.id: f for f in found}


def test_a_missing_field_a_document_gives_is_offered_with_that_value_and_its_source() -> None:
    found = _assess({}, _doc("claim_form.txt", FORM_TEXT))
    gap = found["missing-field:amount"]
    assert gap.action is not None and gap.action.kind == "fill_from_document"
    assert gap.action.fill is not None and gap.action.fill.value == 12500 and gap.action.fill.page == 1
    assert "claim_form.txt p.1 gives amount = 12500" in gap.reason
    assert found["missing-field:incidentDate"].action.fill.value == "2026-11-20"  # type: ignore[union-attr]
    # one finding per field: the gap carries the value, no second suggestion repeats it
    assert not [i for i in found if i.startswith("document-value:")]

    command = accept_command(gap, actor="bob", reason="checked against the form")
    assert isinstance(command, commands.Together)
    fill = command.commands[0]
    assert isinstance(fill, commands.SetVariables)
    assert fill.variables == {"amount": 12500} and fill.expected == {"amount": None}
    assert fill.reason == "checked against the form; value from claim_form.txt p.1: '12,500'"


def test_accepting_fills_the_value_and_a_value_entered_meanwhile_refuses_it() -> None:
    definition, state = _claim({})
    doc = _doc("claim_form.txt", FORM_TEXT)
    findings = assess(CLAIM, definition, state, [("claim_form", doc.name)], T0,
                      extracted=extract_fields(CLAIM, [doc]))
    gap = next(f for f in findings if f.id == "missing-field:claimant")
    raced = CaseState.from_dict(state.to_dict())
    execute(definition, state, accept_command(gap, actor="bob"), T0)
    assert state.variables["claimant"] == "Jane Doe"
    # someone entered the name between the judgement and the acceptance: the entered name stands
    execute(definition, raced, commands.SetVariables(variables={"claimant": "J. Doe"}, actor="ann"), T0)
    from casework.engine import CommandRejected

    with pytest.raises(CommandRejected, match="'claimant' changed since"):
        execute(definition, raced, accept_command(gap, actor="bob"), T0)
    assert raced.variables["claimant"] == "J. Doe"


def test_a_document_that_disagrees_with_the_case_is_flagged_and_the_same_number_is_not() -> None:
    held = {"policyNumber": "AB-123456", "claimant": "Jane Doe", "amount": 12000, "incidentDate": "2026-11-20"}
    found = _assess(held, _doc("claim_form.txt", FORM_TEXT))
    differs = found["document-differs:amount"]
    assert differs.kind == "flag" and differs.severity == "warning"
    assert differs.message == "Claimed amount: the case holds 12000, claim_form.txt says 12500"
    assert differs.action is not None and differs.action.fill is not None
    assert differs.action.fill.held == 12000 and differs.action.fill.value == 12500
    assert [i for i in found if i.startswith("document-")] == ["document-differs:amount"]
    # a long value the case holds is quoted by its start, as the listings show findings
    long = _assess({**held, "claimant": "J" * 300}, _doc("claim_form.txt", FORM_TEXT))["document-differs:claimant"]
    assert long.message.endswith('... (302 characters), claim_form.txt says "Jane Doe"')
    # 12,500.00 in the document is the 12500 the case holds
    same = _assess({**held, "amount": 12500.0}, _doc("claim_form.txt", FORM_TEXT))
    assert not [i for i in same if i.startswith("document-")]


def test_documents_that_disagree_with_each_other_are_named_in_the_reason() -> None:
    estimate = _doc("repair_estimate.txt", "Repair estimate\nClaimed amount: 14,000\n")
    found = _assess({}, _doc("claim_form.txt", FORM_TEXT), estimate)
    assert found["missing-field:amount"].reason.endswith("; but repair_estimate.txt p.1 gives 14000")


def test_an_optional_field_a_document_gives_is_suggested_once_and_a_dismissal_keeps_it_away() -> None:
    kind = parse_case_type("""
[case_type]
key = "claim_plus"
definition = "insuranceClaim"
label = "claim"

[[fields]]
name = "workshop"
type = "string"
label = "workshop"
required = false

[[patterns]]
field = "workshop"
regex = 'Workshop:[ \\t]*(\\S[^\\n]*\\S)'
""")
    doc = _doc("repair_estimate.txt", "Workshop: Garage Lenz\n")
    found = _assess({}, doc, kind=kind)
    value = found["document-value:workshop"]
    assert value.kind == "suggestion" and value.severity == "info" and value.source == "document"
    assert value.action is not None and value.action.label == (
        'fill in workshop: "Garage Lenz" (from repair_estimate.txt p.1)')
    definition, state = _claim({})
    events = execute(definition, state, feedback_command(value, accepted=False, actor="bob", reason="old estimate"),
                     T0)
    assert "document-value:workshop" not in _assess({}, doc, kind=kind, dismissed=dismissed_findings(events))
    # filled in, the field is no longer offered
    assert "document-value:workshop" not in _assess({"workshop": "Garage Lenz"}, doc, kind=kind)


def test_a_suspended_case_shows_the_value_but_cannot_take_it() -> None:
    definition, state = _claim({})
    execute(definition, state, commands.SuspendCase(actor="ann", reason="waiting"), T0)
    doc = _doc("claim_form.txt", FORM_TEXT)
    findings = assess(CLAIM, definition, state, [("claim_form", doc.name)], T0, extracted=extract_fields(CLAIM, [doc]))
    gap = next(f for f in findings if f.id == "missing-field:amount")
    assert gap.action is not None and gap.action.fill is not None and gap.action.blocked


# -- through the commands: judged as documents are attached, accepted with the source on the audit trail -----------
@pytest.fixture
def env(configured_env: dict[str, str]) -> dict[str, str]:
    return configured_env


def _ok(env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def _flags(env: dict[str, str], case_id: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(_ok(env, "suggest", "flags", "--case", case_id, "--json").stdout)
    return {r["finding_id"]: r for r in rows}


def _case(env: dict[str, str], case_id: str) -> tuple[int, dict[str, Any], list[Any]]:
    with Store.open(env["CASEWORK_DB"]) as store, CaseService(store) as svc:
        row = store.case(case_id)
        assert row is not None
        return row.version, svc.state(case_id).variables, store.events(case_id)


def _attached(env: dict[str, str], tmp_path: Path) -> str:
    case_id = str(_ok(env, "case", "start", "insuranceClaim", "--as", "ann").stdout.split()[0])
    form = tmp_path / "claim_form.txt"
    form.write_text(FORM_TEXT)
    _ok(env, "case", "attach", case_id, str(form), "--as", "ann")
    return case_id


def test_an_attached_form_offers_its_values_and_accepting_one_fills_it_with_its_source(
    env: dict[str, str], tmp_path: Path
) -> None:
    case_id = _attached(env, tmp_path)
    stored = _flags(env, case_id)["missing-field:amount"]
    assert stored["action"]["kind"] == "fill_from_document" and stored["action"]["fill"]["value"] == 12500
    _ok(env, "suggest", "accept", case_id, "--finding", "missing-field:amount", "--as", "bob")
    _, variables, events = _case(env, case_id)
    assert variables["amount"] == 12500
    fill = next(e for e in reversed(events) if e.type == "variables_set")
    assert fill.actor == "bob" and "value from claim_form.txt p.1: '12,500'" in (fill.reason or "")
    assert events[-1].type == "suggestion_accepted"
    assert "missing-field:amount" not in _flags(env, case_id)


def test_a_disagreeing_document_is_flagged_and_dismissing_keeps_the_entered_value(
    env: dict[str, str], tmp_path: Path
) -> None:
    case_id = _attached(env, tmp_path)
    _ok(env, "case", "set-data", case_id, "--data", '{"amount": 12000}', "--as", "ann", "--reason", "phoned in")
    assert _flags(env, case_id)["document-differs:amount"]["severity"] == "warning"
    _ok(env, "suggest", "dismiss", case_id, "--finding", "document-differs:amount", "--as", "bob",
        "--reason", "the form has a typo; the invoice says 12,000")
    _, variables, _ = _case(env, case_id)
    assert variables["amount"] == 12000
    assert "document-differs:amount" not in _flags(env, case_id)


def test_a_value_from_a_document_whose_bytes_changed_on_disk_is_not_filled(
    env: dict[str, str], tmp_path: Path
) -> None:
    case_id = _attached(env, tmp_path)
    before, _, _ = _case(env, case_id)
    blob = next(p for p in Path(env["CASEWORK_BLOBS"]).rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_text(FORM_TEXT.replace("12,500", "92,500"))
    refused = runner.invoke(app, ["suggest", "accept", case_id, "--finding", "missing-field:amount", "--as", "bob"],
                            env=env)
    assert refused.exit_code == 2
    assert "nothing recorded: the value comes from 'claim_form.txt', whose stored bytes cannot be checked" in (
        refused.output)
    after, variables, _ = _case(env, case_id)
    assert after == before and "amount" not in variables


def test_a_value_too_long_to_be_a_field_is_not_offered() -> None:
    # a claimant "name" that runs on for a whole page: a pattern gone wrong, not something to put in the case data
    found = _assess({}, _doc("claim_form.txt", "Claimant: " + "Jane Doe " * 70 + "\nClaimed amount: 900\n"))
    assert found["missing-field:claimant"].action.kind == "fill_in"  # type: ignore[union-attr]
    assert found["missing-field:amount"].action.kind == "fill_from_document"  # type: ignore[union-attr]
    assert not [i for i in found if i.startswith("document-")]
