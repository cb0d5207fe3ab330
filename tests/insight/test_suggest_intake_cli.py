"""`casework suggest intake`: fields read from a case's documents, shown with their source, filled in only with
--apply, as one audited change whose reason names where each value came from (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_extraction import CLAIM_PDF
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.insight.sample_pdf import text_pdf
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()


@pytest.fixture
def claim(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    """(database URL, environment, a claim of 9,000 with its claim form attached as a PDF)."""
    env = {"COLUMNS": "300", "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"),
           "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = svc.start_case("insuranceClaim", {"amount": 9000}, actor="intake").case_id
    form = tmp_path / "claim_form.pdf"
    form.write_bytes(text_pdf(CLAIM_PDF))
    _ok(env, "case", "attach", case_id, str(form), "--as", "intake", "--db", db_url)
    return db_url, env, case_id


def _cw(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


def _ok(env: dict[str, str], *args: str) -> Any:
    result = _cw(env, *args)
    assert result.exit_code == 0, result.output
    return result


def _intake(url: str, env: dict[str, str], case_id: str, *more: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(_ok(env, "suggest", "intake", case_id, "--case-type", "insurance_claim",
                                           "--db", url, "--json", *more).stdout)
    return shown


def _case(url: str, case_id: str) -> tuple[int, dict[str, Any], list[Any]]:
    with Store.open(url) as store, CaseService(store) as svc:
        row = store.case(case_id)
        assert row is not None
        return row.version, svc.state(case_id).variables, store.events(case_id)


def test_fields_are_shown_with_their_source_and_filled_in_only_when_applied(
    claim: tuple[str, dict[str, str], str],
) -> None:
    url, env, case_id = claim
    before, _, _ = _case(url, case_id)
    proposal = _intake(url, env, case_id)
    assert {f["field"]: (f["value"], f["document"], f["page"]) for f in proposal["fill"]} == {
        "policyNumber": ("AB-123456", "claim_form.pdf", 1),
        "claimant": ("Ann Smith", "claim_form.pdf", 1),
        "incidentDate": ("2025-02-14", "claim_form.pdf", 2),
    }
    # The amount someone entered differs from the form's: shown beside it, not replaced.
    assert [(k["field"], k["value"], k["entered"]) for k in proposal["kept"]] == [("amount", 12500, 9000)]
    assert proposal["applied"] is False and _case(url, case_id)[0] == before

    applied = _intake(url, env, case_id, "--apply", "--as", "ann")
    assert applied["applied"] is True and applied["events"] == f"event {before + 1}: variables_set"
    version, variables, events = _case(url, case_id)
    assert version == before + 1
    assert {k: variables[k] for k in ("policyNumber", "claimant", "incidentDate", "amount")} == {
        "policyNumber": "AB-123456", "claimant": "Ann Smith", "incidentDate": "2025-02-14", "amount": 9000}
    filled = events[-1]
    assert filled.actor == "ann"
    assert "policyNumber from claim_form.pdf p.1: 'AB-123456'" in filled.reason
    assert "incidentDate from claim_form.pdf p.2: '14.02.2025'" in filled.reason

    again = _intake(url, env, case_id)
    assert again["fill"] == [] and again["as_entered"] == ["claimant", "incidentDate", "policyNumber"]
    replaced = _intake(url, env, case_id, "--apply", "--as", "ann", "--overwrite", "amount")
    assert [f["field"] for f in replaced["fill"]] == ["amount"]
    assert _case(url, case_id)[1]["amount"] == 12500


def test_what_the_documents_do_not_give_is_said_and_what_cannot_be_read_is_named(
    claim: tuple[str, dict[str, str], str], tmp_path: Path,
) -> None:
    url, env, case_id = claim
    form = tmp_path / "claim_form.pdf"
    form.write_bytes(text_pdf([["Motor claim form", "Policy number: AB-123456"]]))  # version 2: no claimant
    _ok(env, "case", "attach", case_id, str(form), "--as", "intake", "--db", url)
    photo = tmp_path / "claim_form.png"  # a claim form's kind, but an image: read, and said unreadable
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    _ok(env, "case", "attach", case_id, str(photo), "--as", "intake", "--db", url)
    shown = _intake(url, env, case_id)
    # The latest version of the form is read, not the first.
    assert [f["field"] for f in shown["fill"]] == ["policyNumber"]
    assert shown["still_missing"] == ["Missing information: claimant's name",
                                      "Missing information: date of the incident"]
    assert [p for p in shown["problems"] if p.startswith("claim_form.png: ")] == [
        "claim_form.png: cannot read it: it is neither a PDF nor text (its bytes look like an image, an archive or "
        "another binary format)"]
    table = _ok(env, "suggest", "intake", case_id, "--case-type", "insurance_claim", "--db", url).stdout
    assert "still missing: Missing information: claimant's name" in table
    assert "run again with --apply --as NAME to fill 1 field in" in " ".join(table.split())


def test_filling_in_clears_the_stored_missing_information_flags(claim: tuple[str, dict[str, str], str]) -> None:
    url, env, case_id = claim
    _ok(env, "suggest", "refresh", "--db", url, "--case-type", "insurance_claim")

    def missing() -> set[str]:
        rows = json.loads(_ok(env, "suggest", "flags", "--db", url, "--case", case_id, "--json").stdout)
        return {r["finding_id"] for r in rows if r["finding_id"].startswith("missing-field:")}

    assert missing() == {"missing-field:claimant", "missing-field:policyNumber", "missing-field:incidentDate"}
    _intake(url, env, case_id, "--apply", "--as", "ann")
    assert missing() == set()


def test_without_case_type_the_configured_one_for_the_case_s_definition_reads_it(
    claim: tuple[str, dict[str, str], str], tmp_path: Path,
) -> None:
    # As the README has it: CASEWORK_CASE_TYPES exported, then `suggest intake CASE_ID` as `suggest case CASE_ID`.
    url, env, case_id = claim
    given = _intake(url, env, case_id)
    configured = {**env, "CASEWORK_CASE_TYPES": "insurance_claim", "CASEWORK_MODEL": str(tmp_path / "unused.gz")}
    shown = json.loads(_ok(configured, "suggest", "intake", case_id, "--db", url, "--json").stdout)
    assert shown == given  # and a model file intake does not read neither stops nor slows it
    other = tmp_path / "permit.toml"
    other.write_text('[case_type]\nkey = "permit"\nlabel = "Permit"\ndefinition = "permitApplication"\n\n'
                     '[[patterns]]\nfield = "applicant"\nregex = \'Applicant: (\\S+)\'\n', encoding="utf-8")
    for setting, message in (
        (str(other), "error: CASEWORK_CASE_TYPES has no case type for definition 'insuranceClaim': give --case-type"),
        ("", "error: give --case-type (or set CASEWORK_CASE_TYPES): the case type whose patterns read the documents"),
        ("nope", "error: CASEWORK_CASE_TYPES: no bundled case type 'nope'"),
    ):
        result = _cw({**env, "CASEWORK_CASE_TYPES": setting}, "suggest", "intake", case_id, "--db", url)
        assert result.exit_code == 2 and result.stderr.startswith(message), result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--document", "police_report.pdf"], "error: no document 'police_report.pdf' on case"),
        (["--overwrite", "amout"], "error: --overwrite amout: case type 'insurance_claim' has no such field"),
        (["--apply"], "error: --apply needs --as NAME"),
        (["--as", "ann"], "error: --as is for --apply: without it nothing is written"),
    ],
)
def test_bad_requests_are_refused_in_one_line_and_change_nothing(
    claim: tuple[str, dict[str, str], str], args: list[str], message: str,
) -> None:
    url, env, case_id = claim
    before = _case(url, case_id)[0]
    result = _cw(env, "suggest", "intake", case_id, "--case-type", "insurance_claim", "--db", url, *args)
    assert result.exit_code == 2 and result.stderr.startswith(message), result.output
    assert _case(url, case_id)[0] == before


def test_a_suspended_case_is_not_filled_in(claim: tuple[str, dict[str, str], str]) -> None:
    url, env, case_id = claim
    _ok(env, "case", "suspend", case_id, "--as", "ann", "--reason", "waiting for the police", "--db", url)
    before = _case(url, case_id)[0]
    result = _cw(env, "suggest", "intake", case_id, "--case-type", "insurance_claim", "--db", url, "--apply",
                 "--as", "ann")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: case {case_id} is suspended: its data cannot change now")
    assert _case(url, case_id)[0] == before
    assert [f["field"] for f in _intake(url, env, case_id)["fill"]] == ["claimant", "incidentDate", "policyNumber"]


def test_a_case_type_of_another_process_is_refused(claim: tuple[str, dict[str, str], str], tmp_path: Path) -> None:
    url, env, case_id = claim
    other = tmp_path / "permit.toml"
    other.write_text('[case_type]\nkey = "permit"\nlabel = "Permit"\ndefinition = "permitApplication"\n\n'
                     '[[patterns]]\nfield = "applicant"\nregex = \'Applicant: (\\S+)\'\n', encoding="utf-8")
    result = _cw(env, "suggest", "intake", case_id, "--case-type", str(other), "--db", url)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: case type 'permit' describes definition 'permitApplication'; case ")


def test_an_error_quoting_what_was_typed_reaches_the_terminal_escaped(claim: tuple[str, dict[str, str], str]) -> None:
    url, env, _ = claim
    result = _cw(env, "suggest", "intake", "claim\x1b[2J", "--case-type", "insurance_claim", "--db", url)
    assert result.exit_code == 2 and "\x1b" not in result.stderr
    assert result.stderr.startswith("error: no case claim\\x1b[2J")
