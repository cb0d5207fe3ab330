from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from casework.cli import app

NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'
GOOD_CASE = ('<case id="good"><casePlanModel id="p1"><planItem id="a" name="A" definitionRef="t1"/>'
             '<humanTask id="t1"/></casePlanModel></case>')
BROKEN_CASE = ('<case id="broken"><casePlanModel id="p2"><planItem id="b" name="B" definitionRef="nowhere"/>'
               "</casePlanModel></case>")
runner = CliRunner()


def test_validate_reports_every_case_of_a_document_and_exits_1_on_any_problem(tmp_path: Path) -> None:
    # (a file that cannot be read is bad input, exit 2: tests/test_cli_exit_status.py)
    good = tmp_path / "good.cmmn"
    good.write_text(f"<definitions {NS}>{GOOD_CASE}</definitions>", encoding="utf-8")
    both = tmp_path / "both.cmmn"
    both.write_text(f"<definitions {NS}>{GOOD_CASE}{BROKEN_CASE}</definitions>", encoding="utf-8")
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0 and ok.stdout == f"OK {good}\n"
    result = runner.invoke(app, ["validate", str(good), str(both)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"OK {good}",
        f"FAIL {both}",
        "  case broken: b: definitionRef 'nowhere' does not name a plan item definition",
    ]
    unreadable = runner.invoke(app, ["validate", str(good), str(both), str(tmp_path / "missing.cmmn")])
    assert unreadable.exit_code == 2 and unreadable.stdout == result.stdout  # the others are still judged
    assert unreadable.stderr == f"error: cannot read {tmp_path / 'missing.cmmn'}: No such file or directory\n"


def test_validate_refuses_what_deploy_refuses_names_longer_than_the_store_holds(tmp_path: Path) -> None:
    long_name = "N" * 501
    lone = tmp_path / "long.cmmn"
    lone.write_text(f'<definitions {NS}><case id="long"><casePlanModel id="p1"><planItem id="a" definitionRef="t1"/>'
                    f'<humanTask id="t1" name="{long_name}"/></casePlanModel></case></definitions>', encoding="utf-8")
    long_case = (f'<case id="long"><casePlanModel id="p3"><planItem id="c" name="{long_name}" definitionRef="t3"/>'
                 '<humanTask id="t3"/></casePlanModel></case>')
    both = tmp_path / "both.cmmn"
    both.write_text(f"<definitions {NS}>{GOOD_CASE}{long_case}</definitions>", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(lone), str(both)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"FAIL {lone}",
        "  a: name is 501 characters long; at most 500 are allowed",
        f"FAIL {both}",
        "  case long: c: name is 501 characters long; at most 500 are allowed",
    ]
