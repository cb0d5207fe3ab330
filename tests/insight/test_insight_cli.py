from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from insight_synth import timing_log, write_log
from typer.testing import CliRunner

from casework.insight.cli import register
from casework.insight.modelfile import InsightModel


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A root like casework's, so that `suggest` stays a sub-command."""

    register(app)
    return app


def test_evaluate_prints_exactly_the_contract_lines(tmp_path: Path) -> None:
    log = write_log(tmp_path / "claims.csv.gz", timing_log(300))
    for variant in ("noeoc", "eoc", "tax"):
        result = CliRunner().invoke(_app(), ["suggest", "evaluate", str(log), "--variant", variant])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == 4
        assert re.fullmatch(r"top1: [01]\.\d{4}", lines[0])
        assert re.fullmatch(r"top3: [01]\.\d{4}", lines[1])
        assert re.fullmatch(r"train_s: \d+\.\d", lines[2])
        assert re.fullmatch(r"predict_ms_p50: \d+\.\d{3}", lines[3])
        assert float(lines[1].split()[1]) >= float(lines[0].split()[1])


def test_evaluate_rejects_an_unknown_variant(tmp_path: Path) -> None:
    log = write_log(tmp_path / "claims.csv", timing_log(30))
    result = CliRunner().invoke(_app(), ["suggest", "evaluate", str(log), "--variant", "nope"])
    assert result.exit_code != 0
    assert result.stdout == ""


def test_train_writes_a_versioned_model_file(tmp_path: Path) -> None:
    log = write_log(tmp_path / "claims.csv", timing_log(200))
    out = tmp_path / "m.json.gz"
    args = ["suggest", "train", str(log), "--out", str(out), "--trained-at", "20260102T030405Z"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    version = result.stdout.splitlines()[0].removeprefix("version: ")
    assert re.fullmatch(r"nba-[0-9a-f]{12}-[0-9a-f]{8}-20260102T030405Z", version)
    model = InsightModel.load(out)
    assert model.version == version and model.source == "claims.csv"
    top = model.next_action.suggest(["Register claim", "Assess damage"], [0.0, 600.0], ["ann", "ann"], k=1)
    assert top[0].activity == "Approve"


def test_train_refuses_a_version_stamp_that_is_no_time_before_training(tmp_path: Path) -> None:
    log = write_log(tmp_path / "claims.csv", timing_log(30))
    out = tmp_path / "m.json.gz"
    for stamp in ("x", "2026-13-01", "20260301\nversion: forged", ""):
        result = CliRunner().invoke(_app(), ["suggest", "train", str(log), "--out", str(out), "--trained-at", stamp])
        assert result.exit_code == 2, result.output
        assert result.output == (f"error: --trained-at {stamp!r} is not an ISO 8601 date or time (e.g. "
                                 "20260301T090000Z or 2026-03-01T09:00:00+01:00)\n")
        assert not out.exists()


def test_a_model_trained_on_one_case_says_so_in_the_singular(tmp_path: Path) -> None:
    # what `suggest train --definition insuranceClaim` meets on a fresh demo database: one closed claim
    log = write_log(tmp_path / "one.csv", [("c1", "Register claim", "2026-01-01T09:00:00", "ann"),
                                          ("c1", "Pay claimant", "2026-01-02T09:00:00", "ann")])
    out = tmp_path / "m.json.gz"
    result = CliRunner().invoke(_app(), ["suggest", "train", str(log), "--out", str(out), "--trained-at", "20260102"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"training on 1 case of {log}\n")
    (first,) = InsightModel.load(out).next_action.suggest([], [], None, k=1)
    assert first.reason == "the 1 past case started with Register claim"


def test_train_refuses_an_output_it_cannot_write_before_training(tmp_path: Path) -> None:
    log = write_log(tmp_path / "claims.csv", timing_log(200))
    for out, reason in ((tmp_path / "no" / "m.json.gz", "no such folder"), (tmp_path, "it is a folder")):
        result = CliRunner().invoke(_app(), ["suggest", "train", str(log), "--out", str(out)])
        assert result.exit_code == 2
        assert result.output == f"error: cannot write the model to {out}: {reason}\n"  # nothing trained


def test_train_does_not_replace_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    import os
    import sqlite3

    # Each was replaced by the model for good: the log trained on, the store's database, a pipe.
    log = write_log(tmp_path / "claims.csv.gz", timing_log(60))
    plain = write_log(tmp_path / "claims.csv", timing_log(60))
    db = tmp_path / "cases.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x)")
    conn.close()
    outs = {log: "it is a gzip file, but no model file", plain: "it is not gzip, so no model file",
            db: "it is not gzip, so no model file"}
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        outs[tmp_path / "pipe"] = "it is not a regular file"
    before = {path: path.read_bytes() for path in outs if path.is_file()}
    for out, reason in outs.items():
        result = CliRunner().invoke(_app(), ["suggest", "train", str(log), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.output == (f"error: cannot write the model to {out}: {reason}, and the model would replace it; "
                                 "give --out another file (or remove that one first)\n")  # nothing trained
    assert {path: path.read_bytes() for path in before} == before
    # a model is replaced by the new one, as retraining does; an empty file holds nothing to lose
    model, empty = tmp_path / "m.json.gz", tmp_path / "empty.json.gz"
    empty.touch()
    for out in (model, model, empty):
        args = ["suggest", "train", str(log), "--out", str(out), "--trained-at", "20260102"]
        result = CliRunner().invoke(_app(), args)
        assert result.exit_code == 0, result.output
        assert InsightModel.load(out).version.endswith("-20260102")


def test_report_json_over_a_logs_folder(tmp_path: Path) -> None:
    write_log(tmp_path / "helpdesk.csv.gz", timing_log(240))
    result = CliRunner().invoke(
        _app(), ["suggest", "report", "--json", "--logs-dir", str(tmp_path), "--log", "helpdesk", "--log", "sepsis"]
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["name"] == "helpdesk"
    assert set(entry["model"]) == {"noeoc", "eoc", "tax"}
    for variant in ("noeoc", "eoc", "tax"):
        assert entry["model"][variant]["top1"] >= entry["last_activity"][variant]["top1"]
    assert entry["remaining_mae_days"] < entry["remaining_baseline_mae_days"]
    tables = CliRunner().invoke(_app(), ["suggest", "report", "--logs-dir", str(tmp_path), "--log", "helpdesk"])
    assert tables.exit_code == 0 and "Next activity" in tables.stdout and "helpdesk" in tables.stdout


def test_a_bad_log_is_an_error_line_and_exit_code_2(tmp_path: Path) -> None:
    rows = [("c1", "A", "2020-01-01T00:00:00", "ann"), ("c1", "B", "soon", "ann")]
    log = write_log(tmp_path / "bad.csv", rows)
    out = tmp_path / "model.json.gz"
    for args in (["evaluate", str(log)], ["train", str(log), "--out", str(out)]):
        result = CliRunner().invoke(_app(), ["suggest", *args])
        assert result.exit_code == 2
        assert result.stderr.strip() == f"error: {log}: line 3: timestamp 'soon' is not ISO-8601"
    assert not out.exists()


def test_a_log_too_small_to_evaluate_is_an_error_not_a_zero_score(tmp_path: Path) -> None:
    one = write_log(tmp_path / "one.csv", [("c1", "A", "2020-01-01T00:00:00"), ("c1", "B", "2020-01-01T01:00:00")])
    singles = write_log(tmp_path / "singles.csv", [(f"c{i}", "A", f"2020-01-0{i}T00:00:00") for i in range(1, 7)])
    for log, variant, why in (
        (one, "noeoc", "too few cases to train on: 1 in all"),
        (singles, "noeoc", "the test part (2 of 6 cases, the last 1/3) has no prefix to score in variant noeoc"),
        (singles, "tax", "has no prefix to score in variant tax"),
    ):
        result = CliRunner().invoke(_app(), ["suggest", "evaluate", str(log), "--variant", variant])
        assert result.exit_code == 2 and result.stdout == ""
        assert f"error: {log}: " in result.stderr and why in result.stderr, result.stderr
    # eoc scores the end of each single-event case: there is something to score
    assert CliRunner().invoke(_app(), ["suggest", "evaluate", str(singles), "--variant", "eoc"]).exit_code == 0
    nothing = CliRunner().invoke(_app(), ["suggest", "report", "--logs-dir", str(tmp_path), "--log", "nope"])
    assert nothing.exit_code == 2
    assert nothing.stderr == f"error: no log to evaluate in {tmp_path} (none of nope.csv.gz)\n"


def test_evaluate_says_how_many_test_prefixes_go_on_to_an_activity_training_never_had(tmp_path: Path) -> None:
    rows = timing_log(300)
    # in the last 100 cases (the test part) "Pay" is renamed: every prefix that goes on to it must miss
    renamed = [(c, "Pay out" if a == "Pay" and int(c[1:]) >= 200 else a, t, r) for c, a, t, r in rows]
    log = write_log(tmp_path / "drift.csv.gz", renamed)
    result = CliRunner().invoke(_app(), ["suggest", "evaluate", str(log), "--variant", "noeoc"])
    assert result.exit_code == 0, result.output
    # each test case ends with Pay: one noeoc prefix per case goes on to it
    assert "drift: 100 of " in result.stderr and "go on to an activity the training part never had" in result.stderr
    plain = write_log(tmp_path / "claims.csv.gz", rows)
    same = CliRunner().invoke(_app(), ["suggest", "evaluate", str(plain), "--variant", "noeoc"])
    assert "never had" not in same.stderr


def test_train_and_evaluate_count_rows_repeated_exactly_on_stderr(tmp_path: Path) -> None:
    rows = timing_log(240)
    log = write_log(tmp_path / "claims.csv", [*rows, rows[0], rows[5], rows[5]])
    out = tmp_path / "m.json.gz"
    note = "note: 3 rows repeat an earlier row of the same case exactly (activity, timestamp and resource)"
    trained = CliRunner().invoke(_app(), ["suggest", "train", str(log), "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    assert f"{log}: {note}" in trained.stderr
    evaluated = CliRunner().invoke(_app(), ["suggest", "evaluate", str(log)])
    assert evaluated.exit_code == 0, evaluated.output
    assert f"claims: {note}" in evaluated.stderr and len(evaluated.stdout.splitlines()) == 4
    clean = CliRunner().invoke(_app(), ["suggest", "evaluate", str(write_log(tmp_path / "clean.csv", rows))])
    assert clean.exit_code == 0 and "repeat" not in clean.stderr


def test_report_without_the_shared_folder_says_what_is_wrong(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(_app(), ["suggest", "report"], env={"CASEWORK_SHARED": str(missing)})
    # CASEWORK_SHARED was set: "set CASEWORK_SHARED" would send a newcomer round in a circle
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: CASEWORK_SHARED={missing} is not a folder: point it at the shared data "
                             "(with logs/ inside), or pass --logs-dir\n")
