from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.paths import shared_dir

OWN = Path(__file__).resolve().parent / "scenarios"
runner = CliRunner()


def test_own_scenarios_pass_with_the_contract_output() -> None:
    result = runner.invoke(app, ["conformance", str(OWN)])
    lines = result.stdout.strip().splitlines()
    assert result.exit_code == 0, result.stdout
    assert all(line.startswith("PASS ") for line in lines[:-1])
    assert lines[-1] == f"conformance: {len(list(OWN.glob('*.json')))} passed, 0 failed"


@pytest.mark.skipif(shared_dir() is None, reason="the shared corpus (../shared) is not beside this checkout")
def test_the_shared_corpus_passes() -> None:
    shared = shared_dir()
    assert shared is not None
    result = runner.invoke(app, ["conformance", str(shared / "cmmn" / "scenarios")])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("conformance: 61 passed, 0 failed")


def _write(tmp_path: Path, steps: list[object], name: str = "mine") -> Path:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "claim.cmmn").write_bytes((OWN.parent / "models" / "claim.cmmn").read_bytes())
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "model": "models/claim.cmmn", "steps": steps}), encoding="utf-8")
    return path


def test_unsupported_step_fails_that_scenario_only(tmp_path: Path) -> None:
    _write(tmp_path, [{"start": {}}, {"teleport": "Review claim"}], "a_bad")
    _write(tmp_path, [{"start": {}}, {"expect": {"active": ["Review claim"]}}], "b_good")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        'FAIL a_bad: step 2 {"teleport": "Review claim"}: unsupported step: teleport',
        "PASS b_good",
        "conformance: 1 passed, 1 failed",
    ]


def test_wrong_expectation_and_expected_failures(tmp_path: Path) -> None:
    _write(tmp_path, [{"start": {}}, {"expect": {"active": ["Decide claim"]}}], "wrong")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    assert "FAIL wrong: step 2" in result.stdout and "expected ['Decide claim'], got ['Review claim']" in result.stdout
    strict = runner.invoke(app, ["conformance", str(tmp_path / "scenarios"), "--expect-fail", "wr*"])
    assert strict.exit_code == 0 and strict.stdout.startswith("XFAIL wrong")
    _write(tmp_path, [{"start": {}}], "wrong")
    flagged = runner.invoke(app, ["conformance", str(tmp_path / "scenarios"), "--expect-fail", "wr*"])
    assert flagged.exit_code == 1 and "passed but was expected to fail" in flagged.stdout


def test_expect_error_must_be_rejected(tmp_path: Path) -> None:
    _write(tmp_path, [{"start": {}}, {"complete": "Review claim", "expect_error": True}], "accepts")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    assert "expected the step to be rejected, but it was accepted" in result.stdout


def test_malformed_scenarios_fail_with_what_is_wrong_not_as_engine_errors(tmp_path: Path) -> None:
    _write(tmp_path, [{"start": {}}, {"add_task": "Call"}], "a_step_not_an_object")
    _write(tmp_path, [{"start": {}}, {"complete": 5}], "b_item_not_text")
    _write(tmp_path, [{"start": {}}, {"expect": {"active": "Review claim"}}], "c_expect_not_a_list")
    _write(tmp_path, [{"start": {"variables": {"amount": float("nan")}}}], "d_not_json_data")
    (tmp_path / "scenarios" / "e_not_a_scenario.json").write_text('["start"]', encoding="utf-8")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        'FAIL a_step_not_an_object: step 2 {"add_task": "Call"}: malformed step: TypeError: string indices must be'
        " integers, not 'str'",
        'FAIL b_item_not_text: step 2 {"complete": 5}: rejected: CompleteItem.item must be text, not int',
        'FAIL c_expect_not_a_list: step 2 {"expect": {"active": "Review claim"}}: active: expected a list of names,'
        ' got "Review claim"',
        'FAIL d_not_json_data: step 1 {"start": {"variables": {"amount": NaN}}}: rejected: variable amount: nan is'
        " not a number JSON can hold",
        'FAIL e_not_a_scenario: not a scenario: an object with "model" and a list of step objects',
        "conformance: 0 passed, 5 failed",
    ]


def test_a_scenario_that_would_check_less_than_it_says_fails(tmp_path: Path) -> None:
    _write(tmp_path, [{"start": {}}, {"expect": {"actve": ["Nope"], "case": "active"}}], "a_typo")
    _write(tmp_path, [{"start": {}}, {"complete": "Review claim", "expect": {"active": []}}], "b_action_and_expect")
    _write(tmp_path, [{"start": {}}, {"expect": {"exact": "false", "active": []}}], "c_exact_text")
    _write(tmp_path, [{"start": {}, "variables": {"amount": 5}}], "d_start_variables_outside")
    scenarios = tmp_path / "scenarios"
    (scenarios / "e_not_utf8.json").write_bytes(b'{"model": "models/claim.cmmn", "steps": [], "n": "\xff"}')
    (scenarios / "f_deep.json").write_text("[" * 100_000, encoding="utf-8")
    (scenarios / "g_huge_number.json").write_text('{"model": "m", "steps": [], "n": ' + "9" * 5_000 + "}",
                                                  encoding="utf-8")
    _write(tmp_path, [{"start": {}}, {"expect": {"active": ["Review claim"]}}], "h_good")
    result = runner.invoke(app, ["conformance", str(scenarios)])
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        'FAIL a_typo: step 2 {"expect": {"actve": ["Nope"], "case": "active"}}: unknown expectation \'actve\'',
        'FAIL b_action_and_expect: step 2 {"complete": "Review claim", "expect": {"active": []}}: a step is an action'
        " or an expectation, not both: ['complete', 'expect']",
        'FAIL c_exact_text: step 2 {"expect": {"exact": "false", "active": []}}: exact must be true or false, not'
        " 'false'",
        'FAIL d_start_variables_outside: step 1 {"start": {}, "variables": {"amount": 5}}: a start step takes its'
        ' variables inside it: {"start": {"variables": {...}}}',
    ]
    assert lines[4].startswith("FAIL e_not_utf8: cannot read scenario: UnicodeDecodeError")
    assert lines[5].startswith("FAIL f_deep: cannot read scenario: RecursionError")
    assert lines[6].startswith("FAIL g_huge_number: cannot read scenario: ValueError: Exceeds the limit")
    assert lines[7:] == ["PASS h_good", "conformance: 1 passed, 7 failed"]


def test_a_folder_without_scenarios_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "one.json").write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["conformance", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: no scenario files (*.json) in {tmp_path}; a folder's subfolders are not "
                             "searched (the shared corpus's are in cmmn/scenarios)\n")


def test_a_together_step_holds_actions_only(tmp_path: Path) -> None:
    for name, part in (("a_clock", {"advance_time": "PT1H"}), ("b_nested", {"together": []}),
                       ("c_two", {"complete": "Review claim", "plan": "x"}), ("d_expect", {"expect": {}})):
        _write(tmp_path, [{"start": {}}, {"together": [part], "expect_error": True}], name)
    _write(tmp_path, [{"start": {}}, {"together": {"complete": "Review claim"}}], "e_not_a_list")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    lines = result.stdout.splitlines()
    assert result.exit_code == 1 and lines[-1] == "conformance: 0 passed, 5 failed"
    assert all("a part of together is one action" in line for line in lines[:4]), lines
    assert "together must be a list of steps" in lines[4]


def test_attach_steps_record_documents_that_the_documents_expectation_checks(tmp_path: Path) -> None:
    attached = [{"start": {}}, {"attach": "a.pdf"}, {"attach": {"name": "a.pdf", "content": "signed"}, "as": "bob"},
                {"attach": {"name": "b.txt", "content": "note", "media_type": "text/plain"}}]
    _write(tmp_path, [*attached, {"expect": {"documents": {"a.pdf": 2, "b.txt": 1}}}], "a_right")
    _write(tmp_path, [*attached, {"expect": {"documents": {"a.pdf": 2}}}], "b_one_missing")
    _write(tmp_path, [{"start": {}}, {"attach": {"content": "no name"}}], "c_no_name")
    result = runner.invoke(app, ["conformance", str(tmp_path / "scenarios")])
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS a_right" and lines[-1] == "conformance: 1 passed, 2 failed", lines
    assert lines[1].endswith("documents: expected {'a.pdf': 2}, got {'a.pdf': 2, 'b.txt': 1}"), lines[1]
    assert lines[2].endswith("malformed step: KeyError: 'name'"), lines[2]
