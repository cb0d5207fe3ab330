"""`casework suggest train --definition KEY`: a model from the store's closed cases, engine and imported alike."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from insight_synth import markov_log, write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.insight.eventlog import read_log
from casework.insight.modelfile import InsightModel
from casework.insight.storelog import closed_cases
from casework.service import CaseService
from casework.store import Store
from casework.store.url import redacted

STAMP = "20260102T030405Z"


def _log_with_ties(path: Path) -> Path:
    """A log whose cases start in pairs at the same moment, a pair across the cut between fitting and validation
    (65 of 81 cases): the order training takes tied cases in is the file's."""
    rows = markov_log(81, seed=7)
    starts: dict[str, str] = {}
    for case_id, _, timestamp, _ in rows:
        starts.setdefault(case_id, timestamp)
    # every odd case starts when the even one before it does, its later steps shifted by as much
    shifted = []
    for case_id, activity, timestamp, resource in rows:
        n = int(case_id[1:])
        if n % 2:
            delta = datetime.fromisoformat(starts[case_id]) - datetime.fromisoformat(starts[f"c{n - 1}"])
            timestamp = (datetime.fromisoformat(timestamp) - delta).isoformat()
        shifted.append((case_id, activity, timestamp, resource))
    return write_log(path, shifted)


def _train(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["suggest", "train", *args, "--trained-at", STAMP])
    return result.exit_code, result.stdout, result.stderr


def test_a_model_trained_from_the_store_is_the_model_trained_from_the_imported_file(tmp_path: Path) -> None:
    log = _log_with_ties(tmp_path / "claims.csv")
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    imported = CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db])
    assert imported.exit_code == 0, imported.output
    with Store.open(db, read_only=True) as store:
        stored, _ = closed_cases(store, "claims")
        keys = [store.case(c.case_id).business_key for c in stored]  # type: ignore[union-attr]
    # the file's cases, in the file's order (tied starts too), each with the file's events
    read = read_log(log)
    assert keys == [f"claims:{c.case_id}" for c in read]
    assert [(c.activities, c.timestamps, c.resources, c.clock) for c in stored] == [
        (c.activities, c.timestamps, c.resources, c.clock) for c in read]
    from_file, from_store = tmp_path / "file.json.gz", tmp_path / "store.json.gz"
    code, _, err = _train(str(log), "--out", str(from_file))
    assert code == 0, err
    code, _, err = _train("--definition", "claims", "--db", db, "--out", str(from_store))
    assert code == 0, err
    assert f"training on 81 cases of claims in {db}\n" in err
    a, b = InsightModel.load(from_file), InsightModel.load(from_store)
    assert (a.source, b.source) == ("claims.csv", f"claims in {db}")
    # the version differs in its data digest only: the store's cases have the store's ids, not the file's
    assert a.version.split("-")[2:] == b.version.split("-")[2:] and a.version != b.version
    assert a.next_action.encoding.activities == b.next_action.encoding.activities
    for case in read[:12]:
        for k in range(1, len(case)):
            prefix = (case.activities[:k], case.timestamps[:k], case.resources[:k] if case.resources else None)
            for variant in ("noeoc", "eoc"):
                assert np.array_equal(a.next_action.predict_proba(*prefix, variant=variant),
                                      b.next_action.predict_proba(*prefix, variant=variant))
            assert a.remaining_time.predict_days(*prefix) == b.remaining_time.predict_days(*prefix)


def test_closed_engine_cases_are_trained_on_beside_imported_ones_and_open_ones_are_not(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_AUDIT_KEY", str(tmp_path / "audit.key"))
    monkeypatch.setenv("CASEWORK_BLOBS", str(tmp_path / "blobs"))
    db = db_url
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with Store.open(db) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        ids = []
        for n in range(3):
            case_id = service.start_case(key, {"amount": 100 + n}, actor="ann", now=now).case_id
            service.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"),
                            now + timedelta(minutes=5))
            ids.append(case_id)
        service.execute(ids[0], commands.TerminateCase(actor="ann", reason="withdrawn"), now + timedelta(hours=1))
        service.execute(ids[1], commands.CompleteCase(actor="bob", force=True), now + timedelta(hours=2))
    log = write_log(tmp_path / "history.csv", markov_log(20, seed=3))
    imported = CliRunner().invoke(app, ["import-log", str(log), "--definition", key, "--db", db])
    assert imported.exit_code == 0, imported.output

    with Store.open(db, read_only=True) as store:
        cases, open_count = closed_cases(store, key)
        statuses = {case_id: store.case(case_id).status for case_id in ids}  # type: ignore[union-attr]
    assert statuses == {ids[0]: "terminated", ids[1]: "completed", ids[2]: "active"}
    assert open_count == 1
    trained = {c.case_id for c in cases}
    assert len(trained) == 22 and ids[0] in trained and ids[1] in trained and ids[2] not in trained
    engine_case = next(c for c in cases if c.case_id == ids[0])
    # as `casework export --format csv` writes it: the completed task, by whom, when
    assert engine_case.activities[0] == "Register claim" and engine_case.resources is not None
    assert engine_case.resources[0] == "ann"
    assert engine_case.timestamps[0] == (now + timedelta(minutes=5)).timestamp()

    out = tmp_path / "m.json.gz"
    code, _, err = _train("--definition", key, "--db", db, "--out", str(out))
    assert code == 0, err
    assert f"training on 22 cases of {key} in {redacted(db)} (1 open case left out)\n" in err
    assert "Register claim" in InsightModel.load(out).next_action.encoding.activities


def test_what_cannot_be_trained_on_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with Store.open(db) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        service.start_case(key, {"amount": 100}, actor="ann", now=now)
    log = write_log(tmp_path / "history.csv", markov_log(5, seed=3))
    assert CliRunner().invoke(app, ["import-log", str(log), "--definition", "intake", "--db", db]).exit_code == 0
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    out = tmp_path / "m.json.gz"
    cases = [
        (["--definition", "claim", "--db", db],
         f"error: no definition key 'claim' in the store (its keys: {key}, intake; an imported log's is the "
         "--definition it was imported under)"),
        (["--definition", key, "--db", db], f"error: no closed case of '{key}' to train on (1 open)"),
        (["--definition", key, "--db", f"sqlite:///{other}"], f"error: sqlite:///{other} is not a casework database"),
        ([str(log), "--definition", key, "--db", db],
         "error: give a LOG file or --definition KEY (the store's closed cases of that definition), not both"),
        ([], "error: give a LOG file or --definition KEY (the store's closed cases of that definition), not both"),
    ]
    for args, line in cases:
        code, stdout, err = _train(*args, "--out", str(out))
        assert (code, stdout, err) == (2, "", line + "\n"), args
    assert not out.exists()



def test_a_store_in_another_zone_trains_on_the_organisations_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    # import-log stores a log's wall-clock times as Amsterdam's instants; a live case's hour and weekday are read on
    # Amsterdam's clock (`suggest case`): training must learn them on that clock too, as the file records them
    monkeypatch.setenv("CASEWORK_TIMEZONE", "Europe/Amsterdam")
    log = write_log(tmp_path / "claims.csv", markov_log(10, seed=5))
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    assert CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db]).exit_code == 0
    with Store.open(db, read_only=True) as store:
        stored, _ = closed_cases(store, "claims")
    read = read_log(log)  # zone-less times: their clock is the time itself
    assert [c.clock for c in stored] == [c.timestamps for c in read]
    # the instants are Amsterdam's: an hour (winter) or two (summer) before the clock read as UTC
    offsets = {round(clock - instant) for c in stored for clock, instant in zip(c.clock or (), c.timestamps,
                                                                                  strict=True)}
    assert offsets <= {3600, 7200} and offsets


def test_a_model_of_one_definitions_cases_is_refused_on_a_case_of_another(tmp_path: Path) -> None:
    from insight_synth import registered_claim, timing_log

    # The imported process names its steps as the demo claim does: no "knows none of the steps" warning could tell.
    db, case_id = registered_claim(tmp_path, 12500, datetime(2026, 3, 1, 9, tzinfo=UTC))
    log = write_log(tmp_path / "claims.csv", timing_log(60))
    assert CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db]).exit_code == 0
    model = tmp_path / "model.json.gz"
    code, _, err = _train("--definition", "claims", "--db", db, "--out", str(model))
    assert code == 0, err
    with Store.open(db, read_only=True) as store:
        before = len(store.events(case_id))
    why = (f"error: {model}: the model was trained on the cases of definition 'claims', not 'insuranceClaim': train "
           "one with `casework suggest train --definition insuranceClaim`")
    for command in (["suggest", "case", case_id, "--model", str(model)],
                    ["suggest", "accept", case_id, "--activity", "Assess damage", "--model", str(model), "--as", "ann"],
                    ["suggest", "dismiss", case_id, "--activity", "Assess damage", "--model", str(model), "--as", "ann",
                     "--reason", "no"],
                    ["suggest", "refresh", "--case-type", "insurance_claim", "--model", str(model)]):
        result = CliRunner().invoke(app, [*command, "--db", db])
        assert result.exit_code == 2 and result.stderr.startswith(why), result.output
        assert len(result.stderr.strip().splitlines()) == 1
    with Store.open(db, read_only=True) as store:
        assert len(store.events(case_id)) == before
    loaded = InsightModel.load(model)
    assert loaded.definition == "claims" and loaded.other_definition("claims") is None
    # a model trained on a log file names no definition, and is used as before
    from_file = tmp_path / "file.json.gz"
    assert _train(str(log), "--out", str(from_file))[0] == 0
    assert InsightModel.load(from_file).definition == ""
    shown = CliRunner().invoke(app, ["suggest", "case", case_id, "--model", str(from_file), "--db", db])
    assert shown.exit_code == 0 and "next best actions" in shown.stdout, shown.output


def test_events_the_store_holds_twice_are_named_as_events_of_the_store(tmp_path: Path) -> None:
    rows = markov_log(30, seed=3)
    log = write_log(tmp_path / "claims.csv", [*rows, rows[4]])  # a row an export wrote twice
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    imported = CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db])
    assert imported.exit_code == 0, imported.output
    code, _, err = _train("--definition", "claims", "--db", db, "--out", str(tmp_path / "m.json.gz"))
    assert code == 0, err
    assert (f"claims in {db}: note: 1 event repeats an earlier event of the same case exactly (activity, time and "
            "performer); each counts as an event, as the store holds it (if they came from an imported log's "
            "duplicate rows, the history keeps them: remove them from the log and import it under another definition "
            "key to train without them)\n") in err
    assert "the file" not in err
