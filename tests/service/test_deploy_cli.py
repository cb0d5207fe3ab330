"""`casework deploy` and `casework definitions`: models deployed as versions without Python, and each version's
open and closed cases."""

from __future__ import annotations

from pathlib import Path

from helpers_versions import V1, V2, cases_on_v1, write_models
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store

runner = CliRunner()


def _env(tmp_path: Path) -> dict[str, str]:
    return {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs"),
            "COLUMNS": "200"}


def test_each_file_becomes_the_next_version_and_the_same_text_again_adds_none(db_url: str, tmp_path: Path) -> None:
    v1, v2 = write_models(tmp_path)
    first = runner.invoke(app, ["deploy", str(v1), str(v2), "--db", db_url], env=_env(tmp_path))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [f"deployed permit version 1 ({v1})", f"deployed permit version 2 ({v2})"]
    again = runner.invoke(app, ["deploy", str(v2), "--db", db_url], env=_env(tmp_path))
    assert again.exit_code == 0, again.output
    assert again.stdout == f"unchanged permit version 2 ({v2} is its latest version already; no version added)\n"
    with Store.open(db_url) as store:
        assert [(k, v) for k, v, _ in store.definitions()] == [("permit", 1), ("permit", 2)]
        assert store.definition("permit", 2).xml == V2  # type: ignore[union-attr]
    # Not the latest any more: version 1's text again is a new version, 3.
    third = runner.invoke(app, ["deploy", str(v1), "--db", db_url], env=_env(tmp_path))
    assert third.stdout == f"deployed permit version 3 ({v1})\n"


def test_an_invalid_model_among_the_files_deploys_none_of_them(tmp_path: Path) -> None:
    v1, _ = write_models(tmp_path)
    bad = tmp_path / "bad.cmmn"
    bad.write_text(V1.replace('definitionRef="survey"', 'definitionRef="nothing"'))
    db = tmp_path / "casework.db"
    result = runner.invoke(app, ["deploy", str(v1), str(bad), "--db", f"sqlite:///{db}"], env=_env(tmp_path))
    assert result.exit_code == 2, result.output
    validated = runner.invoke(app, ["validate", str(v1), str(bad)])
    assert result.stdout == validated.stdout  # the problems as `casework validate` prints them
    assert f"FAIL {bad}" in result.stdout and "nothing" in result.stdout
    assert result.stderr == "error: 1 of 2 files failed validation; nothing deployed\n"
    assert not db.exists()  # checked before the database was opened: not even created


def test_a_document_of_several_cases_is_refused_as_the_store_would_keep_only_its_first(tmp_path: Path) -> None:
    v1, _ = write_models(tmp_path)
    two = tmp_path / "two.cmmn"
    second = ('<case id="grant"><casePlanModel id="grantPlan"><planItem id="piApply" definitionRef="apply"/>'
              '<humanTask id="apply" name="Apply"/></casePlanModel></case>')
    two.write_text(V1.replace("</definitions>", f"{second}\n</definitions>"))
    assert runner.invoke(app, ["validate", str(two)]).exit_code == 0  # a valid document, and both cases with it
    db = tmp_path / "casework.db"
    result = runner.invoke(app, ["deploy", str(v1), str(two), "--db", f"sqlite:///{db}"], env=_env(tmp_path))
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr == (f"error: {two} holds 2 cases (permit, grant); deploy takes one case per file: put each "
                             "in a file of its own; nothing deployed\n")
    assert not db.exists()


def test_definitions_counts_each_versions_open_and_closed_cases(db_url: str, tmp_path: Path) -> None:
    cases_on_v1(db_url, tmp_path / "audit.key")
    _, v2 = write_models(tmp_path)
    assert runner.invoke(app, ["deploy", str(v2), "--db", db_url], env=_env(tmp_path)).exit_code == 0
    migrated = runner.invoke(app, ["migrate", "permit", "--to", "2", "--case", "c-waiting", "--reason", "r", "--as",
                                   "ann", "--db", db_url], env=_env(tmp_path))
    assert migrated.exit_code == 0, migrated.output
    with Store.open(db_url) as store:
        versions = [(v.key, v.version, v.open, v.closed) for v in store.definition_versions()]
    assert versions == [("grant", 1, 1, 0), ("permit", 1, 1, 1), ("permit", 2, 1, 0)]
    shown = runner.invoke(app, ["definitions", "--db", db_url], env=_env(tmp_path))
    assert shown.exit_code == 0, shown.output
    rows = [line.split("│")[1:-1] for line in shown.stdout.splitlines() if line.startswith("│")]
    assert [[cell.strip() for i, cell in enumerate(row) if i != 3] for row in rows] == [
        ["grant", "1", "Permit", "1", "0"], ["permit", "1", "Permit", "1", "1"], ["permit", "2", "Permit", "1", "0"]]


def test_the_count_of_every_version_reads_the_index_alone(sqlite_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from casework.store.listings import definition_versions_query

    cases_on_v1(sqlite_url, tmp_path / "audit.key")
    with Store.open(sqlite_url) as store, store.read() as conn:
        query = definition_versions_query().compile(conn, compile_kwargs={"literal_binds": True})
        plan = [str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))]
    # The cases table itself is not read (its rows hold the snapshots): only its index, in its order.
    assert any("COVERING INDEX ix_cases_definition_version_status" in step for step in plan), plan
    assert not any(step.startswith("SCAN cases") and "INDEX" not in step for step in plan), plan
