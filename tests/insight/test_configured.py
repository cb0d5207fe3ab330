"""CASEWORK_CASE_TYPES and CASEWORK_MODEL: decision support configured once for the installation, so that every
change made with `casework case ...` or `casework migrate` is judged again as it is made."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from insight_synth import timing_log, write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.insight.configured import ConfigurationError, load_configured
from casework.insight.modelfile import InsightModel
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()


@pytest.fixture
def env(configured_env: dict[str, str]) -> dict[str, str]:
    return configured_env


def _cw(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


def _flags(env: dict[str, str], case_id: str) -> list[dict[str, Any]]:
    listed = _cw(env, "suggest", "flags", "--case", case_id, "--json")
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def _version(env: dict[str, str], case_id: str) -> int:
    with Store.open(env["CASEWORK_DB"]) as store:
        row = store.case(case_id)
        assert row is not None
        return row.version


def _started(env: dict[str, str], amount: int) -> str:
    started = _cw(env, "case", "start", "insuranceClaim", "--data", json.dumps({"amount": amount}), "--as", "ann")
    assert started.exit_code == 0, started.output
    return str(started.stdout.split()[0])


def test_every_change_made_with_case_commands_is_judged_as_it_is_made(env: dict[str, str]) -> None:
    case_id = _started(env, 5000)
    # judged as it started: the fields the case type requires and nobody gave yet
    rows = _flags(env, case_id)
    assert {"missing-field:claimant", "missing-field:policyNumber"} <= {r["finding_id"] for r in rows}
    assert all(r["current"] and r["judged_version"] == _version(env, case_id) for r in rows)

    given = _cw(env, "case", "set-data", case_id, "--data", '{"claimant": "Omar Haddad", "amount": 18000}',
                "--as", "ann", "--reason", "phoned in")
    assert given.exit_code == 0, given.output
    found = {r["finding_id"]: r for r in _flags(env, case_id)}
    # the claimant's name is given; above 10,000 a police report is required and none is attached
    assert "missing-field:claimant" not in found and "missing-document:police_report" in found
    assert all(r["current"] for r in found.values())
    listed = _cw(env, "suggest", "flags")
    assert listed.stdout.splitlines()[-1].startswith("all "), listed.stdout

    attached = Path(env["CASEWORK_BLOBS"]).parent / "police_report.txt"
    attached.write_text("Report 2025/114: rear-end collision\n")
    done = _cw(env, "case", "attach", case_id, str(attached), "--as", "ann")
    assert done.exit_code == 0, done.output
    assert "missing-document:police_report" not in {r["finding_id"] for r in _flags(env, case_id)}


def test_without_the_setting_a_change_leaves_the_findings_out_of_date(env: dict[str, str]) -> None:
    case_id = _started(env, 5000)
    plain = {k: v for k, v in env.items() if k != "CASEWORK_CASE_TYPES"}
    assert _cw(plain, "case", "set-data", case_id, "--data", '{"claimant": "Omar"}', "--as", "ann").exit_code == 0
    rows = _flags(plain, case_id)
    assert rows and not any(r["current"] for r in rows)
    assert "missing-field:claimant" in {r["finding_id"] for r in rows}  # as judged before the change


@pytest.mark.parametrize(("setting", "said"), [
    ({"CASEWORK_CASE_TYPES": "nonsense"}, "CASEWORK_CASE_TYPES: no bundled case type 'nonsense'"),
    ({"CASEWORK_CASE_TYPES": "insurance_claim:insurance_claim"},
     "case types 'insurance_claim' and 'insurance_claim' both describe definition 'insuranceClaim'"),
    ({"CASEWORK_MODEL": "/nonexistent/model.json.gz"}, "CASEWORK_MODEL: "),
])
def test_a_setting_that_cannot_be_loaded_refuses_the_change_before_anything_is_written(
    env: dict[str, str], setting: dict[str, str], said: str
) -> None:
    case_id = _started(env, 5000)
    before = _version(env, case_id)
    bad = {**env, **setting}
    refused = _cw(bad, "case", "set-data", case_id, "--data", '{"claimant": "Omar"}', "--as", "ann")
    assert refused.exit_code == 2 and said in refused.output, refused.output
    assert refused.output.startswith("error: nothing recorded: ")
    assert _version(env, case_id) == before
    started = _cw(bad, "case", "start", "insuranceClaim", "--as", "ann")
    assert started.exit_code == 2 and said in started.output, started.output
    with Store.open(env["CASEWORK_DB"]) as store:
        assert len(store.case_ids()) == 1


def test_migrate_judges_each_case_on_its_new_version(env: dict[str, str], tmp_path: Path) -> None:
    case_id = _started(env, 60000)
    v2 = tmp_path / "v2.cmmn"
    v2.write_text(demo_model_xml("insurance_claim.cmmn").replace('"Expert opinion"', '"Expert review"'))
    assert _cw(env, "deploy", str(v2)).exit_code == 0
    moved = _cw(env, "migrate", "insuranceClaim", "--to", "2", "--case", case_id, "--reason", "review", "--as", "ann")
    assert moved.exit_code == 0, moved.output
    rows = _flags(env, case_id)
    assert rows and all(r["current"] and not r["migrated"] and r["definition_version"] == 2 for r in rows)


def test_refresh_and_suggest_case_default_to_the_setting(env: dict[str, str]) -> None:
    case_id = _started(env, 18000)
    refreshed = _cw(env, "suggest", "refresh")
    assert refreshed.exit_code == 0 and refreshed.stdout.startswith("refresh: 1 open cases judged"), refreshed.output
    shown = _cw(env, "suggest", "case", case_id)
    assert shown.exit_code == 0, shown.output
    assert "flags and suggestions (Motor insurance claim)" in shown.stdout
    assert "missing-document:police_report" in shown.stdout

    plain = {k: v for k, v in env.items() if k != "CASEWORK_CASE_TYPES"}
    neither = _cw(plain, "suggest", "refresh")
    assert neither.exit_code == 2 and "set CASEWORK_CASE_TYPES" in neither.output
    nothing = _cw(plain, "suggest", "case", case_id)
    assert nothing.exit_code == 2 and "CASEWORK_CASE_TYPES" in nothing.output


def test_intake_and_decisions_default_to_the_setting(env: dict[str, str], tmp_path: Path) -> None:
    plain = {k: v for k, v in env.items() if k != "CASEWORK_CASE_TYPES"}
    # started and attached to without the setting: no stored finding names the case type
    case_id = _started(plain, 900)
    form = tmp_path / "claim_form.txt"
    form.write_text("Policy number: AB-123456\nClaimant: Omar Haddad\n")
    assert _cw(plain, "case", "attach", case_id, str(form), "--as", "ann").exit_code == 0
    # reading documents needs no model: one that is not there is not loaded
    shown = _cw({**env, "CASEWORK_MODEL": str(tmp_path / "no-model.json.gz")}, "suggest", "intake", case_id, "--json")
    assert shown.exit_code == 0, shown.output
    assert {f["field"] for f in json.loads(shown.stdout)["fill"]} == {"policyNumber", "claimant"}
    nothing = _cw(plain, "suggest", "intake", case_id)
    assert nothing.exit_code == 2 and "give --case-type (or set CASEWORK_CASE_TYPES)" in nothing.output
    stale = _cw(plain, "suggest", "accept", case_id, "--finding", "missing-field:claimant", "--as", "bob")
    assert stale.exit_code == 2 and "needs --case-type" in stale.output

    taken = _cw(env, "suggest", "accept", case_id, "--finding", "missing-field:claimant", "--as", "bob")
    assert taken.exit_code == 0, taken.output
    with Store.open(env["CASEWORK_DB"]) as store, CaseService(store) as svc:
        assert svc.state(case_id).variables["claimant"] == "Omar Haddad"


def test_a_configured_model_must_fit_a_configured_case_type(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path / "claims.csv.gz", timing_log(200))
    trained = tmp_path / "log.json.gz"
    assert _cw(env, "suggest", "train", str(log), "--out", str(trained)).exit_code == 0
    other = tmp_path / "permit.json.gz"
    replace(InsightModel.load(trained), definition="permit").save(other)

    monkeypatch.setenv("CASEWORK_CASE_TYPES", "insurance_claim")
    monkeypatch.setenv("CASEWORK_MODEL", str(other))
    with pytest.raises(ConfigurationError, match="no configured case type describes its definition"):
        load_configured()
    # a log's model (no definition) fits every case type; the claims' cases are judged with it
    monkeypatch.setenv("CASEWORK_MODEL", str(trained))
    configured = load_configured()
    assert configured is not None and configured.model_for("insuranceClaim") is configured.model
    monkeypatch.delenv("CASEWORK_CASE_TYPES")
    alone = load_configured()
    assert alone is not None and alone.case_types == () and alone.model is not None


def test_a_model_judges_only_the_cases_of_the_definition_it_was_trained_on(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC

    from casework.insight.casetype import bundled_case_type
    from casework.insight.configured import Configured

    log = write_log(tmp_path / "claims.csv.gz", timing_log(200))
    trained = tmp_path / "log.json.gz"
    assert runner.invoke(app, ["suggest", "train", str(log), "--out", str(trained)]).exit_code == 0
    claims = bundled_case_type("insurance_claim")
    for definition, judged_with_model in (("permit", False), ("insuranceClaim", True), ("", True)):
        model = replace(InsightModel.load(trained), definition=definition)
        with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as service:
            (watcher,) = Configured((claims,), model).watchers(service, UTC)
        # a model of permits would judge the claims' paths and times as those of a process it never saw
        assert (watcher.model is model) is judged_with_model and set(watcher.case_types) == {"insuranceClaim"}
