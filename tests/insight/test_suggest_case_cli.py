from __future__ import annotations

import datetime as dt
from pathlib import Path

from insight_synth import timing_log, write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


def _stored_case(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Store.open(url) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case(key, {"amount": 12500}, actor="ann", now=NOW).case_id
        service.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"), NOW)
    return url, case_id


def test_flags_and_next_actions_for_a_stored_case(tmp_path: Path) -> None:
    url, case_id = _stored_case(tmp_path)
    log = write_log(tmp_path / "claims.csv.gz", timing_log(300))
    model = tmp_path / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(log), "--out", str(model), "--trained-at", "20260301"])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(
        app,
        ["suggest", "case", case_id, "--db", url, "--model", str(model), "--case-type", "insurance_claim"],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"next best actions for {case_id}" in out and "20260301" in out
    assert "flags and suggestions (Motor insurance claim)" in out
    assert "police report" in out  # required above 10,000 and absent: flagged with a request
    assert "policy number" in out  # a required field that is missing


def test_unknown_case_and_missing_options_are_clear_errors(tmp_path: Path) -> None:
    url, case_id = _stored_case(tmp_path)
    missing = runner.invoke(app, ["suggest", "case", "nope", "--db", url, "--case-type", "insurance_claim"])
    assert missing.exit_code == 1 and "no case nope" in missing.output
    neither = runner.invoke(app, ["suggest", "case", case_id, "--db", url])
    assert neither.exit_code == 2 and "give --model, --case-type or both" in neither.output
    bad_type = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", "nonsense"])
    assert bad_type.exit_code == 1 and "no bundled case type 'nonsense'" in bad_type.output
