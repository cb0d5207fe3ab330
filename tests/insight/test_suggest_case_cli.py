from __future__ import annotations

import datetime as dt
from pathlib import Path

from insight_synth import registered_claim, timing_log, write_log
from typer.testing import CliRunner

from casework.cli import app

runner = CliRunner()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


def test_flags_and_next_actions_for_a_stored_case(tmp_path: Path) -> None:
    url, case_id = registered_claim(tmp_path, 12500, NOW)
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
    # after Register claim, every past case went on to Assess damage: offered alone, and never read as "100%"
    suggested = out.split("flags and suggestions")[0]
    assert "│ Assess damage │ >99%" in suggested and "add task:" not in suggested and " 0% " not in suggested
    everything = runner.invoke(
        app,
        ["suggest", "case", case_id, "--db", url, "--model", str(model), "--min-probability", "0"],
        env={"COLUMNS": "250"},
    )
    assert everything.exit_code == 0, everything.output
    suggested = everything.stdout.split("flags and suggestions")[0]
    assert "add task: Approve" in suggested and "<1%" in suggested


def test_flags_read_as_sentences_in_an_80_column_terminal(tmp_path: Path) -> None:
    url, case_id = registered_claim(tmp_path, 12500, NOW)
    result = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Six table columns folded the reason into a word or two per line; the id is what accept|dismiss is given.
    assert any(line.startswith("warning  missing-document:police_report  (flag)") for line in lines), result.stdout
    assert any("requires a police report when amount > 10000" in line for line in lines), result.stdout
    assert any(line.strip() == "do  request document: police report" for line in lines), result.stdout
    assert all(len(line) <= 80 for line in lines)


def test_unknown_case_and_missing_options_are_clear_errors(tmp_path: Path) -> None:
    url, case_id = registered_claim(tmp_path, 12500, NOW)
    missing = runner.invoke(app, ["suggest", "case", "nope", "--db", url, "--case-type", "insurance_claim"])
    assert missing.exit_code == 2 and "no case nope" in missing.output
    neither = runner.invoke(app, ["suggest", "case", case_id, "--db", url])
    assert neither.exit_code == 2 and "give --model, --case-type or both" in neither.output
    bad_type = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", "nonsense"])
    assert bad_type.exit_code == 2 and bad_type.output.startswith("error: case type: no bundled case type 'nonsense' (")


def test_a_case_type_file_not_named_dot_toml_is_read_as_a_file(tmp_path: Path) -> None:
    from importlib import resources

    url, case_id = registered_claim(tmp_path, 12500, NOW)
    text = resources.files("casework.insight").joinpath("case_types", "insurance_claim.toml").read_text("utf-8")
    (tmp_path / "types").mkdir()
    # each was looked for among the bundled case types: "no bundled case type '.../claims.TOML'"
    for path in (tmp_path / "claims.TOML", tmp_path / "types" / "claims"):
        path.write_text(text, encoding="utf-8")
        for command in (["suggest", "case", case_id, "--case-type", str(path)],
                        ["suggest", "refresh", "--case-type", str(path)]):
            result = runner.invoke(app, [*command, "--db", url])
            assert result.exit_code == 0 and "no bundled case type" not in result.output, result.output
    missing = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.output == f"error: case type: cannot read {tmp_path / 'nope'}: No such file or directory\n"


def test_a_model_file_that_cannot_be_loaded_is_named_with_the_reason(tmp_path: Path) -> None:
    import gzip
    import json

    url, case_id = registered_claim(tmp_path, 12500, NOW)
    not_gzip = tmp_path / "notes.txt"
    not_gzip.write_text("hello")
    other_json = tmp_path / "other.json.gz"
    other_json.write_bytes(gzip.compress(json.dumps([1, 2]).encode()))
    damaged = tmp_path / "damaged.json.gz"
    damaged.write_bytes(gzip.compress(json.dumps({"format": "casework-insight-model/1", "version": "v",
                                                  "next_action": {}, "remaining_time": {}}).encode()))
    # the log given for the model, and a model cut short inside a whole gzip file
    log = write_log(tmp_path / "claims.csv.gz", timing_log(3))
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(b'{"format": "casework-insight-model/1", "vers'))
    empty = tmp_path / "empty.json.gz"
    empty.write_bytes(gzip.compress(b""))
    cases = {
        tmp_path / "missing.json.gz": "cannot read a model file: [Errno 2] No such file",
        not_gzip: "cannot read a model file: Not a gzipped file",
        other_json: "not a casework insight model file (format 'list')",
        damaged: "a damaged model file (KeyError",
        # it was "cannot read a model file: Expecting value: line 1 column 1 (char 0)"
        log: "not a casework insight model file (not JSON: it begins 'case_id,activity,timestamp,resource\\r\\nc0,')",
        empty: "not a casework insight model file (not JSON: it is empty)",
        cut: "cannot read a model file: Unterminated string",
    }
    for path, reason in cases.items():
        result = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--model", str(path)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: {path}: {reason}"), result.output


def test_an_interrupted_save_leaves_the_previous_model_whole(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import casework.insight.modelfile as modelfile

    log = write_log(tmp_path / "claims.csv.gz", timing_log(120))
    model = tmp_path / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(log), "--out", str(model), "--trained-at", "20260301"])
    assert trained.exit_code == 0, trained.output
    before = model.read_bytes()
    loaded = modelfile.InsightModel.load(model)

    def dump_half(document, handle, **kwargs):  # type: ignore[no-untyped-def]
        handle.write('{"format": "casework-insight-model/1", "next_')
        raise KeyboardInterrupt

    monkeypatch.setattr(modelfile.json, "dump", dump_half)
    try:
        loaded.save(model)
    except KeyboardInterrupt:
        pass
    else:  # pragma: no cover - the stand-in dump always raises
        raise AssertionError("save did not see the interruption")
    assert model.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv.gz", "model.json.gz"]  # nothing partial left


def test_a_case_type_or_model_of_another_process_is_not_applied_silently(tmp_path: Path) -> None:
    url, case_id = registered_claim(tmp_path, 12500, NOW)
    other = tmp_path / "other.toml"
    other.write_text('[case_type]\nkey = "permits"\ndefinition = "buildingPermit"\nlabel = "Building permit"\n'
                     '[[fields]]\nname = "parcel"\n')
    refused = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", str(other)])
    assert refused.exit_code == 2
    assert "case type 'permits' describes definition 'buildingPermit'" in refused.output
    assert "definition 'insuranceClaim'" in refused.output and "parcel" not in refused.output
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[case_type]\nkey = "t"\ndefinition = "insuranceClaim"\nlabel = "caf\xe9"\n'.encode("latin-1"))
    unreadable = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--case-type", str(latin1)])
    assert unreadable.exit_code == 2 and "not UTF-8 text (byte 64)" in unreadable.output
    helpdesk = write_log(tmp_path / "tickets.csv.gz", [(f"t{i}", step, f"2026-01-0{1 + i % 9}T{10 + j}:00:00")
                                                       for i in range(40)
                                                       for j, step in enumerate(("Open ticket", "Resolve"))])
    model = tmp_path / "tickets.json.gz"
    assert runner.invoke(app, ["suggest", "train", str(helpdesk), "--out", str(model)]).exit_code == 0
    warned = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--model", str(model)])
    assert warned.exit_code == 0
    assert "warning: the model knows none of the steps of definition 'insuranceClaim'" in warned.output
    negative = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--model", str(model), "--k", "-1"])
    assert negative.exit_code == 2 and "--k" in negative.output


def test_a_finding_dismissed_on_the_case_is_not_shown_again(tmp_path: Path) -> None:
    from casework.engine import commands
    from casework.insight.rules import Flag, feedback_command
    from casework.service import CaseService
    from casework.store import Store

    url, case_id = registered_claim(tmp_path, 12500, NOW)
    args = ["suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim"]
    before = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert before.exit_code == 0 and "Missing document: police report" in before.stdout
    police = Flag("missing-document:police_report", "Missing document: police report", "warning", "", "gap")
    with Store.open(url) as store:
        service = CaseService(store)
        service.execute(case_id, feedback_command(police, accepted=False, actor="ann", reason="sent by post"), NOW)
        service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann"}, actor="ann"), NOW)
        service.close()
    after = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert after.exit_code == 0, after.output
    assert "Missing document: police report" not in after.stdout and "Missing document: claim form" in after.stdout
