"""`casework migrate`: running cases moved to another version of their model from the command line, one audited
command per case; refusals leave the case as it was, a dry run writes nothing, bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_versions import V2, cases_on_v1
from typer.testing import CliRunner

from casework.cli import app
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
MIGRATE = ["migrate", "permit", "--to", "2", "--reason", "survey dropped", "--as", "ann"]


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    cases_on_v1(db_url, tmp_path / "audit.key")
    (tmp_path / "v2.cmmn").write_text(V2)
    deployed = runner.invoke(app, ["deploy", str(tmp_path / "v2.cmmn"), "--db", db_url], env=env)
    assert deployed.exit_code == 0 and "deployed permit version 2" in deployed.stdout, deployed.output
    return db_url, env


def _where(db_url: str) -> dict[str, tuple[int, int]]:
    """Each case's definition version and number of events."""
    with Store.open(db_url) as store:
        return {r.id: (r.definition_version, len(store.events(r.id))) for r in store.case_listing()}


def _everything(db_url: str) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """The numbers of cases and events, and `_where`."""
    with Store.open(db_url) as store:
        counts = store.counts()
    return counts, _where(db_url)


def test_a_case_that_can_move_moves_and_one_whose_started_item_is_gone_is_refused_as_it_was(
    stored: tuple[str, dict[str, str]],
) -> None:
    db_url, env = stored
    before = _where(db_url)
    result = runner.invoke(app, [*MIGRATE, "--all-open", "--db", db_url], env=env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "migrated c-waiting: version 1 -> 2 (plan items: 1 gone, 1 new)" in lines
    refused = next(line for line in lines if line.startswith("refused c-surveying: "))
    assert "Site survey: active here and absent from the new model" in refused
    assert lines[-1] == "migrated 1, refused 1, unchanged 0"
    assert not any("c-done" in line or "g-1" in line for line in lines)  # not open, or not a permit
    after = _where(db_url)
    assert after["c-waiting"][0] == 2 and after["c-waiting"][1] > before["c-waiting"][1]
    assert {k: v for k, v in after.items() if k != "c-waiting"} == {k: v for k, v in before.items() if k != "c-waiting"}
    with Store.open(db_url) as store, CaseService(store) as svc:
        migrate = [e for e in store.events("c-waiting") if e.type == "migrate"]
        assert [(e.actor, e.reason) for e in migrate] == [("ann", "survey dropped")]
        assert "Decide" in {i.name for i in svc.state("c-waiting").items.values()}
    verified = runner.invoke(app, ["audit", "verify", "--db", db_url], env=env)
    assert verified.exit_code == 0 and verified.stdout.startswith("audit: 4 cases"), verified.output


def test_a_dry_run_says_what_would_happen_and_writes_nothing(stored: tuple[str, dict[str, str]]) -> None:
    db_url, env = stored
    before = _everything(db_url)
    result = runner.invoke(app, [*MIGRATE, "--all-open", "--from", "1", "--dry-run", "--db", db_url], env=env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "would migrate c-waiting: version 1 -> 2 (plan items: 1 gone, 1 new)" in lines
    assert any(line.startswith("refused c-surveying: cannot migrate to permit: Site survey") for line in lines)
    assert lines[-1] == "dry run, nothing written: migrated 1, refused 1, unchanged 0"
    assert _everything(db_url) == before
    # And what it said is what the migration then does.
    real = runner.invoke(app, [*MIGRATE, "--all-open", "--from", "1", "--db", db_url], env=env)
    assert real.stdout.replace("migrated c-waiting", "would migrate c-waiting").splitlines()[:-1] == lines[:-1]


def test_named_cases_on_the_target_version_already_are_unchanged(stored: tuple[str, dict[str, str]]) -> None:
    db_url, env = stored
    assert runner.invoke(app, [*MIGRATE, "--case", "c-waiting", "--db", db_url], env=env).exit_code == 0
    before = _where(db_url)
    again = runner.invoke(app, [*MIGRATE, "--case", "c-waiting", "--case", "c-waiting", "--db", db_url], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == ["unchanged c-waiting: on version 2 already",
                                         "migrated 0, refused 0, unchanged 1"]
    assert _where(db_url) == before
    # --all-open --from 2 leaves the case on version 1 alone: only c-waiting is on 2.
    only = runner.invoke(app, [*MIGRATE, "--all-open", "--from", "2", "--db", db_url], env=env)
    assert only.stdout.splitlines()[-1] == "migrated 0, refused 0, unchanged 1", only.output


def test_a_named_case_that_has_ended_is_refused_and_the_others_still_move(
    stored: tuple[str, dict[str, str]],
) -> None:
    db_url, env = stored
    result = runner.invoke(app, [*MIGRATE, "--case", "c-done", "--case", "c-waiting", "--db", db_url], env=env)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0].startswith("refused c-done: the case has ended")
    assert _where(db_url)["c-waiting"][0] == 2


@pytest.mark.parametrize(("args", "said"), [
    (["migrate", "nosuch", "--to", "1", "--all-open"], "no definition 'nosuch'"),
    (["migrate", "permit", "--to", "3", "--all-open"], "no definition 'permit' version 3"),
    (["migrate", "permit", "--to", "2", "--all-open", "--from", "7"], "no definition 'permit' version 7"),
    (["migrate", "permit", "--to", "2", "--case", "c-waiting", "--case", "nope"], "no case nope; nothing migrated"),
    (["migrate", "permit", "--to", "2", "--case", "g-1"], "case g-1 is a case of grant, not permit"),
    (["migrate", "permit", "--to", "2"], "--case ID (repeatable) or --all-open"),
    (["migrate", "permit", "--to", "2", "--case", "c-waiting", "--all-open"], "--case ID (repeatable) or --all-open"),
    (["migrate", "permit", "--to", "2", "--case", "c-waiting", "--from", "1"], "--from picks among --all-open"),
    (["migrate", "permit", "--to", "0", "--all-open"], "--to"),
])
def test_unknown_names_and_bad_options_exit_2_and_change_nothing(
    stored: tuple[str, dict[str, str]], args: list[str], said: str
) -> None:
    db_url, env = stored
    before = _everything(db_url)
    result = runner.invoke(app, [*args, "--reason", "why", "--as", "ann", "--db", db_url], env=env)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.startswith("error: ") and said in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert _everything(db_url) == before


def test_a_migration_whose_events_could_not_be_sealed_is_refused_before_any_case_moves(
    stored: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    db_url, env = stored
    before = _everything(db_url)
    result = runner.invoke(app, [*MIGRATE, "--all-open", "--db", db_url],
                           env={**env, "CASEWORK_AUDIT_KEY": str(tmp_path / "moved.key")})
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error: nothing recorded: no audit key at "), result.stderr
    assert _everything(db_url) == before
